import { NiceFlowError } from '../core/NiceFlowError.js';
import type { ToyDataset } from './ToyDataset.js';
import { isToyName, TOY_DATASETS, TOY_NAMES, type ToyName } from './toyRegistry.js';

/** The toy data set of that name; a one-line NiceFlowError listing the names for any other. */
export function getToyDataset(name: string): ToyDataset<ToyName> {
  if (!isToyName(name)) {
    const shown = typeof name === 'string' ? JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}…` : name) : String(name);
    throw new NiceFlowError(`unknown toy data set ${shown} (use one of ${TOY_NAMES.join(', ')})`);
  }
  return TOY_DATASETS[TOY_NAMES.indexOf(name)];
}
