import type { Backend } from '../core/Backend.js';
import type { FloatArray } from '../core/FloatArray.js';
import type { Rng } from '../core/Rng.js';

/**
 * A factorized prior p_H(h) = Π_d p(h_d) over the latent (NICE §3.4), as an object the model plugs in. Priors live
 * in one registry (priorRegistry.ts); a new prior is one file implementing this interface plus one entry there, and
 * the config check, the CLI's `--prior` choices and the generic checks of test/registries.test.ts follow.
 */
export interface Prior<N extends string = string> {
  /** The name in configs, weight files and the CLI's `--prior`. */
  readonly name: N;
  /**
   * The standard deviation of one coordinate (logistic π/√3, Gaussian 1): the spread a data-dependent start gives
   * each latent (`NiceModel.initScaleFromData`).
   */
  readonly std: number;
  /** log p(h) of one coordinate. */
  logDensity(h: number): number;
  /** d log p(h) / dh of one coordinate. */
  score(h: number): number;
  /** One draw. */
  sample(rng: Rng): number;
  /**
   * Optional fused batch kernel, for speed: for h [n, D], logProb[i] = Σ_d log p(h[i, d]) (float64) and
   * dh [n, D] = weight · score(h), in one pass on the backend. It must agree with the element-wise path
   * ({@link priorLogProb} and `score`) to the backend's precision. Without it the model goes element-wise.
   */
  batchLogProb?(backend: Backend, h: FloatArray, n: number, D: number, weight: number, logProb: Float64Array, dh: FloatArray): void;
}

/** out[i] = Σ_d log p(h[i, d]) for a batch h [n, D], summed in float64. */
export function priorLogProb(prior: Prior, h: FloatArray, n: number, D: number, out: Float64Array): void {
  for (let i = 0; i < n; i++) {
    let s = 0;
    const o = i * D;
    for (let d = 0; d < D; d++) s += prior.logDensity(h[o + d]);
    out[i] = s;
  }
}
