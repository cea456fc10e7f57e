// ZCA whitening: the symmetric eigen-solver, fitting on data, the log-determinant by LU, and the Whitening layer's
// weight-file tensors. The layer's bijection properties (round trip, log-det against a brute-force Jacobian, backward
// against finite differences, the map y = W (x − μ), the wasm backend) are checked with every other bijection's, in
// test/bijections.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Backend } from '../src/core/Backend.js';
import { createRefBackend } from '../src/core/createRefBackend.js';
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { symEigen } from '../src/core/symEigen.js';
import { fitZca } from '../src/data/fitWhitening.js';
import { logAbsDetLU, Whitening } from '../src/flows/Whitening.js';
import { assertAllClose, logAbsDet, randn } from './helpers.js';

/** C = A·B for square D×D row-major float64. */
function matmul(A: ArrayLike<number>, B: ArrayLike<number>, D: number): Float64Array {
  const C = new Float64Array(D * D);
  for (let i = 0; i < D; i++) for (let k = 0; k < D; k++) for (let j = 0; j < D; j++) C[i * D + j] += A[i * D + k] * B[k * D + j];
  return C;
}
const transpose = (A: ArrayLike<number>, D: number): Float64Array => Float64Array.from({ length: D * D }, (_, i) => A[(i % D) * D + Math.floor(i / D)]);
const identity = (D: number): Float64Array => Float64Array.from({ length: D * D }, (_, i) => (i % (D + 1) === 0 ? 1 : 0));

/** A random orthogonal matrix (rows orthonormal) by Gram–Schmidt on Gaussian rows. */
function randomOrthogonal(D: number, seed: number): Float64Array {
  const Q = randn(D * D, seed);
  for (let i = 0; i < D; i++) {
    for (let k = 0; k < i; k++) {
      let t = 0;
      for (let j = 0; j < D; j++) t += Q[i * D + j] * Q[k * D + j];
      for (let j = 0; j < D; j++) Q[i * D + j] -= t * Q[k * D + j];
    }
    let n = 0;
    for (let j = 0; j < D; j++) n += Q[i * D + j] ** 2;
    for (let j = 0; j < D; j++) Q[i * D + j] /= Math.sqrt(n);
  }
  return Q;
}

/** Qᵀ diag(λ) Q for Q with orthonormal rows: a symmetric matrix with known spectrum. */
function withSpectrum(values: number[], seed: number): Float64Array {
  const D = values.length;
  const Q = randomOrthogonal(D, seed);
  const A = new Float64Array(D * D);
  for (let k = 0; k < D; k++) for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) A[i * D + j] += values[k] * Q[k * D + i] * Q[k * D + j];
  return A;
}

/** Checks A v_k = λ_k v_k, V Vᵀ = I, Σ λ_k v_k v_kᵀ = A and ascending order, to tol·(1 + ‖A‖max). */
function checkEigen(A: Float64Array, D: number, tol = 1e-12): { values: Float64Array; vectors: Float64Array } {
  const { values, vectors } = symEigen(A, D);
  const scale = 1 + A.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
  for (let k = 1; k < D; k++) assert.ok(values[k - 1] <= values[k], `eigenvalues not ascending at ${k}`);
  for (let k = 0; k < D; k++) {
    for (let i = 0; i < D; i++) {
      let t = 0;
      for (let j = 0; j < D; j++) t += A[i * D + j] * vectors[k * D + j];
      assert.ok(Math.abs(t - values[k] * vectors[k * D + i]) <= tol * scale * D, `A v = λ v fails for pair ${k}, row ${i}`);
    }
  }
  assertAllClose(matmul(vectors, transpose(vectors, D), D), identity(D), 0, tol * D, 'V Vᵀ = I');
  const R = new Float64Array(D * D);
  for (let k = 0; k < D; k++) for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) R[i * D + j] += values[k] * vectors[k * D + i] * vectors[k * D + j];
  assertAllClose(R, A, 0, tol * scale * D, 'Σ λ v vᵀ = A');
  return { values, vectors };
}

describe('symEigen', () => {
  it('decomposes random symmetric matrices (sizes 2…40)', () => {
    for (const D of [2, 3, 7, 40]) {
      const B = randn(D * D, D);
      const A = Float64Array.from({ length: D * D }, (_, i) => B[i] + B[(i % D) * D + Math.floor(i / D)]);
      checkEigen(A, D);
    }
  });

  it('recovers a known spectrum with repeated eigenvalues', () => {
    const spectrum = [5, 2, 1, 2, 1, 1, -3];
    const { values } = checkEigen(withSpectrum(spectrum, 3), spectrum.length);
    assertAllClose(values, [...spectrum].sort((a, b) => a - b), 0, 1e-12, 'eigenvalues');
  });

  it('handles a low-rank covariance with exactly-zero rows (reflectors built from rounding noise)', () => {
    const m = 30, Dd = 120;
    const X = lowRankWithConstants(m, Dd);
    const C = new Float64Array(Dd * Dd);
    for (let r = 0; r < m; r++) for (let i = 0; i < Dd; i++) for (let j = 0; j < Dd; j++) C[i * Dd + j] += (X[r * Dd + i] * X[r * Dd + j]) / m;
    const { values } = checkEigen(C, Dd);
    assert.ok(values.every(Number.isFinite));
  });

  it('handles a rank-deficient covariance (a cluster of zero eigenvalues)', () => {
    const D = 30, n = 5;
    const X = randn(n * D, 8);
    const C = new Float64Array(D * D);
    for (let r = 0; r < n; r++) for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) C[i * D + j] += X[r * D + i] * X[r * D + j];
    const { values } = checkEigen(C, D);
    for (let k = 0; k < D - n; k++) assert.ok(Math.abs(values[k]) < 1e-12 * values[D - 1], `λ_${k} = ${values[k]} should be 0`);
    assert.ok(values[D - n] > 1e-3, 'the rank-5 part is found');
  });

  it('returns the sorted diagonal and unit vectors for a diagonal input', () => {
    const diag = [3, -1, 2, 0, 2];
    const D = diag.length;
    const A = new Float64Array(D * D);
    diag.forEach((v, i) => (A[i * D + i] = v));
    const { values, vectors } = checkEigen(A, D, 0);
    assert.deepEqual(Array.from(values), [-1, 0, 2, 2, 3]);
    for (let k = 0; k < D; k++) {
      const big = Array.from(vectors.subarray(k * D, (k + 1) * D)).filter((x) => Math.abs(x) === 1).length;
      assert.equal(big, 1, `eigenvector ${k} is a unit vector`);
    }
  });

  it('handles 1×1 and the zero matrix, and rejects NaN', () => {
    const one = symEigen([4], 1);
    assert.deepEqual([Array.from(one.values), Array.from(one.vectors)], [[4], [1]]);
    const { values } = checkEigen(new Float64Array(9), 3, 0);
    assert.deepEqual(Array.from(values), [0, 0, 0]);
    assert.throws(() => symEigen([1, NaN, NaN, 1], 2), RangeError);
  });
});

/** n samples of x = z Lᵀ + m with z ~ N(0, I): covariance L Lᵀ, correlated and of very different scales. */
function correlatedData(n: number, D: number, seed: number): Float64Array {
  const L = randn(D * D, seed + 1, 0.5);
  for (let i = 0; i < D; i++) for (let j = i + 1; j < D; j++) L[i * D + j] = 0;
  for (let i = 0; i < D; i++) L[i * D + i] = 0.05 + i * 0.2;
  const z = randn(n * D, seed);
  const x = new Float64Array(n * D);
  for (let r = 0; r < n; r++) for (let i = 0; i < D; i++) {
    let t = 0.3 * i;
    for (let j = 0; j <= i; j++) t += L[i * D + j] * z[r * D + j];
    x[r * D + i] = t;
  }
  return x;
}

/** Mean and (1/n) covariance of W (x − μ) in float64. */
function whitenedMoments(x: Float64Array, n: number, D: number, fit: { mean: ArrayLike<number>; matrix: ArrayLike<number> }): { mean: Float64Array; cov: Float64Array } {
  const y = new Float64Array(n * D);
  for (let r = 0; r < n; r++) for (let i = 0; i < D; i++) {
    let t = 0;
    for (let j = 0; j < D; j++) t += fit.matrix[i * D + j] * (x[r * D + j] - fit.mean[j]);
    y[r * D + i] = t;
  }
  const mean = new Float64Array(D), cov = new Float64Array(D * D);
  for (let r = 0; r < n; r++) for (let i = 0; i < D; i++) mean[i] += y[r * D + i] / n;
  for (let r = 0; r < n; r++) for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) cov[i * D + j] += ((y[r * D + i] - mean[i]) * (y[r * D + j] - mean[j])) / n;
  return { mean, cov };
}

/** (1/n) covariance of rows, plain float64. */
function covariance(x: Float64Array, n: number, D: number): Float64Array {
  const mu = new Float64Array(D), S = new Float64Array(D * D);
  for (let r = 0; r < n; r++) for (let i = 0; i < D; i++) mu[i] += x[r * D + i] / n;
  for (let r = 0; r < n; r++) for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) S[i * D + j] += ((x[r * D + i] - mu[i]) * (x[r * D + j] - mu[j])) / n;
  return S;
}

describe('fitZca', () => {
  const n = 2000, D = 6;
  const x = correlatedData(n, D, 21);

  it('whitens: mean 0, covariance I (eps = 0), W symmetric, W·W⁻¹ = I, log-det of the covariance', () => {
    const fit = fitZca(x, n, D, 0);
    const { mean, cov } = whitenedMoments(x, n, D, fit);
    assertAllClose(mean, new Float64Array(D), 0, 1e-5, 'whitened mean');
    assertAllClose(cov, identity(D), 0, 2e-4, 'whitened covariance');
    assertAllClose(fit.matrix, transpose(fit.matrix, D), 0, 1e-5 * Math.max(...fit.matrix), 'W = Wᵀ (ZCA)');
    assertAllClose(matmul(fit.matrix, fit.inverse, D), identity(D), 0, 1e-5, 'W W⁻¹');
    // log|det W| = −½ log det Σ, Σ from the data independently.
    const S = covariance(x, n, D);
    assert.ok(Math.abs(fit.logDet + 0.5 * logAbsDet(S, D)) < 1e-6, `logDet ${fit.logDet} vs ${-0.5 * logAbsDet(S, D)}`);
  });

  it('default eps gives W Σ Wᵀ = Σ (Σ + εI)⁻¹ and keeps the log-det of noise-only directions bounded', () => {
    const fit = fitZca(x, n, D);
    assert.ok(fit.eps > 0);
    const { cov } = whitenedMoments(x, n, D, fit);
    const S = covariance(x, n, D);
    const SplusEps = S.map((v, i) => v + (i % (D + 1) === 0 ? fit.eps : 0));
    assertAllClose(matmul(cov, SplusEps, D), S, 0, 1e-5, 'W Σ Wᵀ (Σ + εI) = Σ');
    assert.ok(Math.abs(fit.logDet + 0.5 * logAbsDet(SplusEps, D)) < 1e-6, 'log-det with eps');
    // Pixels whose only variation is tiny noise (4 copies of one bit): unregularised they would add −½ log(1e-11)
    // each; the default eps keeps every term below −½ log ε.
    const m = 500;
    const noise = randn(m * 8, 3, 1e-3 / 256);
    const pix = Float64Array.from({ length: m * 8 }, (_, i) => (i % 8 < 4 ? 0.5 + 0.2 * Math.sin(i) : Math.floor(i / 8) % 2) + noise[i]);
    const reg = fitZca(pix, m, 8);
    assert.ok(reg.logDet <= 8 * -0.5 * Math.log(reg.eps), `bounded log-det ${reg.logDet}`);
    assert.ok(fitZca(pix, m, 8, 1e-12).logDet > reg.logDet + 20, 'tiny eps would blow it up');
    assert.throws(() => fitZca(pix.map((v, i) => (i % 8 === 7 ? pix[i - 1] : v)), m, 8, 0), /singular/);
  });

  it('matches with odd D beyond one cache block, and with a backend gemm', () => {
    const Dd = 71, m = 300;
    const xo = correlatedData(m, Dd, 4);
    const fit = fitZca(xo, m, Dd, 0);
    assertAllClose(whitenedMoments(xo, m, Dd, fit).cov, identity(Dd), 0, 2e-3, 'whitened covariance, D = 71');
    const viaBackend = fitZca(xo, m, Dd, 0, createRefBackend());
    assertAllClose(viaBackend.matrix, fit.matrix, 1e-3, 1e-3 * Math.max(...fit.matrix), 'W via float32 gemm');
    assert.ok(Math.abs(viaBackend.logDet - fit.logDet) < 1e-3 * Math.abs(fit.logDet));
  });

  // Image data: many pixels never vary (MNIST's borders) and there are fewer images than pixels, so the covariance is
  // low-rank with exactly-zero rows. The Householder reduction then meets rows of pure rounding noise (~1e-15), whose
  // unscaled reflectors had β ~ 1e30 and overflowed to NaN ("covariance is singular" on 300 MNIST images once).
  it('fits low-rank data with constant coordinates (fewer examples than dimensions)', () => {
    const m = 30, Dd = 120;
    const xs = Float32Array.from(lowRankWithConstants(m, Dd));
    for (const backend of [undefined, createRefBackend()]) {
      const fit = fitZca(xs, m, Dd, undefined, backend);
      assert.ok(Number.isFinite(fit.logDet) && fit.matrix.every(Number.isFinite) && fit.inverse.every(Number.isFinite));
      assertAllClose(matmul(Float64Array.from(fit.matrix), Float64Array.from(fit.inverse), Dd), identity(Dd), 0, 1e-3, 'W W⁻¹');
    }
  });

  it('rejects bad arguments', () => {
    assert.throws(() => fitZca(x, 1, D), NiceFlowError);
    assert.throws(() => fitZca(x, n + 1, D), NiceFlowError);
    assert.throws(() => fitZca(x, n, D, -1), NiceFlowError);
    assert.throws(() => fitZca(new Float64Array(20), 10, 2), /zero variance/);
  });
});

/** m examples of Dd coordinates, centred: the first fifth and every other coordinate are 0, the rest N(0, 1). */
function lowRankWithConstants(m: number, Dd: number): Float64Array {
  const X = randn(m * Dd, 3);
  for (let r = 0; r < m; r++) for (let i = 0; i < Dd; i++) if (i % 2 === 0 || i < Dd / 5) X[r * Dd + i] = 0;
  for (let i = 0; i < Dd; i++) {
    let mean = 0;
    for (let r = 0; r < m; r++) mean += X[r * Dd + i] / m;
    for (let r = 0; r < m; r++) X[r * Dd + i] -= mean;
  }
  return X;
}

describe('Whitening layer files', () => {
  const D = 7, n = 3;
  const x0 = randn(n * D, 42);
  // A fitted ZCA with its columns shifted cyclically, W' = W P (so W'⁻¹ = Pᵀ W⁻¹: row i of W⁻¹ moves to row i − 1):
  // not symmetric, so a matrix written or read transposed shows, and |det W'| = |det W|.
  const fit = fitZca(correlatedData(500, D, 31), 500, D);
  const W = Float32Array.from({ length: D * D }, (_, k) => fit.matrix[Math.floor(k / D) * D + ((k % D) + 1) % D]);
  const Winv = Float32Array.from({ length: D * D }, (_, k) => fit.inverse[((Math.floor(k / D) + 1) % D) * D + (k % D)]);
  const make = (b: Backend): Whitening => new Whitening(b, D, fit.mean, W, Winv, fit.logDet);

  it('logAbsDetLU agrees with the test helper on a general matrix, and is −∞ for a singular one', () => {
    const A = randn(D * D, 77);
    assert.ok(Math.abs(logAbsDetLU(A, D) - logAbsDet(A, D)) < 1e-12);
    assert.ok(Math.abs(logAbsDetLU(W, D) - fit.logDet) < 1e-5 * Math.abs(fit.logDet), 'LU of the float32 W against the fit\'s −½ Σ log(λ + ε)');
    assert.equal(logAbsDetLU([1, 2, 2, 4], 2), -Infinity);
  });

  it('round-trips through tensors() / fromTensors and rejects bad tensors', () => {
    const b = createRefBackend();
    const f = make(b);
    const list = f.tensors();
    assert.deepEqual(list.map((t) => [t.name, t.shape]), [['whitening.mean', [D]], ['whitening.matrix', [D, D]], ['whitening.inverse', [D, D]]]);
    assert.deepEqual(list[1].data, W, 'whitening.matrix is W, row-major');
    assert.deepEqual(list[2].data, Winv, 'whitening.inverse is W⁻¹, row-major');
    const map = Object.fromEntries(list.map((t) => [t.name, { shape: t.shape, data: t.data }]));
    const back = Whitening.fromTensors(b, map);
    assert.ok(Math.abs(back.logDet - fit.logDet) < 1e-5 * Math.abs(fit.logDet), `recomputed log-det ${back.logDet} vs ${fit.logDet}`);
    assertAllClose(back.forward(Float32Array.from(x0), n).y, f.forward(Float32Array.from(x0), n).y, 0, 0, 'same map');
    assert.equal(Whitening.fromTensors(b, map, 1.25).logDet, 1.25, 'a stored log-det skips the LU');

    const bad = (edit: (m: typeof map) => void, pattern: RegExp): void => {
      const m = structuredClone(map);
      edit(m);
      assert.throws(() => Whitening.fromTensors(b, m), (e: unknown) => e instanceof NiceFlowError && pattern.test(e.message) && !e.message.includes('\n'));
    };
    bad((m) => delete m['whitening.inverse'], /"whitening\.inverse" is missing/);
    bad((m) => (m['whitening.mean'] = { shape: [D + 1], data: new Float32Array(D + 1) }), /"whitening\.matrix" has shape \[7, 7\], expected \[8, 8\]/);
    bad((m) => (m['whitening.matrix'] = { shape: [D, D + 1], data: new Float32Array(D * (D + 1)) }), /"whitening\.matrix" has shape/);
    bad((m) => (m['whitening.mean'] = { shape: [1, D], data: new Float32Array(D) }), /"whitening\.mean" has shape/);
    bad((m) => (m['whitening.inverse'].data[3] += 0.05), /not the identity/);
    bad((m) => (m['whitening.matrix'].data[D + 2] = NaN), /not the identity/);
    // The matrix stored transposed (column-major) no longer matches its inverse.
    bad((m) => (m['whitening.matrix'].data = Float32Array.from({ length: D * D }, (_, k) => W[(k % D) * D + Math.floor(k / D)])), /not the identity/);
  });
});
