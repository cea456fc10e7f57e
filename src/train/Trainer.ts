import type { FloatArray } from '../core/FloatArray.js';
import { NiceFlowError } from '../core/NiceFlowError.js';
import { Rng, type RngState } from '../core/Rng.js';
import type { Dequantize } from '../data/dequantize.js';
import { checkDataKind, fillBatch, type Dataset } from '../data/Dataset.js';
import { modelMemory, type NiceModel } from '../model/NiceModel.js';
import { checkMemory } from '../core/checkMemory.js';
import { Adam, PAPER_ADAM, type AdamOptions } from '../nn/Adam.js';
import type { Param } from '../nn/Param.js';
import { hybridGradient, type HybridScratch, hybridScratch } from './hybridGradient.js';
import { learningRateAt, type LrSchedule } from './learningRate.js';

/** Training settings (defaults: the paper's, NICE §5.1; batch 200 as in its code). */
export interface TrainerOptions {
  batchSize: number;
  adam: AdamOptions;
  dequantize: Dequantize;
  seed: number;
  /**
   * Decay of an exponential moving average of the weights (Polyak averaging), updated after every step; 0 or absent:
   * none. The average is what `useAverage` installs for validation, the best-model choice and the saved model.
   */
  ema?: number;
  /** How the learning rate (`adam.lr`, the base rate) moves over the run; absent: constant (the paper). */
  lrSchedule?: LrSchedule;
  /**
   * Clip the gradient's global norm (over all parameters, of the mean negative log-likelihood) to this value before
   * Adam's update; absent: no clipping (the paper). Deep image flows need it: one step on a rare large gradient can
   * make a coupling's shifts large, and through the next couplings' networks they grow layer by layer until the whole
   * model breaks (docs/architectures.md, "Training deep flows").
   */
  clipGradNorm?: number;
  /**
   * A class-conditional model: the weight λ of a classification term, L = −log p(x | y) − λ·log p(y | x) per image
   * (src/train/hybridGradient.ts); absent or 0: plain maximum likelihood.
   */
  classWeight?: number;
}

/** Everything besides the weights and Adam's moments that a resumed run needs to continue exactly. */
export interface TrainerState {
  step: number;
  epoch: number;
  batchInEpoch: number;
  rng: RngState;
}

/** The weight average takes in the weights every this many steps (see Trainer.updateAverage). */
const AVERAGE_EVERY = 4;

/**
 * Scales every parameter's gradient by min(1, max / ‖g‖), ‖g‖ the global norm over all of them (summed in float64),
 * as torch.nn.utils.clip_grad_norm_ does; returns ‖g‖.
 */
export function clipGradNorm(params: readonly Param[], max: number): number {
  let sum = 0;
  for (const p of params) {
    const g = p.grad;
    for (let i = 0; i < g.length; i++) sum += g[i] * g[i];
  }
  const norm = Math.sqrt(sum);
  if (norm > max) {
    const k = max / norm;
    for (const p of params) {
      const g = p.grad;
      for (let i = 0; i < g.length; i++) g[i] *= k;
    }
  }
  return norm;
}

/** Thrown when the loss or a gradient stops being finite; the parameters are left as before the step. */
export class NonFiniteLossError extends NiceFlowError {}

/**
 * Mini-batch maximum-likelihood training: each step draws the next batch of a seeded shuffle, dequantizes it (images;
 * continuous points go in as they are, see {@link fillBatch}), and takes one Adam step on the mean negative
 * log-likelihood. The last partial batch of an epoch is dropped so every step has the same size (and no allocation).
 */
export class Trainer {
  readonly options: TrainerOptions;
  readonly adam: Adam;
  readonly rng: Rng;
  /** Image order of the current epoch. */
  order: Int32Array;
  step = 0;
  epoch = 0;
  batchInEpoch = 0;
  /** The moving average of each parameter (zero-started; see `useAverage` for its bias correction), or null. */
  readonly ema: Float32Array[] | null;
  private live: Float32Array[] | null = null;
  private readonly x: FloatArray;
  /** A class-conditional model's batch context: the batch's labels one-hot [batch, K]; null otherwise. */
  private readonly context: FloatArray | null;
  /** With `classWeight`: the batch's labels and the objective's scratch. */
  private readonly hybrid: { labels: Int32Array; scratch: HybridScratch } | null = null;

  constructor(
    readonly model: NiceModel,
    readonly data: Dataset,
    options: Partial<TrainerOptions> = {},
  ) {
    this.options = { batchSize: 200, adam: PAPER_ADAM, dequantize: 'uniform', seed: 0, ...options };
    if (data.dim !== model.dim) throw new NiceFlowError(`data have ${data.dim} values per image, the model expects ${model.dim}`);
    checkDataKind(model.config, data);
    if (data.count < 1) throw new NiceFlowError('no training images');
    this.options.batchSize = Math.min(this.options.batchSize, data.count);
    const need = modelMemory(model.config, { training: true, dtype: model.backend.dtype });
    checkMemory(model.backend, need.bytes, need.what);
    // Adam gets its own copy of the settings: a schedule moves its lr, never the options a checkpoint records.
    this.adam = new Adam(model.backend, model.params, { ...this.options.adam });
    const decay = this.options.ema ?? 0;
    if (!(decay >= 0 && decay < 1)) throw new NiceFlowError(`the weight average's decay must be in [0, 1), got ${decay}`);
    // Ordinary arrays (not the backend's): the average is only read at validation, and loops over ordinary memory
    // run several times faster than over a wasm backend's shared memory.
    this.ema = decay > 0 ? model.params.map((p) => new Float32Array(p.data.length)) : null;
    this.rng = new Rng(this.options.seed);
    this.order = new Int32Array(data.count);
    this.x = model.backend.alloc(this.options.batchSize * data.dim);
    this.context = null;
    if (model.contextSize > 0) {
      const K = model.config.classes;
      if (!K) throw new NiceFlowError('this model takes a context vector per example: training it needs those vectors, which image data sets do not carry (train a class-conditional model, `classes`, on labelled images)');
      if (!data.labels) throw new NiceFlowError('this model is class-conditional: the training images need their labels');
      this.context = model.backend.alloc(this.options.batchSize * K);
    }
    const weight = this.options.classWeight ?? 0;
    if (!(weight >= 0 && weight < Infinity)) throw new NiceFlowError(`the classification weight must be a number ≥ 0, got ${weight}`);
    if (weight > 0) {
      if (!this.context) throw new NiceFlowError('a classification weight needs a class-conditional model (train --conditional)');
      this.hybrid = { labels: new Int32Array(this.options.batchSize), scratch: hybridScratch(model) };
    }
    this.shuffle();
  }

  /** Full batches per epoch. */
  get batchesPerEpoch(): number {
    return Math.floor(this.data.count / this.options.batchSize);
  }

  private shuffle(): void {
    for (let i = 0; i < this.order.length; i++) this.order[i] = i;
    this.rng.shuffle(this.order);
  }

  /**
   * One optimisation step; returns the batch's mean log-likelihood (nats) before the update.
   * Throws NonFiniteLossError, without touching the parameters, when the loss or a gradient is NaN or infinite.
   */
  trainStep(): number {
    if (this.live) throw new Error('trainStep: the weight average is installed; call useLive() first');
    const n = this.options.batchSize;
    fillBatch(this.data, this.order, this.batchInEpoch * n, n, this.options.dequantize, this.rng, this.x, this.model.range);
    let mean = 0;
    if (this.hybrid) {
      // log p(x | y) and the classification term (its gradient only: the reported mean is the conditional).
      const labels = this.hybrid.labels;
      for (let i = 0; i < n; i++) labels[i] = this.data.labels![this.order[this.batchInEpoch * n + i]];
      mean = hybridGradient(this.model, this.x, n, labels, this.options.classWeight!, this.hybrid.scratch).conditional;
    } else {
      const logProb = this.model.paramGradLogProb(this.x, n, -1 / n, this.batchContext(n));
      for (let i = 0; i < n; i++) mean += logProb[i];
      mean /= n;
    }
    if (!Number.isFinite(mean)) throw new NonFiniteLossError(`training stopped at step ${this.step + 1}: the log-likelihood is ${mean}`);
    // Biases and the scale see every back-propagated value (their gradients are column sums), so a NaN or Inf
    // anywhere in backprop shows in them; checking these ~0.1% of the gradients keeps the check cheap.
    for (const p of this.model.params) {
      if (p.shape.length !== 1) continue;
      const g = p.grad;
      let s = 0;
      for (let i = 0; i < g.length; i++) s += g[i];
      if (!Number.isFinite(s)) throw new NonFiniteLossError(`training stopped at step ${this.step + 1}: gradient of ${p.name} is not finite`);
    }
    if (this.options.clipGradNorm !== undefined) this.lastGradNorm = clipGradNorm(this.model.params, this.options.clipGradNorm);
    this.adam.options.lr = learningRateAt(this.options.lrSchedule, this.options.adam.lr, this.step);
    this.adam.update();
    this.updateAverage();
    this.step++;
    this.batchInEpoch++;
    if (this.batchInEpoch >= this.batchesPerEpoch) {
      this.batchInEpoch = 0;
      this.epoch++;
      this.shuffle();
    }
    return mean;
  }

  /** The current batch's labels one-hot in `context` (undefined for an unconditional model). */
  private batchContext(n: number): FloatArray | undefined {
    if (!this.context) return undefined;
    const K = this.model.config.classes!;
    const labels = this.data.labels!;
    const start = this.batchInEpoch * n;
    this.context.fill(0, 0, n * K);
    for (let i = 0; i < n; i++) {
      const y = labels[this.order[start + i]];
      if (y >= K) throw new NiceFlowError(`label ${y} of training image ${this.order[start + i]} is not one of the model's ${K} classes`);
      this.context[i * K + y] = 1;
    }
    return this.context;
  }

  /** With `clipGradNorm`: the gradient's global norm at the last step, before clipping. */
  lastGradNorm = NaN;

  /** The learning rate the next step will use. */
  get learningRate(): number {
    return learningRateAt(this.options.lrSchedule, this.options.adam.lr, this.step);
  }

  /**
   * Folds the weights into the average every AVERAGE_EVERY steps, with the decay raised to that power: the same time
   * constant (1/(1 − decay) steps) as every step, a quarter of the cost (a pass over all weights in TypeScript).
   * Called after Adam's update and before the step counter moves, so `step + 1` is the number of steps taken.
   */
  private updateAverage(): void {
    if (!this.ema || (this.step + 1) % AVERAGE_EVERY !== 0) return;
    const d = (this.options.ema as number) ** AVERAGE_EVERY;
    const c = 1 - d;
    const params = this.model.params;
    for (let i = 0; i < params.length; i++) {
      const p = params[i].data;
      const e = this.ema[i];
      for (let j = 0; j < p.length; j++) e[j] = d * e[j] + c * p[j];
    }
  }

  /** Whether the model holds the weight average (between `useAverage` and `useLive`). */
  get averageInstalled(): boolean {
    return this.live !== null;
  }

  /**
   * Puts the weight average into the model (the live weights are kept aside): the zero-started average divided by
   * 1 − decay^t after t steps (counted in whole updates), so it is an average of the weights seen, not pulled towards zero. Without an average
   * (or before the first step) the model keeps its live weights. Undo with `useLive` before training on.
   */
  useAverage(): void {
    const updates = Math.floor(this.step / AVERAGE_EVERY);
    if (!this.ema || updates === 0 || this.live) return;
    const correction = 1 / (1 - (this.options.ema as number) ** (AVERAGE_EVERY * updates));
    this.live = this.model.params.map((p, i) => {
      const kept = Float32Array.from(p.data);
      const e = this.ema![i];
      for (let j = 0; j < p.data.length; j++) p.data[j] = e[j] * correction;
      return kept;
    });
  }

  /** Puts the live weights back after `useAverage`. */
  useLive(): void {
    if (!this.live) return;
    this.model.params.forEach((p, i) => p.data.set(this.live![i]));
    this.live = null;
  }

  /**
   * The name of the first parameter holding a NaN or infinite value, or null when all are finite. Adam can overflow
   * a weight although the step's loss was finite, so a state is only known good once this and {@link checkLoss} pass.
   */
  firstNonFiniteParam(): string | null {
    for (const p of this.model.params) {
      const d = p.data;
      for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) return p.name;
    }
    return null;
  }

  /**
   * The mean log-likelihood of the current parameters on the next batch, dequantized at pixel centres: a forward
   * pass that draws no random numbers and changes no state, so a run checked this way continues exactly.
   */
  checkLoss(): number {
    const n = this.options.batchSize;
    fillBatch(this.data, this.order, this.batchInEpoch * n, n, 'center', this.rng, this.x, this.model.range);
    const logProb = this.model.logProb(this.x, n, this.batchContext(n));
    let mean = 0;
    for (let i = 0; i < n; i++) mean += logProb[i];
    return mean / n;
  }

  /** State to save beside weights, moments and `order`. */
  getState(): TrainerState {
    return { step: this.step, epoch: this.epoch, batchInEpoch: this.batchInEpoch, rng: this.rng.getState() };
  }

  /** Restores a saved state (the epoch's order and Adam's moments are restored separately, by the checkpoint). */
  setState(state: TrainerState, order: Int32Array): void {
    if (order.length !== this.order.length) {
      throw new NiceFlowError(`checkpoint was made on ${order.length} training images, this run has ${this.order.length}`);
    }
    this.step = state.step;
    this.epoch = state.epoch;
    this.batchInEpoch = state.batchInEpoch;
    this.rng.setState(state.rng);
    this.order.set(order);
    this.adam.step = state.step;
  }
}
