import { NiceFlowError } from '../core/NiceFlowError.js';
import type { DataRange } from '../data/dequantize.js';
import type { Prior } from '../priors/Prior.js';

// Checks shared by the model and checkpoint loaders (no NaN or infinite number is taken from a file) and by the
// commands that map rows through the model (encode, decode, inpaint, interpolate, sample): one rule for all of them,
// see checkOutputRows.

/** Index of the first NaN or ±Infinity in `a`, or −1. */
export function firstNonFinite(a: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (v - v !== 0) return i; // NaN − NaN and ∞ − ∞ are NaN; any finite v gives 0
  }
  return -1;
}

/**
 * `firstNonFinite` of a Float32Array. A loop that only ever sees one array type stays fast: the shared one above,
 * called with several, scanned a paper model's Adam moments (38 M values) at ~6 ns a value; this one at under 1.
 */
export function firstNonFiniteF32(a: Float32Array): number {
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (v - v !== 0) return i;
  }
  return -1;
}

/** Index of the first value of `a` that is not a finite number ≥ 0 (NaN, ±Infinity or negative), or −1. */
export function firstNotFiniteNonNegativeF32(a: Float32Array): number {
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (!(v >= 0 && v < Infinity)) return i;
  }
  return -1;
}

/** Throws `${what}: tensor "${name}" holds NaN at index 1234` at the first NaN or infinite value of `data`. */
export function checkFiniteTensor(data: ArrayLike<number>, name: string, what: string): void {
  const i = data instanceof Float32Array ? firstNonFiniteF32(data) : firstNonFinite(data);
  if (i >= 0) throw new NiceFlowError(`${what}: tensor "${name}" holds ${data[i]} at index ${i}`);
}

/** The rows r < n of x [n, D] that hold a NaN or infinite value. */
export function nonFiniteRows(x: ArrayLike<number>, n: number, D: number): number[] {
  const rows: number[] = [];
  for (let r = 0; r < n; r++) {
    for (let d = r * D, end = d + D; d < end; d++) {
      const v = x[d];
      if (v - v !== 0) {
        rows.push(r);
        break;
      }
    }
  }
  return rows;
}

/** "row 3", "rows 0, 4 and 9", "rows 0, 1, 2, 3, 4 and 12 more" (`noun` names one row, e.g. "image"). */
export function describeRows(ids: readonly number[], noun = 'row'): string {
  if (ids.length === 1) return `${noun} ${ids[0]}`;
  const shown = ids.slice(0, ids.length > 6 ? 5 : ids.length);
  const rest = ids.length - shown.length;
  return `${noun}s ${rest > 0 ? `${shown.join(', ')} and ${rest} more` : `${shown.slice(0, -1).join(', ')} and ${shown.at(-1)}`}`;
}

/** Input rows far from where the model works: what a command's inputs are checked against before it trusts its outputs. */
export interface FarInputs {
  /** The rows (positions, from 0) holding at least one value far out. */
  rows: number[];
  /** The value furthest out, and its row. */
  extreme: number;
  extremeRow: number;
  /** What the values are far from, e.g. "the model's data range [0, 1]". */
  where: string;
  /** A likely cause, said after the numbers (e.g. 0–255 pixels saved as floats), or "". */
  hint: string;
}

/**
 * Rows of images x [n, D] (values meant to lie in the model's data range, as dequantized pixels do) with a value
 * more than one range width outside it: for [0, 1], below −1 or above 2. Null when there are none.
 */
export function imagesFarOutside(x: ArrayLike<number>, n: number, D: number, range: DataRange): FarInputs | null {
  const [lo, hi] = range;
  const w = hi - lo;
  const far = (v: number): number => Math.max(lo - w - v, v - hi - w, 0); // > 0 when far out
  const out = scan(x, n, D, far);
  if (!out) return null;
  let max = -Infinity;
  let min = Infinity;
  for (let i = 0; i < n * D; i++) {
    if (x[i] > max) max = x[i];
    if (x[i] < min) min = x[i];
  }
  const hint = min >= 0 && max <= 255 && hi < 128 ? '; pixel values 0–255 belong in a uint8 .npy' : '';
  return { ...out, where: `the model's data range [${lo}, ${hi}]`, hint };
}

/**
 * The largest |h| the prior calls plausible: where its log-density falls below −100 nats (a density of e⁻¹⁰⁰, which no
 * draw reaches): 100 for the logistic prior, about 14.1 for the Gaussian.
 */
export function priorCodeBound(prior: Prior): number {
  const floor = -100;
  let a = 0;
  let b = 1;
  while (prior.logDensity(b) > floor && b < 1e6) b *= 2;
  for (let i = 0; i < 60; i++) {
    const m = (a + b) / 2;
    if (prior.logDensity(m) > floor) a = m;
    else b = m;
  }
  return Number(b.toPrecision(3));
}

/** Rows of latent codes h [n, D] with a value beyond {@link priorCodeBound} in magnitude. Null when there are none. */
export function codesFarOutside(h: ArrayLike<number>, n: number, D: number, prior: Prior): FarInputs | null {
  const bound = priorCodeBound(prior);
  const out = scan(h, n, D, (v) => Math.max(Math.abs(v) - bound, 0));
  if (!out) return null;
  return { ...out, where: `the ${prior.name} prior's range |h| ≤ ${bound}`, hint: '' };
}

/** Rows where `far(v)` > 0 for some value, and the value with the largest `far(v)`. */
function scan(x: ArrayLike<number>, n: number, D: number, far: (v: number) => number): { rows: number[]; extreme: number; extremeRow: number } | null {
  const rows: number[] = [];
  let worst = 0;
  let extreme = NaN;
  let extremeRow = -1;
  for (let r = 0; r < n; r++) {
    let hit = false;
    for (let d = r * D, end = d + D; d < end; d++) {
      const f = far(x[d]);
      if (f > 0) {
        hit = true;
        if (f > worst) {
          worst = f;
          extreme = x[d];
          extremeRow = r;
        }
      }
    }
    if (hit) rows.push(r);
  }
  return rows.length ? { rows, extreme, extremeRow } : null;
}

/** How a command's output rows are named in checkOutputRows' messages. */
export interface RowCheck {
  /** Where the rows come from, e.g. "codes c.npy" or "the test split of mnist". */
  source: string;
  /** What the command does to a row, as a past participle: "encoded", "decoded", "inpainted". */
  verb: string;
  /** One row's name (default "row"), and each row's number when it is not its position (e.g. indices in a split). */
  noun?: string;
  ids?: readonly number[];
  /** How far the inputs stray (from imagesFarOutside or codesFarOutside); null or absent when they do not. */
  far?: FarInputs | null;
  /** Why the outputs overflowed when the inputs are not far out (default: the model's weights). */
  cause?: string;
}

/**
 * The one rule for commands that map rows of inputs through the model: an output row holding NaN or ±Infinity is an
 * error (a NiceFlowError naming the rows and why: inputs far out of range, or else the model itself); inputs far
 * out of range with finite outputs give a warning, returned (without "warning: ") for the caller to print; else null.
 */
export function checkOutputRows(out: ArrayLike<number>, n: number, D: number, check: RowCheck): string | null {
  const noun = check.noun ?? 'row';
  const id = (r: number): number => (check.ids ? check.ids[r] : r);
  const bad = nonFiniteRows(out, n, D);
  if (bad.length > 0) {
    const one = bad.length === 1;
    throw new NiceFlowError(`${check.source}: ${describeRows(bad.map(id), noun)} (of ${n}) give${one ? 's' : ''} NaN or infinite values when ${check.verb}: ${overflowCause(check)}`);
  }
  const far = check.far;
  if (!far) return null;
  return `${check.source}: ${describeRows(far.rows.map(id), noun)} (of ${n}) hold${far.rows.length === 1 ? 's' : ''} values ${farText(check, far)}; the results may mean little`;
}

/**
 * Why a command's results overflowed, for its error: the inputs' values far out of range (with the worst one), or
 * else `check.cause`, or else the model's weights.
 */
export function overflowCause(check: RowCheck): string {
  if (check.far) return `the inputs hold values ${farText(check, check.far)}`;
  return check.cause ?? "the model's weights overflow float32 on them, though they are within range";
}

function farText(check: RowCheck, far: FarInputs): string {
  const row = check.ids ? check.ids[far.extremeRow] : far.extremeRow;
  return `far outside ${far.where} (${far.extreme.toPrecision(3)} in ${check.noun ?? 'row'} ${row}${far.hint})`;
}
