import type { CouplingLawImpl } from './CouplingLawImpl.js';

/** σ(z) without overflow on either side. */
function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/** log σ(z) without overflow on either side. */
function logSigmoid(z: number): number {
  return z >= 0 ? -Math.log1p(Math.exp(-z)) : z - Math.log1p(Math.exp(z));
}

/**
 * The sigmoid-scale affine laws (`bounded-affine`, `glow-affine`): m(x1) = [a, t̃] per example (first du values a,
 * then du values t̃):
 *
 *   y2 = x2 ⊙ s + C·tanh(t̃/C),   s = f + (1 − f)·σ(a + 2) ∈ (f, 1),   log|det| = Σ_j log s_j,
 *   inverse x2 = (y2 − C·tanh(t̃/C)) / s,
 *
 * f = `scaleFloor` (0 for bounded-affine: s = σ(a + 2)). With a floor f > 0 the inverse never divides by less than
 * f, so decoding large latent values stays finite (without it σ underflows and the inverse overflows).
 *
 * Glow's sigmoid scale (the `+ 2` starts s near 0.88, close to the identity) with a shift that saturates at ±C
 * (`shiftBound`). A coupling can only shrink a value and move it by less than C, so values grow at most additively
 * through a stack of couplings, whatever the input; expanding is ActNorm's job. (With the affine law, whose scale
 * reaches e², one unusual test digit grew by e² per coupling to −37 million nats: docs/architectures.md.)
 *
 * Saved per example (3 values per updated coordinate): [s | x2 | u = tanh(t̃/C)], each du long.
 * Backward, with g = dy2 and w = logDetWeight:
 *   dL/dx2 = g·s,   dL/da = (g·x2 + w/s)·ds/da,   ds/da = (s − f)(1 − s)/(1 − f),   dL/dt̃ = g·(1 − u²)
 * (with f = 0: dL/da = (g·x2·s + w)(1 − s)).
 */
export function sigmoidAffineLaw<N extends string>(name: N, shiftBound: number, scaleFloor = 0): CouplingLawImpl<N> {
  const C = shiftBound;
  const f = scaleFloor;
  const scale = (z: number): number => (f === 0 ? sigmoid(z) : f + (1 - f) * sigmoid(z));
  const logScale = (z: number): number => (f === 0 ? logSigmoid(z) : Math.log(f + (1 - f) * sigmoid(z)));
  return {
    name,
    groups: 2,
    saved: 3,
    forward({ dim, updated }, h, x, y, logDet, saved, n) {
      const du = updated.length;
      for (let r = 0; r < n; r++) {
        const o = r * dim;
        const q = r * 2 * du;
        const p = r * 3 * du;
        let sum = 0;
        for (let j = 0; j < du; j++) {
          const i = o + updated[j];
          const a = h[q + j] + 2;
          const s = scale(a);
          const u = Math.tanh(h[q + du + j] / C);
          saved[p + j] = s;
          saved[p + du + j] = x[i];
          saved[p + 2 * du + j] = u;
          y[i] = x[i] * s + C * u;
          sum += logScale(a);
        }
        logDet[r] = sum;
      }
    },
    inverse({ dim, updated }, h, x, n) {
      const du = updated.length;
      for (let r = 0; r < n; r++) {
        const o = r * dim;
        const q = r * 2 * du;
        for (let j = 0; j < du; j++) {
          const i = o + updated[j];
          x[i] = (x[i] - C * Math.tanh(h[q + du + j] / C)) / scale(h[q + j] + 2);
        }
      }
    },
    backward({ dim, updated }, dy, saved, w, dh, n) {
      const du = updated.length;
      for (let r = 0; r < n; r++) {
        const o = r * dim;
        const q = r * 2 * du;
        const p = r * 3 * du;
        for (let j = 0; j < du; j++) {
          const i = o + updated[j];
          const g = dy[i];
          const s = saved[p + j];
          const u = saved[p + 2 * du + j];
          dh[q + j] = f === 0 ? (g * saved[p + du + j] * s + w) * (1 - s) : ((g * saved[p + du + j] + w / s) * (s - f) * (1 - s)) / (1 - f);
          dh[q + du + j] = g * (1 - u * u);
          dy[i] = g * s;
        }
      }
    },
  };
}
