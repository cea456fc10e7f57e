// The flow playground's Worker: the toy data, the library's NiceModel in two dimensions, its Trainer, and every
// number the views show. Training runs in chunks of ~30 ms, each followed by a frame for the page (the views'
// points pushed through each layer with the library's own bijections, the density on a grid, the samples' way back)
// and a yield, so commands (pause, hover, step) are answered between chunks. Nothing here re-implements the flow:
// positions after each layer are the layers' `forward` (and `inverse`), log p is `model.logProb`, the held-out
// number is the library's `evaluate`.
import {
  configFromSettings,
  Coupling,
  createRefBackend,
  deserializeModel,
  getToyDataset,
  NiceFlowError,
  NiceModel,
  NonFiniteLossError,
  Rng,
  sampleToy,
  serializeModel,
  toyTrueLogLikelihood,
  Trainer,
  writeNpyF32,
  type Backend,
  type FloatArray,
} from '../../../src/index.js';
import { createWasmBackendBrowser } from '../../../src/browser/index.js';
import {
  GRID_LINES,
  GRID_PER_LINE,
  HELD_OUT_COUNT,
  HELD_OUT_SEED_OFFSET,
  MIN_DRAWN,
  PG_LAWS,
  PG_PRIORS,
  type Box,
  type Frame,
  type FromWorker,
  type HeldOut,
  type PgLaw,
  type PgPrior,
  type PgSettings,
  type ShiftView,
  type StageView,
  type ToWorker,
} from './protocol.js';
import { yieldNow } from '../yieldNow.js';
import { densityGrid, hoverView, layerName, measureHeldOut, priorBox, pushCurve, pushForward, pushInverse, quantileBox, shiftOf, smooth } from './views.js';

interface Scope {
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
  crossOriginIsolated: boolean;
}
const scope = self as unknown as Scope;
const post = (m: FromWorker, transfer: Transferable[] = []): void => scope.postMessage(m, transfer);
const oneLine = (e: unknown): string => String((e as Error)?.message ?? e).replace(/\s+/g, ' ').trim();
const say = (level: 'info' | 'error', text: string): void => post({ type: 'message', level, text });


// ---- sizes of the views ------------------------------------------------------------------------------------------

/** Training points shown (and pushed through the layers). */
const SHOWN = 500;
/** Samples drawn (the same latent draws every frame, so they move smoothly as the model learns). */
const SAMPLES = 600;
/**
 * A frame every FRAME_MS while training (~35 a second, so that the page redraws at ≥ 30): each cycle trains for what is left after the views' share
 * (at least MIN_CHUNK_MS). The density map and the held-out number are recomputed less often.
 */
const FRAME_MS = 28;
const MIN_CHUNK_MS = 12;
/** Training steps between two reads of the clock in a chunk. */
const STEPS_PER_CLOCK = 4;
const DENSITY_MS = 250;
const HELD_OUT_MS = 2000;

// ---- state -------------------------------------------------------------------------------------------------------

/**
 * Each model lives on a backend of its own (a wasm backend's memory only grows: a model's weights and workspaces
 * are given back by disposing its backend). `backend` is the current model's; the one before is disposed at the next
 * change, so nothing still running on it is cut short.
 */
let backend: Backend | null = null;
let retired: Backend | null = null;
let useWasm = false;
/** The backend made at start has no model yet: the first model takes it. */
let backendUnused = false;
let settings: PgSettings | null = null;
let drawn: Float32Array | null = null;
/** Training points [count, 2], the held-out points [m, 2], their true mean log-density. */
let train: Float32Array = new Float32Array(0);
let heldOutPoints: Float32Array = new Float32Array(0);
let trueLogLik: number | null = null;
let box: Box = [-4, -4, 4, 4];
let model: NiceModel | null = null;
let trainer: Trainer | null = null;
let running = false;
let stepBudget = 0;
let epoch = 0;
let seq = 0;
let hover: [number, number] | null = null;
/** The latent draws of the samples [SAMPLES, 2] and the grid's points in data space. */
let latentDraws: Float32Array = new Float32Array(0);
let grid: Float32Array = new Float32Array(0);
/** Backend memory for the views' forward passes. */
let scratch: FloatArray | null = null;
let scratchSize = 0;

let trainLL: number | null = null;
let curve: number[] = [];
let heldOutCurve: number[] = [];
let heldOut: HeldOut | null = null;
let lastHeldOut = -Infinity;
let lastDensity = -Infinity;
let density: Frame['density'] = null;
/** Smoothed view boxes of the stages (data side first) and of the inverse stages. */
let stageBoxes: Box[] = [];
let inverseBoxes: Box[] = [];
/** (time, step) samples for the steps-per-second rate; time spent in training steps. */
let rateSamples: Array<[number, number, number]> = [];
let trainMs = 0;
let trainMsSteps = 0;

// ---- data ----------------------------------------------------------------------------------------------------------

/** Builds the training and held-out points for the settings; throws a one-line NiceFlowError for bad input. */
function makeData(s: PgSettings, points: Float32Array | null): void {
  if (s.data === 'drawn') {
    const n = points ? Math.floor(points.length / 2) : 0;
    if (n < MIN_DRAWN) throw new NiceFlowError(`draw at least ${MIN_DRAWN} points first (${n} so far): press and drag on the drawing canvas`);
    for (let i = 0; i < 2 * n; i++) if (!Number.isFinite(points![i])) throw new NiceFlowError('the drawn points hold a value that is not a finite number');
    train = points!.slice(0, 2 * n);
    heldOutPoints = train;
    trueLogLik = null;
  } else {
    const set = getToyDataset(s.data);
    const noise = set.defaultNoise === null ? {} : { noise: s.noise ?? set.defaultNoise };
    train = sampleToy(s.data, s.count, new Rng(s.seed), noise);
    heldOutPoints = sampleToy(s.data, HELD_OUT_COUNT, new Rng(s.seed + HELD_OUT_SEED_OFFSET), noise);
    trueLogLik = toyTrueLogLikelihood(s.data, heldOutPoints);
  }
  box = quantileBox(train, 0.002, 0.5, 1.22, [-4, -4, 4, 4]);
  // The grid over the data's box.
  grid = new Float32Array(GRID_LINES * 2 * GRID_PER_LINE * 2);
  let o = 0;
  for (let dir = 0; dir < 2; dir++) {
    for (let l = 0; l < GRID_LINES; l++) {
      const u = box[dir] + ((box[dir + 2] - box[dir]) * l) / (GRID_LINES - 1);
      for (let j = 0; j < GRID_PER_LINE; j++) {
        const v = box[1 - dir] + ((box[3 - dir] - box[1 - dir]) * j) / (GRID_PER_LINE - 1);
        grid[o + dir] = u;
        grid[o + 1 - dir] = v;
        o += 2;
      }
    }
  }
}

// ---- model -------------------------------------------------------------------------------------------------------

function adam(lr: number): { lr: number; beta1: number; beta2: number; eps: number } {
  return { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
}

/**
 * The views, the held-out number and the exported file use the weights' moving average (Polyak averaging, the
 * Trainer's `ema`; horizon ~4,000 steps): with a constant learning rate the live weights jitter around the optimum,
 * and their average sits much closer to it.
 */
const EMA_DECAY = 0.999;

function newTrainer(m: NiceModel, s: PgSettings): Trainer {
  return new Trainer(m, { values: train, count: train.length / 2, dim: 2 }, { batchSize: s.batch, adam: adam(s.lr), seed: s.seed, ema: EMA_DECAY });
}

/** Runs `fn` with the weight average installed (the live weights before the first average update). */
async function averaged<T>(fn: () => T | Promise<T>): Promise<T> {
  const t = trainer!;
  t.useAverage();
  try {
    return await fn();
  } finally {
    t.useLive();
  }
}

async function makeBackend(): Promise<Backend> {
  if (useWasm) {
    try {
      return await createWasmBackendBrowser({ threads: 1 });
    } catch (e) {
      useWasm = false;
      say('info', `the WebAssembly backend did not start (${oneLine(e)}): training on the slower TypeScript one`);
    }
  }
  return createRefBackend();
}

/** Makes `b` the current backend (the next model's); the one before the current is disposed. */
function adopt(b: Backend): void {
  if (b === backend) return;
  retired?.dispose();
  retired = backend;
  backend = b;
  scratch = null;
  scratchSize = 0;
}

/** A new model from the seed, the scaling started from the data (each latent starts with the prior's spread). */
async function buildModel(s: PgSettings): Promise<void> {
  const config = configFromSettings({ dim: 2 }, { couplings: s.couplings, hidden: s.hidden, depth: s.depth, coupling: s.law, prior: s.prior }, undefined, [0, 1]);
  adopt(backendUnused ? backend! : await makeBackend());
  backendUnused = false;
  const m = new NiceModel(backend!, config);
  m.init(new Rng(s.seed));
  const n = Math.min(2000, train.length / 2);
  const x = viewInput(train.subarray(0, 2 * n));
  m.initScaleFromData(x, n);
  install(m, s);
}

function install(m: NiceModel, s: PgSettings): void {
  model = m;
  trainer = newTrainer(m, s);
  epoch++;
  trainLL = null;
  curve = [];
  heldOutCurve = [];
  heldOut = null;
  density = null;
  lastDensity = -Infinity;
  lastHeldOut = -Infinity;
  stageBoxes = [];
  inverseBoxes = [];
  rateSamples = [];
  trainMs = 0;
  trainMsSteps = 0;
  const rng = new Rng(s.seed + 2);
  latentDraws = new Float32Array(SAMPLES * 2);
  for (let i = 0; i < latentDraws.length; i++) latentDraws[i] = m.prior.sample(rng);
}

/** Copies points into backend memory (the wasm backend's kernels read only their own memory). */
function viewInput(points: Float32Array): FloatArray {
  if (!scratch || scratchSize < points.length) {
    if (scratch) backend!.free(scratch);
    scratchSize = Math.max(points.length, 2 * HELD_OUT_COUNT);
    scratch = backend!.alloc(scratchSize);
  }
  const x = scratch.subarray(0, points.length);
  x.set(points);
  return x;
}

async function sendFrame(force: boolean): Promise<void> {
  if (trainer) await averaged(() => computeFrame(force));
}

async function computeFrame(force: boolean): Promise<void> {
  const m = model;
  const s = settings;
  if (!m || !s || !trainer) return;
  const now = performance.now();
  const step = trainer.step;
  if (force || now - lastHeldOut >= HELD_OUT_MS) {
    if (!heldOut || heldOut.step !== step) {
      heldOut = await measureHeldOut(m, heldOutPoints, step, viewInput);
      if (m !== model) return; // replaced meanwhile
      pushCurve(heldOutCurve, step, heldOut.value);
    }
    lastHeldOut = now;
  }
  let newDensity: Frame['density'] = null;
  if (force || now - lastDensity >= DENSITY_MS || !density) {
    density = densityGrid(m, box, viewInput);
    newDensity = density;
    lastDensity = now;
  }
  const n = Math.min(SHOWN, train.length / 2);
  const shown = train.subarray(0, 2 * n);
  const jump = !running;
  const fw = pushForward(m, shown, viewInput);
  const gridStages = pushForward(m, grid, viewInput).stages;
  const L = m.layers.length;
  const stages: StageView[] = [];
  let couplingNo = 0;
  const names: string[] = [];
  for (let k = 0; k <= L; k++) {
    let name = 'x (data)';
    if (k > 0) {
      const l = m.layers[k - 1];
      if (l instanceof Coupling) couplingNo++;
      name = layerName(l, k - 1, couplingNo);
      names.push(name);
    }
    const target = k === 0 ? box : k === L && m.scaling ? priorBox(m) : quantileBox(fw.stages[k], 0.02, 1e-3, 1.35, box);
    stageBoxes[k] = smooth(stageBoxes[k], target, jump);
    stages.push({ name, box: stageBoxes[k], points: fw.stages[k], grid: gridStages[k] });
  }
  const shifts: ShiftView[] = [];
  m.layers.forEach((l, k) => {
    if (l instanceof Coupling) shifts.push(shiftOf(l, stageBoxes[k], viewInput));
  });
  const inv = pushInverse(m, latentDraws, viewInput);
  const inverse: StageView[] = inv.map((points, j) => {
    const name = j === 0 ? 'h ~ prior' : j === L ? 'x (samples)' : `${names[L - j]}⁻¹`;
    const target = j === 0 ? priorBox(m) : j === L ? box : quantileBox(points, 0.02, 1e-3, 1.35, box);
    inverseBoxes[j] = smooth(inverseBoxes[j], target, jump);
    return { name, box: inverseBoxes[j], points, grid: new Float32Array(0) };
  });
  const layerLogDet = fw.logDet.map((d) => d.reduce((a, b) => a + b, 0) / Math.max(1, d.length));
  // Steps per second over the last second of wall time.
  rateSamples.push([now, step, trainMs]);
  while (rateSamples.length > 2 && now - rateSamples[0][0] > 1000) rateSamples.shift();
  const [t0, s0, m0] = rateSamples[0];
  const stepsPerSecond = running && now > t0 ? ((step - s0) * 1000) / (now - t0) : 0;
  const inSteps = trainMs - m0;
  const frame: Frame = {
    viewMs: performance.now() - now,
    trainShare: running && now > t0 ? Math.min(1, inSteps / (now - t0)) : 0,
    seq: ++seq,
    epoch,
    step,
    running,
    stepsPerSecond,
    trainOnlyStepsPerSecond: running && inSteps > 0 ? ((step - s0) * 1000) / inSteps : trainMs > 0 ? (trainMsSteps * 1000) / trainMs : 0,
    trainLogLik: trainLL,
    heldOut,
    trueLogLik,
    curve: Float64Array.from(curve),
    heldOutCurve: Float64Array.from(heldOutCurve),
    box,
    data: fw.stages[0],
    samples: inv[inv.length - 1],
    density: newDensity,
    stages,
    shifts,
    inverse,
    layerLogDet,
    layerNames: names,
    hover: hover ? hoverView(m, hover, viewInput) : null,
    prior: s.prior,
    priorStd: m.prior.std,
  };
  const transfer: Transferable[] = [frame.curve.buffer, frame.heldOutCurve.buffer];
  post({ type: 'frame', frame }, transfer);
}

// ---- training loop -------------------------------------------------------------------------------------------------

let looping = false;
/** The views' time per frame, a moving average (ms). */
let viewAvg = 10;

/** Trains in chunks until paused (or the step budget is spent), a frame after each chunk. */
async function loop(): Promise<void> {
  if (looping) return;
  looping = true;
  try {
    while ((running || stepBudget > 0) && trainer) {
      const t = trainer;
      const start = performance.now();
      let done = 0;
      try {
        const budget = Math.max(MIN_CHUNK_MS, FRAME_MS - viewAvg);
        while (performance.now() - start < budget && (running || stepBudget > 0)) {
          // A few steps between clock reads: the chunk ends within a step or so of its budget, so a frame leaves
          // every FRAME_MS (20 steps at a time overshot by ~4 ms a cycle on average: 29 frames a second, not 35).
          const k = running ? STEPS_PER_CLOCK : Math.min(STEPS_PER_CLOCK, stepBudget);
          for (let i = 0; i < k; i++) {
            const ll = t.trainStep();
            trainLL = trainLL === null ? ll : 0.98 * trainLL + 0.02 * ll;
          }
          done += k;
          if (!running) stepBudget -= k;
        }
      } catch (e) {
        running = false;
        stepBudget = 0;
        say('error', e instanceof NonFiniteLossError ? `${oneLine(e)}: lower the learning rate, or reset` : `training failed: ${oneLine(e)}`);
      }
      trainMs += performance.now() - start;
      trainMsSteps += done;
      if (t !== trainer) continue;
      pushCurve(curve, t.step, trainLL ?? NaN);
      const v0 = performance.now();
      await sendFrame(false);
      viewAvg = 0.8 * viewAvg + 0.2 * (performance.now() - v0);
      await yieldNow();
    }
  } finally {
    looping = false;
  }
  // Paused (or the steps asked for are done): a frame with everything measured on the final weights.
  await sendFrame(true);
}

// ---- commands ------------------------------------------------------------------------------------------------------

async function startBackend(): Promise<void> {
  // Without cross-origin isolation there is no shared memory, which the wasm backend's is: the TypeScript backend.
  useWasm = scope.crossOriginIsolated;
  backend = await makeBackend();
  backendUnused = true;
  post({ type: 'ready', backend: backend.name, isolated: scope.crossOriginIsolated });
}

const sameData = (a: PgSettings, b: PgSettings): boolean => a.data === b.data && a.seed === b.seed && (a.data === 'drawn' || (a.count === b.count && a.noise === b.noise));
const sameModel = (a: PgSettings, b: PgSettings): boolean =>
  a.couplings === b.couplings && a.hidden === b.hidden && a.depth === b.depth && a.law === b.law && a.prior === b.prior && a.seed === b.seed;

async function configure(s: PgSettings, points: Float32Array | null): Promise<void> {
  const old = settings;
  const dataChanged = !old || !sameData(old, s) || (s.data === 'drawn' && points !== null);
  if (dataChanged) {
    try {
      makeData(s, points);
    } catch (e) {
      running = false;
      settings = s;
      if (s.data === 'drawn') drawn = points;
      model = null;
      trainer = null;
      epoch++;
      say('error', oneLine(e));
      post({ type: 'frame', frame: emptyFrame() });
      return;
    }
    if (s.data === 'drawn') drawn = points;
  }
  settings = s;
  if (dataChanged || !old || !sameModel(old, s) || !model) {
    await buildModel(s);
  } else if (old.batch !== s.batch) {
    trainer = newTrainer(model, s); // the weights stay; Adam starts again
  } else if (old.lr !== s.lr && trainer) {
    trainer.options.adam = adam(s.lr);
  }
  if (!running) await sendFrame(true);
}

/** A frame with nothing to show (no data yet): the page clears its views. */
function emptyFrame(): Frame {
  return {
    seq: ++seq, epoch, step: 0, running: false, stepsPerSecond: 0, trainOnlyStepsPerSecond: 0, trainShare: 0, viewMs: 0, trainLogLik: null, heldOut: null,
    trueLogLik: null, curve: new Float64Array(0), heldOutCurve: new Float64Array(0), box, data: new Float32Array(0), samples: new Float32Array(0),
    density: null, stages: [], shifts: [], inverse: [], layerLogDet: [], layerNames: [], hover: null, prior: settings?.prior ?? 'gaussian', priorStd: 1,
  };
}

async function importModel(bytes: Uint8Array, name: string): Promise<void> {
  const what = `${name}`;
  const b = await makeBackend();
  let m: NiceModel;
  try {
    m = deserializeModel(bytes, b, what);
  } catch (e) {
    b.dispose();
    const why = oneLine(e);
    say('error', e instanceof NiceFlowError ? (why.startsWith(what) ? why : `${what}: ${why}`) : `${what} is not a nice-flow weight file (${why})`);
    return;
  }
  const c = m.config;
  const refuse = (why: string): void => {
    b.dispose();
    say('error', `${what}: ${why}; the playground keeps its model`);
  };
  if (c.dim !== 2) return refuse(`a model of ${c.dim} values per example, the playground's data are 2-D points`);
  if (m.contextSize > 0) return refuse('a conditional model (it takes a label or context); the playground shows unconditional ones');
  if (c.flow || c.couplings === undefined) return refuse('a model described step by step; the playground shows the paper\'s form (couplings, then the scaling)');
  if (!PG_LAWS.includes(c.coupling as PgLaw)) return refuse(`its couplings are ${c.coupling}; the playground shows additive and affine ones`);
  if (!PG_PRIORS.includes(c.prior as PgPrior)) return refuse(`its prior is ${c.prior}`);
  if (!m.scaling) return refuse('it has no final scaling layer');
  if (!settings) return refuse('no data yet');
  running = false;
  settings = { ...settings, couplings: c.couplings, hidden: c.hidden!, depth: c.depth!, law: c.coupling as PgLaw, prior: c.prior as PgPrior };
  if (!model) {
    try {
      makeData(settings, drawn);
    } catch (e) {
      b.dispose();
      say('error', oneLine(e));
      return;
    }
  }
  adopt(b);
  backendUnused = false;
  install(m, settings);
  post({ type: 'imported', settings });
  say('info', `loaded ${name}: ${c.couplings} ${c.coupling} couplings of ${c.depth} × ${c.hidden}, ${c.prior} prior`);
  return sendFrame(true);
}

async function handle(msg: ToWorker): Promise<void> {
  if (msg.type === 'init') return startBackend();
  if (!backend) return;
  switch (msg.type) {
    case 'configure':
      return configure(msg.settings, msg.drawn);
    case 'play':
      if (!trainer) return;
      running = true;
      rateSamples = [];
      void loop();
      return;
    case 'pause':
      running = false;
      stepBudget = 0;
      rateSamples = [];
      if (!looping) await sendFrame(true);
      return;
    case 'step':
      if (!trainer) return;
      running = false;
      stepBudget += Math.max(1, Math.floor(msg.count));
      void loop();
      return;
    case 'reset':
      running = false;
      stepBudget = 0;
      if (settings && train.length) {
        await buildModel(settings);
        if (!looping) await sendFrame(true);
      }
      return;
    case 'hover':
      hover = msg.point;
      if (!running && !looping) await sendFrame(false);
      return;
    case 'export': {
      if (!model || !settings) return say('error', 'no model to export yet');
      const meta = { playground: JSON.stringify({ data: settings.data, count: settings.count, noise: settings.noise, seed: settings.seed, step: trainer?.step ?? 0 }) };
      const bytes = await averaged(() => serializeModel(model!, meta));
      post({ type: 'file', name: `nice-flow-playground-${settings.data}.safetensors`, bytes });
      return;
    }
    case 'export-points': {
      if (!settings || !heldOutPoints.length) return say('error', 'no points yet');
      const bytes = writeNpyF32(heldOutPoints, [heldOutPoints.length / 2, 2]);
      post({ type: 'file', name: `nice-flow-playground-${settings.data}-heldout.npy`, bytes });
      return;
    }
    case 'import':
      return importModel(msg.bytes, msg.name);
  }
}

/** Commands run one at a time, in order. */
let queue: Promise<void> = Promise.resolve();
scope.onmessage = (event) => {
  const msg = event.data;
  // Pause and hover take effect at once (the training loop reads them between chunks).
  if (msg.type === 'pause') running = false;
  queue = queue.then(() => handle(msg)).catch((e) => {
    console.warn('nice-flow playground worker:', e);
    say('error', `internal error: ${oneLine(e)}`);
  });
};
