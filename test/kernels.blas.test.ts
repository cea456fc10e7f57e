import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { it } from 'node:test';
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { blasAvailable, createBlasBackend, loadOpenBlas, openBlasCoreName } from '../src/node/createBlasBackend.js';
import { openBlasCoreTypeFor, readCpuinfo, steerOpenBlasCoreType } from '../src/node/openBlasCoreType.js';
import { describeKernelSpec } from './kernelSpec.js';

// Read before anything loads OpenBLAS (loading sets it when the user has not).
const userCoreType = process.env.OPENBLAS_CORETYPE;

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

// Debian's OpenBLAS 0.3.21 takes CPUs newer than itself for a "Prescott" and runs SSE3 kernels: 61 GFLOP/s on an
// AVX-512 Xeon where its SkylakeX kernels reach 248. The backend names the kernels before the library loads.
it('OpenBLAS is steered to the kernels an Intel CPU supports, and other CPUs are left to it', () => {
  const intel = (flags: string) => `processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 207\nflags\t\t: ${flags}\n\nprocessor\t: 1\n`;
  assert.equal(openBlasCoreTypeFor(intel('fpu sse2 avx avx2 fma avx512f avx512dq avx512bw avx512vl avx512_bf16')), 'SkylakeX');
  assert.equal(openBlasCoreTypeFor(intel('fpu sse2 avx avx2 fma avx512f')), 'Haswell', 'AVX-512 without BW/DQ/VL is not enough for SkylakeX');
  assert.equal(openBlasCoreTypeFor(intel('fpu sse2 avx')), null);
  assert.equal(openBlasCoreTypeFor(intel('fpu sse2 avx avx2 fma avx512f avx512dq avx512bw avx512vl').replace('GenuineIntel', 'AuthenticAMD')), null);
  assert.equal(openBlasCoreTypeFor(''), null);
  const env: Record<string, string | undefined> = { OPENBLAS_CORETYPE: 'Zen' };
  assert.equal(steerOpenBlasCoreType(env, intel('avx2 fma avx512f avx512dq avx512bw avx512vl')), 'Zen', "the user's choice stands");
  const unset: Record<string, string | undefined> = {};
  assert.equal(steerOpenBlasCoreType(unset, intel('avx2 fma')), 'Haswell');
  assert.equal(unset.OPENBLAS_CORETYPE, 'Haswell');
});

it('the loaded OpenBLAS runs the kernels chosen for this CPU', { skip: (!blasAvailable() && 'OpenBLAS not installed') || (userCoreType !== undefined && 'OPENBLAS_CORETYPE set by the user') }, () => {
  const wanted = openBlasCoreTypeFor(readCpuinfo());
  const name = openBlasCoreName();
  assert.ok(name, 'a core name');
  if (wanted !== null) assert.equal(name.toLowerCase(), wanted.toLowerCase());
});
