import type { Rng } from '../core/Rng.js';
import type { ToyDataset } from './ToyDataset.js';

/** Number of arms. */
const ARMS = 5;
/** Standard deviation of the radial coordinate before the final ×2. */
const RADIAL_STD = 0.3;
/** How much an arm bends: angle grows by RATE·exp(radial coordinate). */
const RATE = 0.25;

/**
 * Five curved arms, FFJORD's `pinwheel` (after Johnson et al.'s SVAE demo). Each point picks arm k = int(5), then
 * f = (1 + 0.3·normal(), (noise/2)·normal()), the angle a = 2πk/5 + 0.25·exp(f₀), and is
 * 2·(f₀ cos a + f₁ sin a, −f₀ sin a + f₁ cos a) (f rotated by −a, as FFJORD's einsum does, then ×2). `noise` is the
 * tangential standard deviation in output units; default 0.2 (FFJORD's 0.1 before its ×2). The radial spread is
 * fixed. Range about [−3.5, 3.5]². No closed-form density.
 */
export const pinwheel: ToyDataset<'pinwheel'> = Object.freeze({
  name: 'pinwheel',
  label: 'Pinwheel',
  densityKnown: false,
  defaultNoise: 0.2,
  sample(count: number, rng: Rng, noise: number): Float32Array {
    const out = new Float32Array(2 * count);
    for (let i = 0; i < count; i++) {
      const k = rng.int(ARMS);
      const f0 = 1 + RADIAL_STD * rng.normal();
      const f1 = (noise / 2) * rng.normal();
      const a = (2 * Math.PI * k) / ARMS + RATE * Math.exp(f0);
      const c = Math.cos(a);
      const s = Math.sin(a);
      out[2 * i] = 2 * (f0 * c + f1 * s);
      out[2 * i + 1] = 2 * (-f0 * s + f1 * c);
    }
    return out;
  },
  logDensity: null,
});
