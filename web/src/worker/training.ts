// The studio's training run: one TrainingRun kept in IndexedDB (a Web Lock makes one tab its owner), trained in
// this worker step by step between other requests, and restored (and continued) when the page comes back.
import { readRunCheckpoint, serializeModel, TrainingRun, NiceFlowError, type Backend, type EpochLogEntry, type ImageDataset, type RunOutcome } from '../../../src/index.js';
import { IndexedDbRunStorage } from '../../../src/browser/index.js';
import type { CallResult, DatasetEntry, TrainSettings, TrainState } from '../protocol.js';
import { CHECKPOINT_SECONDS, checkTrainSettings, TRAIN_SIZES } from '../sizes.js';
import { loadSplit, VALID_SIZE } from './data.js';
import { dataset, newBackend, retire, setRunModel, type Slot } from './models.js';
import { describeModel, imageShape, toDisplay } from './modelViews.js';
import { oneLine, post, scope, yieldNow } from './runtime.js';

interface RunSlot {
  slot: Slot;
  run: TrainingRun;
  storage: IndexedDbRunStorage;
  settings: TrainSettings;
  phase: TrainState['phase'];
  message?: string;
  loop: Promise<void> | null;
  pause: boolean;
  discard: boolean;
  samplesPerSecond: number;
  checkpointStep: number | null;
}

let runSlot: RunSlot | null = null;
/** No run yet: what the Train panel shows (loading a kept run, or another tab owns it). */
let idle: Pick<TrainState, 'phase' | 'message'> = { phase: 'none' };
let storagePromise: Promise<IndexedDbRunStorage> | null = null;
const openStorage = (): Promise<IndexedDbRunStorage> => {
  storagePromise ??= IndexedDbRunStorage.open('nice-flow-studio', 'run');
  storagePromise.catch(() => (storagePromise = null));
  return storagePromise;
};

/** The studio's notes on its run, kept beside the checkpoint. */
interface RunInfo {
  settings: TrainSettings;
  running: boolean;
}

export function trainState(): TrainState {
  if (!runSlot) {
    return { ...idle, step: 0, epoch: 0, stopAt: 0, stepsPerEpoch: 0, samplesPerSecond: 0, settings: null, bestValid: null, bestEpoch: null, checkpointStep: null };
  }
  const { run, phase, message, settings, samplesPerSecond, checkpointStep } = runSlot;
  return {
    phase, message, settings, samplesPerSecond, checkpointStep, step: run.trainer.step, epoch: run.trainer.epoch, stopAt: run.stopAt,
    stepsPerEpoch: run.trainer.batchesPerEpoch, bestValid: run.record.bestValid, bestEpoch: run.record.bestEpoch,
  };
}
const postTrainState = (): void => post({ type: 'train-state', state: trainState() });

/** Whether this tab owns the run (a Web Lock): two tabs must not train the same IndexedDB run at once. */
let ownsRun: Promise<boolean> | null = null;
function acquireRun(): Promise<boolean> {
  ownsRun ??= new Promise<boolean>((resolve) => {
    const locks = scope.navigator.locks;
    if (!locks) {
      resolve(true);
      return;
    }
    // A reloaded page's old Worker may hold the lock for a moment: wait a little before saying another tab has it,
    // and take it whenever it comes free.
    const timer = setTimeout(() => {
      idle = { phase: 'elsewhere', message: 'another tab of the studio holds the training run: train there, or close it' };
      postTrainState();
    }, 3000);
    void locks.request('nice-flow-studio-run', () => {
      clearTimeout(timer);
      if (idle.phase === 'elsewhere') idle = { phase: 'none' };
      resolve(true);
      return new Promise<void>(() => {}); // held for the Worker's lifetime
    });
  });
  return ownsRun;
}

function startLoop(r: RunSlot): void {
  const batch = r.run.trainer.options.batchSize;
  r.pause = false;
  r.phase = 'running';
  r.message = undefined;
  let lastStep = performance.now();
  let lastPost = 0;
  let lastValidationPost = 0;
  r.loop = (async () => {
    let outcome: RunOutcome | null = null;
    try {
      await r.storage.saveInfo({ settings: r.settings, running: true } satisfies RunInfo);
      postTrainState();
      outcome = await r.run.run({
        storage: r.storage,
        checkpointSeconds: CHECKPOINT_SECONDS,
        shouldStop: () => r.pause || r.discard,
        events: {
          onStep: async ({ step, epoch, logLikelihood }) => {
            const now = performance.now();
            const rate = batch / Math.max(1e-3, (now - lastStep) / 1000);
            r.samplesPerSecond = r.samplesPerSecond ? 0.9 * r.samplesPerSecond + 0.1 * rate : rate;
            lastStep = now;
            // Two updates a second: each costs the page's own thread ~6 ms (the chart, the status), time taken from
            // the two cores the kernels run on (measured with 2 threads: the small model at 2,446 samples/s with
            // updates every 50 ms, 2,825 every 250 ms; the paper's model's kernel threads busy 181% of the two cores
            // with updates every 250 ms, 186% every second).
            if (now - lastPost > 500 || step === r.run.stopAt) {
              lastPost = now;
              post({ type: 'train-step', step, epoch, logLikelihood, samplesPerSecond: r.samplesPerSecond });
            }
            await yieldNow();
          },
          onValidation: async (done, total) => {
            if (r.phase !== 'validating' && r.phase !== 'pausing') {
              r.phase = 'validating';
              postTrainState();
            }
            const now = performance.now();
            if (now - lastValidationPost > 100 || done === total) {
              lastValidationPost = now;
              post({ type: 'train-validation', done, total });
            }
            await yieldNow();
          },
          onEpoch: (e) => {
            const model = r.slot.model;
            const samples = toDisplay(model, e.samples, e.sampleCount * model.dim);
            const { improved, samples: _s, sampleCount, ...entry } = e;
            post({ type: 'train-epoch', entry: entry as EpochLogEntry, improved, samples, count: sampleCount, shape: imageShape(model) }, [samples.buffer]);
            if (r.phase === 'validating') r.phase = 'running';
            lastStep = performance.now();
            postTrainState();
          },
          onCheckpoint: (at) => {
            r.checkpointStep = at.step;
            postTrainState();
          },
          onWarning: (message) => post({ type: 'notice', level: 'warning', message }),
          onNote: (message) => post({ type: 'notice', level: 'info', message }),
        },
      });
    } catch (e) {
      const text = oneLine(e);
      if (/storage quota/.test(text)) {
        // The browser's storage is full: the save failed as a whole (one transaction), so the run kept in this
        // browser is still the last checkpoint that was saved. The run in memory pauses; it can be downloaded, or
        // resumed once there is space.
        r.phase = 'paused';
        const kept = r.checkpointStep !== null ? `the run kept in this browser is the one of step ${r.checkpointStep.toLocaleString('en-US')}` : 'no checkpoint of this run is kept in this browser';
        r.message = `paused: the browser's storage is full, so the checkpoint was not saved (${kept}); download the model, or free space (other sites' data) and resume`;
        post({ type: 'notice', level: 'warning', message: r.message });
      } else {
        r.phase = 'failed';
        r.message = `training stopped: ${text}`;
      }
    }
    if (outcome) {
      switch (outcome.reason) {
        case 'stopped':
          r.phase = 'paused';
          break;
        case 'done':
        case 'nothing-to-do':
          r.phase = 'done';
          break;
        case 'diverged':
          r.phase = 'diverged';
          r.message = `${outcome.message}; start a new run with a lower learning rate`;
          break;
      }
    }
    if (!r.discard) await r.storage.saveInfo({ settings: r.settings, running: false } satisfies RunInfo).catch(() => {});
    r.loop = null;
    r.samplesPerSecond = 0;
    postTrainState();
  })();
}

/** Builds the run slot around a TrainingRun and makes it the active model. */
function adoptRun(run: TrainingRun, backend: Backend, storage: IndexedDbRunStorage, settings: TrainSettings, checkpointStep: number | null): RunSlot {
  const label = `${dataset(settings.dataset).label}, ${TRAIN_SIZES[settings.size].label.split(':')[0].toLowerCase()} model trained here`;
  const slot: Slot = { backend, model: run.model, info: describeModel(run.model, 'run', label), jobs: new Set(), retired: false };
  runSlot = { slot, run, storage, settings, phase: 'paused', loop: null, pause: false, discard: false, samplesPerSecond: 0, checkpointStep };
  setRunModel(slot, true);
  return runSlot;
}

async function loadTrainingData(entry: DatasetEntry, limit: number | undefined, validLimit: number | undefined): Promise<{ train: ImageDataset; valid: ImageDataset }> {
  let lastPost = 0;
  const onBytes = (received: number, total: number | null): void => {
    const now = performance.now();
    if (now - lastPost < 100) return;
    lastPost = now;
    idle = { phase: 'loading', message: `downloading ${entry.label}: ${(received / 1e6).toFixed(1)}${total ? ` of ${(total / 1e6).toFixed(1)}` : ''} MB` };
    postTrainState();
  };
  const train = await loadSplit(entry, 'train', { limit }, onBytes);
  const valid = await loadSplit(entry, 'valid', { limit: validLimit });
  return { train, valid };
}

/** Whether this tab owns the run, without waiting long for a lock another tab keeps. */
function ownsRunSoon(): Promise<boolean> {
  return Promise.race([acquireRun(), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 3500))]);
}

export async function trainStart(settings: TrainSettings): Promise<TrainState> {
  if (!(await ownsRunSoon())) throw new NiceFlowError('another tab of the studio holds the training run: train there, or close it');
  if (runSlot) throw new NiceFlowError('a run is already there: resume it, or discard it to start a new one');
  if (idle.phase === 'loading') throw new NiceFlowError('the run kept in this browser is still loading');
  checkTrainSettings(settings);
  const entry = dataset(settings.dataset);
  const spec = TRAIN_SIZES[settings.size];
  idle = { phase: 'loading', message: `loading ${entry.label}…` };
  postTrainState();
  let backend: Backend | null = null;
  try {
    const { train, valid } = await loadTrainingData(entry, settings.limit, settings.validLimit);
    const storage = await openStorage();
    await storage.clear();
    backend = await newBackend();
    idle = { phase: 'loading', message: 'building the model…' };
    postTrainState();
    const run = await TrainingRun.create(backend, train, valid, {
      data: entry.name, limit: settings.limit, validSize: VALID_SIZE, validLimit: settings.validLimit, dataRange: [0, 1],
      model: { couplings: spec.couplings, hidden: spec.hidden, depth: spec.depth }, scaleInit: spec.scaleInit,
      epochs: settings.epochs, batchSize: settings.batchSize, lr: settings.lr, seed: settings.seed, dequantize: 'uniform',
    });
    idle = { phase: 'none' };
    startLoop(adoptRun(run, backend, storage, settings, null));
    return trainState();
  } catch (e) {
    backend?.dispose();
    idle = { phase: 'none' };
    postTrainState();
    throw e;
  }
}

export async function trainPause(): Promise<TrainState> {
  const r = runSlot;
  if (!r?.loop) throw new NiceFlowError('training is not running');
  r.pause = true;
  r.phase = 'pausing';
  postTrainState();
  await r.loop;
  return trainState();
}

export async function trainResume(): Promise<TrainState> {
  const r = runSlot;
  if (!r) throw new NiceFlowError('there is no run to resume: start one');
  if (r.loop) throw new NiceFlowError('training is already running');
  if (r.phase === 'diverged') throw new NiceFlowError('this run diverged: discard it and start a new one with a lower learning rate');
  if (r.phase === 'done') throw new NiceFlowError(`this run is done (${r.run.stopAt} steps): discard it to start a new one`);
  startLoop(r);
  return trainState();
}

export async function trainDiscard(): Promise<TrainState> {
  const r = runSlot;
  if (r) {
    r.discard = true;
    if (r.loop) await r.loop;
    runSlot = null;
    retire(r.slot, 'the training run was discarded');
    await r.storage.clear();
    setRunModel(null, false);
  } else if (idle.phase === 'failed') {
    await (await openStorage()).clear();
  }
  idle = { phase: 'none' };
  postTrainState();
  return trainState();
}

export async function trainModelBytes(): Promise<CallResult<'train-model-bytes'>> {
  const r = runSlot;
  if (!r) throw new NiceFlowError('there is no training run: start one in the Train panel');
  const best = await r.storage.loadModel();
  if (best) return { bytes: best.bytes, what: `the best model by validation (epoch ${best.epoch}, step ${best.step})` };
  const step = r.run.trainer.step;
  return { bytes: serializeModel(r.run.model, { step: String(step) }), what: `the current weights (step ${step}; no validation yet)` };
}

/** At start: the run kept in this browser, continued if it was running when the page went away. */
export async function restoreRun(): Promise<void> {
  if (!(await acquireRun())) return;
  let storage: IndexedDbRunStorage;
  let stored;
  try {
    storage = await openStorage();
    stored = await storage.loadCheckpoint();
  } catch (e) {
    post({ type: 'notice', level: 'warning', message: `no run can be kept across page loads: ${oneLine(e)}` });
    return;
  }
  if (!stored || runSlot) return;
  const what = 'the run kept in this browser';
  idle = { phase: 'loading', message: `restoring ${what} (step ${stored.step})…` };
  postTrainState();
  let backend: Backend | null = null;
  try {
    const info = await storage.loadInfo<RunInfo>();
    backend = await newBackend();
    const ckpt = readRunCheckpoint(stored.bytes, backend, what);
    const rec = ckpt.record;
    const entry = dataset(rec.data);
    const { train, valid } = await loadTrainingData(entry, rec.limit, rec.validLimit);
    const run = TrainingRun.resume(ckpt, train, valid, {}, what);
    const c = ckpt.model.config;
    const size = (Object.keys(TRAIN_SIZES) as Array<keyof typeof TRAIN_SIZES>).find((k) => TRAIN_SIZES[k].hidden === c.hidden && TRAIN_SIZES[k].depth === c.depth) ?? 'small';
    const settings: TrainSettings = info?.settings ?? {
      dataset: entry.name, size, lr: rec.trainerOptions.adam.lr, epochs: rec.epochs, batchSize: rec.trainerOptions.batchSize,
      limit: rec.limit, validLimit: rec.validLimit, seed: rec.seed,
    };
    idle = { phase: 'none' };
    const r = adoptRun(run, backend, storage, settings, stored.step);
    backend = null;
    r.phase = run.trainer.step >= run.stopAt ? 'done' : 'paused';
    post({ type: 'train-log', log: await storage.loadLog() });
    if (info?.running && r.phase === 'paused') startLoop(r);
    postTrainState();
  } catch (e) {
    backend?.dispose();
    idle = { phase: 'failed', message: `${oneLine(e)}; discard it to start a new run` };
    postTrainState();
  }
}
