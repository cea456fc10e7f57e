import { getToyDataset } from './getToyDataset.js';

/**
 * The exact log-density in nats of the toy data set `name`, as a function of (x, y) (−Infinity outside the support,
 * as off the checkerboard's dark squares), or null for the sets without a closed form (`moons`, `spiral`,
 * `pinwheel`). Throws a one-line NiceFlowError for an unknown name.
 */
export function toyLogDensity(name: string): ((x: number, y: number) => number) | null {
  return getToyDataset(name).logDensity;
}
