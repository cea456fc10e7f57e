import type { FloatArray } from '../core/FloatArray.js';
import { NiceFlowError } from '../core/NiceFlowError.js';

/**
 * One-hot codes [n, K] of n class labels (the context of a class-conditional model): row i is 1 at column
 * labels[i] and 0 elsewhere. Written into `out` when given (its first n·K values), else a new Float32Array. A label
 * that is not an integer in [0, K) is a NiceFlowError naming it.
 */
export function oneHot(labels: ArrayLike<number>, classes: number, out?: FloatArray, n = labels.length): FloatArray {
  const codes = out ?? new Float32Array(n * classes);
  if (codes.length < n * classes) throw new Error(`oneHot: output of ${codes.length} values, need ${n * classes}`);
  codes.fill(0, 0, n * classes);
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (!(Number.isInteger(y) && y >= 0 && y < classes)) throw new NiceFlowError(`label ${y} is not a class of this model (0 to ${classes - 1})`);
    codes[i * classes + y] = 1;
  }
  return codes;
}
