import type { Prior } from './Prior.js';

/**
 * Standard logistic prior (NICE §3.4): log p(h) = −(softplus(h) + softplus(−h)).
 * Written as −|h| − 2·log1p(exp(−|h|)), which equals it and never overflows: at |h| = 100 it is −100 − 2e-44.
 * Its score is d/dh log p = −tanh(h/2); its standard deviation π/√3. The batch path is the backend's fused
 * `logisticPrior` kernel.
 */
export const logisticPrior: Prior<'logistic'> = {
  name: 'logistic',
  std: Math.PI / Math.sqrt(3),
  logDensity(h: number): number {
    const a = Math.abs(h);
    return -a - 2 * Math.log1p(Math.exp(-a));
  },
  score(h: number): number {
    return -Math.tanh(h / 2);
  },
  sample: (rng) => rng.logistic(),
  batchLogProb(backend, h, n, D, weight, logProb, dh) {
    backend.logisticPrior(h, n, D, weight, logProb, dh);
  },
};

/** softplus(x) = log(1 + eˣ) in its stable form max(x, 0) + log1p(e^−|x|). */
export function softplus(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}
