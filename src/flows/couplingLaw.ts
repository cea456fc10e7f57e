import type { CouplingLawImpl } from './laws/CouplingLawImpl.js';
import { type CouplingLaw, getLaw } from './laws/lawRegistry.js';

/**
 * The coupling law g of NICE §3.2, `y_I2 = g(x_I2; m(x_I1))`, `y_I1 = x_I1`, by name. The laws themselves are
 * objects, one file each in ./laws (additive, multiplicative, affine, bounded-affine), registered in ./laws/lawRegistry.ts; this
 * module keeps the names other code imports:
 * - `additive` (the paper's choice, eq. 6): y2 = x2 + m;
 * - `multiplicative`: y2 = x2 ⊙ exp(ℓ(a)), a = m(x_I1);
 * - `affine`: m outputs [a, t] (2·|I2| values per example), y2 = x2 ⊙ exp(ℓ(a)) + t.
 */
export { COUPLING_LAWS, type CouplingLaw } from './laws/lawRegistry.js';
export { boundedLogScale, LOG_SCALE_BOUND } from './laws/boundedLogScale.js';

/** How many values per updated coordinate the coupling network must output under a law (2 for affine: a and t). */
export function lawOutputGroups(law: CouplingLaw | CouplingLawImpl): number {
  return (typeof law === 'string' ? getLaw(law) : law).groups;
}
