// `nice-flow train`: maximum-likelihood training with validation, best-model saving and resumable checkpoints.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { Rng } from '../src/core/Rng.js';
import { bitsPerDim, dequantizeBatch, parseDataRange, type Dequantize } from '../src/data/dequantize.js';
import { fitZca } from '../src/data/fitWhitening.js';
import type { CouplingLaw } from '../src/flows/couplingLaw.js';
import { Whitening } from '../src/flows/Whitening.js';
import { getPreset, type PresetConfig } from '../src/model/presets.js';
import type { ImageDataset } from '../src/data/ImageDataset.js';
import type { NetworkName, NiceConfig } from '../src/model/NiceConfig.js';
import { serializeModel } from '../src/model/modelFile.js';
import { NiceModel } from '../src/model/NiceModel.js';
import { PAPER_ADAM } from '../src/nn/Adam.js';
import type { PartitionName } from '../src/flows/Partition.js';
import type { PriorName } from '../src/priors/Prior.js';
import { deserializeCheckpoint, serializeCheckpoint } from '../src/train/checkpoint.js';
import { evaluate } from '../src/train/evaluate.js';
import { NonFiniteLossError, Trainer } from '../src/train/Trainer.js';
import { selectBackend } from '../src/node/selectBackend.js';
import { describeData, loadSplit, resolveData } from './data.js';
import { appendLine, parseInput, writeAtomic } from './fsio.js';
import { imageShape, writeGrid } from './images.js';
import { createBar, formatDuration, threadCount, yieldToEventLoop } from './progress.js';

export interface TrainFlags {
  data: string;
  out: string;
  epochs: number;
  maxSteps?: number;
  batchSize: number;
  couplings: number;
  hidden: number;
  depth: number;
  prior: PriorName;
  partition: PartitionName;
  preset?: string;
  coupling: CouplingLaw;
  network: NetworkName;
  whiten: 'none' | 'zca';
  whitenLimit?: number;
  range?: string;
  lr: number;
  seed: number;
  limit?: number;
  validSize: number;
  validLimit?: number;
  dequantize: Dequantize;
  scaleInit: 'zero' | 'data';
  resume: boolean;
  backend: string;
  checkpointEvery?: number;
  quiet: boolean;
}

/** What a checkpoint remembers of the command that started the run. */
interface RunInfo {
  data: string;
  limit?: number;
  validSize: number;
  validLimit?: number;
  epochs: number;
  maxSteps?: number;
  seed: number;
  bestValid: number | null;
  bestEpoch: number | null;
  seconds: number;
}

export async function trainCommand(flags: TrainFlags, cmd: Command): Promise<void> {
  const out = flags.out;
  const ckptPath = join(out, 'checkpoint.safetensors');
  const modelPath = join(out, 'model.safetensors');
  const logPath = join(out, 'log.jsonl');
  const backend = await selectBackend(flags.backend);
  const say = (msg: string): void => {
    if (!flags.quiet) process.stderr.write(msg + '\n');
  };
  const explicit = (name: string): boolean => cmd.getOptionValueSource(name) === 'cli';

  let model: NiceModel;
  let run: RunInfo;
  let trainer: Trainer;
  let train: ImageDataset;
  if (flags.resume) {
    if (!existsSync(ckptPath)) throw new NiceFlowError(`--resume: no checkpoint at ${ckptPath}`);
    const loaded = parseInput(ckptPath, 'checkpoint', (bytes) => deserializeCheckpoint(bytes, backend, `checkpoint ${ckptPath}`));
    model = loaded.model;
    run = loaded.run as RunInfo;
    if (explicit('epochs')) run.epochs = flags.epochs;
    if (explicit('maxSteps')) run.maxSteps = flags.maxSteps;
    train = loadSplit(run.data, 'train', { validSize: run.validSize, limit: run.limit });
    const trainerOptions = JSON.parse(JSON.stringify((loaded.run as { trainerOptions?: unknown }).trainerOptions ?? {}));
    trainer = new Trainer(model, train, trainerOptions);
    loaded.restore(trainer);
    say(`resuming ${out} at step ${trainer.step} (epoch ${trainer.epoch + 1}) on the ${backend.name} backend (${threadCount(backend)})`);
  } else {
    if (existsSync(ckptPath)) {
      throw new NiceFlowError(`${out} already holds a run (checkpoint.safetensors): add --resume to continue it, or choose another --out`);
    }
    train = loadSplit(flags.data, 'train', { validSize: flags.validSize, limit: flags.limit });
    const config = configFromFlags(flags, explicit, train);
    model = new NiceModel(backend, config);
    model.init(new Rng(flags.seed));
    if (config.whiten === 'zca') {
      const n = Math.min(flags.whitenLimit ?? train.count, train.count);
      say(`fitting ZCA whitening on ${n} training images (${train.dim}×${train.dim} covariance and eigen-decomposition)…`);
      const x = new Float32Array(n * train.dim);
      dequantizeBatch(train, null, 0, n, 'center', new Rng(0), x, model.range);
      const fit = fitZca(x, n, train.dim, undefined, backend);
      model.setWhitening(new Whitening(backend, train.dim, fit.mean, fit.matrix, fit.inverse, fit.logDet));
      say(`whitening: log|det W| = ${fit.logDet.toFixed(1)} nats, ε = ${fit.eps.toExponential(2)}`);
    }
    if (flags.scaleInit === 'data') {
      const n = Math.min(2000, train.count);
      const x = backend.alloc(n * train.dim);
      dequantizeBatch(train, null, 0, n, 'center', new Rng(0), x, model.range);
      model.initScaleFromData(x, n);
    }
    run = {
      data: flags.data, limit: flags.limit, validSize: flags.validSize, validLimit: flags.validLimit, epochs: flags.epochs,
      maxSteps: flags.maxSteps, seed: flags.seed, bestValid: null, bestEpoch: null, seconds: 0,
    };
    trainer = new Trainer(model, train, {
      batchSize: flags.batchSize, adam: { ...PAPER_ADAM, lr: flags.lr }, dequantize: flags.dequantize, seed: flags.seed,
    });
    const params = model.params.reduce((a, p) => a + p.data.length, 0);
    const c = model.config;
    say(`training NICE (${c.couplings} ${c.coupling} couplings, ${c.network === 'conv' ? `conv ${c.depth}×${c.hidden} channels` : `${c.depth}×${c.hidden} MLP`}, ` +
      `${(params / 1e6).toFixed(2)}M parameters, ${c.prior} prior${c.whiten ? ', ZCA whitening' : ''}, data range [${model.range.join(', ')}]) ` +
      `on ${train.count} images of ${describeData(flags.data)} with the ${backend.name} backend (${threadCount(backend)})`);
  }
  const valid = loadSplit(run.data, 'valid', { validSize: run.validSize, limit: run.validLimit });
  const runWithOptions = (): unknown => ({ ...run, trainerOptions: trainer.options });
  const D = model.dim;
  const bpe = trainer.batchesPerEpoch;
  const stopAt = Math.min(run.epochs * bpe, run.maxSteps ?? Infinity);
  if (trainer.step >= stopAt) {
    say(`nothing to do: the run is at step ${trainer.step}, its end (--epochs ${run.epochs}${run.maxSteps ? `, --max-steps ${run.maxSteps}` : ''})`);
    return;
  }

  const saveCheckpoint = (): void => writeAtomic(ckptPath, serializeCheckpoint(trainer, runWithOptions()), 'checkpoint');
  let interrupted = false;
  const onSignal = (): void => {
    if (interrupted) process.exit(130); // a second Ctrl-C quits without waiting
    interrupted = true;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const bar = createBar('epoch {epoch} |{bar}| step {value}/{total} | {rate} img/s | LL {ll} nats | ETA {eta_formatted}', stopAt, flags.quiet,
    { epoch: trainer.epoch + 1, rate: '-', ll: '-' });
  bar.update(trainer.step);
  let t0 = performance.now();
  let secondsBefore = run.seconds;
  let emaLL = NaN;
  let epochSum = 0;
  let epochSteps = 0;

  const endOfEpoch = async (): Promise<void> => {
    const stepSeconds = run.seconds;
    const vbar = createBar('  validating |{bar}| {value}/{total} images', valid.count, flags.quiet);
    const result = await evaluate(model, valid, { rng: new Rng(run.seed + 1), batchSize: trainer.options.batchSize, onBatch: async (done) => {
      vbar.update(done);
      await yieldToEventLoop();
    } });
    vbar.stop();
    const epoch = trainer.batchInEpoch === 0 ? trainer.epoch : trainer.epoch + 1;
    const trainLL = epochSteps ? epochSum / epochSteps : NaN;
    const improved = run.bestValid === null || result.logLikelihood > run.bestValid;
    if (improved) {
      run.bestValid = result.logLikelihood;
      run.bestEpoch = epoch;
      writeAtomic(modelPath, serializeModel(model, { step: String(trainer.step), epoch: String(epoch), validLogLikelihood: String(result.logLikelihood) }), 'model');
    }
    appendLine(logPath, JSON.stringify({
      step: trainer.step, epoch, trainLogLikelihood: trainLL, trainBitsPerDim: bitsPerDim(trainLL, D, model.range),
      validLogLikelihood: result.logLikelihood, validBitsPerDim: result.bitsPerDim, seconds: Math.round(stepSeconds * 10) / 10,
    }));
    const samples = model.sample(64, new Rng(run.seed + 2), 1);
    writeGrid(join(out, 'samples', `epoch-${String(epoch).padStart(4, '0')}.png`), samples, 64, imageShape(model.config.shape, D), 8, model.range);
    saveCheckpoint();
    say(`epoch ${epoch}: train LL ${trainLL.toFixed(2)}, valid LL ${result.logLikelihood.toFixed(2)} nats ` +
      `(${result.bitsPerDim.toFixed(3)} bits/dim)${improved ? ', best so far: saved model.safetensors' : ''}`);
    epochSum = 0;
    epochSteps = 0;
    // Validation time does not count as training time in samples/s.
    t0 = performance.now();
    secondsBefore = run.seconds;
  };

  let lastStepAt = performance.now();
  let rate = NaN;
  try {
    while (trainer.step < stopAt && !interrupted) {
      let ll: number;
      try {
        ll = trainer.trainStep();
      } catch (e) {
        if (e instanceof NonFiniteLossError) {
          bar.stop();
          throw new NiceFlowError(`${e.message}; the last good checkpoint is kept at ${ckptPath} (try a lower --lr)`);
        }
        throw e;
      }
      const now = performance.now();
      const inst = trainer.options.batchSize / ((now - lastStepAt) / 1000);
      rate = Number.isNaN(rate) ? inst : 0.9 * rate + 0.1 * inst;
      lastStepAt = now;
      run.seconds = secondsBefore + (now - t0) / 1000;
      emaLL = Number.isNaN(emaLL) ? ll : 0.95 * emaLL + 0.05 * ll;
      epochSum += ll;
      epochSteps++;
      bar.update(trainer.step, { epoch: trainer.epoch + 1, rate: rate.toFixed(0), ll: emaLL.toFixed(1) });
      if (trainer.batchInEpoch === 0) {
        await endOfEpoch();
        lastStepAt = performance.now();
      } else if (flags.checkpointEvery && trainer.step % flags.checkpointEvery === 0) saveCheckpoint();
      await yieldToEventLoop();
    }
    if (!interrupted && trainer.batchInEpoch !== 0) await endOfEpoch();
  } finally {
    bar.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (interrupted) {
    saveCheckpoint();
    process.stderr.write(`interrupted at step ${trainer.step}: checkpoint saved to ${ckptPath}; continue with --resume\n`);
    process.exitCode = 130;
    return;
  }
  say(`done: ${trainer.step} steps in ${formatDuration(run.seconds)}; best valid LL ${run.bestValid?.toFixed(2)} nats ` +
    `(${bitsPerDim(run.bestValid ?? NaN, D, model.range).toFixed(3)} bits/dim) at epoch ${run.bestEpoch}; model: ${modelPath}`);
}

/**
 * The model config a new run asks for: a --preset gives the paper's settings for its data set, and flags given
 * explicitly on the command line override them; the data range defaults to the data set's (CIFAR-10: [−1, 1]).
 */
function configFromFlags(flags: TrainFlags, explicit: (name: string) => boolean, train: ImageDataset): NiceConfig {
  const preset: Partial<PresetConfig> = flags.preset ? getPreset(flags.preset) : {};
  // A flag typed on the command line wins; otherwise the preset's value, when it has one; otherwise the flag's default.
  const pick = <T>(key: keyof PresetConfig, flagValue: T): T => (explicit(key) || preset[key] === undefined ? flagValue : (preset[key] as T));
  const range = flags.range !== undefined ? parseDataRange(flags.range) : (preset.range ?? resolveData(flags.data).defaultRange);
  const whiten = pick('whiten', flags.whiten);
  return {
    dim: train.dim,
    couplings: pick('couplings', flags.couplings),
    hidden: pick('hidden', flags.hidden),
    depth: pick('depth', flags.depth),
    prior: pick('prior', flags.prior),
    partition: flags.partition,
    coupling: pick('coupling', flags.coupling),
    network: flags.network,
    shape: [...train.shape],
    range: [range[0], range[1]],
    ...(whiten === 'zca' ? { whiten: 'zca' as const } : {}),
  };
}
