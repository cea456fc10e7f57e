/**
 * The coupling law g of NICE §3.2, `y_I2 = g(x_I2; m(x_I1))`, `y_I1 = x_I1`:
 * - `additive` (the paper's choice, eq. 6): y2 = x2 + m;
 * - `multiplicative`: y2 = x2 ⊙ exp(ℓ(a)), a = m(x_I1);
 * - `affine`: m outputs [a, t] (2·|I2| values per example), y2 = x2 ⊙ exp(ℓ(a)) + t.
 */
export type CouplingLaw = 'additive' | 'multiplicative' | 'affine';

/** The names accepted for `CouplingLaw`. */
export const COUPLING_LAWS: readonly CouplingLaw[] = ['additive', 'multiplicative', 'affine'];

/** How many values per updated coordinate the coupling network must output under a law (2 for affine: a and t). */
export function lawOutputGroups(law: CouplingLaw): number {
  return law === 'affine' ? 2 : 1;
}

/**
 * Bound S of the log-scale parametrisation ℓ(a) = S·tanh(a/S).
 *
 * ℓ is the identity at a = 0 with unit slope, so a network with PyTorch's default initialisation (small outputs)
 * starts close to what the same a would give without the bound, and near the additive model's unit Jacobian.
 * The per-layer log-scale stays in (−S, S), so the multiplier exp(ℓ) lies in (e^−2, e^2): the inverse never divides
 * by ~0 and the forward never overflows, whatever the network outputs. The global scale of each dimension is the
 * diagonal scaling layer's job (NICE §3.3), not the couplings'.
 */
export const LOG_SCALE_BOUND = 2;

/** ℓ(a) = S·tanh(a/S), S = LOG_SCALE_BOUND. Its derivative is 1 − tanh²(a/S) = 1 − (ℓ/S)². */
export function boundedLogScale(a: number): number {
  return LOG_SCALE_BOUND * Math.tanh(a / LOG_SCALE_BOUND);
}
