import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { it } from 'node:test';
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { blasAvailable, createBlasBackend, loadOpenBlas } from '../src/node/createBlasBackend.js';
import { describeKernelSpec } from './kernelSpec.js';

describeKernelSpec('blas', async () => (blasAvailable() ? await createBlasBackend() : null), 'OpenBLAS not installed (apt-get install libopenblas0-pthread)');

it('a missing OpenBLAS is a clear NiceFlowError saying what to install', () => {
  assert.throws(() => loadOpenBlas(['libdoes-not-exist.so.7']), (e: unknown) => e instanceof NiceFlowError && /libdoes-not-exist.*apt-get install libopenblas0-pthread/.test(e.message));
});

// The element-wise kernels (Adam above all) run on the wasm backend's threads: all cores by default. The blas
// backend used to pass `threads: undefined` through, which silently meant one thread (Adam 30% slower).
it('the blas backend computes on all cores by default, and on the number asked for', { skip: !blasAvailable() && 'OpenBLAS not installed' }, async () => {
  const all = await createBlasBackend();
  const one = await createBlasBackend({ threads: 1 });
  try {
    assert.equal(all.threads, availableParallelism());
    assert.equal(one.threads, 1);
  } finally {
    all.dispose();
    one.dispose();
  }
});
