/**
 * Where a run keeps what it produces. The CLI writes files atomically (checkpoint.safetensors, model.safetensors,
 * log.jsonl); a browser keeps them in memory or IndexedDB. Each call may return a promise, which the run awaits.
 */
export interface RunStorage {
  /** The resumable state (weights, Adam's moments, order, trainer state, run record); replaces the previous one. */
  saveCheckpoint(bytes: Uint8Array, at: { step: number; epoch: number }): void | Promise<void>;
  /** The best model by validation so far (a weight file); replaces the previous one. */
  saveModel(bytes: Uint8Array, at: { step: number; epoch: number }): void | Promise<void>;
  /** One line of the run's log per epoch. */
  appendLog(entry: EpochLogEntry): void | Promise<void>;
  /**
   * Drops log lines past `step` and returns how many it dropped. A resumed run calls it first: a run killed after
   * logging an epoch but before its checkpoint landed left a line the resumed run will write again. Optional: a
   * storage without it keeps such lines.
   */
  trimLog?(step: number): number | Promise<number>;
}

/** The log line of one epoch (log.jsonl). */
export interface EpochLogEntry {
  step: number;
  epoch: number;
  /** Mean of the epoch's batch log-likelihoods (nats per image, each measured before its update). */
  trainLogLikelihood: number;
  /** Bits/dim of the log-likelihoods beside them; null (here and below) for continuous data, which have none. */
  trainBitsPerDim: number | null;
  validLogLikelihood: number;
  validBitsPerDim: number | null;
  /** A class-conditional model: the validation log p(x | y) under the true labels (`valid…` is the marginal) and the likelihood classifier's accuracy. */
  validConditionalLogLikelihood?: number;
  validAccuracy?: number;
  /** With a weight average: the live weights' validation log-likelihood (the `valid…` fields are the average's). */
  liveValidLogLikelihood?: number;
  liveValidBitsPerDim?: number | null;
  /** With `RunDriver.monitor`: the log-likelihood of that set (the test split, say), never used to choose anything. */
  testLogLikelihood?: number;
  testBitsPerDim?: number | null;
  /** With both a weight average and a monitored set: the live weights' log-likelihood of that set. */
  liveTestLogLikelihood?: number;
  liveTestBitsPerDim?: number | null;
  /** Seconds of training steps so far (one decimal). */
  seconds: number;
}
