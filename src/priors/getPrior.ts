import { NiceFlowError } from '../core/NiceFlowError.js';
import { gaussianPrior } from './gaussianPrior.js';
import { logisticPrior } from './logisticPrior.js';
import type { Prior } from './Prior.js';

/** The prior of that name; a clear error for any other name. */
export function getPrior(name: string): Prior {
  if (name === 'logistic') return logisticPrior;
  if (name === 'gaussian') return gaussianPrior;
  throw new NiceFlowError(`unknown prior "${name}" (use logistic or gaussian)`);
}
