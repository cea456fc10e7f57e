import type { Backend } from '../core/Backend.js';
import type { FloatArray } from '../core/FloatArray.js';
import { NiceFlowError } from '../core/NiceFlowError.js';
import type { TensorF32 } from '../io/safetensors.js';
import type { Param } from '../nn/Param.js';
import { Workspace } from '../nn/Workspace.js';
import type { Bijection } from './Bijection.js';

/** Weight-file names of the whitening tensors. */
export const WHITENING_TENSORS = { mean: 'whitening.mean', matrix: 'whitening.matrix', inverse: 'whitening.inverse' } as const;

/**
 * A fixed affine whitening y = W (x − μ), e.g. ZCA fitted on the training split ({@link fitZca}): the first layer
 * of the flow, so its constant log|det W| is part of every example's log-likelihood. Nothing is trained
 * (`params` is empty). W is treated as a general matrix (ZCA's is symmetric, but a file may hold any whitening).
 *
 * On batches (rows): y = (x − μ) Wᵀ, x = y W⁻ᵀ + μ, dL/dx = dL/dy · W.
 * Buffers per direction (the Bijection contract): forward writes `centred`, `out` and `logDets`; inverse only `back`;
 * backward only `centred` (forward's x − μ is not needed by backward).
 */
export class Whitening implements Bijection {
  readonly params: Param[] = [];
  readonly mean: FloatArray;
  readonly matrix: FloatArray;
  readonly inverseMatrix: FloatArray;
  private readonly negMean: FloatArray;
  private readonly centred: Workspace; // forward's x − μ, then backward's dL/dx (forward's input is not needed)
  private readonly out: Workspace;
  private readonly back: Workspace;
  private readonly logDets: Workspace;
  private n = 0;

  /**
   * Arrays are copied into the backend's memory.
   * @param mean μ [dim]
   * @param matrix W [dim, dim], row-major
   * @param inverse W⁻¹ [dim, dim], row-major
   * @param logDet log|det W|, the per-example log-determinant of `forward`
   */
  constructor(
    private readonly backend: Backend,
    readonly dim: number,
    mean: ArrayLike<number>,
    matrix: ArrayLike<number>,
    inverse: ArrayLike<number>,
    readonly logDet: number,
  ) {
    if (mean.length !== dim || matrix.length !== dim * dim || inverse.length !== dim * dim) {
      throw new NiceFlowError(`whitening: expected mean [${dim}] and matrices [${dim}, ${dim}]`);
    }
    if (!Number.isFinite(logDet)) throw new NiceFlowError(`whitening: log-determinant ${logDet} is not finite`);
    const copy = (src: ArrayLike<number>, sign = 1): FloatArray => {
      const a = backend.alloc(src.length);
      for (let i = 0; i < src.length; i++) a[i] = sign * src[i];
      return a;
    };
    this.mean = copy(mean);
    this.negMean = copy(mean, -1);
    this.matrix = copy(matrix);
    this.inverseMatrix = copy(inverse);
    this.centred = new Workspace(backend, dim);
    this.out = new Workspace(backend, dim);
    this.back = new Workspace(backend, dim);
    this.logDets = new Workspace(backend, 1);
  }

  forward(x: FloatArray, n: number): { y: FloatArray; logDet: FloatArray } {
    this.n = n;
    const D = this.dim;
    // Centre first, then multiply: for pixels near 0.5 and a W with entries ~40, x·Wᵀ − μ·Wᵀ would cancel in float32.
    const c = this.centred.get(n);
    c.set(x.subarray(0, n * D));
    this.backend.addBias(c, this.negMean, n, D, false);
    const y = this.out.get(n);
    this.backend.gemm(false, true, n, D, D, c, this.matrix, y, false);
    const logDet = this.logDets.get(n);
    logDet.fill(this.logDet);
    return { y, logDet };
  }

  inverse(y: FloatArray, n: number): FloatArray {
    const x = this.back.get(n);
    this.backend.gemm(false, true, n, this.dim, this.dim, y, this.inverseMatrix, x, false);
    this.backend.addBias(x, this.mean, n, this.dim, false);
    return x;
  }

  /** dL/dx = dL/dy · W; the log-det is constant, so `logDetWeight` adds nothing and there are no parameters. */
  backward(dy: FloatArray, _logDetWeight: number, _paramGrads: boolean, inputGrad = true): FloatArray | null {
    if (!inputGrad) return null;
    const dx = this.centred.get(this.n);
    this.backend.gemm(false, false, this.n, this.dim, this.dim, dy, this.matrix, dx, false);
    return dx;
  }

  /** The tensors to save, as float32 copies: `whitening.mean` [D], `whitening.matrix` [D, D], `whitening.inverse` [D, D]. */
  tensors(): Array<{ name: string; shape: number[]; data: Float32Array }> {
    const D = this.dim;
    return [
      { name: WHITENING_TENSORS.mean, shape: [D], data: Float32Array.from(this.mean) },
      { name: WHITENING_TENSORS.matrix, shape: [D, D], data: Float32Array.from(this.matrix) },
      { name: WHITENING_TENSORS.inverse, shape: [D, D], data: Float32Array.from(this.inverseMatrix) },
    ];
  }

  /**
   * Rebuilds the layer from saved tensors. Throws a NiceFlowError naming the tensor when one is missing or
   * misshapen, or when W·W⁻¹ v differs from v on a few fixed pseudo-random v (relative 1e-3; a corrupted or
   * mismatched file). log|det W| is not among the tensors: by default it is recomputed by LU in float64, so it
   * cannot disagree with the matrix (O(D³): ≈ 15 s at D = 3072, once per load). A caller that saved the value
   * elsewhere (e.g. the file's metadata, from {@link Whitening.logDet}) may pass it as `logDet` to skip the LU.
   */
  static fromTensors(backend: Backend, tensors: Record<string, TensorF32>, logDet?: number): Whitening {
    const get = (name: string, shape: (D: number) => number[], D: number): Float32Array => {
      const t = tensors[name];
      if (!t) throw new NiceFlowError(`whitening: tensor "${name}" is missing`);
      const want = shape(D);
      if (t.shape.length !== want.length || t.shape.some((s, i) => s !== want[i]) || t.data.length !== want.reduce((a, b) => a * b, 1)) {
        throw new NiceFlowError(`whitening: tensor "${name}" has shape [${t.shape.join(', ')}], expected [${want.join(', ')}]`);
      }
      return t.data;
    };
    const m = tensors[WHITENING_TENSORS.mean];
    if (!m) throw new NiceFlowError(`whitening: tensor "${WHITENING_TENSORS.mean}" is missing`);
    const D = m.shape.length === 1 ? m.shape[0] : -1;
    if (!(D >= 1)) throw new NiceFlowError(`whitening: tensor "${WHITENING_TENSORS.mean}" has shape [${m.shape.join(', ')}], expected [D]`);
    const mean = get(WHITENING_TENSORS.mean, (d) => [d], D);
    const W = get(WHITENING_TENSORS.matrix, (d) => [d, d], D);
    const Winv = get(WHITENING_TENSORS.inverse, (d) => [d, d], D);
    if (!mean.every(Number.isFinite)) throw new NiceFlowError(`whitening: tensor "${WHITENING_TENSORS.mean}" has non-finite values`);
    checkInverse(W, Winv, D);
    return new Whitening(backend, D, mean, W, Winv, logDet ?? logAbsDetLU(W, D));
  }
}

/** Throws unless ‖W (W⁻¹ v) − v‖ ≤ 1e-3 ‖v‖ for three fixed pseudo-random v (float64 arithmetic, O(D²) each). */
function checkInverse(W: ArrayLike<number>, Winv: ArrayLike<number>, D: number): void {
  const v = new Float64Array(D), u = new Float64Array(D);
  let s = 0x9e3779b9;
  for (let trial = 0; trial < 3; trial++) {
    for (let i = 0; i < D; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      v[i] = s / 4294967296 - 0.5;
    }
    for (let i = 0; i < D; i++) {
      let t = 0;
      for (let j = 0; j < D; j++) t += Winv[i * D + j] * v[j];
      u[i] = t;
    }
    let err = 0, norm = 0;
    for (let i = 0; i < D; i++) {
      let t = 0;
      for (let j = 0; j < D; j++) t += W[i * D + j] * u[j];
      err += (t - v[i]) ** 2;
      norm += v[i] ** 2;
    }
    if (!(err <= 1e-6 * norm)) {
      throw new NiceFlowError(`whitening: "${WHITENING_TENSORS.matrix}" times "${WHITENING_TENSORS.inverse}" is not the identity (relative error ${Math.sqrt(err / norm).toExponential(1)}); corrupted file?`);
    }
  }
}

/**
 * log|det A| of a general square matrix by LU with partial pivoting in float64, row-major so each elimination is a
 * contiguous row update. ≈ (2/3)D³ flops.
 */
export function logAbsDetLU(a: ArrayLike<number>, D: number): number {
  const m = Float64Array.from(a as ArrayLike<number>);
  const row = new Float64Array(D);
  let logDet = 0;
  for (let c = 0; c < D; c++) {
    let p = c;
    for (let r = c + 1; r < D; r++) if (Math.abs(m[r * D + c]) > Math.abs(m[p * D + c])) p = r;
    const piv = m[p * D + c];
    if (piv === 0 || !Number.isFinite(piv)) return piv === 0 ? -Infinity : NaN;
    if (p !== c) {
      row.set(m.subarray(p * D, p * D + D));
      m.copyWithin(p * D, c * D, c * D + D);
      m.set(row, c * D);
    }
    logDet += Math.log(Math.abs(piv));
    const co = c * D;
    for (let r = c + 1; r < D; r++) {
      const ro = r * D;
      const f = m[ro + c] / piv;
      if (f !== 0) for (let k = c + 1; k < D; k++) m[ro + k] -= f * m[co + k];
    }
  }
  return logDet;
}
