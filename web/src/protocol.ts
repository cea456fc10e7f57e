// The typed protocol between the page (web/src/client.ts) and the compute Worker (web/src/worker/worker.ts).
//
// The page sends requests `{ type, id, ...args }`; the Worker answers each with exactly one `done` (the result) or
// `failed` (a one-line message; `cancelled` when it was cancelled), and may send `progress` for it in between.
// A `cancel` names the request to stop; long jobs look at it between steps. Besides answers the Worker sends
// events: the active model changed, the training run's state, steps and epochs, and notices.
//
// Images travel in display space: Float32Array rows of C×H×W values in [0, 1] (the Worker maps them to and from
// the model's data range; values the model gave as NaN or ±∞ show as black, and the result's `warning` says so).
// Latent codes travel as they are.
import type { EpochLogEntry, NiceConfig } from '../../src/index.js';

/** A data set the host offers: absolute URLs of its IDX image files (gzipped or not), and its image shape. */
export interface DatasetEntry {
  name: string;
  label: string;
  train: string;
  test: string;
  /** [C, H, W] of its images. */
  shape: [number, number, number];
}

/** A model the host serves: one named on `nice-flow studio`'s command line, or a gallery model. */
export interface ServedModel {
  /** Its name in links (`?model=…`) and lists. */
  name: string;
  url: string;
  /** Gallery models: what it is, in a few words. */
  label?: string;
  /** Gallery models: the data set it was trained on (a `DatasetEntry` name). */
  dataset?: string;
  /** Gallery models: measured test figures (full test set, uniform dequantization, seed 0). */
  test?: { logLikelihood: number; bitsPerDim: number; n: number; accuracy?: number };
  params?: number;
  /** Download size in bytes. */
  bytes?: number;
  /** One line on how it was trained. */
  note?: string;
}

/** What the host serves besides the app (studio.json): data sets, the models named on `nice-flow studio`'s command line, and the gallery of models that ship with the studio. */
export interface Manifest {
  datasets: DatasetEntry[];
  models: ServedModel[];
  gallery: ServedModel[];
  /** Who serves it: `nice-flow studio …` or `static`. */
  server?: string;
}

/** The compute backend the Worker runs on. */
export interface BackendInfo {
  name: string;
  threads: number;
  /** Whether the page is cross-origin isolated (shared memory, so more than one thread). */
  isolated: boolean;
}

export type ModelSource = 'file' | 'run';

/** The active model, as the page shows it. */
export interface ModelInfo {
  source: ModelSource;
  /** The file name, or a description of the training run. */
  name: string;
  config: NiceConfig;
  /** The flow in one line (the library's summarizeFlow). */
  summary: string;
  dim: number;
  shape: [number, number, number];
  params: number;
  /** The sorted exp(−s) of the scaling layer (the paper's spectrum), largest first; empty when the flow has none. */
  spectrum: number[];
  /** Latent dimensions with the largest exp(−s), largest first (the latent editor's sliders). */
  topDims: number[];
  /** A symmetric range for those sliders: about ±3 prior standard deviations. */
  latentRange: number;
  /** Why the page cannot show the model's data as pictures (null: it can): the picture panels then say so. */
  notDrawable: string | null;
}

/** The two model sizes the Train panel offers. */
export type TrainSize = 'small' | 'paper';

/** What the Train panel starts a run with. */
export interface TrainSettings {
  dataset: string;
  size: TrainSize;
  lr: number;
  epochs: number;
  batchSize: number;
  /** Use only the first N training images. */
  limit?: number;
  /** Validate on only the first N held-out images. */
  validLimit?: number;
  seed: number;
}

export type TrainPhase = 'none' | 'loading' | 'running' | 'validating' | 'pausing' | 'paused' | 'done' | 'diverged' | 'failed' | 'elsewhere';

/** The training run as the page shows it. */
export interface TrainState {
  phase: TrainPhase;
  step: number;
  epoch: number;
  /** The step the run ends at. */
  stopAt: number;
  stepsPerEpoch: number;
  samplesPerSecond: number;
  settings: TrainSettings | null;
  bestValid: number | null;
  bestEpoch: number | null;
  /** Step of the newest checkpoint kept in IndexedDB. */
  checkpointStep: number | null;
  /** Why it stopped, for diverged and failed; a note while loading. */
  message?: string;
}

/** Every request: its arguments and its result. */
export interface Calls {
  init: { args: { manifest: Manifest; threads?: number }; result: { backend: BackendInfo; train: TrainState } };
  'load-model': { args: { bytes: ArrayBuffer; name: string }; result: ModelInfo };
  'use-model': { args: { source: ModelSource }; result: ModelInfo | null };
  evaluate: { args: { dataset: string }; result: { logLikelihood: number; bitsPerDim: number; stdError: number; n: number } };
  /** `label`: a class-conditional model's class to draw; absent: the rows of the grid go through the classes in order. */
  sample: { args: { n: number; temperature: number; seed: number; label?: number }; result: { images: Float32Array; warning?: string } };
  /** For a class-conditional model: the marginal log-likelihood and p(y | image) of each class (`classes`). */
  loglik: { args: { image: Float32Array }; result: { logLikelihood: number; bitsPerDim: number; classes?: number[] } };
  /** `label`: a class-conditional model's class to complete towards (absent: the class it thinks the image is). */
  inpaint: { args: { image: Float32Array; mask: Uint8Array; seed: number; label?: number }; result: { image: Float32Array; before: number; after: number; steps: number; label?: number } };
  /** A class-conditional model: the image encoded under `label` (absent: its likeliest class), decoded as every class. */
  restyle: { args: { image: Float32Array; label?: number }; result: { images: Float32Array; label: number } };
  interpolate: { args: { a: Float32Array; b: Float32Array; steps: number }; result: { images: Float32Array; warning?: string } };
  /** `label`: a class-conditional model's class to encode under (absent: its likeliest); the result says which. */
  encode: { args: { image: Float32Array; label?: number }; result: { code: Float32Array; label?: number } };
  /** `label`: a class-conditional model's class to decode as (required for one). */
  decode: { args: { code: Float32Array; label?: number }; result: { image: Float32Array; warning?: string } };
  'test-images': { args: { dataset: string; indices: number[] }; result: { images: Float32Array; count: number; shape: [number, number, number] } };
  'train-start': { args: { settings: TrainSettings }; result: TrainState };
  'train-pause': { args: Record<string, never>; result: TrainState };
  'train-resume': { args: Record<string, never>; result: TrainState };
  'train-discard': { args: Record<string, never>; result: TrainState };
  'train-model-bytes': { args: Record<string, never>; result: { bytes: Uint8Array; what: string } };
  /** The active model's backend memory (Backend.memoryUsage), to watch that a long-lived page stays flat. */
  memory: { args: Record<string, never>; result: { inUse: number; reserved: number } | null };
}

export type CallType = keyof Calls;
export type CallArgs<K extends CallType> = Calls[K]['args'];
export type CallResult<K extends CallType> = Calls[K]['result'];

/** Page → Worker. */
export type Request = { [K in CallType]: { type: K; id: number } & CallArgs<K> }[CallType] | { type: 'cancel'; target: number };

/** Progress of a request; `image` is an intermediate picture (inpainting), `value` a running number (its log p). */
export interface Progress {
  type: 'progress';
  id: number;
  done: number;
  /** Null when the total is not known. */
  total: number | null;
  label: string;
  image?: Float32Array;
  value?: number;
}

/** Worker → page. */
export type Response =
  | { [K in CallType]: { type: 'done'; id: number; call: K; result: CallResult<K> } }[CallType]
  | { type: 'failed'; id: number; message: string; cancelled: boolean }
  | Progress
  | { type: 'model'; info: ModelInfo | null }
  | { type: 'train-state'; state: TrainState }
  | { type: 'train-step'; step: number; epoch: number; logLikelihood: number; samplesPerSecond: number }
  | { type: 'train-validation'; done: number; total: number }
  | { type: 'train-epoch'; entry: EpochLogEntry; improved: boolean; samples: Float32Array; count: number; shape: [number, number, number] }
  | { type: 'train-log'; log: EpochLogEntry[] }
  | { type: 'notice'; level: 'info' | 'warning' | 'error'; message: string };
