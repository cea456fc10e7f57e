import type { FloatArray } from '../core/FloatArray.js';
import type { Rng } from '../core/Rng.js';
import { NiceFlowError } from '../core/NiceFlowError.js';
import type { ImageDataset } from './ImageDataset.js';

/**
 * How 8-bit pixels become continuous data (docs/conventions.md, "Data, dequantization and bits/dim"):
 * `uniform`: x = (pixel + u)/256, u ~ U(0,1), so x ∈ [0,1) and the density is a bound on the discrete likelihood;
 * `center`: x = (pixel + 0.5)/256, deterministic (for pictures and repeatable evaluation).
 * Both are then mapped affinely onto the data range (see {@link DataRange}).
 */
export type Dequantize = 'uniform' | 'center';

/**
 * The interval [low, high] the dequantized data fills: x = low + (high − low)·(pixel + u)/256.
 * [0, 1] is the default (the paper's MNIST and TFD preprocessing); [−1, 1] is the paper's CIFAR-10 one
 * (uniform noise of width 1/128, data in [−1, 1]^D).
 */
export type DataRange = readonly [low: number, high: number];

/** x ∈ [0, 1]: the default range. */
export const UNIT_RANGE: DataRange = [0, 1];
/** x ∈ [−1, 1]: the paper's CIFAR-10 range. */
export const SYMMETRIC_RANGE: DataRange = [-1, 1];

/**
 * Parses a range written as "LOW,HIGH" (e.g. "0,1" or "-1,1", as a CLI flag would take it); LOW < HIGH, both finite.
 */
export function parseDataRange(text: string): DataRange {
  const parts = text.split(',').map((s) => s.trim());
  const [lo, hi] = parts.map(Number);
  if (parts.length !== 2 || parts.some((s) => s === '') || !Number.isFinite(lo) || !Number.isFinite(hi) || !(lo < hi)) {
    throw new NiceFlowError(`data range "${text}" is not LOW,HIGH with LOW < HIGH (e.g. 0,1 or -1,1)`);
  }
  return [lo, hi];
}

/**
 * out[r, :] = dequantized image `order[offset + r]` (or image offset + r when `order` is null), r < n, mapped onto
 * `range` (default [0, 1], so existing callers get x = (pixel + u)/256 unchanged).
 */
export function dequantizeBatch(
  ds: ImageDataset,
  order: Int32Array | null,
  offset: number,
  n: number,
  mode: Dequantize,
  rng: Rng,
  out: FloatArray,
  range: DataRange = UNIT_RANGE,
): void {
  const D = ds.dim;
  const px = ds.pixels;
  const low = range[0];
  // For [0,1] and [−1,1] the scale (1/256, 1/128) is a power of two, so low + scale·v rounds exactly like v/256:
  // runs written before ranges existed dequantize to the same bits.
  const scale = (range[1] - range[0]) / 256;
  if (noise.length < D) noise = new Float64Array(D);
  for (let r = 0; r < n; r++) {
    const img = order ? order[offset + r] : offset + r;
    const src = img * D;
    const dst = r * D;
    if (mode === 'uniform') {
      // One row of u at a time, in double: the same numbers and rounding as rng.uniform() per pixel.
      rng.fillUniform(noise, 0, D);
      for (let d = 0; d < D; d++) out[dst + d] = low + scale * (px[src + d] + noise[d]);
    } else {
      for (let d = 0; d < D; d++) out[dst + d] = low + scale * (px[src + d] + 0.5);
    }
  }
}

/** Reused noise row for dequantizeBatch (grown to the widest image seen; never shrinks). */
let noise = new Float64Array(0);

/**
 * Bits per dimension of the 256-level data from a log-likelihood in nats of data on `range`^D (default [0,1]^D).
 * The map from [0,1]^D to a range of width w = high − low has Jacobian w^D, so the log-likelihood on [0,1]^D is
 * LL + D·ln w, and bpd = (−(LL + D·ln w)/D + ln 256)/ln 2: the same number whichever range the model was fit on.
 */
export function bitsPerDim(logLikelihood: number, dim: number, range: DataRange = UNIT_RANGE): number {
  const unitLL = logLikelihood + dim * Math.log(range[1] - range[0]);
  return (-unitLL / dim + Math.log(256)) / Math.LN2;
}
