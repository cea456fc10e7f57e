import { NiceFlowError } from '../core/NiceFlowError.js';
import type { NiceModel } from './NiceModel.js';

/**
 * The spectrum the paper plots (§5.1, Fig. 3): exp(−s_d), sorted from largest to smallest. exp(−s_d) is the
 * scale of latent dimension d in data space, so the few large values are the dimensions that carry the variance.
 * Defined for models whose flow ends with the scaling (the paper's); others get a NiceFlowError.
 */
export function scaleSpectrum(model: NiceModel): Float64Array {
  if (!model.scaling) {
    throw new NiceFlowError('the scale spectrum needs a model whose flow ends with the diagonal scaling (one scale per latent value); this model has none (a multi-scale flow spreads its volume change over ActNorm and coupling layers)');
  }
  const s = model.scaling.scale.data;
  return Float64Array.from(s, (v) => Math.exp(-v)).sort().reverse();
}
