// The page's state (Preact signals) and the actions every panel shares. All computing is in the Worker: this file
// only sends requests and keeps what comes back.
import { batch, signal } from '@preact/signals';
import type { EpochLogEntry } from '../../src/index.js';
import { CallError, ComputeClient, type WorkerEvent } from './client.js';
import type { BackendInfo, CallType, DatasetEntry, Manifest, ModelInfo, ServedModel, TrainState } from './protocol.js';
import { readBody } from './readBody.js';
import { readUrlState, writeUrlState } from './urlState.js';

export interface Notice {
  id: number;
  level: 'info' | 'warning' | 'error';
  message: string;
}

/** An image "sent to the editor" (a sample clicked, a test digit, a drawing), with where it came from. */
export interface EditorImage {
  image: Float32Array;
  label: string;
  /** Changes with every new image, so panels can tell a new one from the same one. */
  version: number;
}

export interface EvalState {
  status: 'idle' | 'running' | 'done' | 'failed' | 'cancelled';
  dataset?: string;
  done?: number;
  total?: number | null;
  label?: string;
  logLikelihood?: number;
  bitsPerDim?: number;
  stdError?: number;
  n?: number;
  message?: string;
}

export const started = signal(false);
export const backendInfo = signal<BackendInfo | null>(null);
export const manifest = signal<Manifest>({ datasets: [], models: [], gallery: [] });
export const notices = signal<Notice[]>([]);
export const crashed = signal<string | null>(null);

export const model = signal<ModelInfo | null>(null);
/** Bumped when the active model's weights change (a new model, or an epoch of the run being trained). */
export const modelVersion = signal(0);
export const fileModelName = signal<string | null>(null);
/** The served or gallery model the file model came from (null: a file the user opened). */
export const servedModel = signal<ServedModel | null>(null);
/** The served model being loaded (its 'model' event sets servedModel). */
let pendingServed: ServedModel | null = null;
export const modelLoading = signal<string | null>(null);
export const modelMessage = signal<string | null>(null);
export const evalState = signal<EvalState>({ status: 'idle' });
export const evalDataset = signal<string>('mnist');

export const trainState = signal<TrainState>({
  phase: 'none', step: 0, epoch: 0, stopAt: 0, stepsPerEpoch: 0, samplesPerSecond: 0, settings: null, bestValid: null, bestEpoch: null, checkpointStep: null,
});
export const trainLog = signal<EpochLogEntry[]>([]);
/** Running batch log-likelihoods (a smoothed trace, thinned to stay small) for the chart. */
export const stepTrace = signal<{ steps: number[]; values: number[] }>({ steps: [], values: [] });
export const validation = signal<{ done: number; total: number } | null>(null);
export const epochSamples = signal<{ images: Float32Array; count: number; shape: [number, number, number]; epoch: number } | null>(null);

export const editorImage = signal<EditorImage | null>(null);
let editorVersion = 0;

let noticeId = 0;
export function notify(level: Notice['level'], message: string): void {
  const id = ++noticeId;
  notices.value = [...notices.value.filter((n) => n.message !== message).slice(-3), { id, level, message }];
  if (level === 'info') setTimeout(() => dismiss(id), 8000);
}
export function dismiss(id: number): void {
  notices.value = notices.value.filter((n) => n.id !== id);
}

/** The one-line text of an error for the page. */
export function messageOf(e: unknown): string {
  return String((e as Error)?.message ?? e).replace(/\s+/g, ' ').trim();
}
export const isCancel = (e: unknown): boolean => e instanceof CallError && e.cancelled;

const TRACE_MAX = 1200;
let traceStride = 1;
let traceEma = NaN;
let traceCount = 0;

function onEvent(e: WorkerEvent): void {
  switch (e.type) {
    case 'model':
      batch(() => {
        // A new file model: which served model it is (if any) is known before the panels look at it.
        if (e.info?.source === 'file' && e.info.name !== model.value?.name) servedModel.value = pendingServed?.name === e.info.name ? pendingServed : null;
        model.value = e.info;
        modelVersion.value++;
      });
      if (e.info?.source === 'file') void evaluateModel();
      else evalState.value = { status: 'idle' };
      break;
    case 'train-state':
      trainState.value = e.state;
      if (e.state.phase !== 'validating') validation.value = null;
      if (e.state.phase === 'none') {
        trainLog.value = [];
        stepTrace.value = { steps: [], values: [] };
        epochSamples.value = null;
        traceEma = NaN;
        traceStride = 1;
        traceCount = 0;
      }
      break;
    case 'train-step': {
      const t = trainState.value;
      trainState.value = { ...t, step: e.step, epoch: e.epoch - 1, samplesPerSecond: e.samplesPerSecond };
      traceEma = Number.isNaN(traceEma) ? e.logLikelihood : 0.9 * traceEma + 0.1 * e.logLikelihood;
      if (traceCount++ % traceStride === 0) {
        let { steps, values } = stepTrace.value;
        steps = [...steps, e.step];
        values = [...values, traceEma];
        if (steps.length > TRACE_MAX) {
          steps = steps.filter((_, i) => i % 2 === 0);
          values = values.filter((_, i) => i % 2 === 0);
          traceStride *= 2;
        }
        stepTrace.value = { steps, values };
      }
      break;
    }
    case 'train-validation':
      validation.value = { done: e.done, total: e.total };
      break;
    case 'train-epoch':
      batch(() => {
        trainLog.value = [...trainLog.value, e.entry];
        epochSamples.value = { images: e.samples, count: e.count, shape: e.shape, epoch: e.entry.epoch };
        validation.value = null;
        if (model.value?.source === 'run') modelVersion.value++;
      });
      break;
    case 'train-log':
      trainLog.value = e.log;
      break;
    case 'notice':
      notify(e.level, e.message);
      break;
  }
}

export const client = new ComputeClient(onEvent, (message) => {
  crashed.value = message;
  notify('error', message);
});

/** The host's studio.json, with its URLs made absolute (the Worker resolves them against its own URL otherwise). */
async function readManifest(): Promise<Manifest> {
  const base = new URL('.', document.baseURI);
  let raw: Partial<Manifest> = {};
  try {
    const res = await fetch(new URL('studio.json', base));
    if (res.ok) raw = (await res.json()) as Partial<Manifest>;
  } catch {
    // no manifest: no data sets and no models from the host
  }
  const abs = (u: string): string => new URL(u, base).href;
  const list = <T,>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);
  return {
    server: raw.server ?? 'static',
    datasets: list<DatasetEntry>(raw.datasets).map((d) => ({ ...d, shape: d.shape ?? [1, 28, 28], train: abs(d.train), test: abs(d.test) })),
    models: list<ServedModel>(raw.models).map((m) => ({ ...m, url: abs(m.url) })),
    gallery: list<ServedModel>(raw.gallery).map((m) => ({ ...m, url: abs(m.url) })),
  };
}

const shapeSize = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/**
 * The data set whose images a model takes (test images, evaluation, completion): the one a gallery model was
 * trained on, or the training run's, or the chosen test set, or the first whose images have the model's size; null
 * when the host offers none of that size.
 */
export function datasetFor(info: ModelInfo | null = model.value): DatasetEntry | null {
  if (!info) return null;
  const all = manifest.value.datasets;
  const fits = (d: DatasetEntry | undefined): d is DatasetEntry => !!d && shapeSize(d.shape) === info.dim;
  const named = (name: string | undefined): DatasetEntry | undefined => all.find((d) => d.name === name);
  const preferred = [
    info.source === 'file' ? named(servedModel.value?.dataset) : named(trainState.value.settings?.dataset),
    named(evalDataset.value),
  ];
  return preferred.find(fits) ?? all.find(fits) ?? null;
}

/** Why no data set fits the model (for panels that need test images). */
export function noDatasetMessage(info: ModelInfo): string {
  const sizes = [...new Set(manifest.value.datasets.map((d) => d.shape.join('×')))].join(', ') || 'none';
  return `this model's images are ${info.shape.join('×')}; the data sets here are ${sizes}`;
}

/** Starts the Worker, then loads the host's first model, if it named one. */
export async function start(): Promise<void> {
  const m = await readManifest();
  manifest.value = m;
  if (m.datasets.length) evalDataset.value = m.datasets[0].name;
  const param = Number(new URLSearchParams(location.search).get('threads'));
  const threads = Number.isSafeInteger(param) && param > 0 ? param : undefined;
  try {
    const r = await client.run('init', { manifest: m, threads });
    batch(() => {
      backendInfo.value = r.backend;
      trainState.value = r.train;
      started.value = true;
    });
  } catch (e) {
    notify('error', `the compute worker could not start: ${messageOf(e)}`);
    return;
  }
  // The model a link names (?model=…), else the first the server was given, else the gallery's first.
  const wanted = readUrlState().model;
  const all = [...m.models, ...m.gallery];
  const first = (wanted && all.find((s) => s.name === wanted)) || all[0];
  if (wanted && first?.name !== wanted) notify('warning', `the link names a model "${wanted}" that this host does not serve: showing ${first ? first.name : 'none'}`);
  if (first) await loadServedModel(first);
}

/** The largest model download the page accepts (the browser's memory for a model's weights is 4 GiB at most). */
const MAX_MODEL_BYTES = 2 ** 31;

/** Downloads a served or gallery model and makes it the active model; the link then names it. */
export async function loadServedModel(entry: ServedModel): Promise<void> {
  // Its test set is chosen first: the Model panel evaluates a new model as soon as it arrives.
  const before = evalDataset.value;
  if (entry.dataset && manifest.value.datasets.some((d) => d.name === entry.dataset)) evalDataset.value = entry.dataset;
  const ok = await loadModelFromUrl(entry.url, entry.name, entry);
  if (!ok) evalDataset.value = before;
}

/** Bumped by every model load: a download overtaken by a later load (a file dropped meanwhile) is dropped. */
let loadTicket = 0;

export async function loadModelFromUrl(url: string, name: string, served: ServedModel | null = null): Promise<boolean> {
  const mine = ++loadTicket;
  modelLoading.value = `downloading ${name}…`;
  modelMessage.value = null;
  try {
    let res: Response;
    try {
      res = await fetch(url);
    } catch (e) {
      throw new Error(`${name}: cannot download it (${messageOf(e)})`);
    }
    if (!res.ok) throw new Error(`${name}: the server answered ${res.status}`);
    const bytes = await readBody(res, name, { maxBytes: MAX_MODEL_BYTES, tooLarge: 'too large for a model in the browser' }, (got, total) => {
      if (mine === loadTicket) modelLoading.value = `downloading ${name}… ${(got / 2 ** 20).toFixed(1)}${total ? ` of ${(total / 2 ** 20).toFixed(1)}` : ''} MB`;
    });
    if (mine !== loadTicket) return false; // another model was asked for meanwhile
    return await loadModelBytes(bytes.buffer, name, served, mine);
  } catch (e) {
    if (mine === loadTicket) modelMessage.value = messageOf(e);
    return false;
  } finally {
    if (mine === loadTicket) modelLoading.value = null;
  }
}

/** Loads a weight file in the Worker; a bad file leaves a one-line message and the previous model in place. */
export async function loadModelBytes(bytes: ArrayBuffer, name: string, served: ServedModel | null = null, ticket = ++loadTicket): Promise<boolean> {
  if (ticket !== loadTicket) return false;
  modelLoading.value = `reading ${name}…`;
  modelMessage.value = null;
  pendingServed = served;
  try {
    await client.call('load-model', { bytes, name }, { transfer: [bytes] }).promise;
    fileModelName.value = name;
    // A link names a served model; a file of the user's own it cannot.
    servedModel.value = served;
    writeUrlState({ model: served?.name });
    return true;
  } catch (e) {
    modelMessage.value = messageOf(e);
    return false;
  } finally {
    modelLoading.value = null;
  }
}

export async function loadModelFile(file: File): Promise<void> {
  if (file.size > 2 ** 31) {
    modelMessage.value = `${file.name} is ${(file.size / 2 ** 30).toFixed(1)} GiB: too large for a model of the browser's 4 GiB memory`;
    return;
  }
  let bytes: ArrayBuffer;
  try {
    bytes = await file.arrayBuffer();
  } catch (e) {
    modelMessage.value = `${file.name} cannot be read: ${messageOf(e)}`;
    return;
  }
  await loadModelBytes(bytes, file.name);
}

let evalCall: { cancel(): void } | null = null;

/** The active model's test log-likelihood on the chosen data set, with progress (cancellable). */
export async function evaluateModel(): Promise<void> {
  const info = model.value;
  evalCall?.cancel();
  evalCall = null; // the cancelled one's answer must not overwrite what is said below
  if (!info || !manifest.value.datasets.length) {
    evalState.value = { status: 'idle' };
    return;
  }
  const chosen = manifest.value.datasets.find((d) => d.name === evalDataset.value);
  const ds = chosen && shapeSize(chosen.shape) === info.dim ? chosen : datasetFor(info);
  if (!ds) {
    evalState.value = { status: 'failed', message: noDatasetMessage(info) };
    return;
  }
  evalDataset.value = ds.name;
  const call = client.call('evaluate', { dataset: ds.name }, {
    onProgress: (p) => {
      evalState.value = { status: 'running', dataset: ds.label, done: p.done, total: p.total, label: p.label };
    },
  });
  evalCall = call;
  evalState.value = { status: 'running', dataset: ds.label, done: 0, total: null, label: 'starting' };
  try {
    const r = await call.promise;
    evalState.value = { status: 'done', dataset: ds.label, ...r };
  } catch (e) {
    if (evalCall !== call && isCancel(e)) return; // superseded by a newer evaluation
    evalState.value = { status: isCancel(e) ? 'cancelled' : 'failed', dataset: ds.label, message: messageOf(e) };
  } finally {
    if (evalCall === call) evalCall = null;
  }
}

export function cancelEvaluation(): void {
  evalCall?.cancel();
}

// For tests and measurements: the Worker's calls, from the page's console or a driver (e.g. `memory`).
(window as unknown as { niceFlowStudio: unknown }).niceFlowStudio = { call: (type: CallType, args: object = {}) => client.run(type, args as never) };

export function sendToEditor(image: Float32Array, label: string): void {
  editorImage.value = { image, label, version: ++editorVersion };
}
