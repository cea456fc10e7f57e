import { scaleShiftLaw } from './scaleShiftLaw.js';

/**
 * The multiplicative law (NICE §3.2): a = m(x1) [n, |I2|], y2 = x2 ⊙ exp(ℓ(a)), ℓ(a) = 2·tanh(a/2);
 * log|det| = Σ_j ℓ(a_j). Formulas and backward: scaleShiftLaw.ts.
 */
export const multiplicativeLaw = scaleShiftLaw('multiplicative', false);
