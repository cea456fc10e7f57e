// What the playground's Worker computes for the page's views, as functions of the model (no Worker state here):
// points pushed through each layer with the library's own bijections (forward and inverse), each coupling's m(x₁),
// the exact density on a grid, a hovered point's eq. (2) split, the held-out number and its split, view boxes.
// `input` copies points into the backend's memory (the wasm backend's kernels read only their own).
import { Coupling, DiagonalScaling, evaluate, Rng, type Bijection, type FloatArray, type NiceModel } from '../../../src/index.js';
import type { Box, Frame, HeldOut, HoverView, ShiftView } from './protocol.js';

/** Copies points [n, 2] into backend memory for a layer to read. */
export type ViewInput = (points: Float32Array) => FloatArray;

/** The density map's resolution. */
const DENSITY_G = 64;
/** Points along each coupling's m(x₁) curve. */
const SHIFT_POINTS = 64;
/** Curve points kept (halved when full). */
const CURVE_MAX = 600;

/** A layer's caption: coupling number `couplings` and the coordinate it moves, the scaling, or its index. */
export const layerName = (l: Bijection, k: number, couplings: number): string => {
  if (l instanceof Coupling) return `coupling ${couplings} · moves ${l.partition.updated[0] === 0 ? 'x' : 'y'}`;
  if (l instanceof DiagonalScaling) return 'scaling → h';
  return `layer ${k + 1}`;
};

/** Pushes `points` [n, 2] through every layer: the positions after each (stage 0: the points), and each layer's log|det|. */
export function pushForward(m: NiceModel, points: Float32Array, input: ViewInput): { stages: Float32Array[]; logDet: Float64Array[] } {
  const n = points.length / 2;
  let cur: FloatArray = input(points);
  const stages = [points.slice()];
  const logDet: Float64Array[] = [];
  for (const layer of m.layers) {
    const r = layer.forward(cur, n);
    stages.push(Float32Array.from(r.y.subarray(0, 2 * n)));
    logDet.push(Float64Array.from(r.logDet.subarray(0, n)));
    cur = r.y;
  }
  return { stages, logDet };
}

/** Latent draws through each layer's inverse, last layer first: [h, …, x]. */
export function pushInverse(m: NiceModel, h: Float32Array, input: ViewInput): Float32Array[] {
  const n = h.length / 2;
  let cur: FloatArray = input(h);
  const out = [h.slice()];
  for (let k = m.layers.length - 1; k >= 0; k--) {
    cur = m.layers[k].inverse(cur, n);
    out.push(Float32Array.from(cur.subarray(0, 2 * n)));
  }
  return out;
}

/**
 * A square box around most of the points: the `q` to 1 − `q` quantiles of each coordinate, the larger span (at least
 * `minSpan`) times `pad`, centred; `fallback` when fewer than 4 points are finite.
 */
export function quantileBox(points: Float32Array, q: number, minSpan: number, pad: number, fallback: Box): Box {
  const n = points.length / 2;
  const xs = new Float32Array(n);
  const ys = new Float32Array(n);
  let m = 0;
  for (let i = 0; i < n; i++) {
    const x = points[2 * i];
    const y = points[2 * i + 1];
    if (Number.isFinite(x) && Number.isFinite(y)) {
      xs[m] = x;
      ys[m++] = y;
    }
  }
  if (m < 4) return fallback;
  const X = xs.subarray(0, m).sort();
  const Y = ys.subarray(0, m).sort();
  const at = (a: Float32Array, p: number): number => a[Math.round(p * (a.length - 1))];
  const cx = (at(X, q) + at(X, 1 - q)) / 2;
  const cy = (at(Y, q) + at(Y, 1 - q)) / 2;
  const half = (Math.max(at(X, 1 - q) - at(X, q), at(Y, 1 - q) - at(Y, q), minSpan) / 2) * pad;
  return [cx - half, cy - half, cx + half, cy + half];
}

/** Moves the kept box a fifth of the way to the new one while training (so the views do not jitter). */
export function smooth(old: Box | undefined, target: Box, jump: boolean): Box {
  if (!old || jump) return target;
  const b = old.map((v, i) => v + 0.2 * (target[i] - v)) as Box;
  return b.every(Number.isFinite) ? b : target;
}

/** The prior's box: ±3.5 standard deviations. */
export function priorBox(m: NiceModel): Box {
  const r = 3.5 * m.prior.std;
  return [-r, -r, r, r];
}

/** m(x₁) of coupling `layer` over the kept coordinate's range in `inBox`: forward of (x₁, 0) gives y₂ = t, logDet ℓ. */
export function shiftOf(layer: Coupling, inBox: Box, input: ViewInput): ShiftView {
  const kept = layer.partition.kept[0] as 0 | 1;
  const lo = inBox[kept];
  const hi = inBox[kept + 2];
  const pts = new Float32Array(SHIFT_POINTS * 2);
  const at = new Float32Array(SHIFT_POINTS);
  for (let i = 0; i < SHIFT_POINTS; i++) {
    at[i] = lo + ((hi - lo) * i) / (SHIFT_POINTS - 1);
    pts[2 * i + kept] = at[i];
  }
  const r = layer.forward(input(pts), SHIFT_POINTS);
  const shift = new Float32Array(SHIFT_POINTS);
  const logScale = new Float32Array(SHIFT_POINTS);
  for (let i = 0; i < SHIFT_POINTS; i++) {
    shift[i] = r.y[2 * i + 1 - kept];
    logScale[i] = r.logDet[i];
  }
  return { kept, at, shift, logScale };
}

/** Exact log p(x) on a DENSITY_G × DENSITY_G grid over `box` (cell centres, top row first). */
export function densityGrid(m: NiceModel, box: Box, input: ViewInput): Frame['density'] {
  const g = DENSITY_G;
  const pts = new Float32Array(g * g * 2);
  for (let r = 0; r < g; r++) {
    const y = box[3] - ((r + 0.5) * (box[3] - box[1])) / g;
    for (let c = 0; c < g; c++) {
      pts[2 * (r * g + c)] = box[0] + ((c + 0.5) * (box[2] - box[0])) / g;
      pts[2 * (r * g + c) + 1] = y;
    }
  }
  const lp = m.logProb(input(pts), g * g);
  return { g, box: [...box] as Box, logp: Float32Array.from(lp) };
}

/** One point's path through the layers and its log p split as in eq. (2), with model.logProb beside it as a check. */
export function hoverView(m: NiceModel, p: [number, number], input: ViewInput): HoverView {
  const point = Float32Array.of(p[0], p[1]);
  const { stages, logDet } = pushForward(m, point, input);
  const path = new Float32Array(stages.length * 2);
  stages.forEach((s, i) => path.set(s, 2 * i));
  const h = stages[stages.length - 1];
  const prior: [number, number] = [m.prior.logDensity(h[0]), m.prior.logDensity(h[1])];
  const dets = logDet.map((d) => d[0]);
  const total = prior[0] + prior[1] + dets.reduce((a, b) => a + b, 0);
  const logProb = m.logProb(input(point), 1)[0];
  return { path, logDet: dets, prior, total, logProb };
}

/** The held-out mean log-likelihood (the library's evaluate) and its split into the prior term and each layer's log|det|. */
export async function measureHeldOut(m: NiceModel, heldOutPoints: Float32Array, step: number, input: ViewInput): Promise<HeldOut> {
  const n = heldOutPoints.length / 2;
  const r = await evaluate(m, { values: heldOutPoints, count: n, dim: 2 }, { rng: new Rng(0), batchSize: 2000 });
  const { stages, logDet } = pushForward(m, heldOutPoints, input);
  const h = stages[stages.length - 1];
  let prior = 0;
  for (let i = 0; i < 2 * n; i++) prior += m.prior.logDensity(h[i]);
  const mean = (a: Float64Array): number => a.reduce((s, v) => s + v, 0) / n;
  return { value: r.logLikelihood, stdError: r.stdError, n, step, prior: prior / n, logDet: logDet.map(mean) };
}

/** Appends (step, value) to a flat curve, halving it (every other point, the last kept) when it reaches CURVE_MAX. */
export function pushCurve(list: number[], step: number, value: number): void {
  list.push(step, value);
  if (list.length >= 2 * CURVE_MAX) {
    // Keep every other point (the last one too).
    const kept: number[] = [];
    for (let i = 0; i < list.length; i += 4) kept.push(list[i], list[i + 1]);
    if (kept[kept.length - 2] !== list[list.length - 2]) kept.push(list[list.length - 2], list[list.length - 1]);
    list.length = 0;
    list.push(...kept);
  }
}

/** Computes and posts a frame (on the weight average); `force` recomputes the density and the held-out number now. */
