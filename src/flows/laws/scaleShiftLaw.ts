import { LOG_SCALE_BOUND } from './boundedLogScale.js';
import type { CouplingLawImpl } from './CouplingLawImpl.js';

/**
 * The exponential-scale laws of NICE §3.2, with or without a shift (what multiplicativeLaw and affineLaw are):
 * - without shift (G = 1): a = m(x1) [n, du], y2 = x2 ⊙ exp(ℓ(a));
 * - with shift (G = 2): m(x1) = [a, t] per example (first du values a, the log-scale pre-activation; next du values
 *   t, the shift), y2 = x2 ⊙ exp(ℓ(a)) + t;
 * with ℓ(a) = S·tanh(a/S), S = LOG_SCALE_BOUND (bounded log-scale). log|det| per example = Σ_j ℓ(a_j); inverse
 * x2 = (y2 − t) ⊙ exp(−ℓ(a)).
 *
 * Saved per example (S = 3 values per updated coordinate): [ℓ(a) | e = exp(ℓ) | x2 ⊙ e], each du long.
 * Backward, with g = dy2 and w = logDetWeight:
 *   dL/dx2 = g ⊙ e,   dL/dt = g,   dL/dℓ = g ⊙ x2 ⊙ e + w,   dL/da = dL/dℓ ⊙ (1 − (ℓ/S)²).
 */
export function scaleShiftLaw<N extends string>(name: N, shift: boolean): CouplingLawImpl<N> {
  const G = shift ? 2 : 1;
  return {
    name,
    groups: G,
    saved: 3,
    // Forward and inverse are backend kernels (tanh and exp per value: in TypeScript they were ~15% of an affine
    // model's evaluation); the reference kernels in src/core/refKernels.ts are these formulas in plain loops.
    forward({ backend, dim: D, updated }, h, x, y, logDet, saved, n) {
      backend.scaleShiftForward(h, x, y, logDet, saved, n, D, updated, shift, LOG_SCALE_BOUND);
    },
    inverse({ backend, dim: D, updated }, h, x, n) {
      backend.scaleShiftInverse(h, x, n, D, updated, shift, LOG_SCALE_BOUND);
    },
    backward({ dim: D, updated }, dy, saved, logDetWeight, dh, n) {
      const du = updated.length;
      const S = LOG_SCALE_BOUND;
      for (let r = 0; r < n; r++) {
        const o = r * D;
        const s = r * 3 * du;
        const hq = r * G * du;
        for (let j = 0; j < du; j++) {
          const g = dy[o + updated[j]];
          const th = saved[s + j] / S;
          dh[hq + j] = (g * saved[s + 2 * du + j] + logDetWeight) * (1 - th * th);
          if (shift) dh[hq + du + j] = g;
          dy[o + updated[j]] = g * saved[s + du + j];
        }
      }
    },
  };
}
