// The PyTorch twin (python/nice_flow_torch, issue 15) against nice-flow: the same weight file gives the same log p(x),
// the same gradients of the mean log-likelihood and the same decoded images for every model variant, the paper's flat
// configs and described flows (every step kind, a multi-scale flow); files the twin writes are read by nice-flow
// unchanged; a 2-process DistributedDataParallel run trains what one process trains, and
// nice-flow evaluates its model to the twin's own number.
//
// Needs python3 with PyTorch and NumPy (Debian: `apt-get install -y python3-torch python3-numpy`). Without them these
// tests skip with one line saying how to install them, and fail under NICE_FLOW_REQUIRE_ALL=1 (.ci/run sets it).
// NICE_FLOW_PYTHON may name the interpreter to use.
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { createRefBackend } from '../src/core/createRefBackend.js';
import { Rng } from '../src/core/Rng.js';
import { fitZca } from '../src/data/fitWhitening.js';
import { COUPLING_LAWS, type CouplingLaw } from '../src/flows/couplingLaw.js';
import { PARTITION_NAMES, type PartitionName } from '../src/flows/Partition.js';
import { Whitening } from '../src/flows/Whitening.js';
import { writeNpyF32 } from '../src/io/npy.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { deserializeModel, serializeModel } from '../src/model/modelFile.js';
import { type NetworkName, type NiceConfig, validateConfig } from '../src/model/NiceConfig.js';
import { NiceModel } from '../src/model/NiceModel.js';
import { PRESETS } from '../src/model/presets.js';
import type { PriorName } from '../src/priors/priorRegistry.js';
import { learningRateAt, type LrSchedule } from '../src/train/learningRate.js';
import { Trainer } from '../src/train/Trainer.js';
import { loadSplit } from '../cli/data.js';
import { cli, root } from './cliRun.js';
import { MULTI_SCALE_CASE, STEP_CASES, type StepCase, stepCaseConfig, stepCaseModel } from './stepCases.js';
import { findTorchPython, skipWithout } from './systemPackages.js';
import { contextRows } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'nice-flow-twin-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const INSTALL = 'the PyTorch twin tests need python3 with PyTorch and NumPy: install them with ' +
  '`apt-get install -y python3-torch python3-numpy` (Debian/Ubuntu), or set NICE_FLOW_PYTHON to an interpreter that has them';

const found = findTorchPython();
/** The twin's suites skip without a python3 that has torch and numpy (and fail then under NICE_FLOW_REQUIRE_ALL=1). */
const skip = skipWithout(found.python !== null, 'python3 with PyTorch and NumPy', 'apt-get install python3-torch python3-numpy, or set NICE_FLOW_PYTHON');
let python = '';
before(() => {
  if (skip) return;
  if (!found.python) throw new Error(`${INSTALL} (tried ${found.tried.join('; ')})`);
  python = found.python;
});

/** Runs `python -m nice_flow_torch.<module> …args` with PYTHONPATH=python; throws with its stderr when it fails. */
function twin(module: string, args: string[], options: { torchrun?: number; port?: number } = {}): SpawnSyncReturns<string> {
  const env = { ...process.env, PYTHONPATH: join(root, 'python'), OMP_NUM_THREADS: '1' };
  const argv = options.torchrun
    ? [
      // torchrun, with this interpreter. `--redirects 1 --tee 1` (workers' stdout also to a log file) avoids a bug of
      // Debian's PyTorch 1.13 under Python 3.11, whose default "0" crashes the launcher (see python/README.md).
      '-m', 'torch.distributed.run', '--nnodes', '1', '--nproc_per_node', String(options.torchrun),
      '--master_addr', '127.0.0.1', '--master_port', String(options.port ?? 29500),
      '--monitor_interval', '0.2', '--redirects', '1', '--tee', '1', '--log_dir', join(dir, 'torchrun-logs'),
      '-m', `nice_flow_torch.${module}`, ...args,
    ]
    : ['-m', `nice_flow_torch.${module}`, ...args];
  // A hung rendezvous must not hang the suite: 5 minutes is ~30× what these runs take.
  const r = spawnSync(python, argv, { cwd: root, env, encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) assert.fail(`${python} ${argv.join(' ')} exited with ${r.status}:\n${r.stderr}${r.error ?? ''}`);
  return r;
}

/** A TCP port nothing listens on right now (for torchrun's rendezvous). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

const lastJson = (stdout: string): Record<string, number> => JSON.parse(stdout.trim().split('\n').at(-1)!);

// --- float64 .npy and F64 safetensors, as the twin writes its results (nice-flow's own readers are float32) ---

function readNpy64(path: string): { data: Float64Array; shape: number[] } {
  const b = readFileSync(path);
  assert.equal(b.subarray(1, 6).toString('latin1'), 'NUMPY', `${path} is not a .npy file`);
  const major = b[6];
  const headerLen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + headerLen;
  const header = b.subarray(major === 1 ? 10 : 12, start).toString('latin1');
  assert.match(header, /'descr': '<f8'/, `${path}: expected little-endian float64`);
  assert.match(header, /'fortran_order': False/);
  const shape = /'shape': \(([^)]*)\)/.exec(header)![1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const data = new Float64Array(b.buffer.slice(b.byteOffset + start, b.byteOffset + b.length));
  return { data, shape };
}

function readSafetensors64(path: string): Record<string, { shape: number[]; data: Float64Array }> {
  const b = readFileSync(path);
  const n = Number(b.readBigUInt64LE(0));
  const header = JSON.parse(b.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out: Record<string, { shape: number[]; data: Float64Array }> = {};
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    assert.equal(e.dtype, 'F64', `${path}: ${name}`);
    const [s, t] = e.data_offsets;
    out[name] = { shape: e.shape, data: new Float64Array(b.buffer.slice(b.byteOffset + 8 + n + s, b.byteOffset + 8 + n + t)) };
  }
  return out;
}

// --- the variants: every law × network × partition × prior, whitening off and on, on tiny 3×4×4 images ---

const SHAPE: [number, number, number] = [3, 4, 4];
const D = 48;
const N = 6; // input rows per variant

interface Variant {
  name: string;
  config: NiceConfig;
}

const variants: Variant[] = [];
for (const coupling of COUPLING_LAWS as readonly CouplingLaw[]) {
  for (const network of ['mlp', 'conv'] as NetworkName[]) {
    for (const partition of PARTITION_NAMES as readonly PartitionName[]) {
      for (const prior of ['logistic', 'gaussian'] as PriorName[]) {
        for (const whiten of [false, true]) {
          const config: NiceConfig = {
            dim: D, couplings: 4, hidden: network === 'conv' ? 4 : 10, depth: 2, prior, partition, coupling, shape: [...SHAPE],
            ...(network === 'conv' ? { network } : {}), ...(whiten ? { whiten: 'zca' as const } : {}),
          };
          variants.push({ name: `${coupling}-${network}-${partition}-${prior}${whiten ? '-zca' : ''}`, config });
        }
      }
    }
  }
}
// Class-conditional flat models (a context-affine step after the scaling): one-hot labels of 3 classes.
for (const coupling of ['additive', 'affine'] as CouplingLaw[]) {
  for (const conditioning of ['prior', 'couplings', 'both'] as const) {
    variants.push({ name: `${coupling}-mlp-alternate-logistic-classes3-${conditioning}`, config: { dim: D, couplings: 4, hidden: 10, depth: 2, prior: 'logistic', partition: 'alternate', coupling, shape: [...SHAPE], classes: 3, ...(conditioning !== 'prior' ? { conditioning } : {}) } });
  }
}
// Without an image shape (a flat vector, as a library user may build): an odd D, and checkerboard on a square D.
for (const partition of ['alternate', 'halves', 'checkerboard'] as PartitionName[]) {
  variants.push({ name: `affine-mlp-${partition}-logistic-flat49`, config: { dim: 49, couplings: 3, hidden: 8, depth: 1, prior: 'logistic', partition, coupling: 'affine' } });
}

/** Pixels of n images with some structure (a per-image level and a gradient across the image, plus noise). */
function imagePixels(n: number, rng: Rng, dim = D): Uint8Array {
  const px = new Uint8Array(n * dim);
  for (let i = 0; i < n; i++) {
    const level = 40 + 160 * rng.uniform();
    for (let d = 0; d < dim; d++) {
      const p = d % 16;
      const v = level + 30 * Math.sin(p / 3 + i) + 40 * (rng.uniform() - 0.5) + 10 * Math.floor(d / 16);
      px[i * dim + d] = Math.max(0, Math.min(255, Math.round(v)));
    }
  }
  return px;
}

const centred = (px: Uint8Array): Float32Array => Float32Array.from(px, (p) => (p + 0.5) / 256);

const relDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / Math.max(Math.abs(b[i]), 1));
  return m;
};
const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};
const maxAbs = (a: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
};

const ref32 = createRefBackend();
const ref64 = createRefBackend({ dtype: 'float64' });

/** What one comparison of nice-flow with the twin found (the largest differences). */
interface Figures { name: string; logp: number; logp32: number; plain32: number; grad: number; encode: number; decode: number }

/**
 * Compares what the twin wrote to `out` (python -m nice_flow_torch.check on the weight file `bytes`, inputs x and
 * codes of N rows) with what nice-flow computes on the same file: log p in float64 and float32, the gradients of the
 * mean log-likelihood for every parameter, encode, decode, and the twin's re-save of the file (same config,
 * bit-identical tensors, loads in nice-flow).
 */
function compareWithTwin(name: string, bytes: Uint8Array, out: string, inputs: { x32: Float32Array; x64: Float64Array; codes: Float32Array; context?: Float64Array }, N: number): Figures {
  const { x32, x64, codes } = inputs;
  // A conditional model's context for the N rows (the twin read the same values from its .npy).
  const c64 = inputs.context;
  const c32 = c64 && Float32Array.from(c64);
  const b32 = ref32;
  const b64 = ref64;
  // nice-flow in float64 on the float32 weights of the file; the twin ran in float64 on the same file.
  const model = deserializeModel(bytes, b64);
  const D = model.dim;
  const lp = model.logProb(x64, N, c64);
  const twinLp = readNpy64(join(out, 'logp.npy')).data;
  const logpRel = relDiff(twinLp, lp);
  assert.ok(logpRel < 1e-9, `${name}: log p differs by ${logpRel.toExponential(2)} (relative): twin ${twinLp[0]}, nice-flow ${lp[0]}`);
  assert.ok(lp.every(Number.isFinite) && maxAbs(lp) > 1, `${name}: log p ${lp[0]} is degenerate`);

  model.paramGradLogProb(x64, N, 1 / N, c64);
  const grads = readSafetensors64(join(out, 'grads.safetensors'));
  assert.deepEqual(Object.keys(grads).sort(), model.params.map((p) => p.name).sort(), `${name}: parameter names`);
  let gradRel = 0;
  for (const p of model.params) {
    const g = grads[p.name];
    assert.deepEqual(g.shape, p.shape, `${name}: shape of ${p.name}`);
    const scale = maxAbs(p.grad);
    assert.ok(scale > 0, `${name}: gradient of ${p.name} is zero`);
    for (let k = 0; k < g.data.length; k++) {
      const diff = Math.abs(g.data[k] - p.grad[k]);
      if (!(diff <= 1e-9 * scale + 1e-9 * Math.abs(p.grad[k]))) {
        assert.fail(`${name}: d mean log p / d ${p.name}[${k}] is ${g.data[k]} in the twin, ${p.grad[k]} in nice-flow`);
      }
    }
    gradRel = Math.max(gradRel, maxAbsDiff(g.data, p.grad) / scale);
  }

  const h = Float64Array.from(model.flow.forward(x64, N, c64).y.subarray(0, N * D));
  const encode = maxAbsDiff(readNpy64(join(out, 'encoded.npy')).data, h);
  assert.ok(encode < 1e-9 * Math.max(1, maxAbs(h)), `${name}: encode differs by ${encode}`);
  const xs = Float64Array.from(model.flow.inverse(Float64Array.from(codes), N, c64).subarray(0, N * D));
  const decode = maxAbsDiff(readNpy64(join(out, 'decoded.npy')).data, xs);
  assert.ok(decode < 1e-9 * Math.max(1, maxAbs(xs)), `${name}: decode differs by ${decode}`);

  // Both in float32, as they run in practice: nice-flow's reference float32 backend and the twin's float32 model.
  // log p is a sum of D prior terms and log-determinants that can cancel (with whitening, log|det W| alone is
  // ~+170 nats here while log p is ~±10), so float32 rounding is relative to the terms' magnitudes, not to log p.
  const lp32 = deserializeModel(bytes, b32).logProb(x32, N, c32);
  const twin32 = readNpy64(join(out, 'logp32.npy')).data;
  const fwd = model.flow.forward(x64, N, c64);
  let logp32 = 0;
  for (let i = 0; i < N; i++) {
    let terms = Math.abs(fwd.logDet[i]) + Math.abs(model.whitening?.logDet ?? 0);
    for (let d = 0; d < D; d++) terms += Math.abs(model.prior.logDensity(fwd.y[i * D + d]));
    logp32 = Math.max(logp32, Math.abs(twin32[i] - lp32[i]) / terms);
  }
  assert.ok(logp32 < 1e-5, `${name}: float32 log p differs by ${logp32.toExponential(2)} of its terms' magnitude: twin ${twin32[0]}, nice-flow ${lp32[0]}`);
  const plain = model.config.whiten ? 0 : relDiff(twin32, lp32);
  assert.ok(plain < 1e-5, `${name}: float32 log p differs by ${plain.toExponential(2)} (relative)`);

  // The twin's save of the model: nice-flow reads it, with the same config and bit-identical tensors.
  const resaved = readSafetensors(new Uint8Array(readFileSync(join(out, 'resaved.safetensors'))));
  const original = readSafetensors(bytes);
  assert.deepEqual(JSON.parse(resaved.metadata.config), JSON.parse(original.metadata.config), `${name}: config`);
  assert.deepEqual(Object.keys(resaved.tensors).sort(), Object.keys(original.tensors).sort(), `${name}: tensor names`);
  for (const [tensorName, tensor] of Object.entries(original.tensors)) {
    assert.deepEqual(resaved.tensors[tensorName].shape, tensor.shape, `${name}: ${tensorName} shape`);
    assert.ok(Buffer.from(resaved.tensors[tensorName].data.buffer).equals(Buffer.from(tensor.data.buffer)), `${name}: ${tensorName} differs after the twin saved it`);
  }
  deserializeModel(new Uint8Array(readFileSync(join(out, 'resaved.safetensors'))), b32);
  return { name, logp: logpRel, logp32, plain32: plain, grad: gradRel, encode, decode };
}

describe('the PyTorch twin computes what nice-flow computes', { skip }, () => {
  const b32 = createRefBackend();
  const rng = new Rng(15);
  const files = join(dir, 'variants');
  mkdirSync(files, { recursive: true });
  // Inputs per dimension: N images, centre-dequantized, and N latent codes (standard normal draws, scaled down a
  // little so every law's inverse stays well inside float range).
  const inputs = new Map<number, { x32: Float32Array; x64: Float64Array; codes: Float32Array; x: string; h: string }>();
  for (const dim of new Set(variants.map((v) => v.config.dim))) {
    const x32 = centred(imagePixels(N, rng, dim));
    const codes = Float32Array.from({ length: N * dim }, () => 0.8 * rng.normal());
    const x = join(files, `x${dim}.npy`), h = join(files, `codes${dim}.npy`);
    writeFileSync(x, writeNpyF32(x32, [N, dim]));
    writeFileSync(h, writeNpyF32(codes, [N, dim]));
    inputs.set(dim, { x32, x64: Float64Array.from(x32), codes, x, h });
  }
  // The labels of the conditional variants' N rows (one-hot, 3 classes).
  const contexts = (() => {
    const c64 = contextRows(3, true).subarray(0, N * 3);
    const path = join(files, 'labels3.npy');
    writeFileSync(path, writeNpyF32(Float32Array.from(c64), [N, 3]));
    return { c64: Float64Array.from(c64), c32: Float32Array.from(c64), path };
  })();
  const zcaPixels = imagePixels(300, new Rng(16));
  const zca = fitZca(centred(zcaPixels), 300, D);
  const figures: Figures[] = [];

  it(`agrees on log p(x), the gradients of the mean log-likelihood and decode for all ${variants.length} variants`, (t: TestContext) => {
    // Each variant: PyTorch-style random init, a non-trivial scale, (whitening), saved as nice-flow saves it.
    variants.forEach((v, i) => {
      const m = new NiceModel(b32, v.config);
      // A network of 4 channels can start with every ReLU dead on these inputs: its gradients are all zero and the
      // comparison would check nothing, so such a start is drawn again (seed + 1000).
      for (let seed = 100 + i; ; seed += 1000) {
        m.init(new Rng(seed));
        const s = m.scaling!.scale.data;
        for (let d = 0; d < s.length; d++) s[d] = 0.3 * rng.normal() + 0.5;
        // Larger output layers than the default init, so multiplicative and affine scales are far from 1 (the
        // sigmoid-scale laws' sigmoid and tanh would saturate there: their gradients would vanish).
        const boost = v.config.coupling === 'bounded-affine' || v.config.coupling === 'glow-affine' ? 1 : 3;
        for (const c of m.couplings) for (const p of c.net.params.slice(-2)) for (let k = 0; k < p.data.length; k++) p.data[k] *= boost;
        if (v.config.whiten) m.setWhitening(new Whitening(b32, D, zca.mean, zca.matrix, zca.inverse, zca.logDet));
        // A conditional model: its context-affine step starts as the identity; move it so the labels matter.
        for (const p of m.params) if (p.name.startsWith('conditional.')) for (let k = 0; k < p.data.length; k++) p.data[k] = 0.5 * rng.normal();
        m.paramGradLogProb(inputs.get(v.config.dim)!.x32, N, 1 / N, v.config.classes ? contexts.c32 : undefined);
        if (m.params.every((p) => maxAbs(p.grad) > 0)) break;
      }
      writeFileSync(join(files, `${v.name}.safetensors`), serializeModel(m));
    });
    const manifest = {
      dtype: 'float64',
      cases: variants.map((v) => ({
        model: join(files, `${v.name}.safetensors`), x: inputs.get(v.config.dim)!.x, codes: inputs.get(v.config.dim)!.h, out: join(files, v.name),
        ...(v.config.classes ? { context: contexts.path } : {}),
      })),
    };
    writeFileSync(join(files, 'manifest.json'), JSON.stringify(manifest));
    const t0 = performance.now();
    twin('check', ['--manifest', join(files, 'manifest.json')]);
    t.diagnostic(`twin check of ${variants.length} variants: ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    for (const v of variants) {
      const { x32, x64, codes } = inputs.get(v.config.dim)!;
      const bytes = new Uint8Array(readFileSync(join(files, `${v.name}.safetensors`)));
      figures.push(compareWithTwin(v.name, bytes, join(files, v.name), { x32, x64, codes, ...(v.config.classes ? { context: contexts.c64 } : {}) }, N));
    }
    const worst = (k: 'logp' | 'logp32' | 'plain32' | 'grad' | 'encode' | 'decode'): string => {
      const w = figures.reduce((a, b) => (b[k] > a[k] ? b : a));
      return `${w[k].toExponential(2)} (${w.name})`;
    };
    t.diagnostic(`max relative difference of log p, float64: ${worst('logp')}; float32 without whitening: ${worst('plain32')}; ` +
      `float32, relative to the magnitude of log p's terms: ${worst('logp32')}`);
    t.diagnostic(`max relative difference of a gradient (max |Δ| / max |g| per tensor), float64: ${worst('grad')}`);
    t.diagnostic(`max |Δ| of encode: ${worst('encode')}; of decode: ${worst('decode')}`);
    if (process.env.NICE_FLOW_TWIN_FIGURES) {
      writeFileSync(process.env.NICE_FLOW_TWIN_FIGURES, JSON.stringify(figures, null, 1));
    }
  });
});

describe('the twin builds described flows (every step kind, the multi-scale flow) as nice-flow does', { skip }, () => {
  const b32 = createRefBackend();
  const files = join(dir, 'described');
  mkdirSync(files, { recursive: true });
  const rows = 6;
  // Every step kind's case of test/stepCases.ts (couplings with mlp and conv nets, scaling, logit, actnorm, invconv,
  // squeeze, split), and the multi-scale flow that has them all: logit, squeeze, two levels around a split.
  const cases = [...Object.values(STEP_CASES).flat(), MULTI_SCALE_CASE];
  const jitter = (c: StepCase): number => (c === MULTI_SCALE_CASE ? 0.1 : 0.3);
  const configOf = (c: StepCase): NiceConfig => stepCaseConfig(c);

  /** `rows` inputs inside the case's data range (spread over its middle, as stepCaseModel's start) and latent codes. */
  function caseInputs(c: StepCase, name: string, rng: Rng): { x32: Float32Array; x64: Float64Array; codes: Float32Array; x: string; h: string; context?: Float64Array; c?: string } {
    const dim = c.shape[0] * c.shape[1] * c.shape[2];
    const [lo, hi] = c.range ?? [0, 1];
    const margin = 0.01 * (hi - lo);
    const x32 = Float32Array.from({ length: rows * dim }, () => Math.min(hi - margin, Math.max(lo + margin, (lo + hi) / 2 + ((hi - lo) / 8) * rng.normal())));
    const codes = Float32Array.from({ length: rows * dim }, () => 0.8 * rng.normal());
    const x = join(files, `${name}-x.npy`), h = join(files, `${name}-codes.npy`);
    writeFileSync(x, writeNpyF32(x32, [rows, dim]));
    writeFileSync(h, writeNpyF32(codes, [rows, dim]));
    if (!c.context) return { x32, x64: Float64Array.from(x32), codes, x, h };
    // A conditional case: the first `rows` of its context rows (float32-exact: one-hot, or N(0, 1) rounded).
    const context = Float64Array.from(Float32Array.from(contextRows(c.context.size, c.context.labels).subarray(0, rows * c.context.size)));
    const cPath = join(files, `${name}-context.npy`);
    writeFileSync(cPath, writeNpyF32(Float32Array.from(context), [rows, c.context.size]));
    return { x32, x64: Float64Array.from(x32), codes, x, h, context, c: cPath };
  }

  it(`agrees on log p(x), the gradients, encode and decode of ${cases.length} described flows, the multi-scale one included`, (t: TestContext) => {
    const rng = new Rng(21);
    const manifest: { dtype: string; cases: Array<{ model: string; x: string; codes: string; out: string; context?: string }> } = { dtype: 'float64', cases: [] };
    const inputs = cases.map((c, i) => {
      // nice-flow's model of the case: initialised, started from data (ActNorm and the scaling), every parameter moved.
      const file = join(files, `case${i}.safetensors`);
      writeFileSync(file, serializeModel(stepCaseModel(b32, c, 3, jitter(c))));
      const inp = caseInputs(c, `case${i}`, rng);
      manifest.cases.push({ model: file, x: inp.x, codes: inp.h, out: join(files, `case${i}`), ...(inp.c ? { context: inp.c } : {}) });
      return inp;
    });
    writeFileSync(join(files, 'manifest.json'), JSON.stringify(manifest));
    const t0 = performance.now();
    twin('check', ['--manifest', join(files, 'manifest.json')]);
    t.diagnostic(`twin check of ${cases.length} described flows: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    for (const [i, c] of cases.entries()) {
      const bytes = new Uint8Array(readFileSync(join(files, `case${i}.safetensors`)));
      const f = compareWithTwin(c.name, bytes, join(files, `case${i}`), inputs[i], rows);
      if (c === MULTI_SCALE_CASE) {
        t.diagnostic(`${c.name}: log p relative difference ${f.logp.toExponential(2)} (float64), ${f.plain32.toExponential(2)} (float32); ` +
          `gradients ${f.grad.toExponential(2)}; encode ${f.encode.toExponential(2)}, decode ${f.decode.toExponential(2)} (max |Δ|)`);
      }
    }
  });

  it('has nice-flow\'s presets (mnist-conv\'s flow and recipe included) and learning-rate schedules', () => {
    assert.deepEqual(JSON.parse(twin('presets', []).stdout), JSON.parse(JSON.stringify(PRESETS)));
    const schedules: LrSchedule[] = [
      { kind: 'constant', warmup: 5 },
      { kind: 'cosine', warmup: 10, total: 100 },
      { kind: 'cosine', warmup: 0, total: 50, floor: 0.1 },
      { kind: 'step', warmup: 3, every: 7, factor: 0.5 },
      { kind: 'step', warmup: 0, every: 20 },
    ];
    const steps = [0, 1, 2, 4, 6, 7, 9, 10, 11, 14, 49, 50, 51, 99, 100, 150];
    const rates = JSON.parse(twin('schedule', [JSON.stringify(schedules), JSON.stringify(steps), '0.002']).stdout) as number[][];
    schedules.forEach((s, i) => steps.forEach((step, k) => {
      const want = learningRateAt(s, 0.002, step);
      assert.ok(Math.abs(rates[i][k] - want) <= 1e-12 * want, `${JSON.stringify(s)} at step ${step}: twin ${rates[i][k]}, nice-flow ${want}`);
    }));
  });

  it('a multi-scale model the twin makes and starts from data loads in nice-flow with the same log p; a started ActNorm never starts again', (t: TestContext) => {
    const c = MULTI_SCALE_CASE;
    const config = join(files, 'multi-scale-config.json');
    writeFileSync(config, JSON.stringify(configOf(c)));
    const inp = caseInputs(c, 'twin-made', new Rng(22));
    const out = join(files, 'twin-made');
    twin('check', ['--new', config, '--seed', '7', '--x', inp.x, '--codes', inp.h, '--out', out]);
    const bytes = new Uint8Array(readFileSync(join(out, 'model.safetensors')));
    // The twin's file holds the config nice-flow writes for the same flow (complete specs), and every tensor nice-flow
    // expects (deserializeModel refuses a missing, extra or misshapen one).
    const ours = readSafetensors(serializeModel(stepCaseModel(b32, c, 3, jitter(c))));
    const theirs = readSafetensors(bytes);
    assert.deepEqual(JSON.parse(theirs.metadata.config), JSON.parse(ours.metadata.config));
    assert.deepEqual(Object.keys(theirs.tensors).sort(), Object.keys(ours.tensors).sort());
    const f = compareWithTwin('twin-made multi-scale flow', bytes, out, inp, rows);
    t.diagnostic(`the twin's own multi-scale model in nice-flow: log p relative difference ${f.logp.toExponential(2)}, gradients ${f.grad.toExponential(2)}`);
    const model = deserializeModel(bytes, b32);
    const started = model.buffers.filter((b) => b.name.endsWith('.started'));
    assert.equal(started.length, 3);
    for (const b of started) assert.equal(b.data[0], 1, `${b.name}: the twin saved its ActNorm as not started`);
    // The twin loaded its file again and asked the model to start from data: nothing may change.
    const again = readSafetensors(new Uint8Array(readFileSync(join(out, 'restarted.safetensors'))));
    for (const [name, tensor] of Object.entries(theirs.tensors)) {
      assert.ok(Buffer.from(again.tensors[name].data.buffer).equals(Buffer.from(tensor.data.buffer)), `${name} changed when the loaded model was started from data again`);
    }
  });
});

/** Writes 260 images of 3×4×4 as a uint8 .npy, channels last (as NumPy image dumps are); returns them channel-major. */
function writeTinyImages(path: string): Uint8Array {
  const px = imagePixels(260, new Rng(17));
  const hwc = new Uint8Array(px.length);
  for (let i = 0; i < 260; i++) for (let c = 0; c < 3; c++) for (let p = 0; p < 16; p++) hwc[i * D + p * 3 + c] = px[i * D + c * 16 + p];
  const header = `{'descr': '|u1', 'fortran_order': False, 'shape': (260, 4, 4, 3), }`;
  const padded = header + ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
  writeFileSync(path, Buffer.concat([Buffer.from([0x93]), Buffer.from('NUMPY'), Buffer.from([1, 0]), Buffer.from(Uint16Array.of(padded.length).buffer), Buffer.from(padded, 'latin1'), Buffer.from(hwc)]));
  return px;
}

describe('training with the twin', { skip }, () => {
  // 400 training images (4 steps of 100 per epoch), 200 validation images, a small MLP.
  const small = ['--data', 'mnist', '--limit', '400', '--valid-size', '10000', '--valid-limit', '200', '--batch-size', '100',
    '--hidden', '32', '--depth', '1', '--device', 'cpu', '--quiet'];
  const ddp = join(dir, 'ddp');
  const readLog = (out: string): Record<string, number>[] => readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

  it('2 processes (DistributedDataParallel, gloo) train a model that nice-flow evaluates to the twin\'s own number', async (t: TestContext) => {
    let t0 = performance.now();
    twin('train', [...small, '--max-steps', '6', '--out', ddp], { torchrun: 2, port: await freePort() });
    t.diagnostic(`2-process run (6 steps): ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    assert.deepEqual(readLog(ddp).map((l) => l.step), [4, 6]); // validated after epoch 1 and at the end
    const model = join(ddp, 'model.safetensors');
    const evalArgs = ['--model', model, '--data', 'mnist', '--split', 'test', '--limit', '500', '--json'];
    for (const dequantize of ['center', 'uniform']) {
      t0 = performance.now();
      const mine = lastJson(twin('eval', [...evalArgs, '--dequantize', dequantize, '--device', 'cpu']).stdout);
      const r = cli('eval', ...evalArgs, '--dequantize', dequantize, '--quiet');
      assert.equal(r.code, 0, r.stderr);
      const theirs = lastJson(r.stdout);
      assert.equal(mine.n, theirs.n);
      const diff = Math.abs(mine.logLikelihood - theirs.logLikelihood);
      t.diagnostic(`${dequantize}: twin eval ${mine.logLikelihood.toFixed(4)} nats (${mine.bitsPerDim.toFixed(5)} bits/dim), ` +
        `nice-flow eval ${theirs.logLikelihood.toFixed(4)} (${theirs.bitsPerDim.toFixed(5)}), difference ${diff.toExponential(2)} ` +
        `(stdError ${theirs.stdError.toFixed(2)}; both evals ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
      if (dequantize === 'center') {
        // The same numbers in float32 on both sides.
        assert.ok(diff < 1e-5 * Math.abs(theirs.logLikelihood), `center: twin ${mine.logLikelihood}, nice-flow ${theirs.logLikelihood}`);
        assert.ok(Math.abs(mine.bitsPerDim - theirs.bitsPerDim) < 1e-5 * theirs.bitsPerDim);
        assert.ok(Math.abs(mine.stdError - theirs.stdError) < 1e-3 * theirs.stdError);
      } else {
        // Each draws its own noise: the means differ by far less than the spread between images.
        assert.ok(diff < theirs.stdError, `uniform: twin ${mine.logLikelihood}, nice-flow ${theirs.logLikelihood} ± ${theirs.stdError}`);
      }
    }
  });

  it('evaluates a class-conditional model as nice-flow does: marginal, conditional under the labels, accuracy', () => {
    const out = join(dir, 'cond');
    const t = cli('train', '--data', 'mnist', '--conditional', '--class-weight', '1', '--limit', '600', '--valid-size', '10000', '--valid-limit', '100',
      '--batch-size', '100', '--hidden', '32', '--depth', '1', '--epochs', '1', '--out', out, '--quiet');
    assert.equal(t.code, 0, t.stderr);
    const args = ['--model', join(out, 'model.safetensors'), '--data', 'mnist', '--split', 'test', '--limit', '300', '--dequantize', 'center', '--json'];
    const mine = lastJson(twin('eval', [...args, '--device', 'cpu']).stdout);
    const r = cli('eval', ...args, '--quiet');
    assert.equal(r.code, 0, r.stderr);
    const theirs = lastJson(r.stdout);
    for (const k of ['logLikelihood', 'conditionalLogLikelihood'] as const) {
      assert.ok(Math.abs(mine[k] - theirs[k]) < 1e-5 * Math.abs(theirs[k]), `${k}: twin ${mine[k]}, nice-flow ${theirs[k]}`);
    }
    assert.ok(mine.conditionalLogLikelihood > mine.logLikelihood);
    assert.equal(mine.accuracy, theirs.accuracy);
    // Several noise draws per image (--draws): each its own noise, so the figures agree to the spread between images.
    const drawn = [...args.slice(0, -3), '--dequantize', 'uniform', '--draws', '4', '--json'];
    const mine4 = lastJson(twin('eval', [...drawn, '--device', 'cpu']).stdout);
    const r4 = cli('eval', ...drawn, '--quiet');
    assert.equal(r4.code, 0, r4.stderr);
    const theirs4 = lastJson(r4.stdout);
    assert.equal(mine4.draws, 4);
    assert.equal(theirs4.draws, 4);
    assert.ok(Math.abs(mine4.logLikelihood - theirs4.logLikelihood) < theirs4.stdError, `draws 4: twin ${mine4.logLikelihood}, nice-flow ${theirs4.logLikelihood} ± ${theirs4.stdError}`);
    assert.ok(Math.abs(mine4.accuracy - theirs4.accuracy) < 0.05);
  });

  it('nice-flow\'s Adam is torch.optim.Adam: three whole-batch steps from one start give the same weights and moments', (t: TestContext) => {
    // One batch holds the whole training set (100 images at pixel centres), so the shuffle cannot matter: from the same
    // start, nice-flow's Trainer (its Adam kernel) and the twin (torch.optim.Adam) take the same three steps. A wrong
    // bias correction or moment update on either side shows in the weights and moments after them.
    const data = loadSplit('mnist', 'train', { validSize: 10000, limit: 100 });
    const config = validateConfig({ dim: 784, couplings: 2, hidden: 16, depth: 1, prior: 'logistic', partition: 'alternate', coupling: 'affine', shape: [1, 28, 28] });
    const model = new NiceModel(createRefBackend(), config);
    model.init(new Rng(21));
    const start = join(dir, 'adam-start.safetensors');
    writeFileSync(start, serializeModel(model));
    const trainer = new Trainer(model, data, { batchSize: 100, dequantize: 'center', seed: 1, adam: { lr: 1e-2, beta1: 0.9, beta2: 0.99, eps: 1e-4 } });
    for (let i = 0; i < 3; i++) trainer.trainStep();
    const out = join(dir, 'adam-twin');
    twin('train', ['--data', 'mnist', '--limit', '100', '--valid-size', '10000', '--valid-limit', '10', '--batch-size', '100', '--dequantize', 'center',
      '--lr', '0.01', '--init', start, '--max-steps', '3', '--device', 'cpu', '--quiet', '--out', out]);
    const theirs = readSafetensors(new Uint8Array(readFileSync(join(out, 'checkpoint.safetensors')))).tensors;
    const rel = (a: ArrayLike<number>, b: ArrayLike<number>): number => maxAbsDiff(a, b) / maxAbs(b);
    let worst = 0;
    for (const [i, p] of model.params.entries()) {
      const moved = rel(p.data, readSafetensors(new Uint8Array(readFileSync(start))).tensors[p.name].data);
      assert.ok(moved > 1e-3, `${p.name} did not move (${moved})`);
      for (const [what, ours, key] of [['weights', p.data, p.name], ['first moment', trainer.adam.m[i], `train.adam.m.${p.name}`], ['second moment', trainer.adam.v[i], `train.adam.v.${p.name}`]] as const) {
        const d = rel(ours, theirs[key].data);
        worst = Math.max(worst, d);
        assert.ok(d < 1e-4, `${p.name}, ${what} after 3 steps: nice-flow and torch.optim.Adam differ by ${d} (relative to its largest value)`);
      }
    }
    t.diagnostic(`largest relative difference after 3 steps (weights, m, v): ${worst.toExponential(2)}`);
  });

  it('the 2-process run is the 1-process run, and resumes exactly in 1 process', (t: TestContext) => {
    // Batches and noise depend only on the seed and the step, and each process's loss is scaled so DDP's average is
    // the whole batch's mean: the 2-process run (6 steps), resumed in 1 process to 8 steps, must be the 1-process
    // run of 8 steps straight, up to float32 rounding.
    const straight = join(dir, 'straight');
    const t0 = performance.now();
    twin('train', ['--out', ddp, '--resume', '--max-steps', '8', '--quiet']);
    twin('train', [...small, '--max-steps', '8', '--out', straight]);
    t.diagnostic(`resume (2 steps) + straight run (8 steps): ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const [a, b] = [readLog(ddp), readLog(straight)];
    assert.deepEqual(a.map((l) => l.step), [4, 6, 8]);
    assert.deepEqual(b.map((l) => l.step), [4, 8]);
    for (const [x, y] of [[a[0], b[0]], [a[2], b[1]]]) {
      const d = Math.abs(x.validLogLikelihood - y.validLogLikelihood);
      t.diagnostic(`validation at step ${x.step}: 2 processes (+ resume) ${x.validLogLikelihood.toFixed(4)}, 1 process ${y.validLogLikelihood.toFixed(4)}`);
      assert.ok(d < 1e-4 * Math.abs(y.validLogLikelihood), `validation at step ${x.step} differs by ${d}`);
    }
    const ca = readSafetensors(new Uint8Array(readFileSync(join(ddp, 'checkpoint.safetensors'))));
    const cb = readSafetensors(new Uint8Array(readFileSync(join(straight, 'checkpoint.safetensors'))));
    assert.deepEqual(Object.keys(ca.tensors).sort(), Object.keys(cb.tensors).sort());
    let worst = 0;
    for (const [name, tensor] of Object.entries(cb.tensors)) {
      worst = Math.max(worst, maxAbsDiff(ca.tensors[name].data, tensor.data) / Math.max(1e-3, maxAbs(tensor.data)));
    }
    t.diagnostic(`weights and Adam moments after 8 steps, 2 processes + resume vs 1 process: max relative difference ${worst.toExponential(2)}`);
    assert.ok(worst < 1e-3, `the runs differ by ${worst} (relative)`);
  });

  it('starts from a nice-flow model (--init, conv affine coupling with ZCA whitening) and nice-flow evaluates the result', (t: TestContext) => {
    const data = join(dir, 'tiny-train.npy');
    const px = writeTinyImages(data);
    // nice-flow's model to start from: affine conv coupling, checkerboard, Gaussian prior, ZCA fitted on the data.
    const b32 = createRefBackend();
    const config: NiceConfig = { dim: D, couplings: 4, hidden: 4, depth: 2, prior: 'gaussian', partition: 'checkerboard', coupling: 'affine', shape: [...SHAPE], network: 'conv', whiten: 'zca' };
    const start0 = new NiceModel(b32, config);
    start0.init(new Rng(3));
    const fit = fitZca(centred(px.subarray(0, 200 * D)), 200, D);
    start0.setWhitening(new Whitening(b32, D, fit.mean, fit.matrix, fit.inverse, fit.logDet));
    const init = join(dir, 'init-start.safetensors');
    writeFileSync(init, serializeModel(start0));
    const out = join(dir, 'init');
    twin('train', ['--data', data, '--init', init, '--out', out, '--valid-size', '60', '--batch-size', '50', '--max-steps', '3', '--lr', '1e-3', '--quiet']);
    const model = join(out, 'model.safetensors');
    const trained = readSafetensors(new Uint8Array(readFileSync(model)));
    const start = readSafetensors(new Uint8Array(readFileSync(init)));
    assert.deepEqual(JSON.parse(trained.metadata.config), JSON.parse(start.metadata.config));
    assert.ok(Buffer.from(trained.tensors['whitening.matrix'].data.buffer).equals(Buffer.from(start.tensors['whitening.matrix'].data.buffer)), 'the whitening is fixed');
    assert.ok(maxAbsDiff(trained.tensors['scaling.scale'].data, start.tensors['scaling.scale'].data) > 0, 'training changed nothing');
    const args = ['--data', data, '--split', 'valid', '--valid-size', '60', '--dequantize', 'center', '--json'];
    const mine = lastJson(twin('eval', ['--model', model, ...args]).stdout);
    const r = cli('eval', '--model', model, ...args, '--quiet');
    assert.equal(r.code, 0, r.stderr);
    const theirs = lastJson(r.stdout);
    t.diagnostic(`--init run: twin eval ${mine.logLikelihood.toFixed(4)}, nice-flow eval ${theirs.logLikelihood.toFixed(4)} nats on 60 images`);
    assert.equal(mine.n, 60);
    assert.ok(Math.abs(mine.logLikelihood - theirs.logLikelihood) < 1e-5 * Math.max(1, Math.abs(theirs.logLikelihood)));
  });

  it('trains a described multi-scale flow with --flow, --ema, a cosine schedule, --clip-grad and --log-test; nice-flow evaluates its model to the twin\'s number', (t: TestContext) => {
    const data = join(dir, 'tiny-flow-train.npy');
    writeTinyImages(data);
    // 3×4×4 images: logit, squeeze to 12×2×2, a level, split, a level on 6×2×2, scaling.
    const level = [{ type: 'actnorm' }, { type: 'invconv' }, { type: 'coupling', law: 'affine', partition: 'channels', network: 'conv', hidden: 4, depth: 1, zeroInit: true }];
    const flow = [{ type: 'logit' }, { type: 'squeeze' }, ...level, { type: 'split' }, ...level, { type: 'scaling' }];
    const flowFile = join(dir, 'tiny-flow.json');
    writeFileSync(flowFile, JSON.stringify({ flow }));
    const out = join(dir, 'flow-run');
    const t0 = performance.now();
    twin('train', ['--data', data, '--flow', flowFile, '--out', out, '--valid-size', '60', '--batch-size', '50', '--epochs', '2', '--max-steps', '6',
      '--ema', '0.9', '--lr-schedule', 'cosine', '--warmup', '2', '--clip-grad', '1', '--log-test', '--device', 'cpu', '--quiet']);
    t.diagnostic(`twin run of a described flow (6 steps, 2 validations with the average and the live weights, on valid and test): ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const log = readLog(out);
    assert.deepEqual(log.map((l) => l.step), [4, 6]);
    for (const l of log) {
      for (const k of ['validLogLikelihood', 'liveValidLogLikelihood', 'liveValidBitsPerDim', 'testLogLikelihood', 'testBitsPerDim', 'liveTestLogLikelihood', 'liveTestBitsPerDim']) {
        assert.ok(Number.isFinite(l[k]), `log line at step ${l.step}: ${k} is ${l[k]}`);
      }
    }
    // The twin's model file: the config holds the flow complete, as nice-flow would write it; the ActNorm layers started.
    const model = join(out, 'model.safetensors');
    const file = readSafetensors(new Uint8Array(readFileSync(model)));
    const config = JSON.parse(file.metadata.config) as NiceConfig;
    assert.deepEqual(config, validateConfig({ dim: D, prior: 'logistic', shape: [...SHAPE], flow }));
    for (const name of ['flow.2.started', 'flow.6.started']) assert.equal(file.tensors[name].data[0], 1, name);
    const ckpt = readSafetensors(new Uint8Array(readFileSync(join(out, 'checkpoint.safetensors'))));
    assert.ok(Object.keys(ckpt.tensors).some((n) => n.startsWith('train.ema.flow.')), 'the checkpoint holds no weight average');
    const args = ['--data', data, '--split', 'valid', '--valid-size', '60', '--dequantize', 'center', '--json'];
    const mine = lastJson(twin('eval', ['--model', model, ...args]).stdout);
    const r = cli('eval', '--model', model, ...args, '--quiet');
    assert.equal(r.code, 0, r.stderr);
    const theirs = lastJson(r.stdout);
    t.diagnostic(`described-flow run: twin eval ${mine.logLikelihood.toFixed(4)}, nice-flow eval ${theirs.logLikelihood.toFixed(4)} nats on 60 images`);
    assert.ok(Math.abs(mine.logLikelihood - theirs.logLikelihood) < 1e-5 * Math.max(1, Math.abs(theirs.logLikelihood)));
  });
});
