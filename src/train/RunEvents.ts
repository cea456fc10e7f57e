import type { EpochLogEntry } from './RunStorage.js';

/** What happened at the end of an epoch. */
export interface EpochResult extends EpochLogEntry {
  /** The validation result beat every earlier one: the model was saved. */
  improved: boolean;
  /** 64 samples of the model at temperature 1 (seed + 2), [64, D] in the data range, for a picture. */
  samples: Float32Array;
  sampleCount: number;
}

/** Progress reports; each may return a promise (the run awaits it, so a front end can yield to its event loop). */
export interface RunEvents {
  /** After every training step: the batch's mean log-likelihood before the update. */
  onStep?(info: { step: number; epoch: number; logLikelihood: number; seconds: number }): void | Promise<void>;
  /** During validation: images done of `total`. */
  onValidation?(done: number, total: number): void | Promise<void>;
  /** After each epoch's validation. */
  onEpoch?(result: EpochResult): void | Promise<void>;
  /** After a checkpoint was saved. */
  onCheckpoint?(at: { step: number; epoch: number }): void | Promise<void>;
  /** Something the user should know (a divergence without NaN, a changed setting). */
  onWarning?(message: string): void | Promise<void>;
  /** A step of setting up (ZCA fitting, …), for a status line. */
  onNote?(message: string): void | Promise<void>;
}

/** How a call of {@link TrainingRun.run} ended. */
export type RunOutcome =
  | { reason: 'done' }
  | { reason: 'nothing-to-do' }
  /** `requestStop` or `shouldStop`; a checkpoint of the current state was saved when `saved` is true. */
  | { reason: 'stopped'; saved: boolean }
  /**
   * The loss or the parameters stopped being finite (`message` says where). `lastGood` is the newest saved
   * checkpoint (for a resumed run, at least the one it resumed), which is always one whose parameters were shown to
   * give a finite loss; null when none was saved yet. Nothing later was saved.
   */
  | { reason: 'diverged'; message: string; lastGood: { step: number; epoch: number } | null };
