import type { Prior } from './Prior.js';

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** Standard Gaussian prior: log p(h) = −h²/2 − log(2π)/2; score −h; standard deviation 1. */
export const gaussianPrior: Prior<'gaussian'> = {
  name: 'gaussian',
  std: 1,
  logDensity: (h) => -0.5 * h * h - HALF_LOG_2PI,
  score: (h) => -h,
  sample: (rng) => rng.normal(),
};
