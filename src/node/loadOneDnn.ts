// oneDNN (Debian's libdnnl2, version 2.x: the library PyTorch's CPU convolutions run on) through the koffi FFI:
// the C functions the blas backend uses, declared once per process. Handles are opaque pointers; memory and
// operation descriptors are plain structs that the library fills in buffers we own (their sizes for 2.6, measured
// with sizeof: dnnl_memory_desc_t 696 bytes, dnnl_convolution_desc_t 5,976; the buffers below leave room).
//
// Threads: oneDNN runs on OpenMP (libgomp). libgomp reads OMP_WAIT_POLICY when it loads; it is set to PASSIVE here
// (unless the user set it) for two measured reasons: with the default (spin, then sleep) an idle worker thread
// that is still spinning when Node exits crashes the process (SIGSEGV in 2 of 4 runs, 0 of 20 with PASSIVE), and
// threads that spin while another process wants the core are what makes throughput collapse under contention.
import { createRequire } from 'node:module';
import { NiceFlowError } from '../core/NiceFlowError.js';
import { loadFirstLibrary } from './loadFirstLibrary.js';

/** Library names tried in order (Debian's libdnnl2 provides the first; the 2.x C API is what is declared). */
export const ONEDNN_NAMES = ['libdnnl.so.2'];

/** Bytes for one dnnl_memory_desc_t (696 in 2.6). */
export const MD_BYTES = 1024;
/** Bytes for one operation descriptor (dnnl_convolution_desc_t is 5,976 in 2.6). */
export const OP_DESC_BYTES = 8192;

/** An opaque oneDNN handle (engine, stream, primitive, primitive descriptor, memory, attributes). */
export type Handle = unknown;
type Out = [Handle];
type Ptr = ArrayBufferView | Handle | null;

/** The C functions used (status 0 is success; `check` turns the rest into errors). */
export interface OneDnn {
  path: string;
  engine: Handle;
  stream: Handle;
  sgemm(ta: number, tb: number, M: number, N: number, K: number, alpha: number, A: Float32Array, lda: number, B: Float32Array, ldb: number, beta: number, C: Float32Array, ldc: number): number;
  mdInitByTag(md: Uint8Array, ndims: number, dims: BigInt64Array, dtype: number, tag: number): number;
  convForwardDescInit(desc: Uint8Array, prop: number, alg: number, src: Ptr, w: Ptr, b: Ptr, dst: Ptr, strides: BigInt64Array, padL: BigInt64Array, padR: BigInt64Array): number;
  convBackwardDataDescInit(desc: Uint8Array, alg: number, diffSrc: Ptr, w: Ptr, diffDst: Ptr, strides: BigInt64Array, padL: BigInt64Array, padR: BigInt64Array): number;
  convBackwardWeightsDescInit(desc: Uint8Array, alg: number, src: Ptr, diffW: Ptr, diffB: Ptr, diffDst: Ptr, strides: BigInt64Array, padL: BigInt64Array, padR: BigInt64Array): number;
  pdCreate(out: Out, opDesc: Ptr, attr: Ptr, engine: Handle, hint: Ptr): number;
  pdQueryMd(pd: Handle, what: number, index: number): Handle;
  pdQueryString(pd: Handle, what: number, index: number, out: [string | null]): number;
  pdDestroy(pd: Handle): number;
  mdEqual(a: Ptr, b: Ptr): number;
  mdSize(md: Ptr): number | bigint;
  memoryCreate(out: Out, md: Ptr, engine: Handle, handle: Ptr): number;
  memorySetHandle(mem: Handle, data: Ptr): number;
  memoryDestroy(mem: Handle): number;
  primitiveCreate(out: Out, pd: Handle): number;
  primitiveExecute(prim: Handle, stream: Handle, nargs: number, args: Array<{ arg: number; memory: Handle }>): number;
  primitiveDestroy(prim: Handle): number;
  reorderPdCreate(out: Out, srcMd: Ptr, srcEngine: Handle, dstMd: Ptr, dstEngine: Handle, attr: Ptr): number;
  attrCreate(out: Out): number;
  attrSetPostOps(attr: Handle, po: Handle): number;
  attrDestroy(attr: Handle): number;
  postOpsCreate(out: Out): number;
  postOpsAppendEltwise(po: Handle, scale: number, alg: number, alpha: number, beta: number): number;
  postOpsDestroy(po: Handle): number;
  streamWait(stream: Handle): number;
  /** omp_set_num_threads of the libgomp that oneDNN runs on, when it can be reached. */
  setThreads: ((n: number) => void) | null;
}

/** Throws a NiceFlowError naming the call when a oneDNN status is not success. */
export function check(status: number, what: string): void {
  if (status !== 0) throw new NiceFlowError(`oneDNN: ${what} failed (status ${status})`);
}

let cached: OneDnn | null | undefined;

/**
 * Loads oneDNN once per process, with a CPU engine and stream; null when the library is not installed (or koffi
 * cannot load). `env` is the environment to set OMP_WAIT_POLICY in (see the header).
 */
export function loadOneDnn(names: string[] = ONEDNN_NAMES, env: Record<string, string | undefined> = process.env): OneDnn | null {
  if (cached !== undefined) return cached;
  cached = null;
  let koffi: typeof import('koffi');
  try {
    koffi = createRequire(import.meta.url)('koffi');
  } catch {
    return null;
  }
  if (!env.OMP_WAIT_POLICY) env.OMP_WAIT_POLICY = 'PASSIVE';
  const found = loadFirstLibrary(koffi, names);
  if (!found) return null;
  const { lib, path } = found;
  koffi.struct('nice_flow_dnnl_exec_arg', { arg: 'int', memory: 'void *' });
  const f = (sig: string) => lib.func(sig);
  const dnn = {
    path,
    engine: null as Handle,
    stream: null as Handle,
    sgemm: f('int dnnl_sgemm(char, char, int64_t, int64_t, int64_t, float, const float *, int64_t, const float *, int64_t, float, _Inout_ float *, int64_t)'),
    mdInitByTag: f('int dnnl_memory_desc_init_by_tag(void *md, int ndims, const void *dims, int dtype, int tag)'),
    convForwardDescInit: f('int dnnl_convolution_forward_desc_init(void *desc, int prop, int alg, const void *src, const void *w, const void *b, const void *dst, const void *strides, const void *padl, const void *padr)'),
    convBackwardDataDescInit: f('int dnnl_convolution_backward_data_desc_init(void *desc, int alg, const void *dsrc, const void *w, const void *ddst, const void *strides, const void *padl, const void *padr)'),
    convBackwardWeightsDescInit: f('int dnnl_convolution_backward_weights_desc_init(void *desc, int alg, const void *src, const void *dw, const void *db, const void *ddst, const void *strides, const void *padl, const void *padr)'),
    pdCreate: f('int dnnl_primitive_desc_create(_Out_ void **pd, const void *op, void *attr, void *engine, void *hint)'),
    pdQueryMd: f('const void *dnnl_primitive_desc_query_md(void *pd, int what, int index)'),
    pdQueryString: f('int dnnl_primitive_desc_query(void *pd, int what, int index, _Out_ const char **result)'),
    pdDestroy: f('int dnnl_primitive_desc_destroy(void *pd)'),
    mdEqual: f('int dnnl_memory_desc_equal(const void *a, const void *b)'),
    mdSize: f('size_t dnnl_memory_desc_get_size(const void *md)'),
    memoryCreate: f('int dnnl_memory_create(_Out_ void **mem, const void *md, void *engine, void *handle)'),
    memorySetHandle: f('int dnnl_memory_set_data_handle(void *mem, void *handle)'),
    memoryDestroy: f('int dnnl_memory_destroy(void *mem)'),
    primitiveCreate: f('int dnnl_primitive_create(_Out_ void **prim, void *pd)'),
    primitiveExecute: f('int dnnl_primitive_execute(void *prim, void *stream, int nargs, const nice_flow_dnnl_exec_arg *args)'),
    primitiveDestroy: f('int dnnl_primitive_destroy(void *prim)'),
    reorderPdCreate: f('int dnnl_reorder_primitive_desc_create(_Out_ void **pd, const void *src, void *se, const void *dst, void *de, void *attr)'),
    attrCreate: f('int dnnl_primitive_attr_create(_Out_ void **attr)'),
    attrSetPostOps: f('int dnnl_primitive_attr_set_post_ops(void *attr, void *po)'),
    attrDestroy: f('int dnnl_primitive_attr_destroy(void *attr)'),
    postOpsCreate: f('int dnnl_post_ops_create(_Out_ void **po)'),
    postOpsAppendEltwise: f('int dnnl_post_ops_append_eltwise(void *po, float scale, int alg, float alpha, float beta)'),
    postOpsDestroy: f('int dnnl_post_ops_destroy(void *po)'),
    streamWait: f('int dnnl_stream_wait(void *stream)'),
    setThreads: null as ((n: number) => void) | null,
  } as unknown as OneDnn;
  const engine: Out = [null];
  const stream: Out = [null];
  try {
    check((f('int dnnl_engine_create(_Out_ void **engine, int kind, size_t index)') as (o: Out, k: number, i: number) => number)(engine, 1, 0), 'engine_create');
    check((f('int dnnl_stream_create(_Out_ void **stream, void *engine, unsigned int flags)') as (o: Out, e: Handle, fl: number) => number)(stream, engine[0], 1), 'stream_create');
  } catch {
    return null;
  }
  dnn.engine = engine[0];
  dnn.stream = stream[0];
  try {
    dnn.setThreads = koffi.load('libgomp.so.1').func('void omp_set_num_threads(int)') as (n: number) => void;
  } catch {
    dnn.setThreads = null;
  }
  cached = dnn;
  return dnn;
}
