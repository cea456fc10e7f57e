// The studio worker's backends and models: a loaded weight file and the training run each have their own backend
// (replacing one disposes its backend once the jobs using it have let go), and one of them is the active model.
import { createRefBackend, deserializeModel, NiceFlowError, type Backend, type NiceModel } from '../../../src/index.js';
import { createWasmBackendBrowser } from '../../../src/browser/index.js';
import type { BackendInfo, DatasetEntry, Manifest, ModelInfo, ModelSource } from '../protocol.js';
import { describeModel } from './modelViews.js';
import { cancels, oneLine, post, scope } from './runtime.js';

let manifest: Manifest = { datasets: [], models: [], gallery: [] };
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

export function newBackend(): Promise<Backend> {
  const b = spare ?? makeBackend();
  spare = null;
  return b;
}

/** A model and the backend it lives on, with the jobs using it (a retired slot is disposed when they are done). */
export interface Slot {
  backend: Backend;
  model: NiceModel;
  info: ModelInfo;
  jobs: Set<number>;
  retired: boolean;
}

export function retire(slot: Slot | null, why: string): void {
  if (!slot || slot.retired) return;
  slot.retired = true;
  for (const id of slot.jobs) cancels.set(id, why);
  if (slot.jobs.size === 0) slot.backend.dispose();
}

let fileSlot: Slot | null = null;
/** The training run's model (set by training.ts), if there is a run. */
let runModel: Slot | null = null;
let active: ModelSource = 'file';

export function activeSlot(): Slot | null {
  if (active === 'run' && runModel) return runModel;
  return fileSlot ?? runModel;
}

/** The training run's model from now on (null: no run), and whether it becomes the active model. */
export function setRunModel(slot: Slot | null, makeActive: boolean): void {
  runModel = slot;
  if (makeActive && slot) active = 'run';
  if (!slot && active === 'run') active = 'file';
  postModel();
}

/** Runs `body` on the active model, holding its slot so it is not disposed under it. */
export async function withModel<T>(id: number, body: (model: NiceModel, slot: Slot) => T | Promise<T>): Promise<T> {
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

export function postModel(): void {
  post({ type: 'model', info: activeSlot()?.info ?? null });
}

export function dataset(name: string): DatasetEntry {
  const entry = manifest.datasets.find((d) => d.name === name);
  if (!entry) throw new NiceFlowError(`data set "${name}" is not offered here (there are: ${manifest.datasets.map((d) => d.name).join(', ') || 'none'})`);
  return entry;
}

/** Starts the backends (a spare one made ahead for the first model): `init`. */
export async function startBackends(m: Manifest, requestedThreads: number | undefined): Promise<BackendInfo> {
  manifest = m;
  const hw = scope.navigator.hardwareConcurrency || 1;
  threads = scope.crossOriginIsolated ? Math.max(1, Math.min(hw, Math.floor(requestedThreads ?? hw))) : 1;
  spare = makeBackend();
  const b = await spare;
  backendInfo = { name: b.name, threads: b.threads, isolated: scope.crossOriginIsolated };
  return backendInfo;
}

/** A weight file becomes the file model (the one it replaces is retired) and the active model. */
export async function loadModelFile(bytes: ArrayBuffer, name: string): Promise<ModelInfo> {
  const backend = await newBackend();
  let model: NiceModel;
  try {
    model = deserializeModel(new Uint8Array(bytes), backend, name);
  } catch (e) {
    spare = Promise.resolve(backend); // unused: keep it for the next try
    // Every message names the file (the safetensors reader's own do not).
    const text = oneLine(e);
    throw new NiceFlowError(text.includes(name) ? text : `${name}: ${text}`);
  }
  const old = fileSlot;
  fileSlot = { backend, model, info: describeModel(model, 'file', name), jobs: new Set(), retired: false };
  retire(old, 'another model was loaded');
  active = 'file';
  postModel();
  return fileSlot.info;
}

/** Which model the panels use: the loaded file or the training run's. */
export function useModel(source: ModelSource): ModelInfo | null {
  if (source === 'run' && !runModel) throw new NiceFlowError('there is no training run yet');
  if (source === 'file' && !fileSlot) throw new NiceFlowError('no model file is loaded');
  active = source;
  postModel();
  return activeSlot()?.info ?? null;
}
