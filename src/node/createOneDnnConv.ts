// Direct convolutions on oneDNN for the blas backend (the kernels PyTorch's CPU convolutions run): forward with the
// bias and the ReLU fused, input gradient and weight gradient, for the layouts of src/nn/conv2d.ts (activations
// NHWC, weights [outC, inC, k, k] = oneDNN's "oihw"). No column buffer is written: the im2col + gemm route spent
// a fifth of a conv step writing and reading columns, and multiplied 32-wide matrices at 41–52 GFLOP/s.
//
// oneDNN picks its own weight layout for each convolution (blocked, e.g. 16 output × 16 input channels); the
// activations stay in our NHWC arrays, so only the weights (a few thousand values) are reordered per call: into the
// kernel's layout before forward and backward-data, and out of it after backward-weights.
//
// A primitive is built once per (kind, batch size, shape, ReLU) and kept: a training step then allocates nothing.
// At most MAX_ENTRIES are kept (the oldest goes first), so memory stays flat however many shapes a process sees.
import type { DirectConv } from '../core/Backend.js';
import type { ConvShape } from '../core/ConvShape.js';
import type { FloatArray } from '../core/FloatArray.js';
import { check, type Handle, MD_BYTES, OP_DESC_BYTES, type OneDnn } from './loadOneDnn.js';

const F32 = 3;
const TAG_ANY = 1;
const TAG_OIHW = 5;
const TAG_NHWC = 20;
const FORWARD_TRAINING = 64;
const CONV_DIRECT = 1;
const ELTWISE_RELU = 31;
const QUERY_IMPL_INFO = 8;
const QUERY_WEIGHTS_MD = 131;
const QUERY_DIFF_WEIGHTS_MD = 132;
const ARG_SRC = 1;
const ARG_DST = 17;
const ARG_WEIGHTS = 33;
const ARG_BIAS = 41;
const ARG_DIFF_SRC = 129;
const ARG_DIFF_DST = 145;
const ARG_DIFF_WEIGHTS = 161;
const ARG_FROM = 1;
const ARG_TO = 17;

/** Primitives kept at once (each holds a few objects and one reordered copy of a weight tensor). */
export const MAX_ENTRIES = 64;

type Args = Array<{ arg: number; memory: Handle }>;

/** One cached convolution (or reorder) with its memory objects; `run` binds the arrays and executes it. */
interface Entry {
  run(a: FloatArray, b: FloatArray, c: FloatArray, d: FloatArray | null): void;
  impl: string;
  destroy(): void;
}

/** DirectConv on oneDNN, plus what it runs (implementation names by cache key) and a way to free it all. */
export interface OneDnnConv extends DirectConv {
  /** oneDNN's name for the kernel of each primitive built so far (e.g. "jit:avx512_core"), by cache key. */
  implementations(): Map<string, string>;
  dispose(): void;
}

/** Direct convolutions on a loaded oneDNN (see the header). */
export function createOneDnnConv(dnn: OneDnn): OneDnnConv {
  const entries = new Map<string, Entry>();
  const strides = BigInt64Array.of(1n, 1n);

  const md = (dims: number[], tag: number): Uint8Array => {
    const m = new Uint8Array(MD_BYTES);
    check(dnn.mdInitByTag(m, dims.length, BigInt64Array.from(dims.map(BigInt)), F32, tag), 'memory_desc_init_by_tag');
    return m;
  };
  const out = (): [Handle] => [null];
  const pd = (desc: Uint8Array, attr: Handle, hint: Handle, own: Array<() => void>): Handle => {
    const o = out();
    check(dnn.pdCreate(o, desc, attr, dnn.engine, hint), 'primitive_desc_create');
    own.push(() => dnn.pdDestroy(o[0]));
    return o[0];
  };
  const primitive = (p: Handle, own: Array<() => void>): Handle => {
    const o = out();
    check(dnn.primitiveCreate(o, p), 'primitive_create');
    own.push(() => dnn.primitiveDestroy(o[0]));
    return o[0];
  };
  const memory = (m: unknown, own: Array<() => void>, data: ArrayBufferView | null = null): Handle => {
    const o = out();
    check(dnn.memoryCreate(o, m, dnn.engine, data), 'memory_create');
    own.push(() => dnn.memoryDestroy(o[0]));
    return o[0];
  };
  const implOf = (p: Handle): string => {
    const s: [string | null] = [null];
    return dnn.pdQueryString(p, QUERY_IMPL_INFO, 0, s) === 0 && s[0] ? s[0] : 'unknown';
  };
  const exec = (prim: Handle, args: Args, what: string): void => {
    check(dnn.primitiveExecute(prim, dnn.stream, args.length, args), what);
  };
  const bind = (mem: Handle, a: FloatArray): void => {
    check(dnn.memorySetHandle(mem, a), 'memory_set_data_handle');
  };
  /**
   * Weights in the kernel's layout `want`: when it is not the user's oihw, a buffer of that layout and a reorder
   * between the two (user → kernel, or kernel → user with `back`). Returns the memory the convolution uses.
   */
  const weightsIn = (user: Uint8Array, want: Handle, back: boolean, own: Array<() => void>) => {
    const userMem = memory(user, own);
    if (dnn.mdEqual(user, want)) return { userMem, convMem: userMem, reorder: null as null | (() => void) };
    const buf = new Float32Array(Math.ceil(Number(dnn.mdSize(want)) / 4));
    const convMem = memory(want, own, buf);
    const o = out();
    check(back ? dnn.reorderPdCreate(o, want, dnn.engine, user, dnn.engine, null) : dnn.reorderPdCreate(o, user, dnn.engine, want, dnn.engine, null), 'reorder_primitive_desc_create');
    own.push(() => dnn.pdDestroy(o[0]));
    const prim = primitive(o[0], own);
    const args: Args = back ? [{ arg: ARG_FROM, memory: convMem }, { arg: ARG_TO, memory: userMem }] : [{ arg: ARG_FROM, memory: userMem }, { arg: ARG_TO, memory: convMem }];
    return { userMem, convMem, reorder: () => exec(prim, args, 'reorder'), keep: buf };
  };

  /** Builds an entry with the handles it owns, freeing them (in reverse) on destroy or when building fails. */
  const owning = (build: (own: Array<() => void>) => Omit<Entry, 'destroy'>): Entry => {
    const own: Array<() => void> = [];
    const free = (): void => own.reverse().forEach((f) => f());
    try {
      return { ...build(own), destroy: free };
    } catch (e) {
      free();
      throw e;
    }
  };

  /** The descriptors of one shape and batch size. */
  const descs = (n: number, s: ConvShape) => {
    const pad = BigInt64Array.of(BigInt((s.kernel - 1) >> 1), BigInt((s.kernel - 1) >> 1));
    return {
      pad,
      src: md([n, s.inC, s.height, s.width], TAG_NHWC),
      dst: md([n, s.outC, s.height, s.width], TAG_NHWC),
      wUser: md([s.outC, s.inC, s.kernel, s.kernel], TAG_OIHW),
      wAny: md([s.outC, s.inC, s.kernel, s.kernel], TAG_ANY),
      bias: md([s.outC], 2),
    };
  };
  const forwardDesc = (d: ReturnType<typeof descs>, withBias: boolean): Uint8Array => {
    const desc = new Uint8Array(OP_DESC_BYTES);
    check(dnn.convForwardDescInit(desc, FORWARD_TRAINING, CONV_DIRECT, d.src, d.wAny, withBias ? d.bias : null, d.dst, strides, d.pad, d.pad), 'convolution_forward_desc_init');
    return desc;
  };

  const buildForward = (n: number, s: ConvShape, relu: boolean): Entry => owning((own) => {
    const d = descs(n, s);
    let attr: Handle = null;
    if (relu) {
      const a = out(), po = out();
      check(dnn.attrCreate(a), 'primitive_attr_create');
      own.push(() => dnn.attrDestroy(a[0]));
      check(dnn.postOpsCreate(po), 'post_ops_create');
      own.push(() => dnn.postOpsDestroy(po[0]));
      check(dnn.postOpsAppendEltwise(po[0], 1, ELTWISE_RELU, 0, 0), 'post_ops_append_eltwise');
      check(dnn.attrSetPostOps(a[0], po[0]), 'primitive_attr_set_post_ops');
      attr = a[0];
    }
    const p = pd(forwardDesc(d, true), attr, null, own);
    const w = weightsIn(d.wUser, dnn.pdQueryMd(p, QUERY_WEIGHTS_MD, 0), false, own);
    const srcMem = memory(d.src, own), bMem = memory(d.bias, own), dstMem = memory(d.dst, own);
    const prim = primitive(p, own);
    const args: Args = [{ arg: ARG_SRC, memory: srcMem }, { arg: ARG_WEIGHTS, memory: w.convMem }, { arg: ARG_BIAS, memory: bMem }, { arg: ARG_DST, memory: dstMem }];
    return {
      impl: implOf(p),
      run(x, W, b, y) {
        bind(w.userMem, W);
        w.reorder?.();
        bind(srcMem, x);
        bind(bMem, b);
        bind(dstMem, y as FloatArray);
        exec(prim, args, 'convolution forward');
      },
    };
  });

  const buildBackwardData = (n: number, s: ConvShape): Entry => owning((own) => {
    const d = descs(n, s);
    const hint = pd(forwardDesc(d, false), null, null, own);
    const desc = new Uint8Array(OP_DESC_BYTES);
    check(dnn.convBackwardDataDescInit(desc, CONV_DIRECT, d.src, d.wAny, d.dst, strides, d.pad, d.pad), 'convolution_backward_data_desc_init');
    const p = pd(desc, null, hint, own);
    const w = weightsIn(d.wUser, dnn.pdQueryMd(p, QUERY_WEIGHTS_MD, 0), false, own);
    const dyMem = memory(d.dst, own), dxMem = memory(d.src, own);
    const prim = primitive(p, own);
    const args: Args = [{ arg: ARG_DIFF_DST, memory: dyMem }, { arg: ARG_WEIGHTS, memory: w.convMem }, { arg: ARG_DIFF_SRC, memory: dxMem }];
    return {
      impl: implOf(p),
      run(dy, W, dx) {
        bind(w.userMem, W);
        w.reorder?.();
        bind(dyMem, dy);
        bind(dxMem, dx);
        exec(prim, args, 'convolution backward data');
      },
    };
  });

  const buildBackwardWeights = (n: number, s: ConvShape): Entry => owning((own) => {
    const d = descs(n, s);
    const hint = pd(forwardDesc(d, false), null, null, own);
    const desc = new Uint8Array(OP_DESC_BYTES);
    check(dnn.convBackwardWeightsDescInit(desc, CONV_DIRECT, d.src, d.wAny, null, d.dst, strides, d.pad, d.pad), 'convolution_backward_weights_desc_init');
    const p = pd(desc, null, hint, own);
    const w = weightsIn(d.wUser, dnn.pdQueryMd(p, QUERY_DIFF_WEIGHTS_MD, 0), true, own);
    const xMem = memory(d.src, own), dyMem = memory(d.dst, own);
    const prim = primitive(p, own);
    const args: Args = [{ arg: ARG_SRC, memory: xMem }, { arg: ARG_DIFF_DST, memory: dyMem }, { arg: ARG_DIFF_WEIGHTS, memory: w.convMem }];
    return {
      impl: implOf(p),
      run(x, dy, dW) {
        bind(xMem, x);
        bind(dyMem, dy);
        bind(w.userMem, dW);
        exec(prim, args, 'convolution backward weights');
        w.reorder?.();
      },
    };
  });

  const get = (key: string, build: () => Entry): Entry => {
    let e = entries.get(key);
    if (e) return e;
    if (entries.size >= MAX_ENTRIES) {
      const [oldest, first] = entries.entries().next().value as [string, Entry];
      entries.delete(oldest);
      first.destroy();
    }
    e = build();
    entries.set(key, e);
    return e;
  };
  const keyOf = (kind: string, n: number, s: ConvShape): string => `${kind} n=${n} ${s.inC}→${s.outC} ${s.height}×${s.width} k=${s.kernel}`;

  return {
    forward(x, W, b, y, n, s, relu) {
      if (n === 0) return;
      get(keyOf(relu ? 'forward+relu' : 'forward', n, s), () => buildForward(n, s, relu)).run(x, W, b, y);
    },
    backwardData(dy, W, dx, n, s) {
      if (n === 0) return;
      get(keyOf('backward-data', n, s), () => buildBackwardData(n, s)).run(dy, W, dx, null);
    },
    backwardWeights(x, dy, dW, n, s) {
      if (n === 0) {
        dW.fill(0, 0, s.outC * s.inC * s.kernel * s.kernel);
        return;
      }
      get(keyOf('backward-weights', n, s), () => buildBackwardWeights(n, s)).run(x, dy, dW, null);
    },
    implementations: () => new Map([...entries].map(([k, e]) => [k, e.impl])),
    dispose() {
      for (const e of entries.values()) e.destroy();
      entries.clear();
    },
  };
}
