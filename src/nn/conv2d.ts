import type { Backend } from '../core/Backend.js';
import type { ConvShape } from '../core/ConvShape.js';
import type { FloatArray } from '../core/FloatArray.js';

// A 2-D convolution in torch.nn.Conv2d's parameter layout, stride 1, 'same' zero padding (pad = (k−1)/2, k odd):
// W [outC, inC, k, k], b [outC]. Like PyTorch it is a cross-correlation (the kernel is not flipped):
//   y[img, yy, xx, co] = b[co] + Σ_{ci, ky, kx} W[co, ci, ky, kx] · x[img, yy + ky − pad, xx + kx − pad, ci]
// with x = 0 outside the image.
//
// Activation layout: NHWC, i.e. a batch is a row-major matrix [n·H·W, C] (one row per pixel, rows ordered by image,
// then y, then x; channels contiguous). With this layout a conv is im2col + one gemm, and a 1×1 conv *is* a dense
// layer on the pixel rows (so it needs no column buffer at all).
//
// im2col: cols [n·H·W, k·k·inC], row = output pixel, column (ky, kx, ci) = the input value that W[·, ci, ky, kx]
// meets. In this order each window tap copies inC contiguous channels from an NHWC pixel to contiguous columns (the
// (ci, ky, kx) order of W's memory would scatter every value k² apart, and im2col was then ~40% of a step); the gemm
// uses a copy of W permuted to [outC, k, k, inC] (W̃), and dW̃ is permuted back. Both are tiny next to the columns.
//
// Derivatives (written once here; backends only multiply and add), dy [n·H·W, outC] already masked by the ReLU
// (dy ← dy · [y > 0], y being the ReLU's output) when there was one:
//   dL/dW̃    = dyᵀ · cols          (gemm, A transposed: [outC, n·H·W] · [n·H·W, k·k·inC]; summed over chunks)
//   dL/db    = Σ_rows dy           (column sums)
//   dL/dcols = dy · W̃              (gemm: [n·H·W, outC] · [outC, k·k·inC])
//   dL/dx    = col2im(dL/dcols)    (each column entry is added back to the input pixel it was copied from; an input
//                                   pixel appears in up to k² windows, so its gradient is the sum of those entries)
// The columns are recomputed in backward (cheap next to the gemm) rather than kept for the whole batch.
//
// A backend with convolution kernels of its own (`backend.conv`: the blas backend on oneDNN, the wasm backend on
// asm/conv.ts and asm/winograd.ts) gets every convolution, 1×1 included, and no columns are written. Measured on 2 cores of an
// AVX-512 Xeon, conv affine 1×28×28 with 32 channels × 2, batch 100 (scripts/profile-step.ts): im2col + OpenBLAS
// took 631 ms a step (the 32 → 32 products at 41–52 GFLOP/s, a fifth of the step writing and reading columns);
// oneDNN's direct kernels take 109 ms, the 32 → 32 convolutions running at 284–300 GFLOP/s. On the wasm backend
// (2 threads, 128-bit SIMD; profile-step.ts's wasm-im2col is the column route) im2col + gemm took 474 ms a step (the
// 32 → 32 products at 51–67 GFLOP/s, im2col and col2im 17% of the step); its own kernels take 208 ms: Winograd
// F(2×2, 3×3) for the 32 → 32 layers (112–117 GFLOP/s of direct-convolution work, 73% of the step) and direct
// kernels for the layers from 1 and to 2 channels (29 ms; src/core/wasm/createWasmConv.ts). conv affine 3×32×32 with 64
// channels: 1766 → 820 ms a step, the 64 → 64 layers at 139–150 GFLOP/s.

export type { ConvShape } from '../core/ConvShape.js';

/** Default upper bound on the column buffer, in bytes. */
export const CONV_COLUMN_BYTES = 16 * 1024 * 1024;

/**
 * The column buffer shared by convolutions, reused across calls (like `Workspace`): the batch is processed in chunks
 * of whole images so the buffer stays under `maxBytes` (n = 200 images of 28×28×64 at 3×3 would take 360 MB at once).
 * It grows only up to the largest chunk seen, so nothing is allocated once the largest batch was seen.
 */
export class ConvScratch {
  private buf: FloatArray;
  private capacity = 0;
  /** Largest column buffer wanted, in elements of the backend's dtype (at least one image is always allowed). */
  readonly maxElements: number;

  constructor(
    private readonly backend: Backend,
    maxBytes = CONV_COLUMN_BYTES,
  ) {
    this.buf = this.empty();
    this.maxElements = Math.floor(maxBytes / (backend.dtype === 'float64' ? 8 : 4));
  }

  /** A zero-length array that is not the backend's (freeing it does nothing; allocating it would take a block). */
  private empty(): FloatArray {
    return this.backend.dtype === 'float64' ? new Float64Array(0) : new Float32Array(0);
  }

  /** Images per chunk for a conv of this shape with a batch of n. */
  chunk(n: number, s: ConvShape): number {
    const perImage = s.height * s.width * s.inC * s.kernel * s.kernel;
    return Math.max(1, Math.min(n, Math.floor(this.maxElements / perImage)));
  }

  /** A view of `length` values (contents unspecified), valid until a call with a larger length. */
  get(length: number): FloatArray {
    if (length > this.capacity) {
      // Free first (memory stays flat in long use; the allocator may grow the block in place).
      this.backend.free(this.buf);
      this.buf = this.empty();
      this.capacity = 0;
      this.buf = this.backend.alloc(length);
      this.capacity = length;
    }
    return this.buf.subarray(0, length);
  }

  private wbuf: FloatArray | null = null;

  /** Two buffers of `length` values for W̃ and dW̃ (contents unspecified), grown like `get`. */
  weights(length: number): [FloatArray, FloatArray] {
    if (!this.wbuf || this.wbuf.length < 2 * length) {
      if (this.wbuf) this.backend.free(this.wbuf);
      this.wbuf = null;
      this.wbuf = this.backend.alloc(2 * length);
    }
    return [this.wbuf.subarray(0, length), this.wbuf.subarray(length, 2 * length)];
  }
}

/** W̃[co, (ky·k + kx)·inC + ci] = W[co, ci·k² + ky·k + kx] (or the reverse with `back`). */
function permuteWeights(W: FloatArray, Wt: FloatArray, s: ConvShape, back: boolean): void {
  const kk = s.kernel * s.kernel, K = s.inC * kk;
  for (let co = 0; co < s.outC; co++) {
    const o = co * K;
    for (let ci = 0; ci < s.inC; ci++) {
      for (let t = 0; t < kk; t++) {
        if (back) W[o + ci * kk + t] = Wt[o + t * s.inC + ci];
        else Wt[o + t * s.inC + ci] = W[o + ci * kk + t];
      }
    }
  }
}

/**
 * Forward: x [n·H·W, inC] → out [n·H·W, outC] (NHWC), W [outC, inC, k, k], b [outC]; `relu` fuses max(0, ·) with
 * the bias add. `out` must not overlap `x`.
 */
export function conv2dForward(
  backend: Backend,
  x: FloatArray,
  W: FloatArray,
  b: FloatArray,
  out: FloatArray,
  n: number,
  s: ConvShape,
  relu: boolean,
  scratch: ConvScratch,
): void {
  const P = s.height * s.width, K = s.inC * s.kernel * s.kernel, rows = n * P;
  if (backend.conv) {
    backend.conv.forward(x, W, b, out, n, s, relu);
    return;
  }
  if (s.kernel === 1) {
    backend.gemm(false, true, rows, s.outC, K, x, W, out, false);
  } else {
    const chunk = scratch.chunk(n, s);
    const cols = scratch.get(chunk * P * K);
    const [Wt] = scratch.weights(s.outC * K);
    permuteWeights(W, Wt, s, false);
    for (let i0 = 0; i0 < n; i0 += chunk) {
      const m = Math.min(chunk, n - i0);
      backend.im2col(x.subarray(i0 * P * s.inC), cols, m, s.height, s.width, s.inC, s.kernel, false);
      backend.gemm(false, true, m * P, s.outC, K, cols, Wt, out.subarray(i0 * P * s.outC), false);
    }
  }
  backend.addBias(out, b, rows, s.outC, relu);
}

/**
 * Backward, given dy [n·H·W, outC] already masked for the ReLU if there was one, and the forward's input x.
 * Each output is optional (null to skip) and overwritten: dW [outC, inC, k, k], db [outC], dx [n·H·W, inC].
 */
export function conv2dBackward(
  backend: Backend,
  x: FloatArray,
  W: FloatArray,
  dy: FloatArray,
  n: number,
  s: ConvShape,
  gW: FloatArray | null,
  gb: FloatArray | null,
  dx: FloatArray | null,
  scratch: ConvScratch,
): void {
  const P = s.height * s.width, K = s.inC * s.kernel * s.kernel, rows = n * P;
  if (gb) backend.colSum(dy, rows, s.outC, gb, false);
  if (n === 0) {
    gW?.fill(0, 0, s.outC * K);
    return;
  }
  if (backend.conv) {
    if (gW) backend.conv.backwardWeights(x, dy, gW, n, s);
    if (dx) backend.conv.backwardData(dy, W, dx, n, s);
    return;
  }
  if (s.kernel === 1) {
    if (gW) backend.gemm(true, false, s.outC, K, rows, dy, x, gW, false);
    if (dx) backend.gemm(false, false, rows, K, s.outC, dy, W, dx, false);
    return;
  }
  if (!gW && !dx) return;
  const chunk = scratch.chunk(n, s);
  const cols = scratch.get(chunk * P * K);
  const [Wt, gWt] = scratch.weights(s.outC * K);
  if (dx) permuteWeights(W, Wt, s, false);
  for (let i0 = 0; i0 < n; i0 += chunk) {
    const m = Math.min(chunk, n - i0);
    const dyc = dy.subarray(i0 * P * s.outC);
    if (gW) {
      backend.im2col(x.subarray(i0 * P * s.inC), cols, m, s.height, s.width, s.inC, s.kernel, false);
      backend.gemm(true, false, s.outC, K, m * P, dyc, cols, gWt, i0 > 0);
    }
    if (dx) {
      // The columns are no longer needed: the same buffer receives dL/dcols.
      backend.gemm(false, false, m * P, K, s.outC, dyc, Wt, cols, false);
      const dxc = dx.subarray(i0 * P * s.inC, (i0 + m) * P * s.inC);
      dxc.fill(0);
      backend.im2col(dxc, cols, m, s.height, s.width, s.inC, s.kernel, true);
    }
  }
  if (gW) permuteWeights(gW, gWt, s, true);
}

/**
 * The naive direct convolution (the oracle for tests): same layouts and meaning as `conv2dForward`, plain loops,
 * exact in float64.
 */
export function conv2dRef(x: ArrayLike<number>, W: ArrayLike<number>, b: ArrayLike<number>, out: FloatArray, n: number, s: ConvShape, relu: boolean): void {
  const { inC, outC, height: H, width: Wd, kernel: k } = s;
  const pad = (k - 1) >> 1;
  for (let img = 0; img < n; img++) {
    for (let yy = 0; yy < H; yy++) {
      for (let xx = 0; xx < Wd; xx++) {
        const o = ((img * H + yy) * Wd + xx) * outC;
        for (let co = 0; co < outC; co++) {
          let acc = b[co];
          for (let ci = 0; ci < inC; ci++) {
            for (let ky = 0; ky < k; ky++) {
              const sy = yy + ky - pad;
              if (sy < 0 || sy >= H) continue;
              for (let kx = 0; kx < k; kx++) {
                const sx = xx + kx - pad;
                if (sx < 0 || sx >= Wd) continue;
                acc += W[((co * inC + ci) * k + ky) * k + kx] * x[((img * H + sy) * Wd + sx) * inC + ci];
              }
            }
          }
          out[o + co] = relu && !(acc > 0) ? 0 : acc;
        }
      }
    }
  }
}
