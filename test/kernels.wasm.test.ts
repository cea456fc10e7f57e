import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { it } from 'node:test';
import { createWasmBackend } from '../src/core/wasm/createWasmBackend.js';
import { gemmRef } from '../src/core/refKernels.js';
import { createWasmBackendNode } from '../src/node/createWasmBackendNode.js';
import type { Backend } from '../src/core/Backend.js';
import { describeKernelSpec } from './kernelSpec.js';

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
