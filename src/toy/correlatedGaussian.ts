import type { Rng } from '../core/Rng.js';
import type { ToyDataset } from './ToyDataset.js';

/** Correlation of x and y (both have variance 1). */
const RHO = 0.8;
/** √(1 − ρ²) = 0.6. */
const CHOL = Math.sqrt(1 - RHO * RHO);
const DET = 1 - RHO * RHO;
/** log of the normaliser 1/(2π √det Σ). */
const LOG_NORM = -Math.log(2 * Math.PI) - 0.5 * Math.log(DET);

/**
 * The `gaussian` set: a zero-mean bivariate normal with standard normal marginals and correlation 0.8, covariance
 * Σ = [[1, 0.8], [0.8, 1]]. Each point draws z₁ = normal(), z₂ = normal() and is (z₁, 0.8·z₁ + 0.6·z₂) (the Cholesky
 * factor of Σ). log p(x, y) = −log 2π − ½ log 0.36 − (x² − 1.6xy + y²)/(2·0.36). Fixed: takes no noise option.
 */
export const correlatedGaussian: ToyDataset<'gaussian'> = Object.freeze({
  name: 'gaussian',
  label: 'Correlated Gaussian',
  densityKnown: true,
  defaultNoise: null,
  sample(count: number, rng: Rng): Float32Array {
    const out = new Float32Array(2 * count);
    for (let i = 0; i < count; i++) {
      const z1 = rng.normal();
      const z2 = rng.normal();
      out[2 * i] = z1;
      out[2 * i + 1] = RHO * z1 + CHOL * z2;
    }
    return out;
  },
  logDensity(x: number, y: number): number {
    return LOG_NORM - (x * x - 2 * RHO * x * y + y * y) / (2 * DET);
  },
});
