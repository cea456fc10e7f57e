import { NiceFlowError } from '../../core/NiceFlowError.js';
import { additiveLaw } from './additiveLaw.js';
import { affineLaw } from './affineLaw.js';
import { boundedAffineLaw } from './boundedAffineLaw.js';
import { glowAffineLaw } from './glowAffineLaw.js';
import type { CouplingLawImpl } from './CouplingLawImpl.js';
import { multiplicativeLaw } from './multiplicativeLaw.js';

// The registered coupling laws, in the order the CLI and error messages list them. A new law: its file here in
// src/flows/laws, and one entry in this list; the config check, the CLI's --coupling choices and the tests follow.
const REGISTERED = [additiveLaw, multiplicativeLaw, affineLaw, boundedAffineLaw, glowAffineLaw] as const;

/** A registered coupling law's name (the `coupling` of a model config). */
export type CouplingLaw = (typeof REGISTERED)[number]['name'];

/** The registered coupling laws by name. */
export const COUPLING_LAW_REGISTRY: Readonly<Record<CouplingLaw, CouplingLawImpl>> = Object.freeze(
  Object.fromEntries(REGISTERED.map((law) => [law.name, law])) as Record<CouplingLaw, CouplingLawImpl>,
);

/** The names accepted for `CouplingLaw`, in registry order. */
export const COUPLING_LAWS: readonly CouplingLaw[] = Object.freeze(REGISTERED.map((law) => law.name));

/** The registered law of that name; a NiceFlowError listing the registered names for any other. */
export function getLaw(name: string): CouplingLawImpl {
  if (!Object.hasOwn(COUPLING_LAW_REGISTRY, name)) {
    throw new NiceFlowError(`unknown coupling law "${name}" (use one of ${COUPLING_LAWS.join(', ')})`);
  }
  return COUPLING_LAW_REGISTRY[name as CouplingLaw];
}
