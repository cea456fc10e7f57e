import type { NiceModel } from './NiceModel.js';

/**
 * The spectrum the paper plots (§5.1, Fig. 3): exp(−s_d), sorted from largest to smallest. exp(−s_d) is the
 * scale of latent dimension d in data space, so the few large values are the dimensions that carry the variance.
 */
export function scaleSpectrum(model: NiceModel): Float64Array {
  const s = model.scaling.scale.data;
  return Float64Array.from(s, (v) => Math.exp(-v)).sort().reverse();
}
