import { gaussianPrior } from './gaussianPrior.js';
import { logisticPrior } from './logisticPrior.js';
import type { Prior } from './Prior.js';

// The registered priors, in the order the CLI and error messages list them. A new prior: its file here in
// src/priors, and one entry in this list; the config check, the CLI's --prior choices and the tests follow.
const REGISTERED = [logisticPrior, gaussianPrior] as const;

/** A registered prior's name (the `prior` of a model config). */
export type PriorName = (typeof REGISTERED)[number]['name'];

/** The registered priors by name. */
export const PRIORS: Readonly<Record<PriorName, Prior>> = Object.freeze(
  Object.fromEntries(REGISTERED.map((p) => [p.name, p])) as Record<PriorName, Prior>,
);

/** The names accepted for `PriorName`, in registry order. */
export const PRIOR_NAMES: readonly PriorName[] = Object.freeze(REGISTERED.map((p) => p.name));
