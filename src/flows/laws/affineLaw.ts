import { scaleShiftLaw } from './scaleShiftLaw.js';

/**
 * The affine law (NICE §3.2): m(x1) = [a, t] per example (2·|I2| values: the log-scale pre-activation a, then the
 * shift t), y2 = x2 ⊙ exp(ℓ(a)) + t, ℓ(a) = 2·tanh(a/2); log|det| = Σ_j ℓ(a_j). Formulas and backward:
 * scaleShiftLaw.ts.
 */
export const affineLaw = scaleShiftLaw('affine', true);
