import type { Rng } from '../core/Rng.js';
import type { ToyDataset } from './ToyDataset.js';

/** 540 degrees: how far each arm winds. */
const TURN = 3 * Math.PI;

/**
 * Two interleaved spiral arms, FFJORD's `2spirals`. Each point picks an arm s = +1 (`uniform() < ½`) or −1, then
 * n = 3π·√uniform() (540° of turn; the square root spreads points about evenly along the arc), and a uniform
 * jitter j = (½·uniform(), ½·uniform()); the point is s·(−n·cos n + jx, n·sin n + jy)/3 plus isotropic Gaussian
 * noise of standard deviation `noise` (two normal draws, x then y). Default noise 0.1 (FFJORD's); the uniform jitter
 * is part of the definition and stays at noise 0. Range about [−3.3, 3.3]². No closed-form density.
 */
export const spiral: ToyDataset<'spiral'> = Object.freeze({
  name: 'spiral',
  label: 'Two spirals',
  densityKnown: false,
  defaultNoise: 0.1,
  sample(count: number, rng: Rng, noise: number): Float32Array {
    const out = new Float32Array(2 * count);
    for (let i = 0; i < count; i++) {
      const s = rng.uniform() < 0.5 ? 1 : -1;
      const n = TURN * Math.sqrt(rng.uniform());
      const jx = 0.5 * rng.uniform();
      const jy = 0.5 * rng.uniform();
      out[2 * i] = (s * (-n * Math.cos(n) + jx)) / 3 + noise * rng.normal();
      out[2 * i + 1] = (s * (n * Math.sin(n) + jy)) / 3 + noise * rng.normal();
    }
    return out;
  },
  logDensity: null,
});
