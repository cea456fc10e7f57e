import type { DType, FloatArray } from './FloatArray.js';

/**
 * The numeric primitives a backend supplies. Model code (dense layers, couplings, Adam) is written once on top of
 * these; derivative formulas live with the model code, never here. All matrices are row-major and contiguous.
 *
 * Arrays passed to a backend should come from its own `alloc` (for the wasm backend they live in its memory;
 * other arrays still work but may be copied). Subarrays of allocated arrays are allowed.
 */
export interface Backend {
  /** Short name shown to users: `ref`, `wasm`, `blas`. */
  readonly name: string;
  /** Threads it computes on (the caller's included). */
  readonly threads: number;
  /** Element type of arrays from `alloc`. */
  readonly dtype: DType;
  /** A zero-filled array of `length` elements, resident where this backend computes. */
  alloc(length: number): FloatArray;
  /**
   * General matrix multiply: `C = op(A) · op(B)` (overwrite) or `C += op(A) · op(B)` (accumulate).
   * Shapes: op(A) [M,K], op(B) [K,N], C [M,N].
   * A is stored [M,K] when `transA` is false, [K,M] when true; B is stored [K,N] when `transB` is false, [N,K] when true.
   */
  gemm(
    transA: boolean,
    transB: boolean,
    M: number,
    N: number,
    K: number,
    A: FloatArray,
    B: FloatArray,
    C: FloatArray,
    accumulate: boolean,
  ): void;
  /**
   * Bias add, optionally fused with ReLU, in place.
   * y [rows, cols], b [cols]: `y[r,c] = y[r,c] + b[c]`, then `max(0, ·)` when `relu`.
   */
  addBias(y: FloatArray, b: FloatArray, rows: number, cols: number, relu: boolean): void;
  /**
   * ReLU backward in place, using the ReLU's output: `dy[i] = y[i] > 0 ? dy[i] : 0` for i < n.
   */
  reluBackward(dy: FloatArray, y: FloatArray, n: number): void;
  /**
   * ReLU backward fused with the column sums that give the bias gradient of the layer that produced y:
   * `dy[r,c] = y[r,c] > 0 ? dy[r,c] : 0` in place, then `out[c] = Σ_r dy[r,c]` (overwritten). dy, y [rows, cols].
   */
  reluBackwardColSum(dy: FloatArray, y: FloatArray, rows: number, cols: number, out: FloatArray): void;
  /**
   * Column sums (bias gradient). dy [rows, cols], out [cols]: `out[c] (+)= Σ_r dy[r,c]`.
   */
  colSum(dy: FloatArray, rows: number, cols: number, out: FloatArray, accumulate: boolean): void;
  /**
   * One Adam step over n parameters, in one pass (Kingma & Ba, Algorithm 1):
   * m = β1 m + (1−β1) g;  v = β2 v + (1−β2) g²;  p −= lr · (m / (1−β1^t)) / (sqrt(v / (1−β2^t)) + ε).
   * `step` is t, counted from 1.
   */
  adam(
    p: FloatArray,
    g: FloatArray,
    m: FloatArray,
    v: FloatArray,
    n: number,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    step: number,
  ): void;
  /** Column gather: `out[r, j] = x[r, idx[j]]`. x [n, D], idx [k], out [n, k]. */
  gather(x: FloatArray, n: number, D: number, idx: Int32Array, out: FloatArray): void;
  /** Column scatter-add, the adjoint of gather: `x[r, idx[j]] += v[r, j]`. v [n, k], idx [k] (no repeats), x [n, D]. */
  scatterAdd(v: FloatArray, n: number, D: number, idx: Int32Array, x: FloatArray): void;
  /**
   * The standard logistic prior and its gradient in one pass (formulas: src/priors/logisticPrior.ts).
   * h [n, D]: `logProb[r] = Σ_d log p(h[r,d])` (summed in float64) and `dh[r,d] = weight · d log p/dh (h[r,d])`.
   */
  logisticPrior(h: FloatArray, n: number, D: number, weight: number, logProb: Float64Array, dh: FloatArray): void;
  /**
   * im2col for a stride-1, 'same'-padded k×k convolution over m images in NHWC (layouts: src/nn/conv2d.ts):
   * x [m·H·W, C] → cols [m·H·W, k·k·C], column order (ky, kx, c), zeros where the window leaves the image.
   * With `back`, the adjoint (col2im): `x[pixel, c] +=` every column entry that was copied from it.
   */
  im2col(x: FloatArray, cols: FloatArray, m: number, H: number, W: number, C: number, k: number, back: boolean): void;
  /** Release threads and memory, if any. */
  dispose(): void;
}
