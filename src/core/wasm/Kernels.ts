import type { WasmConvKernels } from './createWasmConv.js';

/**
 * The wasm kernel module's exports as createWasmBackend calls them (asm/kernels.ts; formulas in
 * src/core/refKernels.ts): every array argument is a byte offset into the shared memory, and the trailing pairs
 * (r0, r1 / i0, i1 / c0, c1 / m0, m1, n0, n1 / img0, img1) are the range of rows, values, columns or images one
 * thread computes.
 */
export interface Kernels extends WasmConvKernels {
  SCRATCH_BYTES: WebAssembly.Global;
  gemm(ta: number, tb: number, M: number, N: number, K: number, a: number, b: number, c: number, acc: number, m0: number, m1: number, n0: number, n1: number, scratch: number): void;
  addBias(y: number, b: number, cols: number, relu: number, r0: number, r1: number): void;
  reluBackward(dy: number, y: number, i0: number, i1: number): void;
  colSum(dy: number, rows: number, cols: number, out: number, acc: number, c0: number, c1: number): void;
  reluBackwardColSum(dy: number, y: number, rows: number, cols: number, out: number, c0: number, c1: number): void;
  adam(p: number, g: number, m: number, v: number, a: number, b1: number, b2: number, eps: number, sb2: number, i0: number, i1: number): void;
  gather(x: number, n: number, D: number, idx: number, k: number, out: number): void;
  scatterAdd(v: number, n: number, D: number, idx: number, k: number, x: number): void;
  logisticPrior(h: number, n: number, D: number, weight: number, logProb: number, dh: number): void;
  scaleShiftForward(h: number, x: number, y: number, logDet: number, saved: number, n: number, D: number, idx: number, du: number, shift: number, bound: number): void;
  gateForward(w: number, h: number, F: number, save: number, r0: number, r1: number): void;
  gateBackward(w: number, dh: number, dw: number, F: number, r0: number, r1: number): void;
  reluMaskAdd(src: number, mask: number, dst: number, accumulate: number, i0: number, i1: number): void;
  scaleShiftInverse(h: number, x: number, n: number, D: number, idx: number, du: number, shift: number, bound: number): void;
  im2col(x: number, cols: number, H: number, W: number, C: number, k: number, back: number, img0: number, img1: number): void;
}
