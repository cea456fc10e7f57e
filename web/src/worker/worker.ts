// The studio's compute Worker: every model, data set and training run lives here, never on the page's thread.
// Requests and answers are web/src/protocol.ts. All model work goes through the library's public API
// (src/index.ts, src/browser/index.ts); this file only wires it to messages.
//
// Models: a loaded weight file and the training run each have their own backend, so replacing one (a new file, a
// new run) disposes its backend, and with it all its memory: a long-lived page stays flat. Jobs that still use a
// replaced model are cancelled and its backend is disposed when the last one has let go of it.
//
// Long jobs (evaluation, inpainting, training) yield to the event loop between steps, so cancels, pauses and quick
// requests (a sample, the log-likelihood of a drawing) are answered in between.
import {
  bitsPerDim, createRefBackend, deserializeModel, evaluate, inpaint, interpolate, NiceFlowError,
  readRunCheckpoint, Rng, serializeModel, TrainingRun, type Backend, type EpochLogEntry, type FloatArray, type ImageDataset,
  type NiceModel, type RunOutcome,
} from '../../../src/index.js';
import { createWasmBackendBrowser, IndexedDbRunStorage } from '../../../src/browser/index.js';
import type {
  BackendInfo, CallArgs, CallResult, CallType, DatasetEntry, Manifest, ModelInfo, ModelSource, Request, Response, TrainSettings, TrainState,
} from '../protocol.js';
import { TRAIN_SIZES } from '../sizes.js';
import { loadSplit, VALID_SIZE } from './data.js';
import { describeModel, imageShape, nonFinite, toData, toDisplay } from './modelViews.js';

interface WorkerScope {
  postMessage(message: Response, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<Request>) => void) | null;
  crossOriginIsolated: boolean;
  navigator: Navigator;
}
const scope = self as unknown as WorkerScope;

const post = (message: Response, transfer: Transferable[] = []): void => scope.postMessage(message, transfer);
const oneLine = (e: unknown): string => String((e as Error)?.message ?? e).replace(/\s+/g, ' ').trim();

// ---- yielding and cancelling ------------------------------------------------------------------------------------

/** A macrotask without setTimeout's 4 ms clamp, so a loop that yields every step stays fast. */
const tick = new MessageChannel();
const waiting: Array<() => void> = [];
tick.port1.onmessage = () => waiting.shift()?.();
const yieldNow = (): Promise<void> => new Promise((resolve) => {
  waiting.push(resolve);
  tick.port2.postMessage(null);
});

class Cancelled extends Error {}
/** Requests asked to stop, with the reason given to the page. */
const cancels = new Map<number, string>();
function checkCancel(id: number): void {
  const why = cancels.get(id);
  if (why !== undefined) throw new Cancelled(why);
}

// ---- backends and models ----------------------------------------------------------------------------------------

let manifest: Manifest = { datasets: [], models: [] };
let threads = 1;
let backendInfo: BackendInfo = { name: 'none', threads: 1, isolated: false };
/** A backend made ahead of time for the first model (so the first sample grid does not wait for one). */
let spare: Promise<Backend> | null = null;

async function makeBackend(): Promise<Backend> {
  if (scope.crossOriginIsolated) {
    try {
      return await createWasmBackendBrowser({ threads });
    } catch (e) {
      post({ type: 'notice', level: 'warning', message: `the WebAssembly backend did not start (${oneLine(e)}): using the slower TypeScript one` });
      return createRefBackend();
    }
  }
  // Without cross-origin isolation there is no SharedArrayBuffer, which the wasm backend's memory is (the page
  // shows a notice): the plain TypeScript backend, on this Worker's one thread.
  return createRefBackend();
}

function newBackend(): Promise<Backend> {
  const b = spare ?? makeBackend();
  spare = null;
  return b;
}

/** A model and the backend it lives on, with the jobs using it (a retired slot is disposed when they are done). */
interface Slot {
  backend: Backend;
  model: NiceModel;
  info: ModelInfo;
  jobs: Set<number>;
  retired: boolean;
}

function retire(slot: Slot | null, why: string): void {
  if (!slot || slot.retired) return;
  slot.retired = true;
  for (const id of slot.jobs) cancels.set(id, why);
  if (slot.jobs.size === 0) slot.backend.dispose();
}

let fileSlot: Slot | null = null;
let active: ModelSource = 'file';

function activeSlot(): Slot | null {
  if (active === 'run' && runSlot) return runSlot.slot;
  return fileSlot ?? runSlot?.slot ?? null;
}

/** Runs `body` on the active model, holding its slot so it is not disposed under it. */
async function withModel<T>(id: number, body: (model: NiceModel, slot: Slot) => T | Promise<T>): Promise<T> {
  const slot = activeSlot();
  if (!slot) throw new NiceFlowError('no model yet: load a .safetensors file, or train one');
  slot.jobs.add(id);
  try {
    return await body(slot.model, slot);
  } finally {
    slot.jobs.delete(id);
    if (slot.retired && slot.jobs.size === 0) slot.backend.dispose();
  }
}

function postModel(): void {
  post({ type: 'model', info: activeSlot()?.info ?? null });
}

function dataset(name: string): DatasetEntry {
  const entry = manifest.datasets.find((d) => d.name === name);
  if (!entry) throw new NiceFlowError(`data set "${name}" is not offered here (there are: ${manifest.datasets.map((d) => d.name).join(', ') || 'none'})`);
  return entry;
}

function progress(id: number, done: number, total: number | null, label: string, extra: { image?: Float32Array; value?: number } = {}): void {
  post({ type: 'progress', id, done, total, label, ...extra }, extra.image ? [extra.image.buffer as ArrayBuffer] : []);
}

// ---- training -----------------------------------------------------------------------------------------------------

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

function trainState(): TrainState {
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

function checkSettings(s: TrainSettings): void {
  const int = (v: number | undefined, name: string, min: number): void => {
    if (v !== undefined && (!Number.isSafeInteger(v) || v < min)) throw new NiceFlowError(`${name} must be a whole number ≥ ${min}, got ${v}`);
  };
  if (!TRAIN_SIZES[s.size]) throw new NiceFlowError(`unknown model size "${s.size}"`);
  if (!(Number.isFinite(s.lr) && s.lr > 0 && s.lr < 1)) throw new NiceFlowError(`the learning rate must be a number between 0 and 1, got ${s.lr}`);
  int(s.epochs, 'epochs', 1);
  int(s.batchSize, 'the batch size', 1);
  int(s.limit, 'training images', 1);
  int(s.validLimit, 'validation images', 1);
  int(s.seed, 'the seed', 0);
}

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
  const spec = TRAIN_SIZES[r.settings.size];
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
        checkpointEvery: spec.checkpointEvery,
        shouldStop: () => r.pause || r.discard,
        events: {
          onStep: async ({ step, epoch, logLikelihood }) => {
            const now = performance.now();
            const rate = batch / Math.max(1e-3, (now - lastStep) / 1000);
            r.samplesPerSecond = r.samplesPerSecond ? 0.9 * r.samplesPerSecond + 0.1 * rate : rate;
            lastStep = now;
            if (now - lastPost > 50 || step === r.run.stopAt) {
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
      r.phase = 'failed';
      r.message = `training stopped: ${oneLine(e)}`;
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
  active = 'run';
  postModel();
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

async function trainStart(settings: TrainSettings): Promise<TrainState> {
  if (!(await ownsRunSoon())) throw new NiceFlowError('another tab of the studio holds the training run: train there, or close it');
  if (runSlot) throw new NiceFlowError('a run is already there: resume it, or discard it to start a new one');
  if (idle.phase === 'loading') throw new NiceFlowError('the run kept in this browser is still loading');
  checkSettings(settings);
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

async function trainPause(): Promise<TrainState> {
  const r = runSlot;
  if (!r?.loop) throw new NiceFlowError('training is not running');
  r.pause = true;
  r.phase = 'pausing';
  postTrainState();
  await r.loop;
  return trainState();
}

async function trainResume(): Promise<TrainState> {
  const r = runSlot;
  if (!r) throw new NiceFlowError('there is no run to resume: start one');
  if (r.loop) throw new NiceFlowError('training is already running');
  if (r.phase === 'diverged') throw new NiceFlowError('this run diverged: discard it and start a new one with a lower learning rate');
  if (r.phase === 'done') throw new NiceFlowError(`this run is done (${r.run.stopAt} steps): discard it to start a new one`);
  startLoop(r);
  return trainState();
}

async function trainDiscard(): Promise<TrainState> {
  const r = runSlot;
  if (r) {
    r.discard = true;
    if (r.loop) await r.loop;
    runSlot = null;
    retire(r.slot, 'the training run was discarded');
    await r.storage.clear();
    if (active === 'run') active = 'file';
    postModel();
  } else if (idle.phase === 'failed') {
    await (await openStorage()).clear();
  }
  idle = { phase: 'none' };
  postTrainState();
  return trainState();
}

async function trainModelBytes(): Promise<CallResult<'train-model-bytes'>> {
  const r = runSlot;
  if (!r) throw new NiceFlowError('there is no training run: start one in the Train panel');
  const best = await r.storage.loadModel();
  if (best) return { bytes: best.bytes, what: `the best model by validation (epoch ${best.epoch}, step ${best.step})` };
  const step = r.run.trainer.step;
  return { bytes: serializeModel(r.run.model, { step: String(step) }), what: `the current weights (step ${step}; no validation yet)` };
}

/** At start: the run kept in this browser, continued if it was running when the page went away. */
async function restoreRun(): Promise<void> {
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

// ---- requests -----------------------------------------------------------------------------------------------------

type Handler<K extends CallType> = (args: CallArgs<K>, id: number) => Promise<CallResult<K>>;

const handlers: { [K in CallType]: Handler<K> } = {
  async init(args) {
    manifest = args.manifest;
    const hw = scope.navigator.hardwareConcurrency || 1;
    threads = scope.crossOriginIsolated ? Math.max(1, Math.min(hw, Math.floor(args.threads ?? hw))) : 1;
    spare = makeBackend();
    const b = await spare;
    backendInfo = { name: b.name, threads: b.threads, isolated: scope.crossOriginIsolated };
    void restoreRun();
    return { backend: backendInfo, train: trainState() };
  },

  async 'load-model'(args) {
    const backend = await newBackend();
    let model: NiceModel;
    try {
      model = deserializeModel(new Uint8Array(args.bytes), backend, args.name);
    } catch (e) {
      spare = Promise.resolve(backend); // unused: keep it for the next try
      // Every message names the file (the safetensors reader's own do not).
      const text = oneLine(e);
      throw new NiceFlowError(text.includes(args.name) ? text : `${args.name}: ${text}`);
    }
    const old = fileSlot;
    fileSlot = { backend, model, info: describeModel(model, 'file', args.name), jobs: new Set(), retired: false };
    retire(old, 'another model was loaded');
    active = 'file';
    postModel();
    return fileSlot.info;
  },

  async 'use-model'(args) {
    if (args.source === 'run' && !runSlot) throw new NiceFlowError('there is no training run yet');
    if (args.source === 'file' && !fileSlot) throw new NiceFlowError('no model file is loaded');
    active = args.source;
    postModel();
    return activeSlot()?.info ?? null;
  },

  evaluate: (args, id) => withModel(id, async (model) => {
    const entry = dataset(args.dataset);
    let lastPost = 0;
    const test = await loadSplit(entry, 'test', {}, (received, total) => {
      const now = performance.now();
      if (now - lastPost < 100) return;
      lastPost = now;
      progress(id, received, total, `downloading ${entry.label}`);
    });
    checkCancel(id);
    if (test.dim !== model.dim) {
      throw new NiceFlowError(`${entry.label} images have ${test.dim} values, this model's have ${model.dim}: evaluate it with the CLI on its own data`);
    }
    // The CLI's `eval` defaults: uniform dequantization with seed 0, so the numbers match `nice-flow eval`.
    const r = await evaluate(model, test, {
      rng: new Rng(0), dequantize: 'uniform', batchSize: 200,
      onBatch: async (done) => {
        progress(id, done, test.count, `evaluating on ${entry.label} test`);
        await yieldNow();
        checkCancel(id);
      },
    });
    if (!Number.isFinite(r.logLikelihood)) throw new NiceFlowError(`the test log-likelihood is ${r.logLikelihood}: the model gives some test image no finite density`);
    return r;
  }),

  sample: (args, id) => withModel(id, (model) => {
    if (!Number.isSafeInteger(args.n) || args.n < 1 || args.n > 400) throw new NiceFlowError(`the number of samples must be 1–400, got ${args.n}`);
    if (!(Number.isFinite(args.temperature) && args.temperature >= 0 && args.temperature <= 5)) {
      throw new NiceFlowError(`the temperature must be a number from 0 to 5, got ${args.temperature}`);
    }
    if (!Number.isSafeInteger(args.seed) || args.seed < 0) throw new NiceFlowError(`the seed must be a whole number ≥ 0, got ${args.seed}`);
    const x = model.sample(args.n, new Rng(args.seed), args.temperature);
    return { images: toDisplay(model, x, args.n * model.dim), warning: nonFinite(x, args.n, model.dim, 'samples') };
  }),

  loglik: (args, id) => withModel(id, (model) => {
    const lp = model.logProb(toData(model, args.image, 1), 1)[0];
    return { logLikelihood: lp, bitsPerDim: bitsPerDim(lp, model.dim, model.range) };
  }),

  inpaint: (args, id) => withModel(id, async (model) => {
    const D = model.dim;
    const [, H, W] = imageShape(model);
    if (args.mask.length !== H * W) throw new NiceFlowError(`the mask has ${args.mask.length} pixels, the model's images ${H}×${W}`);
    if (!args.mask.some((v) => v === 1)) throw new NiceFlowError('nothing is marked unknown: paint the unknown pixels or choose a mask');
    const x = toData(model, args.image, 1);
    // inpaint evaluates the gradient at its current images every step: a view of them, for the animation.
    let current: FloatArray | null = null;
    const watched = Object.create(model, {
      gradLogProb: {
        value: (xs: FloatArray, n: number, weight: number, paramGrads: boolean) => {
          current = xs;
          return model.gradLogProb(xs, n, weight, paramGrads);
        },
      },
    }) as NiceModel;
    let lastPost = 0;
    let steps = 0;
    const [lo, hi] = model.range;
    const r = await inpaint(watched, x, 1, args.mask, {
      rng: new Rng(args.seed), low: lo, high: hi,
      onStep: async (step, meanLL) => {
        steps = step + 1;
        const now = performance.now();
        if (now - lastPost > 40 && current) {
          lastPost = now;
          progress(id, steps, null, 'completing', { image: toDisplay(model, current, D), value: meanLL });
        }
        await yieldNow();
        checkCancel(id);
      },
    });
    return { image: toDisplay(model, r.x, D), before: r.meanLLBefore, after: r.meanLLAfter, steps };
  }),

  interpolate: (args, id) => withModel(id, (model) => {
    if (!Number.isSafeInteger(args.steps) || args.steps < 2 || args.steps > 200) throw new NiceFlowError(`steps must be 2–200, got ${args.steps}`);
    const [lo, hi] = model.range;
    const map = (img: Float32Array): Float32Array => {
      if (img.length !== model.dim) throw new NiceFlowError(`an end point has ${img.length} values, the model's images ${model.dim}`);
      return Float32Array.from(img, (v) => lo + (hi - lo) * v);
    };
    const strip = interpolate(model, map(args.a), map(args.b), args.steps);
    return { images: toDisplay(model, strip, args.steps * model.dim), warning: nonFinite(strip, args.steps, model.dim, 'points of the line') };
  }),

  encode: (args, id) => withModel(id, (model) => {
    const { h } = model.encode(toData(model, args.image, 1), 1);
    return { code: Float32Array.from(h) };
  }),

  decode: (args, id) => withModel(id, (model) => {
    if (args.code.length !== model.dim) throw new NiceFlowError(`a latent code of ${args.code.length} values, the model's have ${model.dim}`);
    if (!args.code.every(Number.isFinite)) throw new NiceFlowError('the latent code has a non-finite value');
    const x = model.decode(args.code, 1);
    return { image: toDisplay(model, x, model.dim), warning: nonFinite(x, 1, model.dim, 'decoded image') };
  }),

  async 'test-images'(args) {
    const entry = dataset(args.dataset);
    const test = await loadSplit(entry, 'test');
    const D = test.dim;
    const out = new Float32Array(args.indices.length * D);
    args.indices.forEach((i, k) => {
      if (!Number.isSafeInteger(i) || i < 0 || i >= test.count) throw new NiceFlowError(`test image ${i} does not exist (${entry.label} has 0–${test.count - 1})`);
      for (let d = 0; d < D; d++) out[k * D + d] = (test.pixels[i * D + d] + 0.5) / 256;
    });
    return { images: out, count: test.count, shape: test.shape };
  },

  'train-start': (args) => trainStart(args.settings),
  'train-pause': () => trainPause(),
  'train-resume': () => trainResume(),
  'train-discard': () => trainDiscard(),
  'train-model-bytes': () => trainModelBytes(),
  memory: async () => activeSlot()?.backend.memoryUsage() ?? null,
};

/** The typed arrays of a result, to transfer instead of copying (every result array is freshly made). */
function transfers(result: unknown): Transferable[] {
  const out: Transferable[] = [];
  if (result && typeof result === 'object') {
    for (const v of Object.values(result)) {
      if (ArrayBuffer.isView(v) && v.buffer instanceof ArrayBuffer && v.byteLength === v.buffer.byteLength) out.push(v.buffer);
    }
  }
  return out;
}

async function handle<K extends CallType>(request: { type: K; id: number } & CallArgs<K>): Promise<void> {
  const { id, type } = request;
  try {
    const result = await (handlers[type] as Handler<K>)(request, id);
    post({ type: 'done', id, call: type, result } as Response, transfers(result));
  } catch (e) {
    const cancelled = e instanceof Cancelled;
    const message = cancelled ? e.message : e instanceof NiceFlowError ? oneLine(e) : `internal error: ${oneLine(e)}`;
    if (!cancelled && !(e instanceof NiceFlowError)) console.warn('nice-flow studio worker:', e);
    post({ type: 'failed', id, message, cancelled });
  } finally {
    cancels.delete(id);
  }
}

scope.onmessage = (event) => {
  const request = event.data;
  if (request.type === 'cancel') {
    cancels.set(request.target, 'cancelled');
    return;
  }
  void handle(request);
};
