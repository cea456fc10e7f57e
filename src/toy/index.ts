// Toy 2-D data sets (for the flow playground and the CLI): re-exports only.
export { besselI0e } from './besselI0e.js';
export { getToyDataset } from './getToyDataset.js';
export { MAX_TOY_COUNT, sampleToy } from './sampleToy.js';
export type { ToyDataset } from './ToyDataset.js';
export { isToyName, TOY_DATASETS, TOY_NAMES, type ToyName } from './toyRegistry.js';
export { toyLogDensity } from './toyLogDensity.js';
export type { ToySampleOptions } from './ToySampleOptions.js';
export { toyTrueLogLikelihood } from './toyTrueLogLikelihood.js';
