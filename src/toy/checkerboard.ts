import type { Rng } from '../core/Rng.js';
import { onDarkSquare } from './onDarkSquare.js';
import type { ToyDataset } from './ToyDataset.js';

/** log(1/8): the density on a dark square (8 unit squares share probability 1). */
const LOG_DENSITY_IN = -Math.log(8);

/** Scratch for {@link belowEdge}: one float32 seen as its bits. */
const F32 = new Float32Array(1);
const BITS = new Uint32Array(F32.buffer);

/**
 * The float32 value of x (≤ hi in float64), moved to the float32 just below `hi` if rounding carried it onto the
 * half-open square's upper edge. hi is −1, 1 or 2 here (0 cannot be reached from below by rounding: x ≤ −2⁻³² then).
 */
function belowEdge(x: number, hi: number): number {
  const f = Math.fround(x);
  if (f < hi) return f;
  F32[0] = hi;
  BITS[0] += hi > 0 ? -1 : 1; // one unit in the last place towards −∞
  return F32[0];
}

/**
 * Uniform on the 8 dark squares of a 4×4 board on [−2, 2)² (unit squares; square (i, j) = (⌊x + 2⌋, ⌊y + 2⌋) is
 * dark when i + j is even, see {@link onDarkSquare}). Density 1/8 on the dark squares, 0 elsewhere (log-density
 * −Infinity). Each point picks k = int(8): row j = ⌊k/2⌋ and column i = (j mod 2) + 2·(k mod 2); then
 * (i − 2 + uniform(), j − 2 + uniform()). A value that float32 rounding would carry onto the square's upper edge is
 * kept one float32 step below it, so every stored point is on its square. Fixed: takes no noise option.
 */
export const checkerboard: ToyDataset<'checkerboard'> = Object.freeze({
  name: 'checkerboard',
  label: 'Checkerboard',
  densityKnown: true,
  defaultNoise: null,
  sample(count: number, rng: Rng): Float32Array {
    const out = new Float32Array(2 * count);
    for (let n = 0; n < count; n++) {
      const k = rng.int(8);
      const j = k >> 1;
      const i = (j & 1) + 2 * (k & 1);
      out[2 * n] = belowEdge(i - 2 + rng.uniform(), i - 1);
      out[2 * n + 1] = belowEdge(j - 2 + rng.uniform(), j - 1);
    }
    return out;
  },
  logDensity(x: number, y: number): number {
    return onDarkSquare(x, y) ? LOG_DENSITY_IN : -Infinity;
  },
});
