// Shared test utilities: float64 Jacobians, determinants, closeness checks.
import assert from 'node:assert/strict';
import type { FloatArray } from '../src/core/FloatArray.js';

/** Asserts |a−e| ≤ atol + rtol·|e| elementwise, naming the first failing element. */
export function assertAllClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: lengths differ`);
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= atol + rtol * Math.abs(expected[i]))) {
      assert.fail(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]} (diff ${d})`);
    }
  }
}

/** log|det A| of a square matrix [D, D] (row-major) by LU with partial pivoting, in float64. */
export function logAbsDet(a: Float64Array, D: number): number {
  const m = Float64Array.from(a);
  let logDet = 0;
  for (let c = 0; c < D; c++) {
    let p = c;
    for (let r = c + 1; r < D; r++) if (Math.abs(m[r * D + c]) > Math.abs(m[p * D + c])) p = r;
    if (m[p * D + c] === 0) return -Infinity;
    if (p !== c) for (let k = 0; k < D; k++) [m[c * D + k], m[p * D + k]] = [m[p * D + k], m[c * D + k]];
    const piv = m[c * D + c];
    logDet += Math.log(Math.abs(piv));
    for (let r = c + 1; r < D; r++) {
      const f = m[r * D + c] / piv;
      for (let k = c; k < D; k++) m[r * D + k] -= f * m[c * D + k];
    }
  }
  return logDet;
}

/**
 * Brute-force Jacobian J[i, j] = ∂f_i/∂x_j of f: R^D → R^D at x, by central differences in float64.
 */
export function jacobian(f: (x: Float64Array) => ArrayLike<number>, x: Float64Array, eps = 1e-6): Float64Array {
  const D = x.length;
  const J = new Float64Array(D * D);
  for (let j = 0; j < D; j++) {
    const xp = Float64Array.from(x);
    const xm = Float64Array.from(x);
    xp[j] += eps;
    xm[j] -= eps;
    const fp = Float64Array.from(f(xp));
    const fm = Float64Array.from(f(xm));
    for (let i = 0; i < D; i++) J[i * D + j] = (fp[i] - fm[i]) / (2 * eps);
  }
  return J;
}

/** Central-difference derivative of a scalar function of one entry of an array (restored afterwards). */
export function numericGrad(arr: FloatArray, index: number, loss: () => number, eps = 1e-6): number {
  const old = arr[index];
  arr[index] = old + eps;
  const lp = loss();
  arr[index] = old - eps;
  const lm = loss();
  arr[index] = old;
  return (lp - lm) / (2 * eps);
}

/** Fills an array with N(0, scale²) deviates from a simple seeded generator. */
export function randn(n: number, seed: number, scale = 1): Float64Array {
  let s = seed >>> 0 || 1;
  const u = (): number => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  return out;
}

/** Rows of context a conditional test case provides: the most rows any bijection check runs at once. */
export const CONTEXT_ROWS = 8;

/**
 * Contexts of `size` values for CONTEXT_ROWS rows: one-hot labels (row r has class r mod size) or, with
 * `oneHot` false, N(0, 1) vectors (a continuous context).
 */
export function contextRows(size: number, oneHot: boolean, seed = 61): Float64Array {
  if (!oneHot) return randn(CONTEXT_ROWS * size, seed);
  const rows = new Float64Array(CONTEXT_ROWS * size);
  for (let r = 0; r < CONTEXT_ROWS; r++) rows[r * size + (r % size)] = 1;
  return rows;
}
