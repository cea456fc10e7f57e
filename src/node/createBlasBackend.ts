// The `blas` backend: OpenBLAS's cblas_sgemm through the koffi FFI (Node only) for matrix multiplies, on top of the
// wasm backend for everything else: arrays live in the wasm memory (koffi passes their pointers to OpenBLAS), and
// the memory-bound kernels (bias, ReLU, column sums, Adam) run as SIMD on two threads. With plain TypeScript for
// those, Adam alone took a third as long as all the matrix multiplies of a step. Arrays beyond what the wasm memory
// holds (4 GiB) live on the JavaScript heap, where OpenBLAS takes them just the same and the element-wise kernels
// are the reference ones: the backend holds any model the machine's memory can.
//
// When oneDNN is installed (Debian's libdnnl2, which PyTorch itself uses), its sgemm does the multiplies and its
// direct kernels the convolutions (createOneDnnConv.ts): on a 2-core AVX-512 Xeon its sgemm runs 260–330 GFLOP/s
// at the training shapes, OpenBLAS 0.3.21's 130–260 (and its idle threads spin into the next element-wise kernel:
// Adam took 25 ms a step behind OpenBLAS, 0.15 ms behind oneDNN's sleeping OpenMP threads).
import { createRequire } from 'node:module';
import { totalmem } from 'node:os';
import type { Backend } from '../core/Backend.js';
import { heapArray } from '../core/checkMemory.js';
import type { FloatArray } from '../core/FloatArray.js';
import { NiceFlowError } from '../core/NiceFlowError.js';
import { adamRef, addBiasRef, colSumRef, gateBackwardRef, gateForwardRef, gatherRef, reluMaskAddRef, im2colRef, logisticPriorRef, reluBackwardColSumRef, reluBackwardRef, scaleShiftForwardRef, scaleShiftInverseRef, scatterAddRef } from '../core/refKernels.js';
import { createOneDnnConv } from './createOneDnnConv.js';
import { createWasmBackendNode } from './createWasmBackendNode.js';
import { loadFirstLibrary } from './loadFirstLibrary.js';
import { loadOneDnn } from './loadOneDnn.js';
import { readCpuinfo, steerOpenBlasCoreType } from './openBlasCoreType.js';

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
  /** The kernels OpenBLAS runs ("SkylakeX", "Haswell", "Prescott"…), or "unknown" when it cannot say. */
  coreName: string;
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
  // Before the first load: OpenBLAS picks its kernels once, as it loads (see openBlasCoreType.ts).
  steerOpenBlasCoreType(process.env, readCpuinfo());
  const found = loadFirstLibrary(koffi, names);
  if (!found) throw new NiceFlowError(`OpenBLAS not found (${names[0]}): install it with \`apt-get install libopenblas0-pthread\` (Debian/Ubuntu)`);
  const { lib, path } = found;
  const sgemm = lib.func('void cblas_sgemm(int, int, int, int, int, int, float, const float *, int, const float *, int, float, _Inout_ float *, int)') as Sgemm;
  let setThreads: ((n: number) => void) | null = null;
  try {
    setThreads = lib.func('void openblas_set_num_threads(int)') as (n: number) => void;
  } catch {
    setThreads = null;
  }
  let coreName = 'unknown';
  try {
    coreName = String((lib.func('const char *openblas_get_corename()') as () => string)());
  } catch {
    coreName = 'unknown';
  }
  return { sgemm, setThreads, path, coreName };
}

/** The kernels the loaded OpenBLAS runs ("SkylakeX", "Haswell"…), for reports; null when it cannot be loaded. */
export function openBlasCoreName(): string | null {
  return blasAvailable() ? (cached as OpenBlas).coreName : null;
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

/** Options of {@link createBlasBackend}. */
export interface BlasBackendOptions {
  /** Threads of OpenBLAS and of the element-wise kernels (default: all cores). */
  threads?: number;
  /**
   * The most bytes of arrays kept in the wasm memory, where the element-wise kernels run as SIMD on all threads
   * (default: all the wasm memory can take, about 4 GiB less 64 MiB kept for the backend's own work areas). Arrays
   * that would take it past this live on the JavaScript heap instead. 0 puts every array there.
   */
  wasmBytes?: number;
  /**
   * Multiply and convolve with oneDNN (Debian's libdnnl2) when it is installed (default true): its sgemm and its
   * direct convolutions, on OpenMP threads that sleep when idle. false (or no oneDNN) multiplies with OpenBLAS and
   * builds convolutions from im2col columns and matrix products.
   */
  oneDnn?: boolean;
}

/** Room in the wasm memory kept for the backend's own areas (gemm scratch, index vectors, float64 outputs). */
const WASM_HEADROOM = 64 * 1024 * 1024;

/**
 * The OpenBLAS backend. Arrays are placed in the wasm memory while they fit in `wasmBytes` (a WebAssembly memory
 * holds at most 4 GiB), and on the JavaScript heap after that, so it holds models of any size the machine's memory
 * can take (`maxBytes` is the machine's memory). OpenBLAS multiplies any Float32Array in place, wherever it lives;
 * the element-wise kernels run as wasm SIMD when all their arrays are in the wasm memory, and as the reference
 * TypeScript kernels (src/core/refKernels.ts) when one is not (nothing is copied through the wasm memory).
 *
 * Why fill the wasm memory first rather than put large arrays on the heap: models that fit (MNIST, SVHN, CIFAR-10
 * presets) then run exactly as on the wasm memory alone, with Adam as SIMD on all threads (25M parameters: 18 ms,
 * against 120 ms for the TypeScript kernel). Past 4 GiB the placement hardly matters: on the tfd-like preset (4
 * couplings of 4 × 5000, 316M parameters, 4.7 GiB of weights, gradients and moments) the second moments land on the
 * heap, so Adam runs in TypeScript whatever the placement (2.5 s a step, of ~15 s of CPU time, nearly all of it
 * OpenBLAS), and a step costs the same CPU time with `wasmBytes: 0` (measured on 2 shared cores).
 */
export async function createBlasBackend(options: BlasBackendOptions = {}): Promise<Backend> {
  const blas = cached ?? loadOpenBlas();
  cached = blas;
  if (options.threads && blas.setThreads) blas.setThreads(options.threads);
  const dnn = options.oneDnn === false ? null : loadOneDnn();
  if (dnn && options.threads && dnn.setThreads) dnn.setThreads(options.threads);
  const conv = dnn ? createOneDnnConv(dnn) : undefined;
  const wanted = options.wasmBytes;
  if (wanted !== undefined && !(wanted >= 0)) throw new NiceFlowError(`blas backend: wasmBytes must be ≥ 0, got ${wanted}`);
  // A small budget needs only a small wasm memory (less address space reserved; tests force spilling this way).
  // (Twice the headroom: the backend's own fixed areas, gemm scratch and control block, take a little of it first.)
  const memoryLimit = wanted === undefined ? undefined : Math.min(2 ** 32, Math.ceil((wanted + 2 * WASM_HEADROOM) / 65536) * 65536);
  const base = await createWasmBackendNode({ threads: options.threads, memoryLimit });
  const wasmBudget = Math.min(wanted ?? Infinity, base.maxBytes - WASM_HEADROOM);
  let wasmArrayBytes = 0;
  const wasmArrays = new Map<number, number>(); // offset → bytes of the arrays placed in the wasm memory
  const f32 = (a: FloatArray): Float32Array => {
    if (!(a instanceof Float32Array)) throw new Error('the blas backend works on Float32Array only');
    return a;
  };
  const inWasm = base.owns;
  return {
    name: 'blas',
    threads: base.threads,
    dtype: 'float32',
    maxBytes: totalmem(),
    alloc(n: number): Float32Array {
      const bytes = n * 4;
      if (wasmArrayBytes + bytes <= wasmBudget) {
        const a = base.tryAlloc(n);
        if (a) {
          wasmArrayBytes += bytes;
          wasmArrays.set(a.byteOffset, bytes);
          return a;
        }
      }
      return heapArray(n, 'float32', 'blas') as Float32Array;
    },
    free(a: FloatArray): void {
      if (!inWasm(a)) return; // on the JavaScript heap: the garbage collector's
      base.free(a);
      const bytes = wasmArrays.get(a.byteOffset);
      if (bytes !== undefined) {
        wasmArrays.delete(a.byteOffset);
        wasmArrayBytes -= bytes;
      }
    },
    memoryUsage: () => base.memoryUsage(),
    gemm(transA, transB, M, N, K, A, B, C, accumulate) {
      if (M === 0 || N === 0) return;
      if (K === 0) {
        if (!accumulate) C.fill(0, 0, M * N);
        return;
      }
      // Row-major leading dimensions are the stored row lengths.
      const lda = transA ? M : K;
      const ldb = transB ? K : N;
      if (dnn) {
        const status = dnn.sgemm(transA ? 84 : 78, transB ? 84 : 78, M, N, K, 1, f32(A), lda, f32(B), ldb, accumulate ? 1 : 0, f32(C), N);
        if (status !== 0) throw new NiceFlowError(`oneDNN sgemm failed (status ${status}) for ${M}×${K} · ${K}×${N}`);
        return;
      }
      blas.sgemm(ROW_MAJOR, transA ? TRANS : NO_TRANS, transB ? TRANS : NO_TRANS, M, N, K, 1, f32(A), lda, f32(B), ldb, accumulate ? 1 : 0, f32(C), N);
    },
    addBias(y, b, rows, cols, relu) {
      if (inWasm(y) && inWasm(b)) base.addBias(y, b, rows, cols, relu);
      else addBiasRef(y, b, rows, cols, relu);
    },
    reluBackward(dy, y, n) {
      if (inWasm(dy) && inWasm(y)) base.reluBackward(dy, y, n);
      else reluBackwardRef(dy, y, n);
    },
    reluBackwardColSum(dy, y, rows, cols, out) {
      if (inWasm(dy) && inWasm(y) && inWasm(out)) base.reluBackwardColSum(dy, y, rows, cols, out);
      else reluBackwardColSumRef(dy, y, rows, cols, out);
    },
    colSum(dy, rows, cols, out, accumulate) {
      if (inWasm(dy) && inWasm(out)) base.colSum(dy, rows, cols, out, accumulate);
      else colSumRef(dy, rows, cols, out, accumulate);
    },
    adam(p, g, m, v, n, lr, beta1, beta2, eps, step) {
      if (inWasm(p) && inWasm(g) && inWasm(m) && inWasm(v)) base.adam(p, g, m, v, n, lr, beta1, beta2, eps, step);
      else adamRef(p, g, m, v, n, lr, beta1, beta2, eps, step);
    },
    gather(x, n, D, idx, out) {
      if (inWasm(x) && inWasm(out)) base.gather(x, n, D, idx, out);
      else gatherRef(x, n, D, idx, out);
    },
    scatterAdd(v, n, D, idx, x) {
      if (inWasm(v) && inWasm(x)) base.scatterAdd(v, n, D, idx, x);
      else scatterAddRef(v, n, D, idx, x);
    },
    logisticPrior(h, n, D, weight, logProb, dh) {
      if (inWasm(h) && inWasm(dh)) base.logisticPrior(h, n, D, weight, logProb, dh);
      else logisticPriorRef(h, n, D, weight, logProb, dh);
    },
    scaleShiftForward(h, x, y, logDet, saved, n, D, idx, shift, bound) {
      if (inWasm(h) && inWasm(x) && inWasm(y) && inWasm(logDet) && inWasm(saved)) base.scaleShiftForward(h, x, y, logDet, saved, n, D, idx, shift, bound);
      else scaleShiftForwardRef(h, x, y, logDet, saved, n, D, idx, shift, bound);
    },
    scaleShiftInverse(h, x, n, D, idx, shift, bound) {
      if (inWasm(h) && inWasm(x)) base.scaleShiftInverse(h, x, n, D, idx, shift, bound);
      else scaleShiftInverseRef(h, x, n, D, idx, shift, bound);
    },
    gateForward(w, h, rows, F, save) {
      if (inWasm(w) && inWasm(h)) base.gateForward(w, h, rows, F, save);
      else gateForwardRef(w, h, rows, F, save);
    },
    gateBackward(w, dh, dw, rows, F) {
      if (inWasm(w) && inWasm(dh) && inWasm(dw)) base.gateBackward(w, dh, dw, rows, F);
      else gateBackwardRef(w, dh, dw, rows, F);
    },
    reluMaskAdd(src, mask, dst, n, accumulate) {
      if (inWasm(src) && inWasm(mask) && inWasm(dst)) base.reluMaskAdd(src, mask, dst, n, accumulate);
      else reluMaskAddRef(src, mask, dst, n, accumulate);
    },
    im2col(x, cols, m, H, W, C, k, back) {
      if (inWasm(x) && inWasm(cols)) base.im2col(x, cols, m, H, W, C, k, back);
      else im2colRef(x, cols, m, H, W, C, k, back);
    },
    conv,
    dispose: () => {
      conv?.dispose();
      base.dispose();
    },
  };
}
