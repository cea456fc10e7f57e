import type { Rng } from '../core/Rng.js';
import { besselI0e } from './besselI0e.js';
import { logSumExp } from './logSumExp.js';
import type { ToyDataset } from './ToyDataset.js';

/** The ring radii. */
const RADII = [0.5, 1, 1.5, 2];
/** Sum of the radii: ring r is picked with probability r / RADIUS_SUM (proportional to its circumference). */
const RADIUS_SUM = RADII.reduce((a, b) => a + b, 0);
/** Standard deviation of the isotropic Gaussian noise added to a point on a ring. */
const STD = 0.08;
const VAR = STD * STD;
const LOG_WEIGHTS = RADII.map((r) => Math.log(r / RADIUS_SUM));
/** log of the normaliser 1/(2πσ²). */
const LOG_NORM = -Math.log(2 * Math.PI * VAR);

/**
 * Four concentric circles of radii 0.5, 1, 1.5 and 2, blurred by isotropic Gaussian noise of standard deviation 0.08.
 * Each point picks a ring with probability proportional to its radius (u = 5·uniform(): radius 0.5 below 0.5, 1 below
 * 1.5, 1.5 below 3, else 2), an angle θ = 2π·uniform(), and is r·(cos θ, sin θ) plus 0.08·normal() on x, then y.
 * Fixed: takes no noise option.
 *
 * Its density integrates the Gaussian over the angle: with ρ = |x| and w_r = r/5,
 * p(x) = Σ_r w_r · exp(−(ρ² + r²)/(2σ²)) · I0(ρr/σ²) / (2πσ²) = Σ_r w_r · exp(−(ρ − r)²/(2σ²)) · I0e(ρr/σ²) / (2πσ²),
 * the second form (with the scaled Bessel function {@link besselI0e}) finite and accurate at any distance.
 */
export const rings: ToyDataset<'rings'> = Object.freeze({
  name: 'rings',
  label: 'Concentric rings',
  densityKnown: true,
  defaultNoise: null,
  sample(count: number, rng: Rng): Float32Array {
    const out = new Float32Array(2 * count);
    for (let i = 0; i < count; i++) {
      let u = RADIUS_SUM * rng.uniform();
      let k = 0;
      while (k < RADII.length - 1 && u >= RADII[k]) u -= RADII[k++];
      const r = RADII[k];
      const theta = 2 * Math.PI * rng.uniform();
      out[2 * i] = r * Math.cos(theta) + STD * rng.normal();
      out[2 * i + 1] = r * Math.sin(theta) + STD * rng.normal();
    }
    return out;
  },
  logDensity(x: number, y: number): number {
    const rho = Math.hypot(x, y);
    const terms = new Float64Array(RADII.length);
    for (let k = 0; k < RADII.length; k++) {
      const r = RADII[k];
      const d = rho - r;
      terms[k] = LOG_WEIGHTS[k] - (d * d) / (2 * VAR) + Math.log(besselI0e((rho * r) / VAR));
    }
    return LOG_NORM + logSumExp(terms);
  },
});
