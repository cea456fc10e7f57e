import { NiceFlowError } from '../../core/NiceFlowError.js';
import { actnormStep } from './actnormStep.js';
import { contextAffineStep } from './contextAffineStep.js';
import { couplingStep } from './couplingStep.js';
import { invconvStep } from './invconvStep.js';
import { logitStep } from './logitStep.js';
import { scalingStep } from './scalingStep.js';
import { splitStep } from './splitStep.js';
import { squeezeStep } from './squeezeStep.js';
import type { StepKind } from './StepKind.js';

// The registered kinds of flow step, in the order help texts and docs list them. A new kind: its file here in
// src/flows/steps and one entry in this list; config checking, parameter counts, building, weight files and the
// bijection property suite (test/bijectionCases.ts) follow from it.
const REGISTERED = [couplingStep, scalingStep, logitStep, actnormStep, invconvStep, squeezeStep, splitStep, contextAffineStep] as const;

/** The registered step kinds by `type`. */
export const STEP_KINDS: Readonly<Record<string, StepKind>> = Object.freeze(
  Object.fromEntries(REGISTERED.map((k) => [k.type, k as unknown as StepKind])),
);

/** The registered step types, in registry order. */
export const STEP_TYPES: readonly string[] = Object.freeze(REGISTERED.map((k) => k.type));

/** The registered kind of that type; a NiceFlowError listing the types for any other. */
export function getStepKind(type: unknown): StepKind {
  if (typeof type !== 'string' || !Object.hasOwn(STEP_KINDS, type)) {
    throw new NiceFlowError(`unknown flow step type ${JSON.stringify(type)} (use one of ${STEP_TYPES.join(', ')})`);
  }
  return STEP_KINDS[type];
}
