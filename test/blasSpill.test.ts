// Big memory. The blas backend past the wasm memory: arrays beyond its `wasmBytes` live on the JavaScript heap,
// OpenBLAS takes them as they are and the element-wise kernels fall back to the reference ones. The whole kernel
// spec runs with every array there, and with operands mixed between the wasm memory and the heap; and on the wasm
// backend with every array above 2 GiB (offsets past 32-bit signed arithmetic).
import assert from 'node:assert/strict';
import { totalmem } from 'node:os';
import { after, it } from 'node:test';
import type { Backend } from '../src/core/Backend.js';
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { createWasmBackendNode } from '../src/node/createWasmBackendNode.js';
import { blasAvailable, createBlasBackend } from '../src/node/createBlasBackend.js';
import { describeKernelSpec, mixedAlloc } from './kernelSpec.js';

const why = 'OpenBLAS not installed (apt-get install libopenblas0-pthread)';
const made: Backend[] = [];
after(() => made.forEach((b) => b.dispose()));
const keep = async (make: () => Promise<Backend>): Promise<Backend | null> => {
  if (!blasAvailable()) return null;
  const b = await make();
  made.push(b);
  return b;
};

describeKernelSpec('blas, every array on the JavaScript heap (wasmBytes: 0)', () => keep(() => createBlasBackend({ wasmBytes: 0 })), why);
// 1 MiB of wasm memory fills during the first test; the spec's own mix of backend and plain arrays keeps every kernel
// seeing operands in both places after that.
describeKernelSpec('blas, spilling past 1 MiB, operands mixed', () => keep(() => createBlasBackend({ wasmBytes: 1 << 20 })), why, { alloc: mixedAlloc(11) });
describeKernelSpec('blas, no spilling, operands mixed with plain arrays', () => keep(() => createBlasBackend()), why, { alloc: mixedAlloc(12) });
// The wasm backend copies foreign operands through its memory instead: the same mixes.
describeKernelSpec('wasm, 2 threads, operands mixed with plain arrays', async () => {
  const b = await createWasmBackendNode({ threads: 2 });
  made.push(b);
  return b;
}, '', { alloc: mixedAlloc(13) });

// The whole kernel spec with every array of the spec above 2 GiB in the wasm memory, on two threads.
describeKernelSpec('wasm, 2 threads, every array above 2 GiB', async () => {
  const b = await createWasmBackendNode({ threads: 2 });
  made.push(b);
  b.alloc(540_000_000); // 2.16 GB below the spec's arrays, never touched (no resident memory)
  return b;
});

const inWasm = (a: Float32Array | Float64Array): boolean => a.buffer instanceof SharedArrayBuffer;

it('blas places arrays in the wasm memory up to wasmBytes, then on the heap; free gives the room back', { skip: !blasAvailable() && why }, async () => {
  const b = (await keep(() => createBlasBackend({ wasmBytes: 64 * 1024, threads: 1 })))!;
  const a = b.alloc(8192); // 32 KiB
  const c = b.alloc(8192); // 64 KiB in all: the budget
  const d = b.alloc(1);
  assert.ok(inWasm(a) && inWasm(c), 'the first 64 KiB are in the wasm memory');
  assert.ok(!inWasm(d), 'past the budget: on the heap');
  assert.ok(d.every((v) => v === 0) && d instanceof Float32Array);
  const inUse = b.memoryUsage().inUse;
  b.free(d); // the heap's: nothing to give back
  assert.equal(b.memoryUsage().inUse, inUse);
  b.free(a);
  const e = b.alloc(8192);
  assert.ok(inWasm(e), 'room given back by free is used again');
  assert.ok(e.every((v) => v === 0));
  // OpenBLAS multiplies a heap operand with wasm ones.
  b.free(c);
  const A = Float32Array.from({ length: 6 }, (_, i) => i + 1); // [2, 3] on the heap
  const B = b.alloc(6); // [3, 2]
  const C = b.alloc(4);
  assert.ok(inWasm(B) && inWasm(C));
  B.set([1, 0, 0, 1, 1, 1]);
  b.gemm(false, false, 2, 2, 3, A, B, C, false);
  assert.deepEqual(Array.from(C), [4, 5, 10, 11]);
});

it('blas holds what the machine holds: maxBytes is its memory; wasmBytes must be ≥ 0', { skip: !blasAvailable() && why }, async () => {
  const b = (await keep(() => createBlasBackend({ threads: 1 })))!;
  assert.equal(b.maxBytes, totalmem());
  await assert.rejects(createBlasBackend({ wasmBytes: -1 }), (e: unknown) => e instanceof NiceFlowError && /wasmBytes must be ≥ 0/.test(e.message));
});
