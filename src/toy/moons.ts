import type { Rng } from '../core/Rng.js';
import type { ToyDataset } from './ToyDataset.js';

/**
 * Two interleaved half circles, as scikit-learn's `make_moons` scaled the way FFJORD's toy data does (×2, then
 * shifted by (−1, −0.2)). Each point picks a moon with probability ½ (`uniform() < ½`: the upper one), then
 * t = π·uniform(); the upper moon is (cos t, sin t), the lower (1 − cos t, ½ − sin t); the point is
 * (2u − 1, 2v − 0.2) plus isotropic Gaussian noise of standard deviation `noise` (two normal draws, x then y).
 * Default noise 0.2 (make_moons' noise 0.1 before the ×2). Range about [−3, 3] × [−1.2, 1.8]. No closed-form density.
 */
export const moons: ToyDataset<'moons'> = Object.freeze({
  name: 'moons',
  label: 'Two moons',
  densityKnown: false,
  defaultNoise: 0.2,
  sample(count: number, rng: Rng, noise: number): Float32Array {
    const out = new Float32Array(2 * count);
    for (let i = 0; i < count; i++) {
      const upper = rng.uniform() < 0.5;
      const t = Math.PI * rng.uniform();
      const u = upper ? Math.cos(t) : 1 - Math.cos(t);
      const v = upper ? Math.sin(t) : 0.5 - Math.sin(t);
      out[2 * i] = 2 * u - 1 + noise * rng.normal();
      out[2 * i + 1] = 2 * v - 0.2 + noise * rng.normal();
    }
    return out;
  },
  logDensity: null,
});
