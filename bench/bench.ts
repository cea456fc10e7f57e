// `npm run bench`: speed of every available backend on the paper's MNIST model (4 couplings of 5×1000, batch 200):
// matrix-multiply GFLOP/s at the training shapes, training / evaluation / sampling samples per second, and, when
// PyTorch can be imported, the same model trained by PyTorch in the same run. Then the model variants (affine law,
// convolutional couplings, a larger colour conv model) against the PyTorch twin (python/nice_flow_torch) building the
// same architecture from the same config, 1 and 2 torch threads. Prints figures; asserts nothing.
//   npm run bench                 # everything, ~4.5 minutes
//   npm run bench -- --quick      # shorter measurements
//   npm run bench -- --busy       # all of it beside another process that keeps one core busy (contention)
//   npm run bench -- --no-variants / --only-variants
//   npm run bench -- --only-variants --variant 3x32    # only the variants whose name contains this (× as x)
// PyTorch runs in the environment this process started with, plus the OPENBLAS_CORETYPE the blas backend chooses
// for this CPU (see src/node/openBlasCoreType.ts), so its dense layers get the same OpenBLAS kernels as ours.
import { spawn, spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { Backend } from '../src/core/Backend.js';
import { createRefBackend } from '../src/core/createRefBackend.js';
import { Rng } from '../src/core/Rng.js';
import { PAPER_MNIST_CONFIG, type NiceConfig } from '../src/model/NiceConfig.js';
import { NiceModel } from '../src/model/NiceModel.js';
import { MNIST_CONV_FLOW, MNIST_GATED_FLOW } from '../src/model/presets.js';
import { planFlow } from '../src/model/planFlow.js';
import { Trainer } from '../src/train/Trainer.js';
import { blasAvailable, createBlasBackend, openBlasCoreName } from '../src/node/createBlasBackend.js';
import { createWasmBackendNode } from '../src/node/createWasmBackendNode.js';
import { loadOneDnn } from '../src/node/loadOneDnn.js';
import { openBlasCoreTypeFor, readCpuinfo } from '../src/node/openBlasCoreType.js';

// Before anything loads OpenBLAS or oneDNN (loading them sets OPENBLAS_CORETYPE and OMP_WAIT_POLICY here).
const startEnv = { ...process.env };
const cpuinfo = readCpuinfo();
const torchEnv: NodeJS.ProcessEnv = { ...startEnv };
const coreType = startEnv.OPENBLAS_CORETYPE ?? openBlasCoreTypeFor(cpuinfo);
if (coreType) torchEnv.OPENBLAS_CORETYPE = coreType;
const busy = process.argv.includes('--busy');
if (busy) {
  // A second process that keeps one core busy for the whole run: throughput should fall in proportion, not collapse.
  const child = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
  process.on('exit', () => child.kill());
}

const quick = process.argv.includes('--quick');
const onlyVariants = process.argv.includes('--only-variants');
const variantAt = process.argv.indexOf('--variant');
const variantFilter = variantAt >= 0 ? (process.argv[variantAt + 1] ?? '').toLowerCase().replaceAll('×', 'x') : null;

// The model variants measured against the PyTorch twin (after the paper's model, unless --no-variants).
const VARIANTS: Array<[string, NiceConfig]> = [
  ['MLP additive (the paper)', PAPER_MNIST_CONFIG],
  ['MLP affine', { ...PAPER_MNIST_CONFIG, coupling: 'affine' }],
  ['conv additive 1×28×28, 32 ch × 2', { dim: 784, couplings: 4, hidden: 32, depth: 2, prior: 'logistic', partition: 'checkerboard', coupling: 'additive', network: 'conv', shape: [1, 28, 28] }],
  ['conv affine 1×28×28, 32 ch × 2', { dim: 784, couplings: 4, hidden: 32, depth: 2, prior: 'logistic', partition: 'checkerboard', coupling: 'affine', network: 'conv', shape: [1, 28, 28] }],
  ['conv affine 3×32×32, 64 ch × 2', { dim: 3072, couplings: 4, hidden: 64, depth: 2, prior: 'logistic', partition: 'checkerboard', coupling: 'affine', network: 'conv', shape: [3, 32, 32] }],
  // The multi-scale flow of --preset mnist-conv (logit, squeeze, ActNorm, 1×1 convolutions, affine channel couplings, split).
  ['multi-scale flow 1×28×28 (mnist-conv)', { dim: 784, prior: 'logistic', shape: [1, 28, 28], flow: [...MNIST_CONV_FLOW] }],
  // The same flow with gated residual coupling networks (--preset mnist-gated).
  ['multi-scale gated flow 1×28×28 (mnist-gated)', { dim: 784, prior: 'logistic', shape: [1, 28, 28], flow: [...MNIST_GATED_FLOW] }],
];
if (variantFilter !== null && !VARIANTS.some(([name]) => name.toLowerCase().replaceAll('×', 'x').includes(variantFilter))) {
  console.error(`--variant ${variantFilter}: no model variant matches (there are: ${VARIANTS.map(([name]) => name).join('; ')})`);
  process.exit(2);
}
const SECONDS = quick ? 1.5 : 5;
const B = 200;

/**
 * Runs f repeatedly for about `seconds` (after one warm-up call) in three equal windows; returns the best window's
 * calls per second. The machines this runs on are shared: the best window is the least disturbed one, and
 * torch_bench.py measures PyTorch the same way, so the ratios compare like with like.
 */
function rate(f: () => void, seconds: number, minCalls = 2): number {
  f();
  let best = 0;
  for (let w = 0; w < 3; w++) {
    let n = 0;
    const t0 = performance.now();
    while (n < minCalls || performance.now() - t0 < (seconds / 3) * 1000) {
      f();
      n++;
    }
    best = Math.max(best, n / ((performance.now() - t0) / 1000));
  }
  return best;
}

// The gemm shapes of one training step, per dense layer type: [transA, transB, M, N, K].
const SHAPES: Array<[string, boolean, boolean, number, number, number]> = [
  ['fwd 392→1000', false, true, B, 1000, 392],
  ['fwd 1000→1000', false, true, B, 1000, 1000],
  ['fwd 1000→392', false, true, B, 392, 1000],
  ['dX 1000→1000', false, false, B, 1000, 1000],
  ['dW 1000×1000', true, false, 1000, 1000, B],
  ['dW 1000×392', true, false, 1000, 392, B],
];

// Multiply-adds of all dense layers per example: 4 couplings × (392·1000 + 4·1000·1000 + 1000·392).
const MACS = 4 * (392 * 1000 + 4 * 1000 * 1000 + 1000 * 392);

function gemmRates(b: Backend, seconds: number): Record<string, number> {
  const out: Record<string, number> = {};
  let flops = 0;
  let time = 0;
  for (const [name, tA, tB, M, N, K] of SHAPES) {
    const A = b.alloc(M * K).fill(0.01), Bm = b.alloc(K * N).fill(0.01), C = b.alloc(M * N);
    const r = rate(() => b.gemm(tA, tB, M, N, K, A, Bm, C, false), seconds / SHAPES.length);
    out[name] = (2 * M * N * K * r) / 1e9;
    flops += 2 * M * N * K;
    time += 1 / r;
  }
  out.mean = flops / time / 1e9;
  return out;
}

function modelRates(b: Backend, seconds: number): { train: number; evalRate: number; sample: number } {
  const model = new NiceModel(b, PAPER_MNIST_CONFIG);
  model.init(new Rng(0));
  const pixels = new Uint8Array(784 * 1000);
  const rng = new Rng(1);
  for (let i = 0; i < pixels.length; i++) pixels[i] = rng.int(256);
  const trainer = new Trainer(model, { pixels, count: 1000, dim: 784, shape: [1, 28, 28] }, { batchSize: B });
  const train = B * rate(() => trainer.trainStep(), seconds, 1);
  const x = b.alloc(B * 784);
  for (let i = 0; i < x.length; i++) x[i] = rng.uniform();
  const evalRate = B * rate(() => model.logProb(x, B), seconds / 2, 1);
  const sample = B * rate(() => model.sample(B, rng), seconds / 2, 1);
  return { train, evalRate, sample };
}

const fmt = (v: number, d = 1): string => v.toFixed(d).padStart(8);
console.log(`nice-flow bench: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.versions.node}${quick ? ' (quick)' : ''}`);
const dnnLoaded = blasAvailable() && loadOneDnn() !== null;
console.log(`blas: ${blasAvailable() ? `OpenBLAS kernels ${openBlasCoreName()}, oneDNN ${dnnLoaded ? 'loaded (multiplies and convolutions)' : 'not installed (apt-get install libdnnl2)'}` : 'OpenBLAS not installed'}${busy ? '; beside a process keeping one core busy (--busy)' : ''}`);
if (!onlyVariants) console.log(`model: paper's MNIST NICE (4 couplings × 5×1000 ReLU), batch ${B}; ${(6 * MACS / 1e6).toFixed(0)} MFLOP per training example\n`);

const python = ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0);

if (!onlyVariants) {
  // PyTorch first, so that it and the default backend (blas, measured next) see the machine at about the same time.
  const torch: { trainSamplesPerSec: number; evalSamplesPerSec: number; torch: string; threads: number }[] = [];
  if (python) {
    for (const threads of [1, 2]) {
      const r = spawnSync(python, [join(import.meta.dirname, 'torch_bench.py'), String(SECONDS), String(threads)], { encoding: 'utf8', env: torchEnv });
      if (r.status === 0) torch.push(JSON.parse(r.stdout.trim().split('\n').at(-1)!));
      else console.log(`PyTorch (${threads} threads) failed: ${r.stderr.trim().split('\n').at(-1)}`);
    }
  } else {
    console.log('PyTorch: not importable (Debian: apt-get install python3-torch), comparison skipped');
  }

  const candidates: Array<[string, () => Promise<Backend> | Backend]> = [];
  if (blasAvailable()) candidates.push(['blas', () => createBlasBackend()]);
  if (dnnLoaded) candidates.push(['blas without oneDNN (OpenBLAS)', () => createBlasBackend({ oneDnn: false })]);
  else console.log('blas: OpenBLAS not installed (apt-get install libopenblas0-pthread), skipped');
  candidates.push(['wasm 2 threads', () => createWasmBackendNode({ threads: 2 })]);
  candidates.push(['wasm 1 thread', () => createWasmBackendNode({ threads: 1 })]);
  candidates.push(['wasm plain SIMD 1 thread', () => createWasmBackendNode({ threads: 1, relaxed: false })]);

  const results: Array<{ name: string; gemm: number; train: number; evalRate: number; sample: number }> = [];
  for (const [name, make] of candidates) {
    const b = await make();
    const g = gemmRates(b, SECONDS);
    const m = modelRates(b, SECONDS);
    b.dispose();
    results.push({ name, gemm: g.mean, ...m });
    console.log(`${name}: gemm GFLOP/s ${Object.entries(g).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`);
  }
  {
    // The reference kernels are too slow for the full model; their gemm rate at one shape says enough.
    const b = createRefBackend();
    const [, tA, tB, M, N, K] = SHAPES[1];
    const A = b.alloc(M * K), Bm = b.alloc(K * N), C = b.alloc(M * N);
    const r = rate(() => b.gemm(tA, tB, M, N, K, A, Bm, C, false), SECONDS / 2, 1);
    console.log(`ref: gemm GFLOP/s fwd 1000→1000 ${((2 * M * N * K * r) / 1e9).toFixed(2)} (training not measured: ~${Math.round(((2 * M * N * K * r) / 1e9) * 1e9 / (6 * MACS))} samples/s at best)`);
  }


  console.log('\n| backend | gemm GFLOP/s (mean at training shapes) | train samples/s | step GFLOP/s (% of gemm) | eval samples/s | sample samples/s |');
  console.log('|---|---|---|---|---|---|');
  for (const r of results) {
    const stepGflops = (r.train * 6 * MACS) / 1e9;
    console.log(`| ${r.name} | ${fmt(r.gemm)} | ${fmt(r.train, 0)} | ${fmt(stepGflops)} (${((100 * stepGflops) / r.gemm).toFixed(0)}%) | ${fmt(r.evalRate, 0)} | ${fmt(r.sample, 0)} |`);
  }
  for (const t of torch) {
    console.log(`| PyTorch ${t.torch}, ${t.threads} thread${t.threads > 1 ? 's' : ''} | | ${fmt(t.trainSamplesPerSec, 0)} | ${fmt((t.trainSamplesPerSec * 6 * MACS) / 1e9)} | ${fmt(t.evalSamplesPerSec, 0)} | |`);
  }
  if (torch.length) {
    console.log('');
    for (const r of results) {
      console.log(`${r.name}: training ${torch.map((t) => `${(r.train / t.trainSamplesPerSec).toFixed(2)}× PyTorch (${t.threads} thr)`).join(', ')}`);
    }
  }
}

// ---- model variants against the PyTorch twin (the same config, built by python/nice_flow_torch) ----
if (process.argv.includes('--no-variants')) process.exit(0);
const twinRoot = join(import.meta.dirname, '..', 'python');
const VB = 100; // batch of the variant runs (the conv models are ~180 MFLOP per image)
interface Rates { train: number; evalRate: number; sample: number; macs?: number }
/** Multiply-adds of one forward per example: each dense weight once, each conv weight at every pixel of its step's shape. */
function forwardMacs(config: NiceConfig): number {
  let macs = 0;
  for (const step of planFlow(config)) {
    for (const t of step.kind.paramShapes(step.spec, step.shape)) {
      const size = t.shape.reduce((a, b) => a * b, 1);
      macs += t.shape.length === 4 ? step.shape[1] * step.shape[2] * size : t.shape.length === 2 ? size : 0;
    }
  }
  return macs;
}
function twinRates(config: NiceConfig, threads: number): Rates | null {
  if (!python) return null;
  const r = spawnSync(python, ['-m', 'nice_flow_torch.bench', JSON.stringify(config), String(SECONDS), String(threads), String(VB)], {
    encoding: 'utf8', env: { ...torchEnv, PYTHONPATH: twinRoot },
  });
  if (r.status !== 0) {
    console.log(`twin (${threads} threads) failed: ${r.stderr.trim().split('\n').at(-1)}`);
    return null;
  }
  const j = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  return { train: j.trainSamplesPerSec, evalRate: j.evalSamplesPerSec, sample: j.sampleSamplesPerSec };
}
function variantRates(b: Backend, config: NiceConfig): Rates {
  const model = new NiceModel(b, config);
  model.init(new Rng(0));
  const rng = new Rng(1);
  const count = 4 * VB;
  const pixels = new Uint8Array(config.dim * count);
  for (let i = 0; i < pixels.length; i++) pixels[i] = rng.int(256);
  const shape = (config.shape ?? [1, 28, 28]) as [number, number, number];
  const trainer = new Trainer(model, { pixels, count, dim: config.dim, shape }, { batchSize: VB });
  const train = VB * rate(() => trainer.trainStep(), SECONDS, 1);
  const x = b.alloc(VB * config.dim);
  for (let i = 0; i < x.length; i++) x[i] = rng.uniform();
  const evalRate = VB * rate(() => model.logProb(x, VB), SECONDS / 2, 1);
  const sample = VB * rate(() => model.sample(VB, rng), SECONDS / 2, 1);
  b.free(x);
  const macs = forwardMacs(config);
  return { train, evalRate, sample, macs };
}
const ours: Array<[string, () => Promise<Backend>]> = [];
if (blasAvailable()) ours.push(['blas', () => createBlasBackend()]);
if (dnnLoaded) ours.push(['blas, OpenBLAS + im2col', () => createBlasBackend({ oneDnn: false })]);
ours.push(['wasm 2 threads', () => createWasmBackendNode({ threads: 2 })]);
const rows: Array<{ name: string; t1: Rates | null; t2: Rates | null; ours: Rates[] }> = [];
for (const [name, config] of VARIANTS) {
  if (variantFilter !== null && !name.toLowerCase().replaceAll('×', 'x').includes(variantFilter)) continue;
  const t1 = twinRates(config, 1);
  const t2 = twinRates(config, 2);
  const mine: Rates[] = [];
  for (const [, make] of ours) {
    const b = await make();
    mine.push(variantRates(b, config));
    b.dispose();
  }
  rows.push({ name, t1, t2, ours: mine });
}
const f0 = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(0));
const best = (r: (typeof rows)[number], k: keyof Rates): number => Math.max(r.t1?.[k] ?? 0, r.t2?.[k] ?? 0);
const ratio = (v: number, b: number): string => (b > 0 && Number.isFinite(v) ? `**${(v / b).toFixed(2)}×**` : '-');
console.log(`\nModel variants${busy ? ', beside a process keeping one core busy' : ''}: training samples/s at batch ${VB} (PyTorch: the twin, python/nice_flow_torch, 1 and 2 torch threads; ratios against the better of the two):`);
console.log(`| model | MFLOP per image | PyTorch 1 thr | PyTorch 2 thr | ${ours.map(([n]) => `${n} | ratio | step GFLOP/s`).join(' | ')} |`);
console.log(`|---|---|---|---|${ours.map(() => '---|---|---').join('|')}|`);
for (const r of rows) {
  // A training step is ≈ 3 forward passes of multiply-adds (forward, input gradient, weight gradient): 6 FLOP per MAC.
  const flop = 6 * (r.ours[0]?.macs ?? 0);
  console.log(`| ${r.name} | ${(flop / 1e6).toFixed(0)} | ${f0(r.t1?.train)} | ${f0(r.t2?.train)} | ${r.ours.map((o) => `${f0(o.train)} | ${ratio(o.train, best(r, 'train'))} | ${((o.train * flop) / 1e9).toFixed(0)}`).join(' | ')} |`);
}
console.log(`\nEvaluation (log-likelihood) and sampling, samples/s at batch ${VB} (PyTorch under no_grad, the better of 1 and 2 threads):`);
console.log(`| model | PyTorch eval | ${ours.map(([n]) => `${n} | ratio`).join(' | ')} | PyTorch sample | ${ours.map(([n]) => `${n} | ratio`).join(' | ')} |`);
console.log(`|---|---|${ours.map(() => '---|---').join('|')}|---|${ours.map(() => '---|---').join('|')}|`);
for (const r of rows) {
  const e = best(r, 'evalRate'), sm = best(r, 'sample');
  console.log(`| ${r.name} | ${f0(e)} | ${r.ours.map((o) => `${f0(o.evalRate)} | ${ratio(o.evalRate, e)}`).join(' | ')} | ${f0(sm)} | ${r.ours.map((o) => `${f0(o.sample)} | ${ratio(o.sample, sm)}`).join(' | ')} |`);
}
process.exit(0);
