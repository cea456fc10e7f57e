import assert from 'node:assert/strict';
import { it } from 'node:test';
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { blasAvailable, createBlasBackend, loadOpenBlas } from '../src/node/createBlasBackend.js';
import { describeKernelSpec } from './kernelSpec.js';

describeKernelSpec('blas', async () => (blasAvailable() ? await createBlasBackend() : null), 'OpenBLAS not installed (apt-get install libopenblas0-pthread)');

it('a missing OpenBLAS is a clear NiceFlowError saying what to install', () => {
  assert.throws(() => loadOpenBlas(['libdoes-not-exist.so.7']), (e: unknown) => e instanceof NiceFlowError && /libdoes-not-exist.*apt-get install libopenblas0-pthread/.test(e.message));
});
