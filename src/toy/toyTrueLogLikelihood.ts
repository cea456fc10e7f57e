import { NiceFlowError } from '../core/NiceFlowError.js';
import { getToyDataset } from './getToyDataset.js';

/**
 * The mean true log-density in nats of `points` ([n, 2], interleaved x, y) under the toy data set `name`, summed in
 * float64: the value a model's mean held-out log-likelihood on the same points is compared with (over many fresh
 * points it tends to −entropy, listed in docs/toy-data.md). null for the sets without a closed-form density.
 * −Infinity when a point is outside the support (checkerboard). Throws a one-line NiceFlowError for an unknown name,
 * or for points that are empty or of odd length.
 */
export function toyTrueLogLikelihood(name: string, points: ArrayLike<number>): number | null {
  const logDensity = getToyDataset(name).logDensity;
  if (logDensity === null) return null;
  if (points.length === 0 || points.length % 2 !== 0) {
    throw new NiceFlowError(`toy data set "${name}": points must be [n, 2] with n ≥ 1 (interleaved x, y), got ${points.length} values`);
  }
  const n = points.length / 2;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += logDensity(points[2 * i], points[2 * i + 1]);
  return sum / n;
}
