import type { FloatArray } from '../core/FloatArray.js';
import type { Rng } from '../core/Rng.js';

/** A factorized prior p_H(h) = Π_d p(h_d) over the latent (NICE §3.4). */
export interface Prior {
  readonly name: PriorName;
  /** log p(h) of one coordinate. */
  logDensity(h: number): number;
  /** d log p(h) / dh of one coordinate. */
  score(h: number): number;
  /** One draw. */
  sample(rng: Rng): number;
}

/** The priors the paper uses. */
export type PriorName = 'logistic' | 'gaussian';

/** out[i] = Σ_d log p(h[i, d]) for a batch h [n, D], summed in float64. */
export function priorLogProb(prior: Prior, h: FloatArray, n: number, D: number, out: Float64Array): void {
  for (let i = 0; i < n; i++) {
    let s = 0;
    const o = i * D;
    for (let d = 0; d < D; d++) s += prior.logDensity(h[o + d]);
    out[i] = s;
  }
}
