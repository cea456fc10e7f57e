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
