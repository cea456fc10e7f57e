import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { it } from 'node:test';
import { createWasmBackend } from '../src/core/wasm/createWasmBackend.js';
import { gemmRef } from '../src/core/refKernels.js';
import { Rng } from '../src/core/Rng.js';
import { createWasmBackendNode } from '../src/node/createWasmBackendNode.js';
import type { Backend } from '../src/core/Backend.js';
import type { ConvShape } from '../src/core/ConvShape.js';
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { conv2dRef } from '../src/nn/conv2d.js';
import { conv2dAdjointsRef, describeKernelSpec } from './kernelSpec.js';

const made: Backend[] = [];
const keep = async (p: Promise<Backend>): Promise<Backend> => {
  const b = await p;
  made.push(b);
  return b;
};

describeKernelSpec('wasm, plain SIMD, 1 thread', () => keep(createWasmBackend({ relaxed: false })));
describeKernelSpec('wasm, relaxed SIMD, 1 thread', () => keep(createWasmBackendNode({ threads: 1 })));
describeKernelSpec('wasm, 2 threads', () => keep(createWasmBackendNode({ threads: 2 })));

it('wasm accepts arrays that are not its own (float32 and float64), with the same results', async () => {
  const b = await keep(createWasmBackendNode({ threads: 2 }));
  const M = 40, N = 30, K = 20;
  const A = Float64Array.from({ length: M * K }, (_, i) => Math.sin(i));
  const B = Float32Array.from({ length: K * N }, (_, i) => Math.cos(i));
  const C = new Float32Array(M * N);
  const expected = new Float64Array(M * N);
  gemmRef(false, false, M, N, K, A, B, expected, false);
  b.gemm(false, false, M, N, K, A, B, C, false);
  for (let i = 0; i < C.length; i++) assert.ok(Math.abs(C[i] - expected[i]) < 1e-4, `C[${i}]`);
  const y = new Float32Array([-1, 2, -3, 4]);
  b.addBias(y, new Float32Array([0.5, 0.5]), 2, 2, true);
  assert.deepEqual(Array.from(y), [0, 2.5, 0, 4.5]);
});

// Workers start asynchronously; a job posted before they run must still be done by them (this used to hang).
it('a parallel job posted right after creation completes and is correct', { timeout: 60_000 }, async () => {
  for (let round = 0; round < 3; round++) {
    const b = await keep(createWasmBackendNode({ threads: 2 }));
    const M = 64, N = 300, K = 200; // 2·M·N·K above the parallel threshold
    const A = b.alloc(M * K), B = b.alloc(K * N), C = b.alloc(M * N);
    for (let i = 0; i < A.length; i++) A[i] = Math.sin(i);
    for (let i = 0; i < B.length; i++) B[i] = Math.cos(i);
    b.gemm(false, false, M, N, K, A, B, C, false);
    const expected = new Float64Array(M * N);
    gemmRef(false, false, M, N, K, A, B, expected, false);
    for (let i = 0; i < C.length; i++) assert.ok(Math.abs(C[i] - expected[i]) < 1e-3, `round ${round}, C[${i}]`);
  }
});

it('wasm convolves directly (backend.conv), and refuses shapes and arrays that do not fit with a NiceFlowError', async () => {
  const b = await keep(createWasmBackendNode({ threads: 1 }));
  const conv = b.conv!;
  assert.ok(conv, 'the wasm backend has direct convolution kernels');
  const s: ConvShape = { inC: 2, outC: 3, height: 4, width: 5, kernel: 3 };
  const x = new Float32Array(40), W = new Float32Array(54), bias = new Float32Array(3), y = new Float32Array(60);
  conv.forward(x, W, bias, y, 1, s, false);
  conv.backwardData(y, W, x, 1, s);
  conv.backwardWeights(x, y, W, 1, s);
  const refused = (f: () => void, message: RegExp): void => {
    assert.throws(f, (e: unknown) => e instanceof NiceFlowError && message.test(e.message), String(message));
  };
  refused(() => conv.forward(x, W, bias, y, 1, { ...s, kernel: 2 }, false), /^wasm conv forward: the kernel size must be odd \('same' padding\), got 2$/);
  refused(() => conv.forward(x, W, bias, y, 1, { ...s, kernel: 0 }, false), /kernel must be a positive integer, got 0/);
  refused(() => conv.forward(x, W, bias, y, 1, { ...s, height: 0 }, false), /height must be a positive integer, got 0/);
  refused(() => conv.forward(x, W, bias, y, 1, { ...s, inC: 1.5 }, false), /inC must be a positive integer, got 1.5/);
  refused(() => conv.forward(x, W, bias, y, -1, s, false), /batch size must be an integer ≥ 0, got -1/);
  refused(() => conv.forward(x, W, bias, y, 2, s, false), /^wasm conv forward: x has 40 values, fewer than the 80 of 2 image\(s\) 4×5, 2 → 3 channels, 3×3$/);
  refused(() => conv.forward(x, W.subarray(1), bias, y, 1, s, false), /W has 53 values, fewer than the 54/);
  refused(() => conv.forward(x, W, bias.subarray(1), y, 1, s, false), /b has 2 values/);
  refused(() => conv.backwardData(y, W, x.subarray(1), 1, s), /^wasm conv backwardData: dx has 39 values/);
  refused(() => conv.backwardWeights(x, y.subarray(1), W, 1, s), /^wasm conv backwardWeights: dy has 59 values/);
  refused(() => conv.backwardWeights(x, y, W.subarray(1), 1, s), /dW has 53 values/);
});

// Rows (image rows, or Winograd's pairs of rows) are shared out in equal whole parts: with 4 threads and 9 rows the
// parts are 3, 3, 3 and 0, and the idle thread must still hand in its (zero) part of the weight gradient.
it('conv split over 4 threads (uneven parts, one empty) matches the float64 references', async () => {
  const b = await keep(createWasmBackendNode({ threads: 4 }));
  const conv = b.conv!;
  const rng = new Rng(9);
  // [n, H, W, inC, outC, k]: Winograd 3×3 with 33 pairs of rows (every thread busy: its scratch is written), then 9
  // (the idle thread's part of dW lies in scratch the first wrote), direct 5×5 (9 rows), the 1-channel first layer
  for (const [n, H, W, inC, outC, k] of [[1, 65, 40, 32, 32, 3], [1, 17, 40, 32, 32, 3], [1, 9, 40, 32, 32, 5], [2, 9, 200, 1, 32, 3]]) {
    const s: ConvShape = { inC, outC, height: H, width: W, kernel: k };
    const P = n * H * W;
    const rand = (len: number): Float32Array => Float32Array.from({ length: len }, () => rng.normal());
    const x = rand(P * inC), w = rand(outC * inC * k * k), bias = rand(outC), dy = rand(P * outC);
    const y = new Float32Array(P * outC), dx = new Float32Array(P * inC), dW = new Float32Array(w.length).fill(7);
    const ey = new Float64Array(y.length), edx = new Float64Array(dx.length), edW = new Float64Array(dW.length);
    conv2dRef(x, w, bias, ey, n, s, true);
    conv2dAdjointsRef(x, w, dy, n, s, edx, edW);
    conv.forward(x, w, bias, y, n, s, true);
    conv.backwardData(dy, w, dx, n, s);
    conv.backwardWeights(x, dy, dW, n, s);
    const check = (a: Float32Array, e: Float64Array, tol: number, what: string): void => {
      for (let i = 0; i < e.length; i++) assert.ok(Math.abs(a[i] - e[i]) <= tol * (1 + Math.abs(e[i])), `${what} ${H}x${W} ${inC}->${outC} k=${k}: element ${i} is ${a[i]}, expected ${e[i]}`);
    };
    check(y, ey, 2e-5 * Math.sqrt(inC * k * k), 'forward');
    check(dx, edx, 2e-5 * Math.sqrt(outC * k * k), 'backwardData');
    check(dW, edW, 2e-5 * Math.sqrt(P), 'backwardWeights');
  }
});

it('threads: all cores by default (also when passed as undefined), else as asked', async () => {
  assert.equal((await keep(createWasmBackendNode())).threads, availableParallelism());
  assert.equal((await keep(createWasmBackendNode({ threads: undefined }))).threads, availableParallelism());
  assert.equal((await keep(createWasmBackendNode({ threads: 1 }))).threads, 1);
  assert.equal((await keep(createWasmBackend({ threads: 2 }))).threads, 1, 'no spawner: one thread');
});

it('dispose stops the worker threads', () => {
  for (const b of made) b.dispose();
  assert.ok(made.length >= 3);
});
