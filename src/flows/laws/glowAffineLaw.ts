import { sigmoidAffineLaw } from './sigmoidAffineLaw.js';

/**
 * Bound C of the glow-affine law's shift, t = C·tanh(t̃/C): far outside the shifts a trained MNIST flow uses (at most
 * ~34, at a learned prior's coupling; ~10 elsewhere), so it binds only on inputs unlike the training data.
 */
export const GLOW_SHIFT_BOUND = 64;

/** The glow-affine law's scale floor: e^−2, the smallest multiplier the affine law's bounded log-scale allows. */
export const GLOW_SCALE_FLOOR = Math.exp(-2);

/**
 * The glow-affine law: Glow's coupling, y2 = x2 ⊙ s + t with s = f + (1 − f)·σ(a + 2), f = e^−2 (Glow's sigmoid
 * scale, floored as every nice-flow scale is, so the inverse divides by at most e²), and the shift saturating only
 * far from the data (t = 64·tanh(t̃/64)); log|det| = Σ_j log s_j; [a, t̃] = m(x1). The scale never exceeds 1, so
 * values cannot grow from coupling to coupling (the `affine` law's e² per coupling is what blew up one unusual test
 * digit, docs/architectures.md), and the loose shift bound leaves the couplings the shifts the data need. Formulas,
 * inverse and backward: sigmoidAffineLaw.ts.
 */
export const glowAffineLaw = sigmoidAffineLaw('glow-affine', GLOW_SHIFT_BOUND, GLOW_SCALE_FLOOR);
