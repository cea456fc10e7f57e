// The flow playground's messages between the page (web/src/playground/client.ts) and its Worker
// (web/src/playground/worker.ts). Unlike the studio's request/answer protocol, the playground's is a stream: the
// page sends commands (settings, play, pause, …) and the Worker sends frames, ~30 times a second while it trains
// and once after every change while it is paused, plus files and one-line messages. Arrays are transferred.

/** The data choices: the library's toy sets (src/toy) and points drawn with the mouse. */
export const PG_DATASETS = ['moons', 'rings', '8gaussians', 'checkerboard', 'spiral', 'pinwheel', 'gaussian', 'drawn'] as const;
export type PgDataName = (typeof PG_DATASETS)[number];

export const PG_LAWS = ['additive', 'affine'] as const;
export type PgLaw = (typeof PG_LAWS)[number];

export const PG_PRIORS = ['gaussian', 'logistic'] as const;
export type PgPrior = (typeof PG_PRIORS)[number];

/** Everything that fixes what the page shows (and what a link reproduces). */
export interface PgSettings {
  data: PgDataName;
  /** Training points drawn from the toy set (drawn data: the drawn points). */
  count: number;
  /** Noise standard deviation for moons, spiral and pinwheel (null: the set's default; the other sets have none). */
  noise: number | null;
  couplings: number;
  hidden: number;
  depth: number;
  law: PgLaw;
  prior: PgPrior;
  lr: number;
  batch: number;
  seed: number;
}

/** The default model and data: what a first-time visitor sees. */
export const DEFAULT_SETTINGS: PgSettings = {
  data: 'moons',
  count: 50_000,
  noise: null,
  couplings: 8,
  hidden: 32,
  depth: 2,
  law: 'affine',
  prior: 'gaussian',
  lr: 0.001,
  batch: 128,
  seed: 1,
};

/** Held-out points: this many fresh points of the toy set (drawn data: the drawn points themselves). */
export const HELD_OUT_COUNT = 10_000;
/** The held-out points are drawn with `new Rng(seed + HELD_OUT_SEED_OFFSET)`; the training points with `new Rng(seed)`. */
export const HELD_OUT_SEED_OFFSET = 1_000_000;
/** The fewest drawn points the playground trains on. */
export const MIN_DRAWN = 20;
/** The layer views' grid: lines per direction over the data's box, and points per line. */
export const GRID_LINES = 11;
export const GRID_PER_LINE = 40;

export type ToWorker =
  | { type: 'init' }
  /** New settings; `drawn`: the drawn points [n, 2] (interleaved x, y) when data is `drawn`. */
  | { type: 'configure'; settings: PgSettings; drawn: Float32Array | null }
  | { type: 'play' }
  | { type: 'pause' }
  /** `count` training steps, then pause. */
  | { type: 'step'; count: number }
  /** New weights from the seed, the curves cleared. */
  | { type: 'reset' }
  /** The point whose path through the layers each frame shows (data coordinates), or null. */
  | { type: 'hover'; point: [number, number] | null }
  | { type: 'export' }
  | { type: 'export-points' }
  | { type: 'import'; bytes: Uint8Array; name: string };

/** A view box [x0, y0, x1, y1] in that stage's coordinates (square). */
export type Box = [number, number, number, number];

/** One stage of the flow as the layer views show it: points and grid lines after that many layers. */
export interface StageView {
  /** Title, e.g. `x (data)`, `coupling 3`, `scaling → h`. */
  name: string;
  box: Box;
  /** The shown data points after this stage [n, 2]. */
  points: Float32Array;
  /** The grid's polylines after this stage [lines × perLine, 2]. */
  grid: Float32Array;
}

/** A coupling's function m(x₁) over the kept coordinate's range: its shift t and log-scale ℓ (0 for additive). */
export interface ShiftView {
  /** Which coordinate is kept (0: x, 1: y); the other moves. */
  kept: 0 | 1;
  /** Kept-coordinate values [n]. */
  at: Float32Array;
  shift: Float32Array;
  logScale: Float32Array;
}

/** A hovered point's path and its log p(x) split as in NICE eq. (2). */
export interface HoverView {
  /** Positions after each stage (stage 0 is the point itself), [stages, 2]. */
  path: Float32Array;
  /** log|det| of each layer, in layer order (0 for additive couplings, Σ s for the scaling). */
  logDet: number[];
  /** log p_H(h_d) of each latent coordinate. */
  prior: [number, number];
  /** Σ prior + Σ logDet. */
  total: number;
  /** The library's model.logProb of the same point, as a check. */
  logProb: number;
}

export interface HeldOut {
  /** Mean log-likelihood over the held-out points (nats), the library's `evaluate`. */
  value: number;
  stdError: number;
  n: number;
  /** The step of the weights it was measured on. */
  step: number;
  /** Its split as in eq. (2): the mean of Σ_d log p_H(h_d), and each layer's mean log|det|. */
  prior: number;
  logDet: number[];
}

export interface Frame {
  /** Increases with every frame. */
  seq: number;
  /** Increases with every data or model change (reset, new data, import): the page clears what it keeps. */
  epoch: number;
  step: number;
  running: boolean;
  /** Training steps per second of wall time over the last second (views included); 0 when paused. */
  stepsPerSecond: number;
  /** Steps per second counting only the time in training steps. */
  trainOnlyStepsPerSecond: number;
  /** The share of the Worker's time spent on training steps (the rest: views, held-out, yields) over the last second. */
  trainShare: number;
  /** Milliseconds the Worker spent computing this frame's views. */
  viewMs: number;
  /** A smoothed mean log-likelihood of the training batches. */
  trainLogLik: number | null;
  heldOut: HeldOut | null;
  /** The mean true log-density over the same held-out points (known densities only). */
  trueLogLik: number | null;
  /** The training curve: [step, smoothed batch log-likelihood] pairs, and [step, held-out] pairs. */
  curve: Float64Array;
  heldOutCurve: Float64Array;
  /** The data's view box (the density map and the first layer view). */
  box: Box;
  /** The training data's shown subset [n, 2] (also stage 0 of `stages`). */
  data: Float32Array;
  /** The model's samples [n, 2] (the last stage of `inverse`). */
  samples: Float32Array;
  /** log p(x) on a G × G grid over `box`, rows from the top (y = box[3]) down; only when it was recomputed. */
  density: { g: number; box: Box; logp: Float32Array } | null;
  /** Data side first: the data, after each coupling, after the scaling (the latent h). */
  stages: StageView[];
  /** One per coupling. */
  shifts: ShiftView[];
  /** The samples' way: h drawn from the prior, then each layer's inverse, last layer first, to x. */
  inverse: StageView[];
  /** Each layer's mean log|det| over the shown points, layer order. */
  layerLogDet: number[];
  layerNames: string[];
  hover: HoverView | null;
  prior: PgPrior;
  priorStd: number;
}

export type FromWorker =
  | { type: 'ready'; backend: string; isolated: boolean }
  | { type: 'frame'; frame: Frame }
  /** A one-line message for the page (bad input, a diverged run, an imported file). */
  | { type: 'message'; level: 'info' | 'error'; text: string }
  /** A file to download. */
  | { type: 'file'; name: string; bytes: Uint8Array }
  /** An imported model changed the model settings (the page shows them, without a reset). */
  | { type: 'imported'; settings: PgSettings };
