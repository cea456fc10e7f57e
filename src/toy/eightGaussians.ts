import type { Rng } from '../core/Rng.js';
import { logSumExp } from './logSumExp.js';
import type { ToyDataset } from './ToyDataset.js';

/** Standard deviation of each component. */
const STD = 0.2;
/** Radius of the circle the means lie on. */
const RADIUS = 2;
/** The eight means, at angles k·π/4 for k = 0 … 7. */
const MEANS_X = Array.from({ length: 8 }, (_, k) => RADIUS * Math.cos((k * Math.PI) / 4));
const MEANS_Y = Array.from({ length: 8 }, (_, k) => RADIUS * Math.sin((k * Math.PI) / 4));
/** log(1/8) + log of the isotropic Gaussian's normaliser 1/(2πσ²). */
const LOG_NORM = -Math.log(8) - Math.log(2 * Math.PI * STD * STD);

/**
 * A mixture of 8 equal-weight isotropic Gaussians of standard deviation 0.2 whose means are evenly spaced on the
 * circle of radius 2: μ_k = 2·(cos kπ/4, sin kπ/4), k = 0 … 7. Each point picks k = int(8), then adds 0.2·normal()
 * to x, then to y. Density p(x) = (1/8) Σ_k N(x; μ_k, 0.04·I). Fixed: takes no noise option.
 */
export const eightGaussians: ToyDataset<'8gaussians'> = Object.freeze({
  name: '8gaussians',
  label: '8 Gaussians',
  densityKnown: true,
  defaultNoise: null,
  sample(count: number, rng: Rng): Float32Array {
    const out = new Float32Array(2 * count);
    for (let i = 0; i < count; i++) {
      const k = rng.int(8);
      out[2 * i] = MEANS_X[k] + STD * rng.normal();
      out[2 * i + 1] = MEANS_Y[k] + STD * rng.normal();
    }
    return out;
  },
  logDensity(x: number, y: number): number {
    const terms = new Float64Array(8);
    for (let k = 0; k < 8; k++) {
      const dx = x - MEANS_X[k];
      const dy = y - MEANS_Y[k];
      terms[k] = -(dx * dx + dy * dy) / (2 * STD * STD);
    }
    return LOG_NORM + logSumExp(terms);
  },
});
