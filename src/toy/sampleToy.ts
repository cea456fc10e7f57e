import { NiceFlowError } from '../core/NiceFlowError.js';
import type { Rng } from '../core/Rng.js';
import { getToyDataset } from './getToyDataset.js';
import type { ToySampleOptions } from './ToySampleOptions.js';

/** The most points one call draws (two float32 values each: 800 MB). */
export const MAX_TOY_COUNT = 100_000_000;

/**
 * `count` points of the toy data set `name`, drawn with `rng`, as a Float32Array of [count, 2] (interleaved x, y).
 * The same seed gives the same points (docs/toy-data.md defines every set and the order of its draws). `noise` is
 * only for `moons`, `spiral` and `pinwheel`. Throws a one-line NiceFlowError for an unknown name, a count that is
 * not an integer in 0 … {@link MAX_TOY_COUNT}, a noise that is not a finite number ≥ 0, or a noise given to a set
 * with a fixed definition.
 */
export function sampleToy(name: string, count: number, rng: Rng, options: ToySampleOptions = {}): Float32Array {
  const set = getToyDataset(name);
  if (!Number.isInteger(count) || count < 0 || count > MAX_TOY_COUNT) {
    throw new NiceFlowError(`toy data set "${set.name}": count ${count} is not an integer from 0 to ${MAX_TOY_COUNT}`);
  }
  const { noise } = options;
  if (noise !== undefined) {
    if (set.defaultNoise === null) {
      throw new NiceFlowError(`toy data set "${set.name}" has a fixed definition (its true density is known) and takes no noise option`);
    }
    if (typeof noise !== 'number' || !Number.isFinite(noise) || noise < 0) {
      throw new NiceFlowError(`toy data set "${set.name}": noise ${String(noise)} is not a finite number ≥ 0`);
    }
  }
  return set.sample(count, rng, noise ?? set.defaultNoise ?? 0);
}
