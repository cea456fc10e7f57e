import type { Backend } from '../core/Backend.js';
import { NiceFlowError } from '../core/NiceFlowError.js';
import { Rng } from '../core/Rng.js';
import { bitsPerDim } from '../data/dequantize.js';
import { fillBatch, isPointDataset, type Dataset } from '../data/Dataset.js';
import { fitZca } from '../data/fitWhitening.js';
import { Whitening } from '../flows/Whitening.js';
import { configFromSettings } from '../model/configFromSettings.js';
import { serializeModel } from '../model/modelFile.js';
import { oneHot } from '../model/oneHot.js';
import type { NiceConfig } from '../model/NiceConfig.js';
import { modelMemory, NiceModel } from '../model/NiceModel.js';
import { checkMemory } from '../core/checkMemory.js';
import { PAPER_ADAM } from '../nn/Adam.js';
import { optimiserStateProblem, serializeCheckpoint } from './checkpoint.js';
import { evaluate, type EvalResult, type PointEvalResult } from './evaluate.js';
import type { LrSchedule } from './learningRate.js';
import type { RunRecord } from './RunRecord.js';
import type { NewRunOptions, ResumeOverrides, RunDriver } from './NewRunOptions.js';
import type { RunCheckpoint } from './readRunCheckpoint.js';
import type { EpochResult, RunEvents, RunOutcome } from './RunEvents.js';
import type { EpochLogEntry } from './RunStorage.js';
import { NonFiniteLossError, Trainer } from './Trainer.js';

/** What validation gives: with bits/dim for images, without (null) for continuous data. */
type Scored = EvalResult | PointEvalResult;

/** Validation bits/dim above this say the model is worse than a uniform density (8 bits/dim) by a factor 256 per value. */
const DIVERGED_BITS_PER_DIM = 16;

/**
 * One training run, as `nice-flow train` does it: a model built from a config or preset (with ZCA whitening and the
 * data-dependent scale start when asked), then epochs of shuffled steps, each epoch ending with validation, the best
 * model by validation, a sample grid, a log line and a checkpoint. Front ends (the CLI, a browser Worker, a user's
 * program) give it data, a {@link RunStorage} and {@link RunEvents}; it touches no file, terminal or page itself.
 *
 * State is never trusted blindly: a checkpoint is only saved for parameters shown to give a finite loss (the epoch's
 * validation, or a forward pass on the next batch for mid-epoch and final checkpoints), so after a divergence the
 * saved checkpoint is the last good state. A validation result far worse than a uniform density, or far below the
 * best so far, is reported through `onWarning` even when no value became NaN.
 */
export class TrainingRun {
  /** True once a validation result looked like a divergence (see onWarning). */
  divergenceWarned = false;
  private stopRequested = false;

  private constructor(
    readonly model: NiceModel,
    readonly trainer: Trainer,
    readonly train: Dataset,
    readonly valid: Dataset,
    readonly record: RunRecord,
    /** Whether the run continues a checkpoint. */
    readonly resumed: boolean,
  ) {}

  /**
   * Builds a new run: the model from its settings (fitting whitening and the scale start as asked), the trainer.
   * Continuous training data (a `PointDataset`) get a model of continuous data (`data: 'continuous'`: no range, no
   * shape) and a log without bits/dim.
   */
  static async create(backend: Backend, train: Dataset, valid: Dataset, options: NewRunOptions, events: RunEvents = {}): Promise<TrainingRun> {
    const config: NiceConfig = configFromSettings(isPointDataset(train) ? { dim: train.dim } : train, options.model ?? {}, options.preset, options.dataRange);
    const seed = options.seed ?? 0;
    // Before anything is built or fitted: can this backend hold the model with its gradients and Adam's moments?
    const need = modelMemory(config, { training: true, dtype: backend.dtype });
    checkMemory(backend, need.bytes, need.what);
    const model = new NiceModel(backend, config);
    model.init(new Rng(seed));
    if (config.whiten === 'zca') {
      const n = Math.min(options.whitenLimit ?? train.count, train.count);
      await events.onNote?.(`fitting ZCA whitening on ${n} training images (${train.dim}×${train.dim} covariance and eigen-decomposition)…`);
      const x = new Float32Array(n * train.dim);
      fillBatch(train, null, 0, n, 'center', new Rng(0), x, model.range);
      const fit = fitZca(x, n, train.dim, undefined, backend);
      model.setWhitening(new Whitening(backend, train.dim, fit.mean, fit.matrix, fit.inverse, fit.logDet));
      await events.onNote?.(`whitening: log|det W| = ${fit.logDet.toFixed(1)} nats, ε = ${fit.eps.toExponential(2)}`);
    }
    const batchSize = options.batchSize ?? 200;
    if (options.scaleInit === 'data' || model.startsFromData) {
      // The data-dependent start (ActNorm always, the scaling with --scale-init data). A flow with ActNorm starts on
      // one training batch, as Glow does: its workspaces grow to the largest batch they see and stay, and a conv
      // flow's are large per image. The paper's dense models start their scaling on 2,000 images.
      const n = Math.min(model.startsFromData ? batchSize : 2000, train.count);
      const x = backend.alloc(n * train.dim);
      try {
        fillBatch(train, null, 0, n, 'center', new Rng(0), x, model.range);
        const K = model.config.classes;
        if (K && !train.labels) throw new NiceFlowError('this model is class-conditional: the training images need their labels');
        const context = K ? oneHot(train.labels!, K, undefined, n) : undefined;
        model.initFromData(x, n, { scaling: options.scaleInit === 'data', context });
      } finally {
        backend.free(x);
      }
    }
    const stepsPerEpoch = Math.floor(train.count / Math.min(batchSize, train.count));
    // The schedule spans the run's epochs (a --max-steps stop, like a Ctrl-C, ends a run early without reshaping it).
    const total = options.epochs * stepsPerEpoch;
    const kind = options.lrSchedule ?? 'constant';
    const lrSchedule: LrSchedule | undefined = kind === 'constant' && !options.warmup ? undefined
      : kind === 'cosine' ? { kind, warmup: options.warmup ?? 0, total }
      : kind === 'step' ? { kind, warmup: options.warmup ?? 0, every: Math.max(1, (options.lrStepEpochs ?? Math.ceil(options.epochs / 3)) * stepsPerEpoch), factor: 0.5 }
      : { kind, warmup: options.warmup ?? 0 };
    const trainer = new Trainer(model, train, {
      batchSize,
      adam: { ...PAPER_ADAM, lr: options.lr ?? PAPER_ADAM.lr },
      dequantize: options.dequantize ?? 'uniform',
      seed,
      ...(options.ema ? { ema: options.ema } : {}),
      ...(lrSchedule ? { lrSchedule } : {}),
      ...(options.clipGradNorm !== undefined ? { clipGradNorm: options.clipGradNorm } : {}),
      ...(options.classWeight ? { classWeight: options.classWeight } : {}),
    });
    const record: RunRecord = {
      data: options.data, limit: options.limit, validSize: options.validSize, validLimit: options.validLimit, epochs: options.epochs,
      maxSteps: options.maxSteps, seed, bestValid: null, bestEpoch: null, seconds: 0, trainerOptions: trainer.options,
    };
    return new TrainingRun(model, trainer, train, valid, record, false);
  }

  /**
   * Continues a checkpoint (from {@link readRunCheckpoint}) over the same data, which the caller loads as its record
   * says. Only how long it runs and the learning rate may change; everything else is the checkpoint's.
   */
  static resume(ckpt: RunCheckpoint, train: Dataset, valid: Dataset, overrides: ResumeOverrides = {}, what = 'checkpoint'): TrainingRun {
    const record: RunRecord = { ...ckpt.record, trainerOptions: { ...ckpt.record.trainerOptions, adam: { ...ckpt.record.trainerOptions.adam } } };
    if (overrides.epochs !== undefined) {
      record.epochs = overrides.epochs;
      // A cosine schedule spans the run's epochs: a longer (or shorter) run stretches it from here on, rather than
      // training the added epochs at its floor.
      const schedule = record.trainerOptions.lrSchedule;
      if (schedule?.kind === 'cosine') {
        const stepsPerEpoch = Math.floor(train.count / Math.min(record.trainerOptions.batchSize, train.count));
        record.trainerOptions.lrSchedule = { ...schedule, total: overrides.epochs * stepsPerEpoch };
      }
    }
    if (overrides.maxSteps !== undefined) record.maxSteps = overrides.maxSteps;
    if (overrides.lr !== undefined) record.trainerOptions.adam.lr = overrides.lr;
    const trainer = new Trainer(ckpt.model, train, record.trainerOptions);
    ckpt.restore(trainer);
    // A checkpoint is trusted as a good state only once its parameters are seen to give a finite loss here.
    const ll = trainer.checkLoss();
    if (!Number.isFinite(ll)) {
      throw new NiceFlowError(`${what}: its parameters give a log-likelihood of ${ll} on the next training batch; it cannot be resumed`);
    }
    return new TrainingRun(ckpt.model, trainer, train, valid, record, true);
  }

  /** The step at which the run ends: its epochs, or `maxSteps` when sooner. */
  get stopAt(): number {
    return Math.min(this.record.epochs * this.trainer.batchesPerEpoch, this.record.maxSteps ?? Infinity);
  }

  /** Asks the run to stop after the current step (with a checkpoint). */
  requestStop(): void {
    this.stopRequested = true;
  }

  /** The checkpoint of the current state, with its run record. */
  checkpointBytes(): Uint8Array {
    return serializeCheckpoint(this.trainer, this.record);
  }

  /** Trains until the end of the run, a stop request or a divergence. */
  async run(driver: RunDriver): Promise<RunOutcome> {
    const { model, trainer, record, valid } = this;
    const events = driver.events ?? {};
    const now = driver.now ?? (() => performance.now());
    const stopAt = this.stopAt;
    if (trainer.step >= stopAt) return { reason: 'nothing-to-do' };
    const D = model.dim;
    let lastGood: { step: number; epoch: number } | null = null;
    const at = (): { step: number; epoch: number } => ({ step: trainer.step, epoch: trainer.epoch });
    let lastSave = now();
    const save = async (): Promise<void> => {
      await driver.storage.saveCheckpoint(this.checkpointBytes(), at());
      lastSave = now();
      lastGood = at();
      await events.onCheckpoint?.(at());
    };
    const diverged = (message: string): RunOutcome => ({ reason: 'diverged', message, lastGood });
    // A state is good when every parameter is finite and the loss on the next batch is (Adam can overflow a weight
    // although the step's loss was finite).
    // The optimiser's state must also be one the reader accepts (Adam's second moments overflow to Infinity on a
    // diverging run while the weights stay finite): the checkpoint written must be one that resumes.
    const badState = (): string | null => {
      const p = trainer.firstNonFiniteParam();
      if (p !== null) return `parameter ${p} is not finite after step ${trainer.step}`;
      const optimiser = optimiserStateProblem(trainer);
      if (optimiser !== null) return `${optimiser} after step ${trainer.step}`;
      const ll = trainer.checkLoss();
      return Number.isFinite(ll) ? null : `the log-likelihood after step ${trainer.step} is ${ll}`;
    };
    if (this.resumed) {
      lastGood = at();
      const dropped = (await driver.storage.trimLog?.(trainer.step)) ?? 0;
      if (dropped > 0) await events.onNote?.(`dropped ${dropped} log line(s) written after the checkpoint (step ${trainer.step}) by a run that was stopped before it saved`);
    }

    let t0 = now();
    let secondsBefore = record.seconds;
    let epochSum = record.epochLogLikelihoodSum ?? 0;
    let epochSteps = record.epochSteps ?? 0;
    const keepEpochSum = (): void => {
      record.epochLogLikelihoodSum = epochSum;
      record.epochSteps = epochSteps;
    };

    const endOfEpoch = async (): Promise<RunOutcome | null> => {
      const validate = (progress: boolean): Promise<Scored> => evaluate(model, valid, {
        rng: new Rng(record.seed + 1), batchSize: trainer.options.batchSize,
        onBatch: progress ? (done) => events.onValidation?.(done, valid.count) : undefined,
      });
      // With a weight average, the average is validated, chosen, sampled and saved; the live weights are validated too.
      // The monitored set (the test split, say) is measured for both as well: the curves of both stay comparable.
      const monitor = (): Promise<Scored> | null => driver.monitor ? evaluate(model, driver.monitor, { rng: new Rng(record.seed + 3), batchSize: trainer.options.batchSize }) : null;
      const live = trainer.ema ? await validate(false) : null;
      const liveTest = trainer.ema ? await monitor() : null;
      trainer.useAverage();
      try {
        const result = await validate(true);
        const test = await monitor();
        return await finishEpoch(result, live, test, liveTest);
      } finally {
        trainer.useLive();
      }
    };
    const finishEpoch = async (result: Scored, live: Scored | null, test: Scored | null, liveTest: Scored | null = null): Promise<RunOutcome | null> => {
      const epoch = trainer.batchInEpoch === 0 ? trainer.epoch : trainer.epoch + 1;
      if (!Number.isFinite(result.logLikelihood)) return diverged(`training stopped at step ${trainer.step}: the validation log-likelihood is ${result.logLikelihood}`);
      const bad = trainer.firstNonFiniteParam();
      if (bad !== null) return diverged(`training stopped at step ${trainer.step}: parameter ${bad} is not finite`);
      const optimiser = optimiserStateProblem(trainer);
      if (optimiser !== null) return diverged(`training stopped at step ${trainer.step}: ${optimiser}`);
      const trainLL = epochSteps ? epochSum / epochSteps : NaN;
      const improved = record.bestValid === null || result.logLikelihood > record.bestValid;
      if (result.bitsPerDim !== null && result.bitsPerDim > DIVERGED_BITS_PER_DIM) {
        this.divergenceWarned = true;
        await events.onWarning?.(`training looks diverged: validation is at ${fmt(result.bitsPerDim)} bits/dim (${fmt(result.logLikelihood)} nats), ` +
          `worse than a uniform density (8 bits/dim) by more than ${DIVERGED_BITS_PER_DIM - 8} bits per value; try a lower learning rate`);
      } else if (record.bestValid !== null && result.logLikelihood < record.bestValid - D) {
        this.divergenceWarned = true;
        await events.onWarning?.(`training may be diverging: the validation log-likelihood fell from ${fmt(record.bestValid)} to ${fmt(result.logLikelihood)} nats ` +
          `(more than 1 nat per value); the best model (epoch ${record.bestEpoch}) is kept; try a lower learning rate`);
      }
      if (improved) {
        record.bestValid = result.logLikelihood;
        record.bestEpoch = epoch;
        await driver.storage.saveModel(
          serializeModel(model, { step: String(trainer.step), epoch: String(epoch), validLogLikelihood: String(result.logLikelihood) }),
          { step: trainer.step, epoch },
        );
      }
      const entry: EpochLogEntry = {
        step: trainer.step, epoch, trainLogLikelihood: trainLL, trainBitsPerDim: result.bitsPerDim === null ? null : bitsPerDim(trainLL, D, model.range),
        validLogLikelihood: result.logLikelihood, validBitsPerDim: result.bitsPerDim,
        ...(result.accuracy !== undefined ? { validConditionalLogLikelihood: result.conditionalLogLikelihood, validAccuracy: result.accuracy } : {}),
        ...(live ? { liveValidLogLikelihood: live.logLikelihood, liveValidBitsPerDim: live.bitsPerDim } : {}),
        ...(test ? { testLogLikelihood: test.logLikelihood, testBitsPerDim: test.bitsPerDim } : {}),
        ...(liveTest ? { liveTestLogLikelihood: liveTest.logLikelihood, liveTestBitsPerDim: liveTest.bitsPerDim } : {}),
        seconds: Math.round(record.seconds * 10) / 10,
      };
      await driver.storage.appendLog(entry);
      const { samples, count: sampleCount } = epochSamples(model, record.seed + 2);
      // A run that ends mid-epoch (--max-steps, a stop) is validated there too, but its epoch goes on when resumed:
      // the running sum is kept so the epoch's train log-likelihood covers all its steps.
      if (trainer.batchInEpoch === 0) {
        epochSum = 0;
        epochSteps = 0;
      }
      keepEpochSum();
      trainer.useLive(); // the checkpoint holds the live weights (and the average beside them)
      await save();
      await events.onEpoch?.({ ...entry, improved, samples, sampleCount });
      // Validation time does not count as training time.
      t0 = now();
      secondsBefore = record.seconds;
      return null;
    };

    while (trainer.step < stopAt) {
      if (this.stopRequested || driver.shouldStop?.()) {
        keepEpochSum();
        const bad = badState();
        if (bad !== null) return diverged(`training stopped at step ${trainer.step}: ${bad}`);
        await save();
        return { reason: 'stopped', saved: true };
      }
      let ll: number;
      try {
        ll = trainer.trainStep();
      } catch (e) {
        if (e instanceof NonFiniteLossError) return diverged(e.message);
        throw e;
      }
      record.seconds = secondsBefore + (now() - t0) / 1000;
      epochSum += ll;
      epochSteps++;
      await events.onStep?.({ step: trainer.step, epoch: trainer.epoch + 1, logLikelihood: ll, seconds: record.seconds });
      if (trainer.batchInEpoch === 0) {
        const end = await endOfEpoch();
        if (end) return end;
      } else if ((driver.checkpointEvery && trainer.step % driver.checkpointEvery === 0)
        || (driver.checkpointSeconds && now() - lastSave >= driver.checkpointSeconds * 1000)) {
        keepEpochSum();
        const bad = badState();
        if (bad !== null) return diverged(`training stopped at step ${trainer.step}: ${bad}`);
        await save();
      }
    }
    if (trainer.batchInEpoch !== 0) {
      const end = await endOfEpoch();
      if (end) return end;
    }
    return { reason: 'done' };
  }
}

function fmt(v: number): string {
  return Math.abs(v) >= 1e6 ? v.toExponential(2) : v.toFixed(2);
}

/**
 * The sample grid of an epoch: 64 samples at temperature 1, or for a class-conditional model 8 per class in class
 * order (rows of 8: one row per class).
 */
function epochSamples(model: NiceModel, seed: number): { samples: Float32Array; count: number } {
  const K = model.config.classes;
  if (!K) return { samples: model.sample(64, new Rng(seed), 1), count: 64 };
  const count = 8 * K;
  const labels = Int32Array.from({ length: count }, (_, i) => Math.floor(i / 8));
  return { samples: model.sample(count, new Rng(seed), 1, oneHot(labels, K)), count };
}
