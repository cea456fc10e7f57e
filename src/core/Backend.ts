import type { ConvShape } from './ConvShape.js';
import type { DType, FloatArray } from './FloatArray.js';

/** How much memory a backend holds, in bytes (see `Backend.memoryUsage`). */
export interface BackendMemoryUsage {
  /** Bytes in use in the backend's own memory: live arrays from `alloc` (not yet freed) and its own work areas. */
  inUse: number;
  /**
   * Bytes the backend holds from the system for its arrays: the wasm memory's size, which only grows (a
   * WebAssembly memory never shrinks), so a long-running page or server should see it level off; 0 for the ref
   * backend, whose arrays are the JavaScript engine's.
   */
  reserved: number;
}

/**
 * The numeric primitives a backend supplies. Model code (dense layers, couplings, Adam) is written once on top of
 * these; derivative formulas live with the model code, never here. All matrices are row-major and contiguous.
 *
 * Arrays passed to a backend should come from its own `alloc` (for the wasm backend they live in its memory;
 * other arrays still work but may be copied, or computed on by slower kernels). Subarrays of allocated arrays are
 * allowed.
 *
 * Memory contract. `alloc` hands out memory that stays the caller's until it calls `free` on that array: an array
 * is never moved, reused or zeroed behind the caller's back. `free(a)` gives it back for later `alloc`s (which may
 * then return the same memory, zero-filled again); after it the caller must not touch `a` or any subarray of it.
 * Arrays that are never freed live as long as the backend, so code that runs again and again (a method called per
 * request, per frame, per step) must either free what it allocates or keep it for the next call (a `Workspace`
 * grown once and reused): then any number of calls leaves the backend's memory flat. The ref backend's arrays are
 * ordinary JavaScript arrays that the garbage collector reclaims (there `free` does nothing); the wasm backend's
 * live in one WebAssembly memory of at most 4 GiB that never shrinks and that only `free` recycles; the blas
 * backend's live there up to its budget, and on the JavaScript heap beyond it. Freeing an array the backend did
 * not allocate in its own memory (a plain Float32Array, for instance) does nothing; freeing one of its own twice is
 * a bug and throws.
 */
export interface Backend {
  /** Short name shown to users: `ref`, `wasm`, `blas`. */
  readonly name: string;
  /** Threads it computes on (the caller's included). */
  readonly threads: number;
  /** Element type of arrays from `alloc`. */
  readonly dtype: DType;
  /**
   * The most it can hold in bytes, for checking a model's need up front (see `checkMemory`): the wasm backend's
   * 4 GiB memory less what it keeps for itself; the machine's memory or `Infinity` for backends on the JS heap.
   */
  readonly maxBytes: number;
  /**
   * A zero-filled array of `length` elements, resident where this backend computes. Throws a NiceFlowError when
   * the backend cannot hold it (saying how much it needs, the backend's limit and what to use instead).
   */
  alloc(length: number): FloatArray;
  /**
   * Gives an array from `alloc` back to the backend (see the memory contract above); arrays not in the backend's
   * own memory are left to the garbage collector.
   */
  free(array: FloatArray): void;
  /** What the backend holds now (its own memory only; arrays on the JavaScript heap are not counted). */
  memoryUsage(): BackendMemoryUsage;
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
   * `step` is t, counted from 1. Moments below the smallest normal float32 are stored as 0 (see adamRef).
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
   * The exponential-scale coupling law's forward (src/flows/laws/scaleShiftLaw.ts) on the updated coordinates idx
   * (du = idx.length) of rows x, y [n, D]: h [n, G·du] ([a | t] per row when `shift`, G = 2; else [a], G = 1),
   * ℓ = bound·tanh(a/bound), e = exp(ℓ): `y[r, idx[j]] = x[r, idx[j]]·e_j (+ t_j)`, `logDet[r] = Σ_j ℓ_j` (summed in
   * float64), saved [n, 3·du] = [ℓ | e | x·e] per row. y's other coordinates are left as they are.
   */
  scaleShiftForward(h: FloatArray, x: FloatArray, y: FloatArray, logDet: FloatArray, saved: FloatArray, n: number, D: number, idx: Int32Array, shift: boolean, bound: number): void;
  /** Its inverse, in place on x [n, D]: `x[r, idx[j]] = (x[r, idx[j]] − t_j)·exp(−ℓ_j)`. */
  scaleShiftInverse(h: FloatArray, x: FloatArray, n: number, D: number, idx: Int32Array, shift: boolean, bound: number): void;
  /**
   * The gate of a gated residual block (src/nn/GatedConvNet.ts): w [rows, 2F] holds [a | g] per row, h [rows, F]:
   * `h[r, c] += a[r, c]·σ(g[r, c])`; with `save`, σ(g) replaces g in w (what gateBackward reads).
   */
  gateForward(w: FloatArray, h: FloatArray, rows: number, F: number, save: boolean): void;
  /**
   * Its backward, with w = [a | s = σ(g)] as a saving gateForward left it and dh [rows, F] the gradient reaching h:
   * writes dw [rows, 2F] = [dh·s | dh·a·s·(1 − s)].
   */
  gateBackward(w: FloatArray, dh: FloatArray, dw: FloatArray, rows: number, F: number): void;
  /**
   * `dst[i] = (accumulate ? dst[i] : 0) + (mask[i] > 0 ? src[i] : 0)` for i < n: a ReLU as a copy (src = mask), or a
   * ReLU's backward added to a running gradient (src = dy, mask = the ReLU's output), as a residual path needs.
   */
  reluMaskAdd(src: FloatArray, mask: FloatArray, dst: FloatArray, n: number, accumulate: boolean): void;
  /**
   * im2col for a stride-1, 'same'-padded k×k convolution over m images in NHWC (layouts: src/nn/conv2d.ts):
   * x [m·H·W, C] → cols [m·H·W, k·k·C], column order (ky, kx, c), zeros where the window leaves the image.
   * With `back`, the adjoint (col2im): `x[pixel, c] +=` every column entry that was copied from it.
   */
  im2col(x: FloatArray, cols: FloatArray, m: number, H: number, W: number, C: number, k: number, back: boolean): void;
  /**
   * Convolution kernels of the backend's own, which write no column buffer, when it has them (the wasm backend:
   * src/core/wasm/createWasmConv.ts; the blas backend with oneDNN: oneDNN's, never those of the wasm backend it
   * builds on); undefined otherwise (the ref backend, blas without oneDNN), and then src/nn/conv2d.ts builds
   * convolutions from `im2col` and `gemm`. Same meaning and layouts as there.
   */
  readonly conv?: DirectConv;
  /** Release threads and memory, if any. The backend must not be used afterwards. */
  dispose(): void;
}

/**
 * Stride-1, 'same'-padded convolutions with an odd kernel, computed directly (no column buffer). Activations are
 * NHWC ([n·H·W, C] row-major), W is [outC, inC, k, k] (PyTorch's layout), b [outC]; formulas in src/nn/conv2d.ts.
 * Outputs are overwritten.
 */
export interface DirectConv {
  /** out = conv(x, W) + b, then max(0, ·) when `relu`. x [n·H·W, inC], out [n·H·W, outC]. */
  forward(x: FloatArray, W: FloatArray, b: FloatArray, out: FloatArray, n: number, s: ConvShape, relu: boolean): void;
  /** dx = the input gradient for output gradient dy. dy [n·H·W, outC], dx [n·H·W, inC]. */
  backwardData(dy: FloatArray, W: FloatArray, dx: FloatArray, n: number, s: ConvShape): void;
  /** dW [outC, inC, k, k] = the weight gradient for input x and output gradient dy. */
  backwardWeights(x: FloatArray, dy: FloatArray, dW: FloatArray, n: number, s: ConvShape): void;
}
