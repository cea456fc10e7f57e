import type { DirectConv } from '../Backend.js';
import type { ConvShape } from '../ConvShape.js';
import type { FloatArray } from '../FloatArray.js';
import { NiceFlowError } from '../NiceFlowError.js';
import { OP } from './wasmWorkerSource.js';

// Direct convolutions for the wasm backend (kernels in asm/conv.ts and asm/winograd.ts), with the layouts and formulas of
// src/nn/conv2d.ts: activations NHWC ([n·H·W, C]), W [outC, inC, k, k], stride 1, 'same' zero padding
// p = (k−1)/2, k odd. Backward-data is always the forward kernel run on dy (outC → inC channels) with the weights
// flipped and transposed, Wd[ci, co, ky, kx] = W[co, ci, k−1−ky, k−1−kx] (the adjoint of the forward's sum).
//
// Bands. A thread copies the rows of an image it reads into a zero-padded band of its scratch ((rows + 2p) ×
// (W + 2p) × C, at most BAND_BYTES; 1×1 convolutions read the array itself). Nothing else of the activations is
// copied: no column buffer, no packed operand but the weights (a few thousand floats, packed once per call).
//
// 3×3 layers with 8 or more channels in and out, multiples of 4 (the 32 → 32 and 64 → 64 layers of the conv models,
// forward, backward-data and backward-weights): Winograd F(2×2, 3×3) (Lavin & Gray 2016; formulas in asm/winograd.ts).
//   A block of 32 tiles (2×2 outputs each) is transformed from the band (V = Bᵀ d B, 4 channels at a time), then
//   16 products M[ξν] = V[ξν] · U[ξν] over the input channels (4-tile × 8-channel register tiles, U = G g Gᵀ packed
//   once per call), then Y = Aᵀ M A with the bias and the ReLU. The weight gradient is the adjoint: each thread sums
//   dU[ξν] += V[ξν]ᵀ · (A dY Aᵀ)[ξν] over its tiles into its own part; the parts are added and dW = Gᵀ dU G. That is
//   16 multiply-adds per 4 outputs instead of 36. The 16 slices of each matrix are not 4 KiB apart: at 4 KiB the
//   transforms' 16 accesses per tile hit one L1 set, and the 32-channel forward ran at 47 GFLOP/s instead of 57.
//
// Other layers (the first layer from 1 or 3 channels, 5×5, channel counts not multiples of 4), directly:
//   forward        y[p, co] = b[co] + Σ_{ky, j} band[row(p) + ky, x(p)·C + j] · Wp[ky, j, co], j = kx·C + ci (in a
//                  band row the k taps of a kernel row are k·C contiguous floats), then ReLU: 4-pixel × 8-channel
//                  register tiles, weights in panels [⌈outC/8⌉][k][k·inC][8]. Fewer than 8 output channels and a
//                  multiple of 4 input channels (the last 1×1 layer, the input gradient of a 1- or 3-channel
//                  image): dot products along j instead, 4 pixels × 2 channels.
//   backward-weights dW[co, ci, ky, kx] = Σ_p dy[p, co] · band[row(p) + ky, x(p)·C + kx·C + ci]: each thread sums
//                  its rows into its own part (4 window values × 8 output channels a tile, or, when outC < 8,
//                  4 output channels × 8 window values), over sub-bands of SUB_PIXELS pixels that stay in L1 while
//                  every tile passes over them; the parts are then added up.
//
// Threads split the batch's n·H output rows (Winograd: n·⌈H/2⌉ tile rows; bands never cross an image) through the
// control block like gemm. Scratch (packed weights, then per thread: weight-gradient part, a 128-byte tile, V and M,
// the band) is one block of the wasm memory, grown to the largest call seen (the old block freed first): once the
// largest shape was seen, a call allocates nothing.
//
// Why (one thread, shapes of a batch of 20 / 10 images, direct-convolution FLOPs; scripts/profile-step.ts shows the
// whole step): im2col + gemm wrote k²·C floats per pixel and packed them again inside the gemm, whose 4×8 micro-
// kernel ran these skinny products (N = 32, K = 288) at 24–31 GFLOP/s against 41 on square ones. The direct 4×8
// kernel reached 39 (95% of the square gemm: reading the band through 4 pixel pointers costs little), and no more:
// a 6×8 tile spills registers in V8 (25 GFLOP/s), and unrolling the reduction let Binaryen hoist loads into spills
// too (31). Winograd takes the 32 → 32 layer to 67–69 GFLOP/s equivalent and the 64 → 64 one to 76–80.

/** What createWasmConv needs of the wasm backend's kernels. */
export interface WasmConvKernels {
  convPack(W: number, bias: number, dst: number, biasDst: number, inC: number, outC: number, k: number, back: number, dot: number): void;
  convForward(src: number, dst: number, wp: number, bias: number, H: number, W: number, S: number, D: number, k: number, relu: number, dot: number, g0: number, g1: number, band: number, bandRows: number): void;
  convWeights(x: number, dy: number, part: number, H: number, W: number, C: number, D: number, k: number, orient: number, g0: number, g1: number, band: number, bandRows: number, subRows: number): void;
  convWeightsReduce(parts: number, count: number, stride: number, dW: number, C: number, D: number, k: number, orient: number): void;
  winoPack(W: number, bias: number, dst: number, biasDst: number, inC: number, outC: number, back: number): void;
  winoForward(src: number, dst: number, up: number, bias: number, H: number, W: number, S: number, D: number, relu: number, g0: number, g1: number, band: number, bandTiles: number, T: number): void;
  winoWeights(x: number, dy: number, part: number, H: number, W: number, C: number, D: number, g0: number, g1: number, band: number, bandTiles: number, T: number): void;
  winoWeightsReduce(parts: number, count: number, stride: number, dW: number, C: number, D: number): void;
}

/** What createWasmConv needs of the wasm backend (createWasmBackend.ts passes its own). */
export interface WasmConvHost {
  kernels: WasmConvKernels;
  /** Threads in all, the caller's included. */
  threads: number;
  /** The control block (words 3–31: integer arguments of a parallel job). */
  ctl: Int32Array;
  /** A block of the wasm memory (throws when it is full), and giving one back. */
  reserve(bytes: number): number;
  release(ptr: number): void;
  /** Pointers for the arrays; copies in those not in the wasm memory, and `copyBack(i)` copies array i out. */
  pointers(arrays: FloatArray[], lengths: number[]): { ptrs: number[]; copyBack(i: number): void };
  /** Runs the job described in the control block on every thread, the caller doing `ownShare`. */
  parallel(ownShare: () => void): void;
  /** The caller's share [lo, hi) of [lo, hi), in multiples of `align`. */
  share(lo: number, hi: number, align: number): [number, number];
}

/** Bytes of a band (the padded rows a thread reads): about half of a core's L2 on the machines measured. */
const BAND_BYTES = 256 * 1024;
/** Output pixels of a weight-gradient sub-band: its dy and input rows stay in L1 while every tile reads them. */
const SUB_PIXELS = 128;
/** Work below which a convolution runs on the caller alone (as gemm's threshold). */
const PARALLEL_MIN_FLOPS = 2e6;
const TILE_BYTES = 128;
/** Winograd tiles (2×2 outputs each) per block: V and M for a block stay in L2, one of their 16 slices in L1. */
const WINO_TILES = 32;

/** Bytes between the 16 slices of a Winograd matrix of `floats` floats (winoStride in asm/winograd.ts: off 4 KiB). */
function winoStride(floats: number, odd: number): number {
  let b = Math.ceil(floats / 16) * 64;
  const off = 64 * (2 + odd);
  if (b % 4096 < off || b % 4096 > 4096 - off) b += off;
  return b;
}

/** Whether a 3×3 convolution S → D runs by Winograd F(2×2, 3×3): channel counts in whole vectors, enough of them. */
const winograd = (k: number, S: number, D: number): boolean => k === 3 && S % 4 === 0 && D % 4 === 0 && S >= 8 && D >= 8;

const align64 = (bytes: number): number => Math.ceil(bytes / 64) * 64;

/** Throws a NiceFlowError unless the shape and the arrays fit a stride-1 'same' convolution of n images. */
function validate(what: string, n: number, s: ConvShape, arrays: Array<[string, FloatArray, number]>): void {
  const bad = (m: string): never => {
    throw new NiceFlowError(`wasm conv ${what}: ${m}`);
  };
  if (!s || typeof s !== 'object') bad('the shape is missing');
  for (const key of ['inC', 'outC', 'height', 'width', 'kernel'] as const) {
    const v = s[key];
    if (!(Number.isInteger(v) && v >= 1)) bad(`${key} must be a positive integer, got ${v}`);
  }
  if (s.kernel % 2 !== 1) bad(`the kernel size must be odd ('same' padding), got ${s.kernel}`);
  if (!(Number.isInteger(n) && n >= 0)) bad(`the batch size must be an integer ≥ 0, got ${n}`);
  for (const [name, a, length] of arrays) {
    if (!a || typeof a.length !== 'number') bad(`${name} is not an array`);
    if (a.length < length) bad(`${name} has ${a.length} values, fewer than the ${length} of ${n} image(s) ${s.height}×${s.width}, ${s.inC} → ${s.outC} channels, ${s.kernel}×${s.kernel}`);
  }
}

/** Direct convolutions on the wasm backend's kernels and threads (see the header). */
export function createWasmConv(host: WasmConvHost): DirectConv {
  const { kernels: k, threads, ctl } = host;
  let scratch = 0;
  let scratchBytes = 0;
  /** The scratch block, at least `bytes` long (grown to the largest call seen, the old block freed first). */
  const area = (bytes: number): number => {
    if (bytes > scratchBytes) {
      if (scratchBytes) host.release(scratch);
      scratchBytes = 0;
      scratch = host.reserve(bytes);
      scratchBytes = bytes;
    }
    return scratch;
  };
  /** Rows per band, and the band's bytes, for a source of S channels. */
  const bandOf = (s: ConvShape, S: number): { rows: number; bytes: number } => {
    const pad = (s.kernel - 1) >> 1;
    const rowBytes = (s.width + 2 * pad) * S * 4;
    const rows = Math.max(1, Math.min(s.height, Math.floor(BAND_BYTES / rowBytes) - 2 * pad));
    return { rows, bytes: TILE_BYTES + (s.kernel === 1 ? 0 : (rows + 2 * pad) * rowBytes) };
  };
  /** Whether to split a convolution's `rows` (image rows, or Winograd tile rows) over the threads. */
  const parallelFor = (n: number, s: ConvShape, rows: number): boolean =>
    threads > 1 && 2 * n * s.height * s.width * s.inC * s.outC * s.kernel * s.kernel >= PARALLEL_MIN_FLOPS && rows >= 2 * threads;

  /** Tile rows per band, and the band's bytes (Winograd: rows 2·ty0 − 1 … 2·ty1, columns −1 … 2·⌈W/2⌉). */
  const winoBandOf = (s: ConvShape, S: number): { tiles: number; bytes: number } => {
    const rowBytes = (2 * Math.ceil(s.width / 2) + 2) * S * 4;
    const tiles = Math.max(1, Math.min(Math.ceil(s.height / 2), Math.floor((Math.floor(BAND_BYTES / rowBytes) - 2) / 2)));
    return { tiles, bytes: (2 * tiles + 2) * rowBytes };
  };

  /** The convolution S → D (forward, or backward-data with `back`) of src into dst. */
  const run = (back: boolean, src: FloatArray, W: FloatArray, b: FloatArray | null, dst: FloatArray, n: number, s: ConvShape, relu: boolean): void => {
    const { inC, outC, kernel: ks } = s;
    const S = back ? outC : inC, D = back ? inC : outC;
    const P = s.height * s.width;
    const wino = winograd(ks, S, D);
    const dot = !wino && D < 8 && S % 4 === 0 ? 1 : 0;
    const packFloats = wino ? (16 * winoStride(Math.ceil(D / 8) * 8 * S, 0)) / 4 : (dot ? D : Math.ceil(D / 8) * 8) * ks * ks * S;
    const biasFloats = Math.ceil(D / 8) * 8;
    const packBytes = align64((packFloats + biasFloats) * 4);
    const band = wino ? winoBandOf(s, S) : bandOf(s, S);
    const perThread = align64(wino ? TILE_BYTES + 16 * (winoStride(WINO_TILES * S, 1) + winoStride(WINO_TILES * D, 2)) + band.bytes : band.bytes);
    const bandRows = 'tiles' in band ? band.tiles : band.rows;
    const base = area(packBytes + threads * perThread);
    const wp = base, bp = base + packFloats * 4, bands = base + packBytes;
    const arrays = b ? [src, W, dst, b] : [src, W, dst];
    const { ptrs, copyBack } = host.pointers(arrays, [n * P * S, outC * inC * ks * ks, n * P * D, outC].slice(0, arrays.length));
    const [ps, pd, pw] = [ptrs[0], ptrs[2], ptrs[1]];
    const r = relu ? 1 : 0;
    if (wino) {
      k.winoPack(pw, b ? ptrs[3] : 0, wp, bp, inC, outC, back ? 1 : 0);
      const rows = n * Math.ceil(s.height / 2);
      if (parallelFor(n, s, rows)) {
        ctl[2] = OP.winoForward;
        ctl.set([ps, pd, wp, bp, s.height, s.width, S, D, r, rows, bands, perThread, bandRows, WINO_TILES], 3);
        const [lo, hi] = host.share(0, rows, 1);
        host.parallel(() => k.winoForward(ps, pd, wp, bp, s.height, s.width, S, D, r, lo, hi, bands, bandRows, WINO_TILES));
      } else {
        k.winoForward(ps, pd, wp, bp, s.height, s.width, S, D, r, 0, rows, bands, bandRows, WINO_TILES);
      }
    } else {
      k.convPack(pw, b ? ptrs[3] : 0, wp, bp, inC, outC, ks, back ? 1 : 0, dot);
      const rows = n * s.height;
      if (parallelFor(n, s, rows)) {
        ctl[2] = OP.convForward;
        ctl.set([ps, pd, wp, bp, s.height, s.width, S, D, ks, r, dot, rows, bands, perThread, bandRows], 3);
        const [lo, hi] = host.share(0, rows, 1);
        host.parallel(() => k.convForward(ps, pd, wp, bp, s.height, s.width, S, D, ks, r, dot, lo, hi, bands, bandRows));
      } else {
        k.convForward(ps, pd, wp, bp, s.height, s.width, S, D, ks, r, dot, 0, rows, bands, bandRows);
      }
    }
    copyBack(2);
  };

  return {
    forward(x, W, b, out, n, s, relu) {
      const P = s?.height * s?.width;
      validate('forward', n, s, [['x', x, n * P * s?.inC], ['W', W, s?.outC * s?.inC * s?.kernel ** 2], ['b', b, s?.outC], ['out', out, n * P * s?.outC]]);
      if (n === 0) return;
      run(false, x, W, b, out, n, s, relu);
    },
    backwardData(dy, W, dx, n, s) {
      const P = s?.height * s?.width;
      validate('backwardData', n, s, [['dy', dy, n * P * s?.outC], ['W', W, s?.outC * s?.inC * s?.kernel ** 2], ['dx', dx, n * P * s?.inC]]);
      if (n === 0) return;
      run(true, dy, W, null, dx, n, s, false);
    },
    backwardWeights(x, dy, dW, n, s) {
      const P = s?.height * s?.width;
      validate('backwardWeights', n, s, [['x', x, n * P * s?.inC], ['dy', dy, n * P * s?.outC], ['dW', dW, s?.outC * s?.inC * s?.kernel ** 2]]);
      const { inC: C, outC: D, kernel: ks, height: H, width: Wd } = s;
      const K = ks * ks * C, kC = ks * C;
      if (n === 0) {
        dW.fill(0, 0, D * K);
        return;
      }
      const { ptrs: [px, pdy, pdW], copyBack } = host.pointers([x, dy, dW], [n * H * Wd * C, n * H * Wd * D, D * K]);
      let parts = 1;
      if (winograd(ks, C, D)) {
        const band = winoBandOf(s, C);
        const partBytes = align64(16 * C * D * 4);
        const perThread = partBytes + align64(TILE_BYTES + 16 * (winoStride(WINO_TILES * C, 1) + winoStride(WINO_TILES * D, 2)) + band.bytes);
        const base = area(threads * perThread);
        const rows = n * Math.ceil(H / 2);
        if (parallelFor(n, s, rows)) {
          parts = threads;
          ctl[2] = OP.winoWeights;
          ctl.set([px, pdy, H, Wd, C, D, rows, base, perThread, partBytes, band.tiles, WINO_TILES], 3);
          const [lo, hi] = host.share(0, rows, 1);
          host.parallel(() => k.winoWeights(px, pdy, base, H, Wd, C, D, lo, hi, base + partBytes, band.tiles, WINO_TILES));
        } else {
          k.winoWeights(px, pdy, base, H, Wd, C, D, 0, rows, base + partBytes, band.tiles, WINO_TILES);
        }
        k.winoWeightsReduce(base, parts, perThread, pdW, C, D);
        copyBack(2);
        return;
      }
      // Orientation: the one with fewer tiles (both read each sub-band once per tile).
      const tiles0 = D >= 8 ? Math.ceil(K / 4) * Math.ceil(D / 8) : Infinity;
      const tiles1 = kC >= 8 ? Math.ceil(D / 4) * ks * Math.ceil(kC / 8) : Infinity;
      const orient = tiles0 === Infinity && tiles1 === Infinity ? 2 : tiles0 <= tiles1 ? 0 : 1;
      const band = bandOf(s, C);
      const partBytes = align64(K * D * 4);
      const perThread = partBytes + align64(band.bytes);
      const base = area(threads * perThread);
      const subRows = Math.max(1, Math.round(SUB_PIXELS / Wd));
      const rows = n * H;
      if (parallelFor(n, s, rows)) {
        parts = threads;
        ctl[2] = OP.convWeights;
        ctl.set([px, pdy, H, Wd, C, D, ks, orient, rows, base, perThread, partBytes, band.rows, subRows], 3);
        const [lo, hi] = host.share(0, rows, 1);
        host.parallel(() => k.convWeights(px, pdy, base, H, Wd, C, D, ks, orient, lo, hi, base + partBytes, band.rows, subRows));
      } else {
        k.convWeights(px, pdy, base, H, Wd, C, D, ks, orient, 0, rows, base + partBytes, band.rows, subRows);
      }
      k.convWeightsReduce(base, parts, perThread, pdW, C, D, ks, orient);
      copyBack(2);
    },
  };
}
