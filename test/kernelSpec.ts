// One kernel spec, run on every backend against the reference kernels (TensorFlow.js style).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Backend, DirectConv } from '../src/core/Backend.js';
import { Rng } from '../src/core/Rng.js';
import { adamRef, addBiasRef, colSumRef, gateBackwardRef, gateForwardRef, gatherRef, reluMaskAddRef, gemmRef, im2colRef, logisticPriorRef, reluBackwardColSumRef, reluBackwardRef, scaleShiftForwardRef, scaleShiftInverseRef, scatterAddRef } from '../src/core/refKernels.js';
import { conv2dBackward, conv2dForward, conv2dRef, ConvScratch, type ConvShape } from '../src/nn/conv2d.js';
import { logisticPrior } from '../src/priors/logisticPrior.js';

function randomInto(a: { length: number; [i: number]: number }, rng: Rng): void {
  for (let i = 0; i < a.length; i++) a[i] = rng.normal();
}

function fill(alloc: (n: number) => Float32Array, n: number, rng: Rng): Float32Array {
  const a = alloc(n);
  randomInto(a, rng);
  return a;
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i];
    const d = Math.abs(actual[i] - e);
    if (!(d <= tol * (1 + Math.abs(e)))) assert.fail(`${what}: element ${i} is ${actual[i]}, expected ${e}`);
  }
}

const SIZES = [1, 7, 33, 392, 1000];

/** A checksum of an array's values, position-weighted (for the memo below). */
function checksum(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * ((i % 13) + 1);
  return s;
}

// Every spec run draws the same operands (the spec's Rng has the same seed and the same draws before gemm), and the
// float64 reference gemm is most of a run's time: runs in one process share its results, keyed by shape, mode and
// the operands' checksums.
const gemmMemo = new Map<string, Float64Array>();

function gemmExpected(transA: boolean, transB: boolean, M: number, N: number, K: number, A: Float32Array, B: Float32Array, C: Float32Array, accumulate: boolean): Float64Array {
  const key = [transA, transB, M, N, K, accumulate, checksum(A), checksum(B), checksum(C)].join();
  let expected = gemmMemo.get(key);
  if (!expected) {
    expected = Float64Array.from(C);
    gemmRef(transA, transB, M, N, K, Float64Array.from(A), Float64Array.from(B), expected, accumulate);
    gemmMemo.set(key, expected);
  }
  return expected;
}

/**
 * The two adjoints of conv2dRef (src/nn/conv2d.ts), from its definition, in float64 with plain loops: every term
 * W[co, ci, ky, kx] · x[img, yy + ky − pad, xx + kx − pad, ci] of output (img, yy, xx, co) adds dy[…, co] times it
 * to dx (at the input pixel) and to dW (at the weight). Inputs and outputs are NHWC; dx and dW are overwritten.
 */
export function conv2dAdjointsRef(x: ArrayLike<number>, W: ArrayLike<number>, dy: ArrayLike<number>, n: number, s: ConvShape, dx: Float64Array, dW: Float64Array): void {
  const { inC, outC, height: H, width: Wd, kernel: k } = s;
  const pad = (k - 1) >> 1;
  dx.fill(0);
  dW.fill(0);
  for (let img = 0; img < n; img++) {
    for (let yy = 0; yy < H; yy++) {
      for (let xx = 0; xx < Wd; xx++) {
        const o = ((img * H + yy) * Wd + xx) * outC;
        for (let ky = 0; ky < k; ky++) {
          const sy = yy + ky - pad;
          if (sy < 0 || sy >= H) continue;
          for (let kx = 0; kx < k; kx++) {
            const sx = xx + kx - pad;
            if (sx < 0 || sx >= Wd) continue;
            const i = ((img * H + sy) * Wd + sx) * inC;
            for (let co = 0; co < outC; co++) {
              const g = dy[o + co];
              for (let ci = 0; ci < inC; ci++) {
                const w = ((co * inC + ci) * k + ky) * k + kx;
                dx[i + ci] += W[w] * g;
                dW[w] += x[i + ci] * g;
              }
            }
          }
        }
      }
    }
  }
}

/**
 * Convolution shapes for the direct kernels' spec: [n, H, W, inC, outC, k]. Kernel 1, 3, 5; 1, 3, 8, 32 input and
 * 1, 2, 8, 32 output channels (and 3, 6, 12: partial channel groups); widths that are not multiples of 4, a 3×1
 * image; the last two are large enough for a threaded backend to split (by images, and inside one image).
 */
export const CONV_SPEC_SHAPES: Array<[number, number, number, number, number, number]> = [
  [1, 5, 7, 1, 1, 3], [2, 5, 7, 3, 2, 3], [3, 3, 1, 8, 8, 3], [2, 7, 5, 32, 1, 3], [3, 7, 5, 1, 32, 3],
  [2, 5, 7, 32, 2, 1], [5, 4, 3, 3, 8, 1], [4, 6, 5, 8, 32, 5], [2, 6, 9, 3, 8, 3], [2, 5, 6, 8, 12, 3],
  [3, 5, 6, 8, 6, 3], [2, 5, 7, 4, 3, 3], [3, 2, 9, 4, 1, 1], [2, 7, 9, 8, 8, 3], [1, 4, 5, 32, 32, 5], [2, 28, 28, 32, 32, 3], [1, 17, 13, 8, 32, 5],
];

/** Options of {@link describeKernelSpec}. */
export interface KernelSpecOptions {
  /**
   * Where the spec's arrays come from (default: the backend's `alloc`). A mix of the backend's arrays and plain
   * Float32Arrays runs every kernel with some operands in the backend's memory and some not.
   */
  alloc?: (backend: Backend, n: number) => Float32Array;
}

/**
 * Arrays from the backend or plain Float32Arrays at random, half each (for `KernelSpecOptions.alloc`): over the spec,
 * every kernel meets every mix of operands.
 */
export function mixedAlloc(seed = 7): (backend: Backend, n: number) => Float32Array {
  const rng = new Rng(seed);
  return (backend, n) => (rng.uniform() < 0.5 ? (backend.alloc(n) as Float32Array) : new Float32Array(n));
}

/** src/nn/conv2d.ts's convolutions from im2col + gemm, as a DirectConv (for backends without direct kernels). */
function columnConv(b: Backend): DirectConv {
  const scratch = new ConvScratch(b);
  const none = new Float32Array(0);
  return {
    forward: (x, W, bias, out, n, s, relu) => conv2dForward(b, x, W, bias, out, n, s, relu, scratch),
    backwardData: (dy, W, dx, n, s) => conv2dBackward(b, none, W, dy, n, s, null, null, dx, scratch),
    backwardWeights: (x, dy, dW, n, s) => conv2dBackward(b, x, none, dy, n, s, dW, null, null, scratch),
  };
}

/**
 * Registers the kernel spec for one backend. `make` returns the backend, or null when it is not available here
 * (the tests are then skipped with the reason given).
 */
export function describeKernelSpec(name: string, make: () => Promise<Backend | null> | Backend | null, why = '', options: KernelSpecOptions = {}): void {
  describe(`kernel spec: ${name}`, async () => {
    const backend = await make();
    const skip = backend ? false : why || `${name} backend not available`;
    const rng = new Rng(1234);
    const alloc = (n: number): Float32Array => (options.alloc ? options.alloc(backend!, n) : (backend!.alloc(n) as Float32Array));

    it('alloc gives zero-filled arrays, also of memory given back by free; free returns what alloc took', { skip }, () => {
      const b = backend!;
      const before = b.memoryUsage().inUse;
      for (const n of [1, 17, 1000, 65536, 17]) {
        const a = b.alloc(n);
        assert.equal(a.length, n);
        assert.ok(a.every((v) => v === 0), `alloc(${n}) is zero-filled`);
        a.fill(7);
        const c = b.alloc(3);
        c.fill(-1);
        b.free(a);
        b.free(c);
        assert.equal(b.memoryUsage().inUse, before, `memory in use after alloc(${n}) and free`);
      }
      b.free(new Float32Array(4)); // not the backend's: nothing happens
      assert.equal(b.memoryUsage().inUse, before);
      assert.ok(b.maxBytes > 0);
    });

    it('gemm matches the reference for every transpose and mode', { skip }, () => {
      const b = backend!;
      const shapes: Array<[number, number, number]> = [];
      // Every size in each position at least once, plus the training shapes, without the cost of all 125 triples.
      for (const s of SIZES) shapes.push([s, 7, 33], [7, s, 33], [33, 7, s]);
      shapes.push([200, 1000, 392], [200, 392, 1000], [1000, 1000, 200], [1, 1, 1], [33, 1000, 7]);
      // Wider than tall and above the parallel threshold: threaded backends split these by columns (odd N, tiny M).
      shapes.push([5, 999, 500], [33, 1001, 61]);
      // One or two columns of C (wasm: no packing): a 2-D coupling network's output layer and its input gradient.
      shapes.push([130, 2, 37], [128, 1, 32], [37, 1, 130], [129, 2, 5]);
      for (const [M, N, K] of shapes) {
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            for (const accumulate of [false, true]) {
              const A = fill(alloc, M * K, rng);
              const B = fill(alloc, K * N, rng);
              const C = fill(alloc, M * N, rng);
              const expected = gemmExpected(transA, transB, M, N, K, A, B, C, accumulate);
              b.gemm(transA, transB, M, N, K, A, B, C, accumulate);
              assertClose(C, expected, 2e-5 * Math.sqrt(K), `gemm ${M}x${N}x${K} tA=${transA} tB=${transB} acc=${accumulate}`);
              for (const a of [A, B, C]) b.free(a);
            }
          }
        }
      }
    });

    it('gemm works on subarrays of allocated memory', { skip }, () => {
      const b = backend!;
      const M = 9, N = 13, K = 17;
      const big = fill(alloc, 3 + M * K + 5 + K * N + 2 + M * N, rng);
      const A = big.subarray(3, 3 + M * K);
      const B = big.subarray(3 + M * K + 5, 3 + M * K + 5 + K * N);
      const C = big.subarray(big.length - M * N);
      const expected = new Float64Array(M * N);
      gemmRef(false, true, M, N, K, Float64Array.from(A), Float64Array.from(B), expected, false);
      const before = Float32Array.from(big.subarray(0, 3));
      b.gemm(false, true, M, N, K, A, B, C, false);
      assertClose(C, expected, 1e-4, 'gemm on subarrays');
      assertClose(big.subarray(0, 3), before, 0, 'memory before A untouched');
    });

    it('addBias, fused ReLU, reluBackward, colSum and reluBackwardColSum match the reference', { skip }, () => {
      const b = backend!;
      for (const [rows, cols] of [[1, 1], [7, 33], [200, 1000], [33, 392]]) {
        for (const relu of [false, true]) {
          const y = fill(alloc, rows * cols, rng);
          const bias = fill(alloc, cols, rng);
          const expected = Float64Array.from(y);
          addBiasRef(expected, Float64Array.from(bias), rows, cols, relu);
          b.addBias(y, bias, rows, cols, relu);
          assertClose(y, expected, 1e-6, `addBias ${rows}x${cols} relu=${relu}`);
        }
        const y = fill(alloc, rows * cols, rng);
        for (let i = 0; i < y.length; i++) if (y[i] < 0) y[i] = 0;
        const dy = fill(alloc, rows * cols, rng);
        const expected = Float64Array.from(dy);
        reluBackwardRef(expected, y, rows * cols);
        b.reluBackward(dy, y, rows * cols);
        assertClose(dy, expected, 0, `reluBackward ${rows}x${cols}`);
        for (const accumulate of [false, true]) {
          const out = fill(alloc, cols, rng);
          const exp = Float64Array.from(out);
          colSumRef(Float64Array.from(dy), rows, cols, exp, accumulate);
          b.colSum(dy, rows, cols, out, accumulate);
          assertClose(out, exp, 1e-5 * Math.sqrt(rows), `colSum ${rows}x${cols} acc=${accumulate}`);
        }
        // Fused: the same mask, and the column sums of the masked values (overwriting out).
        const dy2 = fill(alloc, rows * cols, rng);
        const expDy = Float64Array.from(dy2);
        const expSum = new Float64Array(cols);
        reluBackwardColSumRef(expDy, y, rows, cols, expSum);
        const sum = fill(alloc, cols, rng);
        b.reluBackwardColSum(dy2, y, rows, cols, sum);
        assertClose(dy2, expDy, 0, `reluBackwardColSum mask ${rows}x${cols}`);
        assertClose(sum, expSum, 1e-5 * Math.sqrt(rows), `reluBackwardColSum sums ${rows}x${cols}`);
      }
    });

    it('adam matches the reference over several steps', { skip }, () => {
      const b = backend!;
      for (const n of [1, 7, 33, 1000, 4099]) {
        const p = fill(alloc, n, rng), g = alloc(n), m = alloc(n), v = alloc(n);
        const p64 = Float64Array.from(p), m64 = new Float64Array(n), v64 = new Float64Array(n);
        for (let step = 1; step <= 3; step++) {
          randomInto(g, rng);
          adamRef(p64, Float64Array.from(g), m64, v64, n, 1e-3, 0.9, 0.99, 1e-4, step);
          b.adam(p, g, m, v, n, 1e-3, 0.9, 0.99, 1e-4, step);
        }
        assertClose(p, p64, 1e-5, `adam n=${n}`);
        assertClose(m, m64, 1e-5, `adam m n=${n}`);
      }
    });

    it('adam takes the steps of Kingma & Ba\'s Algorithm 1, computed by hand', { skip }, () => {
      // Not against adamRef: a wrong bias correction shared by the reference and a kernel would pass that check.
      // Parameter 0: lr 0.1, β 0.9/0.999, ε 1e-8, gradients 0.5, −1, 0.25 from p = 1. Step 1: m = 0.05, v = 0.00025,
      // m̂ = 0.5, v̂ = 0.25, p = 1 − 0.1·0.5/(0.5 + 1e-8) = 0.900000002. Step 2: m = 0.045 − 0.1 = −0.055,
      // v = 0.00024975 + 0.001 = 0.00124975, m̂ = −0.055/0.19, v̂ = 0.00124975/0.001999, p = 0.93661035424.
      // Parameter 1: the paper's ε (1e-4, β2 0.99), lr 0.01, tiny gradients 1e-6, 1e-6, 0 from p = −2, where ε
      // dominates: step 1 moves p by 0.01·1e-6/(1e-6 + 1e-4) = 9.90099e-5.
      const b = backend!;
      const expected = [
        [0.900000002, -2.00009900990099],
        [0.9366103542405654, -2.0001980198019798],
        [0.9502794203389762, -2.000260609676583],
      ];
      const grads = [[0.5, 1e-6], [-1, 1e-6], [0.25, 0]];
      const settings: [number, number, number, number][] = [[0.1, 0.9, 0.999, 1e-8], [0.01, 0.9, 0.99, 1e-4]];
      for (const k of [0, 1]) {
        const p = alloc(1), g = alloc(1), m = alloc(1), v = alloc(1);
        p[0] = k === 0 ? 1 : -2;
        m[0] = 0;
        v[0] = 0;
        const [lr, b1, b2, eps] = settings[k];
        for (let step = 1; step <= 3; step++) {
          g[0] = grads[step - 1][k];
          b.adam(p, g, m, v, 1, lr, b1, b2, eps, step);
          const want = expected[step - 1][k];
          // Float32 kernels see β2 = 0.999 as 0.99900001, so 1 − β2 is off by ~1e-5 relative: a few 1e-7 on these
          // steps. A missing or wrong bias correction is off by 1e-5 or more (parameter 1) and 0.01 or more (parameter 0).
          assert.ok(Math.abs(p[0] - want) <= 2e-6, `parameter ${k}, step ${step}: ${p[0]}, by hand ${want}`);
        }
      }
    });

    it('adam flushes moments that decay into the denormal floats to 0, and keeps a NaN', { skip }, () => {
      // A weight whose gradient stays 0: its first moment decays by β1 per step. Denormal floats make x86 ~100×
      // slower and stick (0.9 × the smallest denormal rounds back to it); below 2^−126 a moment must be exactly 0.
      const b = backend!;
      const n = 9; // a SIMD body and a scalar tail
      const p = alloc(n), g = alloc(n), m = alloc(n), v = alloc(n);
      p.fill(0.5);
      m.fill(1e-36);
      v.fill(1e-37);
      m[4] = -1e-36;
      for (let step = 1; step <= 300; step++) {
        b.adam(p, g, m, v, n, 1e-3, 0.9, 0.99, 1e-4, step);
        for (const arr of [m, v]) for (const x of arr) assert.ok(x === 0 || Math.abs(x) >= 1.1754943508222875e-38, `a denormal moment ${x} at step ${step}`);
      }
      assert.deepEqual(Array.from(m), new Array(n).fill(0), 'first moments flushed to 0');
      assert.deepEqual(Array.from(v), new Array(n).fill(0), 'second moments flushed to 0');
      g[2] = NaN;
      g[8] = NaN;
      b.adam(p, g, m, v, n, 1e-3, 0.9, 0.99, 1e-4, 301);
      assert.ok(Number.isNaN(m[2]) && Number.isNaN(m[8]) && Number.isNaN(p[2]) && Number.isNaN(p[8]), 'a NaN gradient still shows');
      assert.equal(m[0], 0);
    });

    it('gather and scatterAdd match the reference (every partition-like index pattern, odd widths)', { skip }, () => {
      const b = backend!;
      for (const [n, D] of [[1, 1], [3, 7], [200, 784], [5, 33]]) {
        const evens = Int32Array.from({ length: Math.ceil(D / 2) }, (_, j) => 2 * j);
        const shuffled = Int32Array.from({ length: D }, (_, j) => j);
        rng.shuffle(shuffled);
        for (const idx of [evens, shuffled.subarray(0, Math.max(1, D >> 1)), shuffled]) {
          const k = idx.length;
          const x = fill(alloc, n * D, rng);
          const out = fill(alloc, n * k, rng);
          const exp = new Float64Array(n * k);
          gatherRef(Float64Array.from(x), n, D, idx, exp);
          b.gather(x, n, D, idx, out);
          assertClose(out, exp, 0, `gather ${n}x${D} k=${k}`);
          const v = fill(alloc, n * k, rng);
          const expX = Float64Array.from(x);
          scatterAddRef(Float64Array.from(v), n, D, idx, expX);
          b.scatterAdd(v, n, D, idx, x);
          assertClose(x, expX, 1e-7, `scatterAdd ${n}x${D} k=${k}`);
        }
      }
      // Arrays that are not the backend's own (plain Float32Array) give the same results.
      const x = Float32Array.from({ length: 12 }, (_, i) => i);
      const out = new Float32Array(6);
      b.gather(x, 2, 6, Int32Array.of(5, 0, 3), out);
      assert.deepEqual(Array.from(out), [5, 0, 3, 11, 6, 9]);
      b.scatterAdd(Float32Array.of(1, 2, 3, 4, 5, 6), 2, 6, Int32Array.of(5, 0, 3), x);
      assert.deepEqual(Array.from(x), [2, 1, 2, 6, 4, 6, 11, 7, 8, 15, 10, 15]);
    });

    it('im2col and its adjoint col2im match the reference (kernel 1, 3, 5; 1, 3 and 8 channels; odd sizes)', { skip }, () => {
      const b = backend!;
      for (const [m, H, W, C, k] of [[1, 1, 1, 1, 3], [2, 5, 4, 1, 3], [3, 7, 6, 3, 3], [2, 6, 5, 8, 5], [2, 4, 3, 8, 1], [1, 3, 9, 5, 3], [5, 16, 15, 8, 3]]) { // the last is large enough to be split over threads
        const x = fill(alloc, m * H * W * C, rng);
        const cols = fill(alloc, m * H * W * C * k * k, rng);
        const expCols = new Float64Array(cols.length);
        im2colRef(Float64Array.from(x), expCols, m, H, W, C, k, false);
        b.im2col(x, cols, m, H, W, C, k, false);
        assertClose(cols, expCols, 0, `im2col m=${m} ${H}x${W}x${C} k=${k}`);
        const dcols = fill(alloc, cols.length, rng);
        const expX = Float64Array.from(x);
        im2colRef(expX, Float64Array.from(dcols), m, H, W, C, k, true);
        b.im2col(x, dcols, m, H, W, C, k, true);
        assertClose(x, expX, 1e-6, `col2im m=${m} ${H}x${W}x${C} k=${k}`);
      }
    });

    it('conv (the direct kernels, or im2col + gemm without them): forward with and without ReLU, backwardData and backwardWeights match float64 references', { skip }, () => {
      const b = backend!;
      const conv: DirectConv = b.conv ?? columnConv(b);
      let inUse = -1;
      for (const [round, [n, H, W, inC, outC, k]] of [...CONV_SPEC_SHAPES.entries(), [CONV_SPEC_SHAPES.length, CONV_SPEC_SHAPES.at(-2)!] as const]) {
        const s: ConvShape = { inC, outC, height: H, width: W, kernel: k };
        const label = `conv n=${n} ${H}x${W} ${inC}->${outC} k=${k}`;
        const P = n * H * W, Kf = inC * k * k, Kd = outC * k * k;
        const x = fill(alloc, P * inC, rng), w = fill(alloc, outC * Kf, rng), bias = fill(alloc, outC, rng), dy = fill(alloc, P * outC, rng);
        const x0 = Float32Array.from(x), w0 = Float32Array.from(w);
        for (const relu of [false, true]) {
          const out = fill(alloc, P * outC, rng); // garbage: outputs are overwritten
          const expected = new Float64Array(P * outC);
          conv2dRef(x, w, bias, expected, n, s, relu);
          conv.forward(x, w, bias, out, n, s, relu);
          assertClose(out, expected, 2e-5 * Math.sqrt(Kf), `${label} forward relu=${relu}`);
          if (relu && P * outC >= 8) assert.ok(expected.some((v) => v === 0) && expected.some((v) => v > 0), `${label}: the ReLU is active somewhere, not everywhere`);
          b.free(out);
        }
        const dx = fill(alloc, P * inC, rng), dW = fill(alloc, outC * Kf, rng);
        const expDx = new Float64Array(P * inC), expDW = new Float64Array(outC * Kf);
        conv2dAdjointsRef(x, w, dy, n, s, expDx, expDW);
        conv.backwardData(dy, w, dx, n, s);
        assertClose(dx, expDx, 2e-5 * Math.sqrt(Kd), `${label} backwardData`);
        conv.backwardWeights(x, dy, dW, n, s);
        assertClose(dW, expDW, 2e-5 * Math.sqrt(P), `${label} backwardWeights`);
        assertClose(x, x0, 0, `${label}: x unchanged`);
        assertClose(w, w0, 0, `${label}: W unchanged`);
        for (const a of [x, w, bias, dy, dx, dW]) b.free(a);
        // The last round repeats an earlier shape: the backend's work areas, grown for every shape before, stay put.
        if (round === CONV_SPEC_SHAPES.length - 1) inUse = b.memoryUsage().inUse;
        if (round === CONV_SPEC_SHAPES.length) assert.equal(b.memoryUsage().inUse, inUse, 'conv calls of a shape seen before allocate nothing');
      }
      // n = 0: nothing to convolve; the weight gradient is 0.
      const s: ConvShape = { inC: 2, outC: 3, height: 4, width: 5, kernel: 3 };
      const dW = fill(alloc, 54, rng);
      conv.backwardWeights(alloc(0), alloc(0), dW, 0, s);
      assert.ok(dW.every((v) => v === 0), 'backwardWeights of no images is 0');
    });

    it('scaleShiftForward and scaleShiftInverse match the reference: with and without shift, extremes, du not a multiple of 4, other coordinates untouched', { skip }, () => {
      const b = backend!;
      const bound = 2;
      // Pre-activations where the kernels change method (|a| = 1.25: tanh's polynomial vs its exponential form; 0: the
      // sign of exp's argument), tiny, and far beyond the bound.
      const extremes = [0, -0, 1e-30, -1e-6, 1.25, -1.25, 1.2499, 1.2501, 40, -40, 1e4, -1e4, 0.3, -0.9];
      for (const [n, D, du, shift] of [[1, 1, 1, true], [3, 7, 5, false], [100, 784, 392, true], [2, 33, 13, true], [4, 10, 3, false], [2, 50, 18, false]] as const) {
        const order = Array.from({ length: D }, (_, i) => i);
        for (let i = D - 1; i > 0; i--) {
          const j = Math.floor(rng.uniform() * (i + 1));
          [order[i], order[j]] = [order[j], order[i]];
        }
        const idx = Int32Array.from(order.slice(0, du));
        const G = shift ? 2 : 1;
        const h = fill(alloc, n * G * du, rng);
        for (let i = 0; i < h.length; i++) h[i] *= 1 + (i % 4);
        for (let i = 0; i < Math.min(extremes.length, du); i++) h[i] = extremes[i];
        const x = fill(alloc, n * D, rng), y = fill(alloc, n * D, rng), logDet = fill(alloc, n, rng), saved = fill(alloc, n * 3 * du, rng);
        const y64 = Float64Array.from(y), logDet64 = new Float64Array(n), saved64 = new Float64Array(n * 3 * du);
        scaleShiftForwardRef(Float64Array.from(h), Float64Array.from(x), y64, logDet64, saved64, n, D, idx, shift, bound);
        b.scaleShiftForward(h, x, y, logDet, saved, n, D, idx, shift, bound);
        const what = `n=${n} D=${D} du=${du} shift=${shift}`;
        assertClose(y, y64, 2e-6, `scaleShiftForward ${what}: y`);
        assertClose(saved, saved64, 2e-6, `scaleShiftForward ${what}: saved`);
        // ℓ is float32 in the fast kernels (an error of ~1 ulp each), summed over du values.
        assertClose(logDet, logDet64, 3e-7 * Math.sqrt(du), `scaleShiftForward ${what}: logDet`);
        const back = alloc(n * D);
        back.set(y);
        const back64 = Float64Array.from(y);
        scaleShiftInverseRef(Float64Array.from(h), back64, n, D, idx, shift, bound);
        b.scaleShiftInverse(h, back, n, D, idx, shift, bound);
        assertClose(back, back64, 2e-6, `scaleShiftInverse ${what}`);
        const pick = (a: Float32Array): Float32Array => Float32Array.from({ length: n * du }, (_, k) => a[Math.floor(k / du) * D + idx[k % du]]);
        assertClose(pick(back), pick(x), 1e-5, `scaleShiftInverse ${what}: the forward's input back`);
      }
    });

    it('gateForward (with and without save) and gateBackward match the reference: extremes, F not a multiple of 4', { skip }, () => {
      const b = backend!;
      // Gate pre-activations where σ changes form (0, ±0), saturates (±40, ±1e4), and ordinary values.
      const extremes = [0, -0, 1e-30, -1e-6, 40, -40, 1e4, -1e4, 0.3, -0.9, 88, -88];
      for (const [rows, F] of [[1, 1], [3, 5], [196, 64], [7, 13], [2, 4]] as const) {
        const w = fill(alloc, rows * 2 * F, rng);
        for (let i = 0; i < w.length; i++) w[i] *= 1 + (i % 5);
        for (let i = 0; i < Math.min(extremes.length, F); i++) w[F + i] = extremes[i];
        const w0 = Float32Array.from(w);
        const h = fill(alloc, rows * F, rng);
        const what = `rows=${rows} F=${F}`;
        // Without save: h moves, w stays.
        const hNo = alloc(rows * F);
        hNo.set(h);
        const hNo64 = Float64Array.from(h);
        gateForwardRef(Float64Array.from(w), hNo64, rows, F, false);
        b.gateForward(w, hNo, rows, F, false);
        assertClose(hNo, hNo64, 2e-6, `gateForward ${what}: h`);
        assertClose(w, w0, 0, `gateForward without save ${what}: w unchanged`);
        // With save: σ(g) replaces g.
        const w64 = Float64Array.from(w), h64 = Float64Array.from(h);
        gateForwardRef(w64, h64, rows, F, true);
        b.gateForward(w, h, rows, F, true);
        assertClose(h, h64, 2e-6, `gateForward save ${what}: h`);
        assertClose(w, w64, 1e-6, `gateForward save ${what}: [a | σ(g)]`);
        const dh = fill(alloc, rows * F, rng), dw = fill(alloc, rows * 2 * F, rng);
        const dw64 = new Float64Array(rows * 2 * F);
        gateBackwardRef(Float64Array.from(w), Float64Array.from(dh), dw64, rows, F);
        b.gateBackward(w, dh, dw, rows, F);
        assertClose(dw, dw64, 2e-6, `gateBackward ${what}`);
      }
    });

    it('reluMaskAdd matches the reference: copy and accumulate, masks at 0, −0 and NaN, odd lengths', { skip }, () => {
      const b = backend!;
      for (const n of [1, 3, 4, 7, 1000, 4099]) {
        for (const accumulate of [false, true]) {
          const src = fill(alloc, n, rng), mask = fill(alloc, n, rng), dst = fill(alloc, n, rng);
          for (let i = 0; i < Math.min(n, 3); i++) mask[i] = [0, -0, NaN][i];
          const dst64 = Float64Array.from(dst);
          reluMaskAddRef(Float64Array.from(src), Float64Array.from(mask), dst64, n, accumulate);
          b.reluMaskAdd(src, mask, dst, n, accumulate);
          assertClose(dst, dst64, 1e-7, `reluMaskAdd n=${n} accumulate=${accumulate}`);
        }
      }
    });

    it('logisticPrior matches the reference and the scalar prior, tails and extremes included', { skip }, () => {
      const b = backend!;
      for (const [n, D] of [[1, 1], [3, 7], [200, 784], [2, 33]]) {
        const h = fill(alloc, n * D, rng);
        for (let i = 0; i < h.length; i++) h[i] *= 1 + (i % 5) * 3; // spreads up to |h| ~ 40
        // Extremes: 0, ±tiny, values where e^−|h| underflows in float32, and beyond the clamp.
        const extremes = [0, -0, 1e-30, -1e-8, 20, -40, 88, -87.5, 150, -1e4];
        for (let i = 0; i < Math.min(extremes.length, h.length); i++) h[i] = extremes[i];
        const weight = -1 / n;
        const lp = new Float64Array(n), dh = fill(alloc, n * D, rng);
        b.logisticPrior(h, n, D, weight, lp, dh);
        const lpRef = new Float64Array(n), dhRef = new Float64Array(n * D);
        logisticPriorRef(Float64Array.from(h), n, D, weight, lpRef, dhRef);
        assertClose(lp, lpRef, 2e-6, `logisticPrior logProb ${n}x${D}`);
        assertClose(dh, dhRef, 1e-6, `logisticPrior dh ${n}x${D}`);
        // The reference itself against the scalar formulas of src/priors/logisticPrior.ts.
        for (let r = 0; r < n; r++) {
          let s = 0;
          for (let d = 0; d < D; d++) s += logisticPrior.logDensity(h[r * D + d]);
          assert.ok(Math.abs(lpRef[r] - s) <= 1e-9 * (1 + Math.abs(s)), `logProb row ${r}: ${lpRef[r]} vs ${s}`);
        }
        for (let i = 0; i < n * D; i++) {
          const e = weight * logisticPrior.score(h[i]);
          assert.ok(Math.abs(dhRef[i] - e) <= 1e-12, `dh ${i}: ${dhRef[i]} vs ${e}`);
        }
      }
    });
  });
}
