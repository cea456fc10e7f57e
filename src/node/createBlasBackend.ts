// The `blas` backend: OpenBLAS's cblas_sgemm through the koffi FFI (Node only) for matrix multiplies, on top of the
// wasm backend for everything else: arrays live in the wasm memory (koffi passes their pointers to OpenBLAS), and
// the memory-bound kernels (bias, ReLU, column sums, Adam) run as SIMD on two threads. With plain TypeScript for
// those, Adam alone took a third as long as all the matrix multiplies of a step.
import { createRequire } from 'node:module';
import type { Backend } from '../core/Backend.js';
import type { FloatArray } from '../core/FloatArray.js';
import { NiceFlowError } from '../core/NiceFlowError.js';
import { createWasmBackendNode } from './createWasmBackendNode.js';

const ROW_MAJOR = 101;
const NO_TRANS = 111;
const TRANS = 112;

/** Library names tried in order (Debian's libopenblas0-pthread provides the first). */
export const OPENBLAS_NAMES = ['libopenblas.so.0', 'libopenblas.so', 'libopenblasp.so.0'];

type Sgemm = (
  order: number, ta: number, tb: number, M: number, N: number, K: number, alpha: number,
  A: Float32Array, lda: number, B: Float32Array, ldb: number, beta: number, C: Float32Array, ldc: number,
) => void;

interface OpenBlas {
  sgemm: Sgemm;
  setThreads: ((n: number) => void) | null;
  path: string;
}

let cached: OpenBlas | null | undefined;

/**
 * Loads the first OpenBLAS among `names`; throws NiceFlowError saying what to install when none loads
 * (or when koffi itself cannot load on this platform).
 */
export function loadOpenBlas(names: string[] = OPENBLAS_NAMES): OpenBlas {
  let koffi: typeof import('koffi');
  try {
    koffi = createRequire(import.meta.url)('koffi');
  } catch (e) {
    throw new NiceFlowError(`the blas backend needs the koffi package, which did not load: ${(e as Error).message}`);
  }
  for (const path of names) {
    let lib;
    try {
      lib = koffi.load(path);
    } catch {
      continue;
    }
    const sgemm = lib.func('void cblas_sgemm(int, int, int, int, int, int, float, const float *, int, const float *, int, float, _Inout_ float *, int)') as Sgemm;
    let setThreads: ((n: number) => void) | null = null;
    try {
      setThreads = lib.func('void openblas_set_num_threads(int)') as (n: number) => void;
    } catch {
      setThreads = null;
    }
    return { sgemm, setThreads, path };
  }
  throw new NiceFlowError(`OpenBLAS not found (${names[0]}): install it with \`apt-get install libopenblas0-pthread\` (Debian/Ubuntu)`);
}

/** True when OpenBLAS can be loaded here. */
export function blasAvailable(): boolean {
  if (cached === undefined) {
    try {
      cached = loadOpenBlas();
    } catch {
      cached = null;
    }
  }
  return cached !== null;
}

/** The OpenBLAS backend; `threads` sets OpenBLAS's and the element-wise kernels' threads (default: all cores). */
export async function createBlasBackend(options: { threads?: number } = {}): Promise<Backend> {
  const blas = cached ?? loadOpenBlas();
  cached = blas;
  if (options.threads && blas.setThreads) blas.setThreads(options.threads);
  const base = await createWasmBackendNode({ threads: options.threads });
  const f32 = (a: FloatArray): Float32Array => {
    if (!(a instanceof Float32Array)) throw new Error('the blas backend works on Float32Array only');
    return a;
  };
  return {
    ...base,
    name: 'blas',
    gemm(transA, transB, M, N, K, A, B, C, accumulate) {
      if (M === 0 || N === 0) return;
      if (K === 0) {
        if (!accumulate) C.fill(0, 0, M * N);
        return;
      }
      // Row-major leading dimensions are the stored row lengths.
      const lda = transA ? M : K;
      const ldb = transB ? K : N;
      blas.sgemm(ROW_MAJOR, transA ? TRANS : NO_TRANS, transB ? TRANS : NO_TRANS, M, N, K, 1, f32(A), lda, f32(B), ldb, accumulate ? 1 : 0, f32(C), N);
    },
  };
}
