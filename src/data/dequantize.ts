import type { FloatArray } from '../core/FloatArray.js';
import type { Rng } from '../core/Rng.js';
import type { ImageDataset } from './ImageDataset.js';

/**
 * How 8-bit pixels become continuous data (NICE.md, "Data and numbers"):
 * `uniform`: x = (pixel + u)/256, u ~ U(0,1), so x ∈ [0,1) and the density is a bound on the discrete likelihood;
 * `center`: x = (pixel + 0.5)/256, deterministic (for pictures and repeatable evaluation).
 */
export type Dequantize = 'uniform' | 'center';

/**
 * out[r, :] = dequantized image `order[offset + r]` (or image offset + r when `order` is null), r < n.
 */
export function dequantizeBatch(
  ds: ImageDataset,
  order: Int32Array | null,
  offset: number,
  n: number,
  mode: Dequantize,
  rng: Rng,
  out: FloatArray,
): void {
  const D = ds.dim;
  const px = ds.pixels;
  for (let r = 0; r < n; r++) {
    const img = order ? order[offset + r] : offset + r;
    const src = img * D;
    const dst = r * D;
    if (mode === 'uniform') for (let d = 0; d < D; d++) out[dst + d] = (px[src + d] + rng.uniform()) / 256;
    else for (let d = 0; d < D; d++) out[dst + d] = (px[src + d] + 0.5) / 256;
  }
}

/** Bits per dimension of the 256-level data from a log-likelihood in nats on [0,1]^D: (−LL/D + ln 256)/ln 2. */
export function bitsPerDim(logLikelihood: number, dim: number): number {
  return (-logLikelihood / dim + Math.log(256)) / Math.LN2;
}
