// Runs inside a browser Worker (bundled by test/browser.test.ts): the wasm backend with 2 threads against the
// reference kernels (gemm, Adam, the direct convolutions), and one training step against the ref backend. Posts a
// WorkerReport back to the page.
import { createWasmBackendBrowser } from '../../src/browser/index.js';
import { createRefBackend } from '../../src/core/createRefBackend.js';
import { adamRef, gemmRef, scaleShiftForwardRef, scaleShiftInverseRef } from '../../src/core/refKernels.js';
import { Rng } from '../../src/core/Rng.js';
import { relaxedSimdSupported } from '../../src/core/wasm/createWasmBackend.js';
import type { ImageDataset } from '../../src/data/ImageDataset.js';
import { conv2dBackward, conv2dRef, ConvScratch, type ConvShape } from '../../src/nn/conv2d.js';
import { NiceModel } from '../../src/model/NiceModel.js';
import { Trainer } from '../../src/train/Trainer.js';
import type { Backend } from '../../src/core/Backend.js';
import { CONV_SHAPES, type CaseError, type WorkerReport } from './report.js';

// Worker globals, declared here because the project compiles without the DOM/WebWorker libs.
interface WorkerScope {
  postMessage(message: unknown): void;
  crossOriginIsolated: boolean;
  Worker: new (url: string, options?: object) => { terminate(): void };
}
const scope = globalThis as unknown as WorkerScope;

// Counts the kernel workers createWasmBackendBrowser really starts (and stops): threads = 1 + started.
let started = 0;
let terminated = 0;
const NativeWorker = scope.Worker;
scope.Worker = class extends NativeWorker {
  constructor(url: string, options?: object) {
    super(url, options);
    started++;
  }
  override terminate(): void {
    terminated++;
    super.terminate();
  }
};

/** max over i of |actual − expected| / (1 + |expected|): the measure test/kernelSpec.ts bounds (NaN if any is NaN). */
function scaledError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) return NaN;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]) / (1 + Math.abs(expected[i]));
    if (Number.isNaN(d)) return NaN;
    if (d > worst) worst = d;
  }
  return worst;
}

function fill(b: Backend, n: number, rng: Rng): Float32Array {
  const a = b.alloc(n) as Float32Array;
  for (let i = 0; i < n; i++) a[i] = rng.normal();
  return a;
}

// 2·M·N·K ≥ 2e6 and M ≥ 16 go parallel with 2 threads; [7, 5, 3] stays on the caller. M = 17 and 33 split unevenly.
const SHAPES: Array<[number, number, number]> = [[64, 300, 200], [17, 131, 457], [33, 1000, 64], [200, 392, 1000], [7, 5, 3]];

function gemmCases(b: Backend, rng: Rng): CaseError[] {
  const out: CaseError[] = [];
  for (const [M, N, K] of SHAPES) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        for (const accumulate of [false, true]) {
          const A = fill(b, M * K, rng), B = fill(b, K * N, rng), C = fill(b, M * N, rng);
          const expected = Float64Array.from(C);
          gemmRef(transA, transB, M, N, K, Float64Array.from(A), Float64Array.from(B), expected, accumulate);
          b.gemm(transA, transB, M, N, K, A, B, C, accumulate);
          out.push({ name: `gemm ${M}x${N}x${K} tA=${transA} tB=${transB} acc=${accumulate}`, K, error: scaledError(C, expected) });
        }
      }
    }
  }
  return out;
}

/**
 * backend.conv against float64 references: conv2dRef for forward (with and without ReLU), the float64 ref backend
 * through conv2dBackward (im2col + gemm) for backwardData and backwardWeights. K: the length of each sum.
 */
function convCases(b: Backend, rng: Rng): CaseError[] {
  const out: CaseError[] = [];
  const ref = createRefBackend({ dtype: 'float64' });
  const conv = b.conv;
  if (!conv) return [{ name: 'conv: the wasm backend has no direct convolution kernels', K: 1, error: NaN }];
  for (const [n, H, W, inC, outC, k] of CONV_SHAPES) {
    const s: ConvShape = { inC, outC, height: H, width: W, kernel: k };
    const P = n * H * W, label = `conv n=${n} ${H}x${W} ${inC}->${outC} k=${k}`;
    const x = fill(b, P * inC, rng), w = fill(b, outC * inC * k * k, rng), bias = fill(b, outC, rng), dy = fill(b, P * outC, rng);
    for (const relu of [false, true]) {
      const y = fill(b, P * outC, rng), expected = new Float64Array(P * outC);
      conv2dRef(x, w, bias, expected, n, s, relu);
      conv.forward(x, w, bias, y, n, s, relu);
      out.push({ name: `${label} forward relu=${relu}`, K: inC * k * k, error: scaledError(y, expected) });
    }
    const dx = fill(b, P * inC, rng), dW = fill(b, w.length, rng);
    const expDx = new Float64Array(dx.length), expDW = new Float64Array(dW.length);
    conv2dBackward(ref, Float64Array.from(x), Float64Array.from(w), Float64Array.from(dy), n, s, expDW, null, expDx, new ConvScratch(ref));
    conv.backwardData(dy, w, dx, n, s);
    conv.backwardWeights(x, dy, dW, n, s);
    out.push({ name: `${label} backwardData`, K: outC * k * k, error: scaledError(dx, expDx) });
    out.push({ name: `${label} backwardWeights`, K: P, error: scaledError(dW, expDW) });
  }
  return out;
}

function adamCases(b: Backend, rng: Rng): CaseError[] {
  const n = 2 * 65536 + 13; // parallel path (n ≥ 65536), with a tail that is not a multiple of 4
  const p = fill(b, n, rng), g = b.alloc(n) as Float32Array, m = b.alloc(n), v = b.alloc(n);
  const p64 = Float64Array.from(p), m64 = new Float64Array(n), v64 = new Float64Array(n);
  for (let step = 1; step <= 3; step++) {
    for (let i = 0; i < n; i++) g[i] = rng.normal();
    adamRef(p64, Float64Array.from(g), m64, v64, n, 1e-3, 0.9, 0.99, 1e-4, step);
    b.adam(p, g, m, v, n, 1e-3, 0.9, 0.99, 1e-4, step);
  }
  return [
    { name: `adam n=${n} p`, K: 0, error: scaledError(p, p64) },
    { name: `adam n=${n} m`, K: 0, error: scaledError(m, m64) },
    { name: `adam n=${n} v`, K: 0, error: scaledError(v, v64) },
  ];
}

/** The coupling laws' scale-shift kernels against the float64 reference (a conv-affine-sized case and a ragged one). */
function scaleShiftCases(b: Backend, rng: Rng): CaseError[] {
  const out: CaseError[] = [];
  for (const [n, D, du, shift] of [[100, 784, 392, true], [3, 11, 7, false]] as const) {
    const idx = Int32Array.from({ length: du }, (_, j) => (j * 7) % D);
    const G = shift ? 2 : 1;
    const h = fill(b, n * G * du, rng), x = fill(b, n * D, rng), y = fill(b, n * D, rng), logDet = fill(b, n, rng), saved = fill(b, n * 3 * du, rng);
    for (let i = 0; i < h.length; i++) h[i] *= 1 + (i % 4);
    const y64 = Float64Array.from(y), logDet64 = new Float64Array(n), saved64 = new Float64Array(saved.length);
    scaleShiftForwardRef(Float64Array.from(h), Float64Array.from(x), y64, logDet64, saved64, n, D, idx, shift, 2);
    b.scaleShiftForward(h, x, y, logDet, saved, n, D, idx, shift, 2);
    const back64 = Float64Array.from(y);
    scaleShiftInverseRef(Float64Array.from(h), back64, n, D, idx, shift, 2);
    b.scaleShiftInverse(h, y, n, D, idx, shift, 2);
    const what = `scaleShift n=${n} D=${D} du=${du} shift=${shift}`;
    out.push({ name: `${what} forward`, K: 0, error: Math.max(scaledError(saved, saved64), scaledError(logDet, logDet64)) });
    out.push({ name: `${what} inverse`, K: 0, error: scaledError(y, back64) });
  }
  return out;
}

/** Two training steps of a small NICE model on `backend`; returns the losses and all parameters, flattened. */
function train(backend: Backend): { losses: number[]; params: Float64Array } {
  const count = 200, dim = 64;
  const rng = new Rng(3);
  const pixels = new Uint8Array(count * dim);
  for (let i = 0; i < pixels.length; i++) pixels[i] = Math.floor(256 * rng.uniform());
  const data: ImageDataset = { pixels, count, dim, shape: [1, 8, 8] };
  // hidden 256: the 256×256 weight's Adam update (65,536 values) and the batch-100 gemms take the parallel paths.
  const model = new NiceModel(backend, { dim, couplings: 4, hidden: 256, depth: 2, prior: 'logistic', partition: 'alternate', coupling: 'additive' });
  model.init(new Rng(1));
  const trainer = new Trainer(model, data, { batchSize: 100, seed: 2 });
  const losses = [trainer.trainStep(), trainer.trainStep()];
  const params = new Float64Array(model.params.reduce((s, q) => s + q.data.length, 0));
  let o = 0;
  for (const q of model.params) {
    params.set(q.data, o);
    o += q.data.length;
  }
  return { losses, params };
}

async function run(): Promise<WorkerReport> {
  const backend = await createWasmBackendBrowser({ threads: 2 });
  const threads = 1 + started;
  const rng = new Rng(1234);
  const t0 = Date.now();
  const cases = [...gemmCases(backend, rng), ...adamCases(backend, rng), ...convCases(backend, rng), ...scaleShiftCases(backend, rng)];
  const wasm = train(backend);
  const ref = train(createRefBackend());
  backend.dispose();
  return {
    crossOriginIsolated: scope.crossOriginIsolated,
    relaxedSimd: relaxedSimdSupported(),
    threads,
    workersTerminated: terminated,
    cases,
    training: {
      lossError: scaledError(wasm.losses, ref.losses),
      paramError: scaledError(wasm.params, ref.params),
      paramCount: ref.params.length,
    },
    milliseconds: Date.now() - t0,
  };
}

run().then(
  (report) => scope.postMessage(report),
  (e: unknown) => scope.postMessage({ error: e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e) }),
);
