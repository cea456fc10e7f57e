import { sigmoidAffineLaw } from './sigmoidAffineLaw.js';

/**
 * Bound C of the shift of the bounded-affine law: t = C·tanh(t̃/C), so one coupling moves a value by less than C.
 * After an ActNorm the values are of unit spread, so ±4 is room for most shifts the data need.
 */
export const SHIFT_BOUND = 4;

/**
 * The bounded-affine law: a coupling that cannot blow up on inputs unlike its training data,
 * y2 = x2 ⊙ σ(a + 2) + 4·tanh(t̃/4), log|det| = Σ_j log σ(a_j + 2); [a, t̃] = m(x1). Formulas, inverse and backward:
 * sigmoidAffineLaw.ts. Measured on a multi-scale MNIST flow it learns more slowly than `affine`
 * (docs/architectures.md): its shift bound is tighter than the shifts the data need (a learned prior at a split
 * shifts by up to ~30).
 */
export const boundedAffineLaw = sigmoidAffineLaw('bounded-affine', SHIFT_BOUND);
