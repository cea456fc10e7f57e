import type { Backend, BackendMemoryUsage } from '../Backend.js';
import { formatBytes, memoryAdvice } from '../checkMemory.js';
import type { FloatArray } from '../FloatArray.js';
import { NiceFlowError } from '../NiceFlowError.js';
import { createWasmConv } from './createWasmConv.js';
import type { Kernels } from './Kernels.js';
import { KERNELS_RELAXED, KERNELS_SIMD } from './kernelsWasm.generated.js';
import { OP, WORKER_MAIN } from './wasmWorkerSource.js';
import { WasmAllocator } from './WasmAllocator.js';

// The `wasm` backend: SIMD kernels compiled from asm/kernels.ts, on one shared WebAssembly.Memory.
// Arrays from `alloc` live in that memory and are passed by pointer; other arrays are copied in and out.
// Memory: a best-fit free-list allocator over the wasm memory (blocks of 64-byte multiples, neighbours coalesced,
// the highest free block handed back to the bump pointer), so `free` makes memory reusable and a program that frees
// or reuses what it allocates stays flat. Offsets reach 4 GiB: all address arithmetic is in doubles, never `| 0`
// or `& ~63` (32-bit, negative past 2 GiB).
// Convolutions run on kernels of their own (`conv`, createWasmConv.ts), not on im2col + gemm.
// With threads > 1, large matrix multiplies, convolutions and Adam are split by rows among the caller and worker
// threads, synchronised with Atomics on a control block (the caller blocks in Atomics.wait: in a browser, run the
// model in a Worker, not on the page's main thread).

/** Starts one worker running `WORKER_MAIN(init)`; supplied by the platform (see src/node/createWasmBackendNode.ts). */
export type SpawnWorker = (source: string, init: WorkerInit) => {
  /** Stops the worker (when the backend is disposed). */
  terminate(): void;
};

/** What a worker receives. */
export interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  ctrl: number;
  index: number;
  threads: number;
  /** The control block's generation counter when the worker was spawned. */
  generation: number;
}

/** Settings of the wasm backend (createWasmBackend). */
export interface WasmBackendOptions {
  /** Threads in all, the caller included (default 1; more need `spawnWorker`). */
  threads?: number;
  /** Use relaxed-SIMD fused multiply-add when the engine accepts it (default true). */
  relaxed?: boolean;
  spawnWorker?: SpawnWorker;
  /**
   * Size limit of the wasm memory in bytes (rounded down to 64 KiB pages; default and most: 4 GiB, the wasm32
   * limit). A smaller one reserves less address space, and lets tests reach out-of-memory quickly.
   */
  memoryLimit?: number;
}

/** The wasm backend, with what the blas backend (which builds on it) needs to know about its memory. */
export interface WasmBackend extends Backend {
  /** True when `a` lives in this backend's memory (kernels then take it by pointer, without copies). */
  owns(a: FloatArray): boolean;
  /** Like `alloc`, but null instead of an error when the memory cannot hold `length` more floats. */
  tryAlloc(length: number): Float32Array | null;
}

const PAGE = 65536;
const MAX_PAGES = 65536; // 4 GiB, the wasm32 limit
/** The control block's word that holds the backend's id (see `owns`); the workers use words 0–47. */
const ID_WORD = 63;
let nextId = (Math.random() * 0x7fffffff) | 1;
const PARALLEL_MIN_FLOPS = 2e6;

function decodeBase64(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** copyBack when no array was staged. */
function noCopy(_i: number): void {}

/** True when this engine accepts the relaxed-SIMD kernels. */
export function relaxedSimdSupported(): boolean {
  return WebAssembly.validate(decodeBase64(KERNELS_RELAXED));
}

/** Creates the wasm backend. */
export async function createWasmBackend(options: WasmBackendOptions = {}): Promise<WasmBackend> {
  const relaxed = (options.relaxed ?? true) && relaxedSimdSupported();
  const bytes = decodeBase64(relaxed ? KERNELS_RELAXED : KERNELS_SIMD);
  if (!WebAssembly.validate(bytes)) throw new Error('this WebAssembly engine does not support SIMD and threads (shared memory)');
  const module = await WebAssembly.compile(bytes);
  const threads = options.spawnWorker ? Math.max(1, Math.floor(options.threads ?? 1)) : 1;
  const maxPages = Math.max(2, Math.min(MAX_PAGES, Math.floor((options.memoryLimit ?? MAX_PAGES * PAGE) / PAGE)));
  const memory = new WebAssembly.Memory({ initial: 1, maximum: maxPages, shared: true });
  const instance = await WebAssembly.instantiate(module, { env: { memory, abort: () => { throw new Error('wasm abort'); } } });
  const k = instance.exports as unknown as Kernels;
  const scratchBytes = k.SCRATCH_BYTES.value as number;

  // Which buffers are this memory: V8 may hand out a new SharedArrayBuffer object for the same memory at any time
  // (seen in Node 20 after another shared memory of the same thread grew), so identity alone cannot tell: arrays
  // allocated after that were taken for foreign ones and copied. The control block holds this backend's id; a
  // shared buffer that has it there is this memory, and is remembered.
  const known = new WeakSet<ArrayBufferLike>([memory.buffer]);
  const heap = new WasmAllocator(memory, maxPages);
  const roundUp = WasmAllocator.roundUp;
  const tryReserve = (bytes: number, zero: boolean): number => heap.reserve(bytes, zero);
  const limit = heap.limit;
  const reserve = (bytes: number, zero = false): number => {
    const ptr = tryReserve(bytes, zero);
    if (ptr < 0) {
      throw new NiceFlowError(
        `the wasm backend is out of memory: ${formatBytes(roundUp(bytes))} more were asked for with ${formatBytes(heap.inUse)} in use, ` +
          `and it holds at most ${formatBytes(limit - reservedAtStart)}; ${memoryAdvice({ name: 'wasm' })}`,
      );
    }
    return ptr;
  };
  const release = (ptr: number): void => heap.release(ptr);
  let reservedAtStart = 0;
  const ctrl = reserve(256, true);
  const scratch = reserve(scratchBytes * threads);
  reservedAtStart = heap.top;
  const maxBytes = limit - reservedAtStart;
  const ctl = new Int32Array(memory.buffer, ctrl, 64);
  const id = nextId++ | 0 || nextId++;
  ctl[ID_WORD] = id;
  const fl = new Float32Array(memory.buffer, ctrl + 128, 16);

  // Arrays from elsewhere are staged through a reusable area (correct, but slower than allocated ones).
  let stage = 0;
  let stageBytes = 0;
  const staging = (bytes: number): number => {
    if (bytes > stageBytes) {
      const want = Math.max(bytes, 2 * stageBytes);
      if (stageBytes) release(stage);
      stageBytes = 0;
      stage = reserve(want);
      stageBytes = want;
    }
    return stage;
  };
  // Index vectors and float64 outputs are small (one row's worth): each has its own reusable area.
  let idxArea = 0;
  let idxBytes = 0;
  let idxView: Int32Array<ArrayBufferLike> = new Int32Array(0);
  const indices = (idx: Int32Array): number => {
    if (idx.byteLength > idxBytes) {
      const want = Math.max(idx.byteLength, 2 * idxBytes);
      if (idxBytes) release(idxArea);
      idxBytes = 0;
      idxArea = reserve(want);
      idxBytes = want;
      idxView = new Int32Array(memory.buffer, idxArea, want / 4);
    }
    idxView.set(idx);
    return idxArea;
  };
  let f64Area = 0;
  let f64Bytes = 0;
  const f64Out = (n: number): number => {
    if (n * 8 > f64Bytes) {
      const want = Math.max(n * 8, 2 * f64Bytes);
      if (f64Bytes) release(f64Area);
      f64Bytes = 0;
      f64Area = reserve(want);
      f64Bytes = want;
    }
    return f64Area;
  };
  const view = (ptr: number, n: number): Float32Array => new Float32Array(memory.buffer, ptr, n);
  const owns = (a: FloatArray): boolean => {
    if (!(a instanceof Float32Array)) return false;
    const buf = a.buffer;
    if (known.has(buf)) return true;
    if (!(buf instanceof SharedArrayBuffer) || buf.byteLength < ctrl + 256 || new Int32Array(buf, ctrl + ID_WORD * 4, 1)[0] !== id) return false;
    known.add(buf);
    return true;
  };
  /** Pointers for the arrays (length n each); copies in the ones not in wasm memory. */
  const pointers = (arrays: FloatArray[], lengths: number[]): { ptrs: number[]; copyBack: (i: number) => void } => {
    // The usual case, every array allocated here: no staging, nothing to copy back, and no per-call closures (a
    // small model makes ~200 backend calls a step, so their bookkeeping shows next to the kernels).
    let allOwned = true;
    for (let i = 0; i < arrays.length && allOwned; i++) allOwned = owns(arrays[i]);
    if (allOwned) {
      const ptrs = new Array<number>(arrays.length);
      for (let i = 0; i < arrays.length; i++) ptrs[i] = arrays[i].byteOffset;
      return { ptrs, copyBack: noCopy };
    }
    const foreign = arrays.map((a) => !owns(a));
    let total = 0;
    const offsets = lengths.map((n, i) => {
      const o = total;
      if (foreign[i]) total += roundUp(n * 4);
      return o;
    });
    const base = total ? staging(total) : 0;
    const ptrs = arrays.map((a, i) => {
      if (!foreign[i]) return a.byteOffset;
      const p = base + offsets[i];
      view(p, lengths[i]).set(a.subarray(0, lengths[i]));
      return p;
    });
    return { ptrs, copyBack: (i) => { if (foreign[i]) arrays[i].set(view(ptrs[i], lengths[i])); } };
  };

  const workers: Array<{ terminate(): void }> = [];
  for (let i = 1; i < threads; i++) workers.push(options.spawnWorker!(`(${WORKER_MAIN})`, { module, memory, ctrl, index: i, threads, generation: Atomics.load(ctl, 0) }));
  /** Runs the job described in the control block on every thread; the caller takes share 0. */
  // A worker that never answers (it failed to start, or was terminated) must not block the caller forever: the
  // workers' shares are no larger than the caller's, so waiting far longer than the caller took means one is gone.
  const parallel = (ownShare: () => void): void => {
    Atomics.store(ctl, 1, 0);
    Atomics.add(ctl, 0, 1);
    Atomics.notify(ctl, 0);
    const t0 = Date.now();
    ownShare();
    const limit = Math.max(30_000, 100 * (Date.now() - t0));
    const waitStart = Date.now();
    for (let done = Atomics.load(ctl, 1); done < threads - 1; done = Atomics.load(ctl, 1)) {
      if (Date.now() - waitStart > limit) {
        throw new Error(`wasm backend: ${threads - 1 - done} worker thread(s) did not finish a job within ${Math.round(limit / 1000)} s; use threads: 1`);
      }
      Atomics.wait(ctl, 1, done, 1000);
    }
  };
  const share = (lo: number, hi: number, align: number): [number, number] => {
    const per = Math.ceil((hi - lo) / threads / align) * align;
    return [lo, Math.min(hi, lo + per)];
  };

  const conv = createWasmConv({ kernels: k, threads, ctl, reserve: (bytes) => reserve(bytes), release, pointers, parallel, share });

  return {
    name: 'wasm',
    threads,
    dtype: 'float32',
    maxBytes,
    alloc(n: number): Float32Array {
      return view(reserve(n * 4, true), n);
    },
    tryAlloc(n: number): Float32Array | null {
      const ptr = tryReserve(n * 4, true);
      return ptr < 0 ? null : view(ptr, n);
    },
    free(a: FloatArray): void {
      if (owns(a)) release(a.byteOffset);
    },
    owns,
    memoryUsage(): BackendMemoryUsage {
      return { inUse: heap.inUse, reserved: memory.buffer.byteLength };
    },
    gemm(transA, transB, M, N, K, A, B, C, accumulate) {
      if (M === 0 || N === 0) return;
      if (K === 0) {
        if (!accumulate) C.fill(0, 0, M * N);
        return;
      }
      const { ptrs: [a, b, c], copyBack } = pointers([A, B, C], [M * K, K * N, M * N]);
      const ta = transA ? 1 : 0, tb = transB ? 1 : 0, acc = accumulate ? 1 : 0;
      // Split C by columns when it is wider than tall (each thread then packs only its share of op(B)), else by rows.
      const byCols = N > M;
      if (threads > 1 && 2 * M * N * K >= PARALLEL_MIN_FLOPS && (byCols ? N : M) >= 8 * threads) {
        ctl[2] = OP.gemm;
        ctl.set([ta, tb, M, N, K, a, b, c, acc, scratch, byCols ? 1 : 0, scratchBytes], 3);
        if (byCols) {
          const [lo, hi] = share(0, N, 8);
          parallel(() => k.gemm(ta, tb, M, N, K, a, b, c, acc, 0, M, lo, hi, scratch));
        } else {
          const [lo, hi] = share(0, M, 4);
          parallel(() => k.gemm(ta, tb, M, N, K, a, b, c, acc, lo, hi, 0, N, scratch));
        }
      } else {
        k.gemm(ta, tb, M, N, K, a, b, c, acc, 0, M, 0, N, scratch);
      }
      copyBack(2);
    },
    addBias(y, b, rows, cols, relu) {
      const { ptrs: [py, pb], copyBack } = pointers([y, b], [rows * cols, cols]);
      k.addBias(py, pb, cols, relu ? 1 : 0, 0, rows);
      copyBack(0);
    },
    reluBackward(dy, y, n) {
      const { ptrs: [pdy, py], copyBack } = pointers([dy, y], [n, n]);
      k.reluBackward(pdy, py, 0, n);
      copyBack(0);
    },
    reluBackwardColSum(dy, y, rows, cols, out) {
      const { ptrs: [pdy, py, po], copyBack } = pointers([dy, y, out], [rows * cols, rows * cols, cols]);
      k.reluBackwardColSum(pdy, py, rows, cols, po, 0, cols);
      copyBack(0);
      copyBack(2);
    },
    colSum(dy, rows, cols, out, accumulate) {
      const { ptrs: [pdy, po], copyBack } = pointers([dy, out], [rows * cols, cols]);
      k.colSum(pdy, rows, cols, po, accumulate ? 1 : 0, 0, cols);
      copyBack(1);
    },
    adam(p, g, m, v, n, lr, beta1, beta2, eps, step) {
      const { ptrs: [pp, pg, pm, pv], copyBack } = pointers([p, g, m, v], [n, n, n, n]);
      const a = lr / (1 - Math.pow(beta1, step));
      const sb2 = 1 / Math.sqrt(1 - Math.pow(beta2, step));
      if (threads > 1 && n >= 65536) {
        ctl[2] = OP.adam;
        ctl.set([pp, pg, pm, pv, n], 3);
        fl.set([a, beta1, beta2, eps, sb2]);
        const [lo, hi] = share(0, n, 4);
        parallel(() => k.adam(pp, pg, pm, pv, a, beta1, beta2, eps, sb2, lo, hi));
      } else {
        k.adam(pp, pg, pm, pv, a, beta1, beta2, eps, sb2, 0, n);
      }
      copyBack(0);
      copyBack(2);
      copyBack(3);
    },
    gather(x, n, D, idx, out) {
      const { ptrs: [px, po], copyBack } = pointers([x, out], [n * D, n * idx.length]);
      k.gather(px, n, D, indices(idx), idx.length, po);
      copyBack(1);
    },
    scatterAdd(v, n, D, idx, x) {
      const { ptrs: [pv, px], copyBack } = pointers([v, x], [n * idx.length, n * D]);
      k.scatterAdd(pv, n, D, indices(idx), idx.length, px);
      copyBack(1);
    },
    logisticPrior(h, n, D, weight, logProb, dh) {
      const { ptrs: [ph, pdh], copyBack } = pointers([h, dh], [n * D, n * D]);
      const lp = f64Out(n);
      k.logisticPrior(ph, n, D, weight, lp, pdh);
      logProb.set(new Float64Array(memory.buffer, lp, n));
      copyBack(1);
    },
    scaleShiftForward(h, x, y, logDet, saved, n, D, idx, shift, bound) {
      const du = idx.length, G = shift ? 2 : 1;
      const { ptrs: [ph, px, py, pl, ps], copyBack } = pointers([h, x, y, logDet, saved], [n * G * du, n * D, n * D, n, n * 3 * du]);
      k.scaleShiftForward(ph, px, py, pl, ps, n, D, indices(idx), du, shift ? 1 : 0, bound);
      copyBack(2);
      copyBack(3);
      copyBack(4);
    },
    gateForward(w, h, rows, F, save) {
      const { ptrs: [pw, ph], copyBack } = pointers([w, h], [rows * 2 * F, rows * F]);
      k.gateForward(pw, ph, F, save ? 1 : 0, 0, rows);
      if (save) copyBack(0);
      copyBack(1);
    },
    gateBackward(w, dh, dw, rows, F) {
      const { ptrs: [pw, pdh, pdw], copyBack } = pointers([w, dh, dw], [rows * 2 * F, rows * F, rows * 2 * F]);
      k.gateBackward(pw, pdh, pdw, F, 0, rows);
      copyBack(2);
    },
    reluMaskAdd(src, mask, dst, n, accumulate) {
      const { ptrs: [ps, pm, pd], copyBack } = pointers([src, mask, dst], [n, n, n]);
      k.reluMaskAdd(ps, pm, pd, accumulate ? 1 : 0, 0, n);
      copyBack(2);
    },
    scaleShiftInverse(h, x, n, D, idx, shift, bound) {
      const du = idx.length, G = shift ? 2 : 1;
      const { ptrs: [ph, px], copyBack } = pointers([h, x], [n * G * du, n * D]);
      k.scaleShiftInverse(ph, px, n, D, indices(idx), du, shift ? 1 : 0, bound);
      copyBack(1);
    },
    im2col(x, cols, m, H, W, C, ksize, back) {
      const { ptrs: [px, pc], copyBack } = pointers([x, cols], [m * H * W * C, m * H * W * C * ksize * ksize]);
      const bk = back ? 1 : 0;
      // Split by whole images: col2im then adds into disjoint pixels.
      if (threads > 1 && m >= threads && m * H * W * C * ksize * ksize >= 65536) {
        ctl[2] = OP.im2col;
        ctl.set([px, pc, H, W, C, ksize, bk, m], 3);
        const [lo, hi] = share(0, m, 1);
        parallel(() => k.im2col(px, pc, H, W, C, ksize, bk, lo, hi));
      } else {
        k.im2col(px, pc, H, W, C, ksize, bk, 0, m);
      }
      copyBack(back ? 0 : 1);
    },
    conv,
    dispose() {
      if (workers.length) {
        ctl[2] = OP.exit;
        Atomics.add(ctl, 0, 1);
        Atomics.notify(ctl, 0);
        for (const w of workers) w.terminate();
        workers.length = 0;
      }
    },
  };
}
