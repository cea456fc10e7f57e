import { checkerboard } from './checkerboard.js';
import { correlatedGaussian } from './correlatedGaussian.js';
import { eightGaussians } from './eightGaussians.js';
import { moons } from './moons.js';
import { pinwheel } from './pinwheel.js';
import { rings } from './rings.js';
import { spiral } from './spiral.js';
import type { ToyDataset } from './ToyDataset.js';

// The registered toy data sets, in the order menus and error messages list them. A new set: its file here in
// src/toy, one entry in this list, and its definition in docs/toy-data.md.
const REGISTERED = [moons, rings, eightGaussians, checkerboard, spiral, pinwheel, correlatedGaussian] as const;

/** A toy data set's name: `moons`, `rings`, `8gaussians`, `checkerboard`, `spiral`, `pinwheel` or `gaussian`. */
export type ToyName = (typeof REGISTERED)[number]['name'];

/** The toy data sets, in menu order: each with its name, label, whether its density is known, and its default noise. */
export const TOY_DATASETS: readonly ToyDataset<ToyName>[] = Object.freeze([...REGISTERED]);

/** The toy data sets' names, in the order of {@link TOY_DATASETS}. */
export const TOY_NAMES: readonly ToyName[] = Object.freeze(REGISTERED.map((d) => d.name));

/** Whether `s` is the name of a toy data set. */
export function isToyName(s: unknown): s is ToyName {
  return typeof s === 'string' && (TOY_NAMES as readonly string[]).includes(s);
}
