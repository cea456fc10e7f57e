// Where a training step's time goes: every backend primitive is wrapped with a timer during a few steps of a model,
// and the rest of the step (TypeScript between the calls: coupling laws, copies, the trainer) is what is left over.
//
//   node --import tsx scripts/profile-step.ts [conv-affine|conv-additive|conv-large|mlp|mnist-conv|mnist-gated] \
//     [blas|blas-openblas|wasm|wasm-im2col] [STEPS=10] [BATCH=100]
//
// mnist-conv is the multi-scale flow of --preset mnist-conv, mnist-gated the same with gated residual coupling
// networks of one block (GATED_HIDDEN=48 sets their width, 64 by default); a second table then gives each layer
// kind's share of the step (its forward and backward, the backend calls inside them included).
//
// blas-openblas is the blas backend without oneDNN (OpenBLAS multiplies, im2col convolutions); wasm-im2col is the
// wasm backend with its convolution kernels switched off (im2col + gemm, as before it had them).
//
// Prints milliseconds per step per primitive, with GFLOP/s for the matrix multiplies and convolutions (by shape).
import type { Backend } from '../src/core/Backend.js';
import { Rng } from '../src/core/Rng.js';
import { PAPER_MNIST_CONFIG, type NiceConfig } from '../src/model/NiceConfig.js';
import { NiceModel } from '../src/model/NiceModel.js';
import { MNIST_CONV_FLOW } from '../src/model/presets.js';
import { createBlasBackend } from '../src/node/createBlasBackend.js';
import { createWasmBackendNode } from '../src/node/createWasmBackendNode.js';
import { Trainer } from '../src/train/Trainer.js';

const MODELS: Record<string, NiceConfig> = {
  'conv-affine': { dim: 784, couplings: 4, hidden: 32, depth: 2, prior: 'logistic', partition: 'checkerboard', coupling: 'affine', network: 'conv', shape: [1, 28, 28] },
  'conv-additive': { dim: 784, couplings: 4, hidden: 32, depth: 2, prior: 'logistic', partition: 'checkerboard', coupling: 'additive', network: 'conv', shape: [1, 28, 28] },
  'conv-large': { dim: 3072, couplings: 4, hidden: 64, depth: 2, prior: 'logistic', partition: 'checkerboard', coupling: 'affine', network: 'conv', shape: [3, 32, 32] },
  mlp: PAPER_MNIST_CONFIG,
  'mnist-conv': { dim: 784, prior: 'logistic', shape: [1, 28, 28], flow: [...MNIST_CONV_FLOW] },
  // The same flow with gated residual coupling networks (one block of GATED_HIDDEN channels each, 64 by default).
  'mnist-gated': { dim: 784, prior: 'logistic', shape: [1, 28, 28], flow: MNIST_CONV_FLOW.map((s) => (s.type === 'coupling' ? { ...s, network: 'gated', depth: 1, hidden: Number(process.env.GATED_HIDDEN ?? 64) } : s)) },
};
const [kind = 'conv-affine', backendName = 'blas', stepsText = '10', batchText = '100'] = process.argv.slice(2);
const config = MODELS[kind];
if (!config) throw new Error(`model ${kind}: use ${Object.keys(MODELS).join(', ')}`);
const steps = Number(stepsText);
const batch = Number(batchText);

const backend: Backend = backendName === 'blas' ? await createBlasBackend()
  : backendName === 'blas-openblas' ? await createBlasBackend({ oneDnn: false })
  : await createWasmBackendNode({ threads: 2 });
if (backendName === 'wasm-im2col') (backend as { conv?: Backend['conv'] }).conv = undefined;
const time = new Map<string, { ms: number; calls: number; flops: number }>();
const wrapped = backend as unknown as Record<string, unknown>;
let timing = false;
for (const name of ['gemm', 'addBias', 'reluBackward', 'reluBackwardColSum', 'colSum', 'adam', 'gather', 'scatterAdd', 'logisticPrior', 'scaleShiftForward', 'scaleShiftInverse', 'im2col']) {
  const f = wrapped[name] as (...a: unknown[]) => unknown;
  if (typeof f !== 'function') continue;
  wrapped[name] = (...a: unknown[]): unknown => {
    if (!timing) return f.apply(backend, a);
    let key = name;
    let flops = 0;
    if (name === 'gemm') {
      const [, , M, N, K] = a as number[];
      key = `gemm M=${M} N=${N} K=${K}`;
      flops = 2 * M * N * K;
    } else if (name === 'im2col') key = a[7] ? 'col2im' : 'im2col';
    const t0 = performance.now();
    const r = f.apply(backend, a);
    const e = time.get(key) ?? { ms: 0, calls: 0, flops: 0 };
    e.ms += performance.now() - t0;
    e.calls++;
    e.flops += flops;
    time.set(key, e);
    return r;
  };
}
if (backend.conv) {
  // The direct convolutions (oneDNN on blas, asm/kernels.ts on wasm): timed per kind and shape, with the FLOPs of a
  // direct convolution (Winograd's kernels do fewer: their GFLOP/s is what direct kernels would need to match them).
  const conv = backend.conv as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const name of ['forward', 'backwardData', 'backwardWeights']) {
    const f = conv[name];
    conv[name] = (...a: unknown[]): unknown => {
      if (!timing) return f.apply(backend.conv, a);
      const n = (name === 'forward' ? a[4] : a[3]) as number;
      const s = (name === 'forward' ? a[5] : a[4]) as { inC: number; outC: number; height: number; width: number; kernel: number };
      const key = `conv ${name} ${s.inC}→${s.outC} k=${s.kernel}`;
      const t0 = performance.now();
      const r = f.apply(backend.conv, a);
      const e = time.get(key) ?? { ms: 0, calls: 0, flops: 0 };
      e.ms += performance.now() - t0;
      e.calls++;
      e.flops += 2 * n * s.height * s.width * s.inC * s.outC * s.kernel * s.kernel;
      time.set(key, e);
      return r;
    };
  }
}
const model = new NiceModel(backend, config);
model.init(new Rng(0));
// Each leaf layer's forward, inverse and backward, timed by layer kind (nested backend calls included).
const layerTime = new Map<string, number>();
for (const layer of model.layers) {
  const obj = layer as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const method of ['forward', 'backward']) {
    const f = obj[method].bind(layer);
    obj[method] = (...a: unknown[]): unknown => {
      if (!timing) return f(...a);
      const t0 = performance.now();
      const r = f(...a);
      const key = `${layer.constructor.name} ${method}`;
      layerTime.set(key, (layerTime.get(key) ?? 0) + performance.now() - t0);
      return r;
    };
  }
}
const rng = new Rng(1);
const count = 4 * batch;
const pixels = new Uint8Array(config.dim * count);
for (let i = 0; i < pixels.length; i++) pixels[i] = rng.int(256);
const trainer = new Trainer(model, { pixels, count, dim: config.dim, shape: (config.shape ?? [1, 28, 28]) as [number, number, number] }, { batchSize: batch });
trainer.trainStep();
trainer.trainStep();
timing = true;
const t0 = performance.now();
for (let i = 0; i < steps; i++) trainer.trainStep();
const total = (performance.now() - t0) / steps;
timing = false;
backend.dispose();

const rows = [...time.entries()].sort((a, b) => b[1].ms - a[1].ms);
const inKernels = rows.reduce((s, [, e]) => s + e.ms, 0) / steps;
console.log(`${kind} on ${backendName}, batch ${batch}: ${total.toFixed(1)} ms per step (${((batch * 1000) / total).toFixed(0)} samples/s)`);
console.log('| part | ms per step | share | calls per step | GFLOP/s |');
console.log('|---|---|---|---|---|');
for (const [k, e] of rows) {
  const gf = e.flops ? ((e.flops / (e.ms / 1000)) / 1e9).toFixed(1) : '';
  console.log(`| ${k} | ${(e.ms / steps).toFixed(2)} | ${((100 * e.ms) / steps / total).toFixed(1)}% | ${(e.calls / steps).toFixed(0)} | ${gf} |`);
}
console.log(`| TypeScript between the calls (laws, copies, trainer) | ${(total - inKernels).toFixed(2)} | ${((100 * (total - inKernels)) / total).toFixed(1)}% | | |`);
if (config.flow) {
  console.log('');
  console.log('| layer kind | ms per step | share |');
  console.log('|---|---|---|');
  for (const [k, ms] of [...layerTime.entries()].sort((a, b) => b[1] - a[1])) {
    console.log(`| ${k} | ${(ms / steps).toFixed(2)} | ${((100 * ms) / steps / total).toFixed(1)}% |`);
  }
}
