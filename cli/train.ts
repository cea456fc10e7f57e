// `nice-flow train`: flags in, files out. The run itself (model building, epochs, validation, best model,
// checkpoints, divergence) is src/train/TrainingRun.ts; this file reads the data, writes the files and prints.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { bitsPerDim, parseDataRange, type Dequantize } from '../src/data/dequantize.js';
import { classPriorFromLabels } from '../src/data/classPriorFromLabels.js';
import { DEFAULT_CLASSES } from '../src/data/parseIdxLabels.js';
import type { CouplingLaw } from '../src/flows/couplingLaw.js';
import type { PartitionName } from '../src/flows/Partition.js';
import type { ModelSettings } from '../src/model/configFromSettings.js';
import type { Conditioning, NetworkName, NiceConfig } from '../src/model/NiceConfig.js';
import { summarizeFlow } from '../src/model/summarizeFlow.js';
import { flowInputShape, validateFlow } from '../src/model/planFlow.js';
import { getPreset } from '../src/model/presets.js';
import type { PriorName } from '../src/priors/priorRegistry.js';
import type { LrScheduleName } from '../src/train/learningRate.js';
import type { RunRecord } from '../src/train/RunRecord.js';
import { readRunCheckpoint } from '../src/train/readRunCheckpoint.js';
import type { RunStorage } from '../src/train/RunStorage.js';
import { TrainingRun } from '../src/train/TrainingRun.js';
import { selectBackend } from '../src/node/selectBackend.js';
import { describeData, loadDataSplit, resolveData } from './data.js';
import { appendLine, parseInput, writeAtomic } from './fsio.js';
import { imageShape, writeGrid, writeNpy } from './images.js';
import { createBar, formatDuration, threadCount, yieldToEventLoop } from './progress.js';
import { startStopNotice } from './stopNotice.js';

export interface TrainFlags {
  data: string;
  out: string;
  epochs: number;
  maxSteps?: number;
  batchSize: number;
  couplings: number;
  flow?: string;
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
  lrSchedule: LrScheduleName;
  warmup: number;
  lrStepEpochs?: number;
  ema: number;
  clipGrad: number;
  seed: number;
  limit?: number;
  validSize: number;
  validLimit?: number;
  dequantize: Dequantize;
  scaleInit: 'zero' | 'data';
  resume: boolean;
  backend: string;
  checkpointEvery?: number;
  logTest: boolean;
  quiet: boolean;
  /** A class-conditional model (the data's labels as its context). */
  conditional: boolean;
  /** With --conditional: the weight λ of the classification term −λ·log p(y | x). */
  classWeight: number;
  /** With --conditional: where the label enters (prior, couplings, both). */
  conditioning: Conditioning;
}

export async function trainCommand(flags: TrainFlags, cmd: Command): Promise<void> {
  const out = flags.out;
  const ckptPath = join(out, 'checkpoint.safetensors');
  const modelPath = join(out, 'model.safetensors');
  const logPath = join(out, 'log.jsonl');
  const say = (msg: string): void => {
    if (!flags.quiet) process.stderr.write(msg + '\n');
  };
  const warn = (msg: string): void => {
    process.stderr.write(`warning: ${msg}\n`);
  };
  const explicit = (name: string): boolean => cmd.getOptionValueSource(name) === 'cli';
  removeStaleTemporaries(out, say);
  const backend = await selectBackend(flags.backend);

  let run: TrainingRun;
  if (flags.resume) {
    if (!existsSync(ckptPath)) throw new NiceFlowError(`--resume: no checkpoint at ${ckptPath}`);
    const ckpt = parseInput(ckptPath, 'checkpoint', (bytes) => readRunCheckpoint(bytes, backend, `checkpoint ${ckptPath}`));
    checkResumeFlags(flags, explicit, ckpt.record, ckpt.model.config, ckptPath, warn);
    const labels = ckpt.model.config.classes !== undefined;
    const train = loadDataSplit(ckpt.record.data, 'train', { validSize: ckpt.record.validSize, limit: ckpt.record.limit, labels });
    const valid = loadDataSplit(ckpt.record.data, 'valid', { validSize: ckpt.record.validSize, limit: ckpt.record.validLimit, labels });
    run = TrainingRun.resume(ckpt, train, valid, {
      epochs: explicit('epochs') ? flags.epochs : undefined,
      maxSteps: explicit('maxSteps') ? flags.maxSteps : undefined,
      lr: explicit('lr') ? flags.lr : undefined,
    }, `checkpoint ${ckptPath}`);
    say(`resuming ${out} at step ${run.trainer.step} (epoch ${run.trainer.epoch + 1}) on the ${backend.name} backend (${threadCount(backend)})`);
  } else {
    if (existsSync(ckptPath)) {
      throw new NiceFlowError(`${out} already holds a run (checkpoint.safetensors): add --resume to continue it, or choose another --out`);
    }
    // A recipe preset's training settings stand in for flags not given.
    const recipe = flags.preset !== undefined ? getPreset(flags.preset).training : undefined;
    if (recipe?.ema !== undefined && !explicit('ema')) flags.ema = recipe.ema;
    if (recipe?.epochs !== undefined && !explicit('epochs')) flags.epochs = recipe.epochs;
    if (recipe?.validSize !== undefined && !explicit('validSize')) flags.validSize = recipe.validSize;
    if (recipe?.batchSize !== undefined && !explicit('batchSize')) flags.batchSize = recipe.batchSize;
    if (recipe?.lr !== undefined && !explicit('lr')) flags.lr = recipe.lr;
    if (recipe?.lrSchedule !== undefined && !explicit('lrSchedule')) flags.lrSchedule = recipe.lrSchedule;
    if (recipe?.warmup !== undefined && !explicit('warmup')) flags.warmup = recipe.warmup;
    if (recipe?.clipGradNorm !== undefined && !explicit('clipGrad')) flags.clipGrad = recipe.clipGradNorm;
    const labels = flags.conditional;
    const train = loadDataSplit(flags.data, 'train', { validSize: flags.validSize, limit: flags.limit, labels });
    const valid = loadDataSplit(flags.data, 'valid', { validSize: flags.validSize, limit: flags.validLimit, labels });
    if (flags.classWeight > 0 && !flags.conditional) throw new NiceFlowError('--class-weight: only a class-conditional model (--conditional) has a classification term');
    if (explicit('conditioning') && !flags.conditional) throw new NiceFlowError('--conditioning: only for a class-conditional model (--conditional)');
    const settings = explicitSettings(flags, explicit);
    if (flags.conditional) {
      // The labels are the context: K = 10 classes (MNIST, Fashion-MNIST, CIFAR-10), p(y) from the training labels.
      settings.classes = DEFAULT_CLASSES;
      settings.classPrior = classPriorFromLabels(train.labels!, DEFAULT_CLASSES);
      settings.conditioning = flags.conditioning;
    }
    run = await TrainingRun.create(backend, train, valid, {
      data: flags.data, limit: flags.limit, validSize: flags.validSize, validLimit: flags.validLimit,
      dataRange: resolveData(flags.data).defaultRange, preset: flags.preset, model: settings,
      whitenLimit: flags.whitenLimit, scaleInit: flags.scaleInit, epochs: flags.epochs, maxSteps: flags.maxSteps,
      batchSize: flags.batchSize, lr: flags.lr, seed: flags.seed, dequantize: flags.dequantize,
      ema: flags.ema, lrSchedule: flags.lrSchedule, warmup: flags.warmup, lrStepEpochs: flags.lrStepEpochs,
      ...(flags.clipGrad > 0 ? { clipGradNorm: flags.clipGrad } : {}),
      ...(flags.classWeight > 0 ? { classWeight: flags.classWeight } : {}),
    }, { onNote: say });
    const model = run.model;
    const params = model.params.reduce((a, p) => a + p.data.length, 0);
    const c = model.config;
    const points = c.data === 'continuous';
    const input = points ? 'continuous data' : `data range [${model.range.join(', ')}]`;
    say(`training NICE (${summarizeFlow(c)}, ` +
      `${(params / 1e6).toFixed(2)}M parameters, ${c.prior} prior${c.whiten ? ', ZCA whitening' : ''}, ${input}) ` +
      `on ${train.count} ${points ? `rows of ${train.dim} values` : 'images'} of ${describeData(flags.data)} with the ${backend.name} backend (${threadCount(backend)})`);
  }
  const { model, trainer, record } = run;
  // Continuous data (a float .npy): no pictures and no bits/dim; the epoch's samples are written as .npy.
  const continuous = model.config.data === 'continuous';
  // --log-test is remembered by the run: a resume keeps logging the test split (and can start doing so).
  if (flags.logTest) record.logTest = true;
  const D = model.dim;
  const stopAt = run.stopAt;
  if (trainer.step >= stopAt) {
    say(`nothing to do: the run is at step ${trainer.step}, its end (--epochs ${record.epochs}${record.maxSteps ? `, --max-steps ${record.maxSteps}` : ''})`);
    return;
  }

  let interrupted = false;
  const stopMessage = '\nstopping after this step, with a checkpoint (Ctrl-C again to quit at once)\n';
  const notice = startStopNotice(stopMessage);
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) process.exit(130); // a second Ctrl-C quits without waiting
    interrupted = true;
    // The watcher has already said it for a Ctrl-C in the terminal; a SIGTERM (or no watcher) is said here.
    if (!notice.active || signal !== 'SIGINT') process.stderr.write(stopMessage);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const bar = createBar(`epoch {epoch} |{bar}| step {value}/{total} | {rate} ${continuous ? 'rows' : 'img'}/s | LL {ll} nats | ETA {eta_formatted}`, stopAt, flags.quiet,
    { epoch: trainer.epoch + 1, rate: '-', ll: '-' });
  bar.update(trainer.step);
  const validation: { bar: ReturnType<typeof createBar> | null } = { bar: null };
  let emaLL = NaN;
  let rate = NaN;
  let lastStepAt = performance.now();
  const storage: RunStorage = {
    saveCheckpoint: (bytes) => writeAtomic(ckptPath, bytes, 'checkpoint'),
    saveModel: (bytes) => writeAtomic(modelPath, bytes, 'model'),
    appendLog: (entry) => appendLine(logPath, JSON.stringify(entry)),
    trimLog: (step) => trimLog(logPath, step),
  };
  let outcome;
  try {
    outcome = await run.run({
      storage,
      checkpointEvery: flags.checkpointEvery,
      monitor: record.logTest ? loadDataSplit(record.data, 'test', { validSize: record.validSize }) : undefined,
      shouldStop: () => interrupted,
      events: {
        onStep: async ({ step, epoch, logLikelihood }) => {
          const now = performance.now();
          const inst = trainer.options.batchSize / ((now - lastStepAt) / 1000);
          rate = Number.isNaN(rate) ? inst : 0.9 * rate + 0.1 * inst;
          lastStepAt = now;
          emaLL = Number.isNaN(emaLL) ? logLikelihood : 0.95 * emaLL + 0.05 * logLikelihood;
          bar.update(step, { epoch, rate: rate.toFixed(0), ll: emaLL.toFixed(1) });
          await yieldToEventLoop();
        },
        onValidation: async (done, total) => {
          validation.bar ??= createBar(`  validating |{bar}| {value}/{total} ${continuous ? 'rows' : 'images'}`, total, flags.quiet);
          validation.bar.update(done);
          await yieldToEventLoop();
        },
        onEpoch: (e) => {
          validation.bar?.stop();
          validation.bar = null;
          const samples = join(out, 'samples', `epoch-${String(e.epoch).padStart(4, '0')}`);
          if (continuous) writeNpy(`${samples}.npy`, e.samples, e.sampleCount);
          else writeGrid(`${samples}.png`, e.samples, e.sampleCount, imageShape(model.config.shape, D), 8, model.range);
          const average = e.liveValidLogLikelihood !== undefined ? ` (weight average; live weights ${e.liveValidLogLikelihood.toFixed(2)})` : '';
          const classes = e.validAccuracy !== undefined ? `; given the label ${e.validConditionalLogLikelihood!.toFixed(2)}, accuracy ${(100 * e.validAccuracy).toFixed(2)}%` : '';
          say(`epoch ${e.epoch}: train LL ${e.trainLogLikelihood.toFixed(2)}, valid LL ${e.validLogLikelihood.toFixed(2)} nats` +
            `${e.validBitsPerDim === null ? '' : ` (${e.validBitsPerDim.toFixed(3)} bits/dim)`}${classes}${average}${e.improved ? ', best so far: saved model.safetensors' : ''}`);
          lastStepAt = performance.now();
        },
        onWarning: (msg) => {
          bar.stop();
          warn(msg.replace('a lower learning rate', 'a lower --lr'));
        },
        onNote: (msg) => say(msg.startsWith('dropped') ? `${logPath}: ${msg}` : msg),
      },
    });
  } finally {
    validation.bar?.stop();
    bar.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    notice.stop();
  }
  switch (outcome.reason) {
    case 'diverged': {
      const kept = outcome.lastGood
        ? `the checkpoint ${ckptPath} (step ${outcome.lastGood.step}) is the last state shown to give a finite loss: ` +
          `continue it with \`nice-flow train --resume --out ${out} --lr <lower>\``
        : `no checkpoint was saved yet, so there is nothing to resume: start again with a lower --lr`;
      throw new NiceFlowError(`${outcome.message}; ${kept}`);
    }
    case 'stopped':
      process.stderr.write(`interrupted at step ${trainer.step}: checkpoint saved to ${ckptPath}; continue with --resume\n`);
      process.exitCode = 130;
      return;
    case 'nothing-to-do':
      return;
    case 'done':
      break;
  }
  say(`done: ${trainer.step} steps in ${formatDuration(record.seconds)}; best valid LL ${record.bestValid?.toFixed(2)} nats` +
    `${continuous ? '' : ` (${bitsPerDim(record.bestValid ?? NaN, D, model.range).toFixed(3)} bits/dim)`} at epoch ${record.bestEpoch}; model: ${modelPath}`);
  if (run.divergenceWarned) warn('this run diverged at some point (see the warnings above): its best model may be useless; try a lower --lr');
}

/** The model settings given on the command line (the rest come from the preset or the defaults). */
function explicitSettings(flags: TrainFlags, explicit: (name: string) => boolean): Partial<ModelSettings> {
  const out: Partial<ModelSettings> = {};
  const keys = ['couplings', 'hidden', 'depth', 'prior', 'partition', 'coupling', 'network', 'whiten'] as const;
  for (const k of keys) if (explicit(k)) (out as Record<string, unknown>)[k] = flags[k];
  if (flags.range !== undefined) out.range = parseDataRange(flags.range);
  if (flags.flow !== undefined) out.flow = readFlowFile(flags.flow);
  return out;
}

/**
 * A flow description file (`--flow`): JSON, a list of steps or an object with a `flow` list (the `config` of a weight
 * file's metadata has that form). The steps are checked against the data's shape when the model is built.
 */
function readFlowFile(path: string): NonNullable<ModelSettings['flow']> {
  const raw = parseInput(path, 'flow description', (bytes) => {
    if (bytes.length > 16 * 2 ** 20) throw new NiceFlowError(`${bytes.length} bytes is too large for a flow description`);
    try {
      return JSON.parse(new TextDecoder().decode(bytes)) as unknown;
    } catch (e) {
      throw new NiceFlowError(`not valid JSON (${(e as Error).message})`);
    }
  });
  const list = Array.isArray(raw) ? raw : typeof raw === 'object' && raw !== null ? (raw as { flow?: unknown }).flow : undefined;
  if (!Array.isArray(list)) throw new NiceFlowError(`--flow ${path}: expected a JSON list of steps, or an object with a "flow" list`);
  return list as NonNullable<ModelSettings['flow']>;
}

/**
 * A resume continues the run as it was started: flags that would change its model, data or training are refused
 * unless they repeat the run's own values. How long it runs (--epochs, --max-steps), the learning rate (--lr),
 * the checkpoint cadence, the backend and --quiet may change.
 */
function checkResumeFlags(
  flags: TrainFlags, explicit: (name: string) => boolean, record: RunRecord, config: NiceConfig, ckptPath: string, warn: (m: string) => void,
): void {
  const differs: string[] = [];
  const check = (flag: string, key: keyof TrainFlags, given: unknown, kept: unknown): void => {
    if (explicit(key) && JSON.stringify(given) !== JSON.stringify(kept)) differs.push(`--${flag} ${String(given)} (the run has ${kept ?? 'none'})`);
  };
  check('data', 'data', flags.data, record.data);
  check('limit', 'limit', flags.limit, record.limit);
  check('valid-size', 'validSize', flags.validSize, record.validSize);
  check('valid-limit', 'validLimit', flags.validLimit, record.validLimit);
  check('seed', 'seed', flags.seed, record.seed);
  check('batch-size', 'batchSize', flags.batchSize, record.trainerOptions.batchSize);
  check('dequantize', 'dequantize', flags.dequantize, record.trainerOptions.dequantize);
  check('ema', 'ema', flags.ema, record.trainerOptions.ema ?? 0);
  check('clip-grad', 'clipGrad', flags.clipGrad, record.trainerOptions.clipGradNorm ?? 0);
  check('class-weight', 'classWeight', flags.classWeight, record.trainerOptions.classWeight ?? 0);
  const schedule = record.trainerOptions.lrSchedule;
  check('lr-schedule', 'lrSchedule', flags.lrSchedule, schedule?.kind ?? 'constant');
  check('warmup', 'warmup', flags.warmup, schedule?.warmup ?? 0);
  if (explicit('lrStepEpochs')) differs.push('--lr-step-epochs (fixed when a run starts)');
  for (const k of ['couplings', 'hidden', 'depth', 'prior', 'partition', 'coupling'] as const) check(k, k, flags[k], config[k]);
  check('network', 'network', flags.network, config.network ?? 'mlp');
  if (explicit('flow')) differs.push('--flow (the run has its own flow)');
  if (explicit('conditional') && flags.conditional !== (config.classes !== undefined)) differs.push(`--conditional (the run's model is ${config.classes ? '' : 'not '}class-conditional)`);
  check('whiten', 'whiten', flags.whiten, config.whiten ?? 'none');
  if (flags.range !== undefined) {
    const r = parseDataRange(flags.range);
    const kept = config.range ?? [0, 1];
    if (r[0] !== kept[0] || r[1] !== kept[1]) differs.push(`--range ${flags.range} (the run has ${kept.join(',')})`);
  }
  if (flags.preset !== undefined) {
    const p = getPreset(flags.preset) as Record<string, unknown>;
    const cfg = config as unknown as Record<string, unknown>;
    // A preset's flow is compared complete (defaults filled in), as the config holds it.
    const same = (k: string): boolean => k === 'flow' && config.flow
      ? JSON.stringify(validateFlow(p.flow, flowInputShape(config))) === JSON.stringify(config.flow)
      : JSON.stringify(p[k]) === JSON.stringify(cfg[k] ?? (k === 'range' ? [0, 1] : undefined));
    const bad = Object.keys(p).filter((k) => k !== 'training' && !same(k));
    if (bad.length) differs.push(`--preset ${flags.preset} (the run's ${bad.join(', ')} differ)`);
  }
  if (differs.length) {
    throw new NiceFlowError(`--resume continues ${ckptPath} as it was started and cannot change ${differs.join(', ')}; ` +
      'only --epochs, --max-steps, --lr, --checkpoint-every, --backend and --quiet may change (or train a new run in another --out)');
  }
  for (const [flag, key] of [['scale-init', 'scaleInit'], ['whiten-limit', 'whitenLimit']] as const) {
    if (explicit(key)) warn(`--${flag} only applies when a run starts; the resumed run keeps its own`);
  }
  if (explicit('lr') && flags.lr !== record.trainerOptions.adam.lr) warn(`the learning rate changes from ${record.trainerOptions.adam.lr} to ${flags.lr} from here on`);
}

/**
 * A run killed between an epoch's log line and its checkpoint leaves a line for steps the checkpoint has not reached;
 * the resumed run writes that epoch's line again, so lines past the checkpoint's step are dropped first.
 */
function trimLog(logPath: string, step: number): number {
  if (!existsSync(logPath)) return 0;
  const lines = readFileSync(logPath, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const kept = lines.filter((l) => {
    try {
      return !(JSON.parse(l).step > step);
    } catch {
      return true; // not ours to judge: keep it
    }
  });
  if (kept.length === lines.length) return 0;
  writeAtomic(logPath, kept.map((l) => l + '\n').join(''), 'log');
  return lines.length - kept.length;
}

/**
 * Removes `*.tmp-PID` files that an atomic write left in the run folder when its process was killed (PID no longer
 * running); a live process's temporary file is left alone.
 */
function removeStaleTemporaries(out: string, say: (m: string) => void): void {
  for (const dir of [out, join(out, 'samples')]) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      const m = /\.tmp-(\d+)$/.exec(name);
      if (!m || processAlive(Number(m[1]))) continue;
      rmSync(join(dir, name), { force: true });
      say(`removed ${join(dir, name)}, left by an interrupted write`);
    }
  }
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
