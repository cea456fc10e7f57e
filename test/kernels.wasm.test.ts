import assert from 'node:assert/strict';
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

it('dispose stops the worker threads', () => {
  for (const b of made) b.dispose();
  assert.ok(made.length >= 3);
});
