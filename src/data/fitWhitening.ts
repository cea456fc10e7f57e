import type { Backend } from '../core/Backend.js';
import type { FloatArray } from '../core/FloatArray.js';
import { NiceFlowError } from '../core/NiceFlowError.js';
import { symEigen } from '../core/symEigen.js';

/** A fitted ZCA whitening y = W (x − μ): the arrays a {@link Whitening} layer is built from. */
export interface ZcaFit {
  /** μ [D]. */
  mean: Float32Array;
  /** W = U diag((λ+ε)^−½) Uᵀ, [D, D] row-major. */
  matrix: Float32Array;
  /** W⁻¹ = U diag((λ+ε)^½) Uᵀ, [D, D] row-major. */
  inverse: Float32Array;
  /** log|det W| = −½ Σ_k log(λ_k + ε), computed in float64. */
  logDet: number;
  /** The ε used (absolute, in squared data units). */
  eps: number;
}

/**
 * Default regulariser, relative: ε = 1e-2 × mean eigenvalue (= trace Σ / D, the average pixel variance).
 * Why: dequantized 8-bit pixels in [0,1] have directions whose only variance is the dequantization noise
 * (1/256)²/12 ≈ 1.3e-6; unregularised, ZCA would amplify them ~900× and add up to −½ log(1.3e-6) ≈ 6.8 nats per
 * dimension to the log-det, rewarding the model for fitting noise. With natural images (pixel variance ≈ 0.06 on
 * [0,1]) ε ≈ 6e-4: a gain of at most ~40 and at most ≈ 3.7 nats per dimension. Relative, so the same default suits
 * data on [−1,1] (CIFAR-10 in the paper) or [0,255].
 */
export const ZCA_DEFAULT_REL_EPS = 1e-2;

/** Rows per block of the covariance update: big enough to amortise the D×D accumulator traffic. */
const BLOCK = 256;

/**
 * Fits ZCA whitening on x [n, D] (row-major examples): mean and covariance Σ = (1/n) Σ_i (x_i−μ)(x_i−μ)ᵀ in
 * float64, then Σ = U diag(λ) Uᵀ ({@link symEigen}), eigenvalues clamped at 0 (rounding can make them slightly
 * negative), and W, W⁻¹, log|det W| as in {@link ZcaFit}.
 *
 * `eps`: absolute regulariser; default {@link ZCA_DEFAULT_REL_EPS} × trace(Σ)/D.
 *
 * Covariance cost n·D²: without `backend`, a blocked rank-k update on float64 arrays in plain JS (upper triangle
 * only); with `backend`, blocks of 256 centred rows go through its gemm in its own precision and the blocks are
 * summed in float64: on the wasm backend a float32 sum over 256 centred rows has relative error ~1e-6, far below
 * ε. Measured once at D = 3072, n = 2000 (2 shared cores): covariance 5.5 s in JS, 1.1 s via wasm (1 thread), so
 * ≈ 2.3 min vs ≈ 30 s for CIFAR-10's 50,000 images; then symEigen 60–80 s and W, W⁻¹ (two D³ Gram products in
 * float64 JS) 16.5 s, whatever n: 82 s in all for n = 2000 without a backend.
 * The backend path allocates (256 + D)·D values from `backend` and frees them before returning.
 */
export function fitZca(x: ArrayLike<number>, n: number, D: number, eps?: number, backend?: Backend): ZcaFit {
  if (!(n >= 2) || !(D >= 1) || x.length < n * D) throw new NiceFlowError(`fitZca: need at least 2 examples of ${D} values (${x.length} values for n = ${n})`);
  if (eps !== undefined && !(eps >= 0)) throw new NiceFlowError(`fitZca: eps must be ≥ 0, got ${eps}`);
  const mean64 = new Float64Array(D);
  for (let r = 0; r < n; r++) for (let d = 0; d < D; d++) mean64[d] += x[r * D + d];
  for (let d = 0; d < D; d++) mean64[d] /= n;

  const cov = new Float64Array(D * D);
  const rows = Math.min(BLOCK, n);
  if (backend) {
    const xc = backend.alloc(rows * D);
    let c: FloatArray | null = null;
    try {
      c = backend.alloc(D * D);
      for (let r0 = 0; r0 < n; r0 += rows) {
        const k = Math.min(rows, n - r0);
        for (let r = 0; r < k; r++) for (let d = 0; d < D; d++) xc[r * D + d] = x[(r0 + r) * D + d] - mean64[d];
        backend.gemm(true, false, D, D, k, xc, xc, c, false);
        for (let i = 0; i < D * D; i++) cov[i] += c[i];
      }
    } finally {
      if (c) backend.free(c);
      backend.free(xc);
    }
  } else {
    const t = new Float64Array(D * rows); // the block transposed: [D, k], one contiguous row per coordinate
    for (let r0 = 0; r0 < n; r0 += rows) {
      const k = Math.min(rows, n - r0);
      for (let r = 0; r < k; r++) for (let d = 0; d < D; d++) t[d * k + r] = x[(r0 + r) * D + d] - mean64[d];
      addGramUpper(t, D, k, cov);
    }
    symmetrizeFromUpper(cov, D);
  }
  for (let i = 0; i < D * D; i++) cov[i] /= n;

  let trace = 0;
  for (let d = 0; d < D; d++) trace += cov[d * D + d];
  if (!(trace > 0)) throw new NiceFlowError('fitZca: the data has zero variance in every coordinate; nothing to whiten');
  const e = eps ?? (ZCA_DEFAULT_REL_EPS * trace) / D;

  const { values, vectors } = symEigen(cov, D);
  // With eps = 0 a rank-deficient covariance would give an infinite (or rounding-noise) log-det.
  if (!(Math.max(values[0], 0) + e > 1e-12 * values[D - 1])) {
    throw new NiceFlowError(`fitZca: the covariance is singular (smallest eigenvalue ${values[0].toExponential(2)}); use eps > 0`);
  }
  // W = Σ_k (λ_k+ε)^−½ u_k u_kᵀ is a Gram matrix of the rows u_k (λ_k+ε)^−¼; W⁻¹ likewise with +¼. The rows are
  // scaled in place (one D×D buffer instead of two: 75 MB each at D = 3072).
  let logDet = 0;
  const v = Float64Array.from(values, (l) => Math.max(l, 0) + e);
  for (let k = 0; k < D; k++) logDet -= 0.5 * Math.log(v[k]);
  for (let k = 0; k < D; k++) scaleRow(vectors, k, D, Math.pow(v[k], -0.25));
  const matrix = gramOfRows(vectors, D);
  for (let k = 0; k < D; k++) scaleRow(vectors, k, D, Math.sqrt(v[k]));
  const inverse = gramOfRows(vectors, D);
  return { mean: Float32Array.from(mean64), matrix, inverse, logDet, eps: e };
}

function scaleRow(R: Float64Array, k: number, D: number, f: number): void {
  for (let i = k * D; i < (k + 1) * D; i++) R[i] *= f;
}

/** Σ_k r_k r_kᵀ over the D rows of R [D, D], as float32; rows go through the kernel in blocks like data rows. */
function gramOfRows(R: Float64Array, D: number): Float32Array {
  const g = new Float64Array(D * D);
  const t = new Float64Array(D * Math.min(BLOCK, D));
  for (let k0 = 0; k0 < D; k0 += BLOCK) {
    const k = Math.min(BLOCK, D - k0);
    for (let r = 0; r < k; r++) for (let i = 0; i < D; i++) t[i * k + r] = R[(k0 + r) * D + i];
    addGramUpper(t, D, k, g);
  }
  symmetrizeFromUpper(g, D);
  return Float32Array.from(g);
}

/** Columns of C per cache block: 64 rows of T (64·256·8 B = 128 KB) stay in L2 while every i streams past. */
const JB = 64;

/**
 * C[i,j] += Σ_r T[i,r] T[j,r] for j ≥ i (upper triangle), T [D, k] row-major: dot products of contiguous rows,
 * tiled 2×2 so each loaded value feeds two multiply-adds, and blocked over j for cache reuse. Diagonal tiles also
 * write C[i+1,i], which the caller's symmetrisation overwrites.
 */
function addGramUpper(T: Float64Array, D: number, k: number, C: Float64Array): void {
  for (let j0 = 0; j0 < D; j0 += JB) {
    const j1 = Math.min(D, j0 + JB);
    for (let i = 0; i < j1; i += 2) {
      const a0 = i * k, a1 = a0 + k;
      for (let j = Math.max(j0, i); j < j1; j += 2) {
        const b0 = j * k, b1 = b0 + k;
        if (i + 1 < D && j + 1 < D) {
          let s00 = 0, s01 = 0, s10 = 0, s11 = 0;
          for (let r = 0; r < k; r++) {
            const x0 = T[a0 + r], x1 = T[a1 + r], y0 = T[b0 + r], y1 = T[b1 + r];
            s00 += x0 * y0;
            s01 += x0 * y1;
            s10 += x1 * y0;
            s11 += x1 * y1;
          }
          C[i * D + j] += s00;
          C[i * D + j + 1] += s01;
          C[(i + 1) * D + j] += s10;
          C[(i + 1) * D + j + 1] += s11;
        } else {
          // Odd D: the last row or column of tiles is partial.
          for (let ii = i; ii < Math.min(i + 2, D); ii++) {
            for (let jj = j; jj < Math.min(j + 2, D); jj++) {
              let s = 0;
              for (let r = 0; r < k; r++) s += T[ii * k + r] * T[jj * k + r];
              C[ii * D + jj] += s;
            }
          }
        }
      }
    }
  }
}

function symmetrizeFromUpper(C: Float64Array, D: number): void {
  for (let i = 1; i < D; i++) for (let j = 0; j < i; j++) C[i * D + j] = C[j * D + i];
}
