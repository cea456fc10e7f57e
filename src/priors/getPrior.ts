import { NiceFlowError } from '../core/NiceFlowError.js';
import type { Prior } from './Prior.js';
import { PRIOR_NAMES, PRIORS, type PriorName } from './priorRegistry.js';

/** The registered prior of that name; a clear error listing the registered names for any other. */
export function getPrior(name: string): Prior {
  if (!Object.hasOwn(PRIORS, name)) throw new NiceFlowError(`unknown prior "${name}" (use one of ${PRIOR_NAMES.join(', ')})`);
  return PRIORS[name as PriorName];
}
