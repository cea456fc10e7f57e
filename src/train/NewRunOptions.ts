import type { DataRange, Dequantize } from '../data/dequantize.js';
import type { Dataset } from '../data/Dataset.js';
import type { ModelSettings } from '../model/configFromSettings.js';
import type { LrScheduleName } from './learningRate.js';
import type { RunEvents } from './RunEvents.js';
import type { RunStorage } from './RunStorage.js';

/** Everything a new run needs besides its data. */
export interface NewRunOptions {
  /** The data set's name as the front end knows it (stored in the run record, used to reload it on resume). */
  data: string;
  /** How the data were split (stored in the run record): see {@link RunRecord}. */
  limit?: number;
  validSize: number;
  validLimit?: number;
  /** The data set's default range (CIFAR-10: [−1, 1]) when neither the settings nor the preset give one; unused for continuous data. */
  dataRange: DataRange;
  /** A preset name (mnist, tfd-like, svhn, cifar10); explicit `model` settings win over it. */
  preset?: string;
  /** Architecture settings given explicitly. */
  model?: Partial<ModelSettings>;
  /** Fit the whitening on the first N training images (default: all). */
  whitenLimit?: number;
  /** Start of the scaling layer: zero (the paper) or data (each latent gets the prior's spread). */
  scaleInit?: 'zero' | 'data';
  epochs: number;
  maxSteps?: number;
  batchSize?: number;
  lr?: number;
  seed?: number;
  dequantize?: Dequantize;
  /**
   * Decay of an exponential moving average of the weights (e.g. 0.999); validation, the best-model choice, the sample
   * grids and the saved model then use the average. 0 or absent: none (the paper).
   */
  ema?: number;
  /** Learning-rate schedule (default constant, the paper) and warmup steps. */
  lrSchedule?: LrScheduleName;
  /** Clip the gradient's global norm to this before each update (Trainer's `clipGradNorm`); absent: none. */
  clipGradNorm?: number;
  /** A class-conditional model: the weight of the classification term (Trainer's `classWeight`); absent: none. */
  classWeight?: number;
  warmup?: number;
  /** `step` schedule: halve the rate every this many epochs (default: a third of the run). */
  lrStepEpochs?: number;
}

/** What may change when a run is resumed: how long it runs, and Adam's learning rate (a lower one after a divergence). */
export interface ResumeOverrides {
  epochs?: number;
  maxSteps?: number;
  lr?: number;
}

/** How a run is driven. */
export interface RunDriver {
  storage: RunStorage;
  events?: RunEvents;
  /** Also save the checkpoint every N steps (always: every epoch and when stopped). */
  checkpointEvery?: number;
  /**
   * Also save the checkpoint once this many seconds of training (by `now`) have passed since the last save (always:
   * every epoch and when stopped). For a page, where a save costs a large model's weights and moments through
   * IndexedDB: a bound on the work a crash can lose that does not grow with the model's speed.
   */
  checkpointSeconds?: number;
  /** Polled between steps: true stops the run after the current step, with a checkpoint. */
  shouldStop?: () => boolean;
  /** A clock in milliseconds (default `performance.now`). */
  now?: () => number;
  /**
   * Also evaluate this set after each epoch (uniform dequantization, a fixed seed) and log it as `test…`: for
   * learning curves on the test split. It never takes part in choosing the best model.
   */
  monitor?: Dataset;
}
