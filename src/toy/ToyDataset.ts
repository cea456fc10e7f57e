import type { Rng } from '../core/Rng.js';

/**
 * One toy 2-D data set: how to draw points from it and, where it is known, its exact density. The sets live in one
 * registry ({@link TOY_DATASETS}); {@link sampleToy}, {@link toyLogDensity} and {@link toyTrueLogLikelihood} look them
 * up by name and check their arguments, and are the usual way in. The definitions are fixed: the same seed gives the
 * same points in every version (docs/toy-data.md states each one, with the order of its random draws).
 */
export interface ToyDataset<N extends string = string> {
  /** The name the library, the CLI and the playground use (`moons`, `8gaussians`, …). */
  readonly name: N;
  /** A short human-readable label for menus and plot titles. */
  readonly label: string;
  /** Whether the exact density is known: then {@link ToyDataset.logDensity} is a function, else null. */
  readonly densityKnown: boolean;
  /**
   * The default standard deviation of the noise for the sets that take a `noise` option (moons, spiral, pinwheel);
   * null for the sets with a fixed definition and known density, which refuse the option.
   */
  readonly defaultNoise: number | null;
  /**
   * Draws `count` points as a new Float32Array of [count, 2] (interleaved x, y). `noise` is the checked noise
   * standard deviation (ignored by the fixed sets). No checks here: {@link sampleToy} makes them.
   */
  sample(count: number, rng: Rng, noise: number): Float32Array;
  /** The exact log-density in nats at (x, y) (−Infinity outside the support), or null when not known in closed form. */
  readonly logDensity: ((x: number, y: number) => number) | null;
}
