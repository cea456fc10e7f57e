// The registered flow steps as bijection test cases, shared by the property suite (bijections.test.ts) and the
// contract suite (bijectionContract.test.ts): every kind in src/flows/steps/stepRegistry.ts must have a case here
// (test/flowSteps.test.ts checks that), so a new kind is checked by both suites without any other edit.
import type { Backend } from '../src/core/Backend.js';
import { Rng } from '../src/core/Rng.js';
import type { Bijection } from '../src/flows/Bijection.js';
import type { StepSpec } from '../src/flows/steps/StepKind.js';
import type { NiceConfig } from '../src/model/NiceConfig.js';
import { NiceModel } from '../src/model/NiceModel.js';
import type { PriorName } from '../src/priors/priorRegistry.js';
import { contextRows, randn } from './helpers.js';

/** One step (or a short flow) on 24 values, with the data range its inputs (N(0, 1) draws) fall inside. */
export interface StepCase {
  name: string;
  shape: [number, number, number];
  flow: StepSpec[];
  range?: [number, number];
  /** A conditional flow: its context size, and whether the contexts are one-hot labels (`classes`). */
  context?: { size: number; labels: boolean };
}

const conv = { network: 'conv', hidden: 4, depth: 1 } as const;

/** Cases by step type; a flow case may hold other steps around the one it is for (a split needs a level after it). */
export const STEP_CASES: Record<string, StepCase[]> = {
  coupling: [
    { name: 'affine conv coupling (channels, zero-init start perturbed)', shape: [6, 2, 2], flow: [{ type: 'coupling', law: 'affine', partition: 'channels', ...conv, zeroInit: true }] },
    { name: 'bounded-affine conv coupling (channels, parity 0)', shape: [4, 2, 3], flow: [{ type: 'coupling', law: 'bounded-affine', partition: 'channels', ...conv, parity: 0 }] },
    { name: 'glow-affine conv coupling (checkerboard, zero-init start perturbed)', shape: [2, 4, 4], flow: [{ type: 'coupling', law: 'glow-affine', partition: 'checkerboard', ...conv, zeroInit: true }] },
    { name: 'affine conv coupling whose network reads one-hot labels of 3 classes (a per-class first-layer bias)', shape: [4, 2, 3], flow: [{ type: 'coupling', law: 'affine', partition: 'channels', ...conv, hidden: 5, zeroInit: true, context: 3 }], context: { size: 3, labels: true } },
    { name: 'additive conv coupling (checkerboard) reading a continuous context of 2 values', shape: [1, 4, 4], flow: [{ type: 'coupling', law: 'additive', partition: 'checkerboard', ...conv, context: 2 }], context: { size: 2, labels: false } },
    { name: 'affine gated-residual coupling, 2 blocks (checkerboard, zero-init start perturbed)', shape: [2, 4, 4], flow: [{ type: 'coupling', law: 'affine', partition: 'checkerboard', network: 'gated', hidden: 3, depth: 2, zeroInit: true }] },
    { name: 'additive gated-residual coupling reading one-hot labels of 3 classes (channels)', shape: [4, 2, 3], flow: [{ type: 'coupling', law: 'additive', partition: 'channels', network: 'gated', hidden: 4, depth: 1, context: 3 }], context: { size: 3, labels: true } },
    { name: 'affine mlp coupling whose network reads one-hot labels of 3 classes', shape: [2, 3, 4], flow: [{ type: 'coupling', law: 'affine', partition: 'alternate', hidden: 5, depth: 1, context: 3 }], context: { size: 3, labels: true } },
    { name: 'additive mlp coupling (alternate, parity 1)', shape: [2, 3, 4], flow: [{ type: 'coupling', law: 'additive', partition: 'alternate', hidden: 5, depth: 1, parity: 1 }] },
  ],
  scaling: [{ name: 'diagonal scaling', shape: [2, 3, 4], flow: [{ type: 'scaling' }] }],
  'context-affine': [
    { name: 'context-affine on one-hot labels of 3 classes', shape: [2, 3, 4], flow: [{ type: 'context-affine', context: 3 }], context: { size: 3, labels: true } },
    { name: 'context-affine on a continuous context of 2 values', shape: [2, 3, 4], flow: [{ type: 'context-affine', context: 2 }], context: { size: 2, labels: false } },
    {
      name: 'context-affine on the whole latent after a split (every level\'s values), one-hot labels of 3 classes',
      shape: [6, 2, 2],
      flow: [{ type: 'split' }, { type: 'actnorm' }, { type: 'coupling', law: 'affine', partition: 'channels', ...conv }, { type: 'context-affine', context: 3, latent: true }],
      context: { size: 3, labels: true },
    },
    // The whole flow: no levels before it (it was built from an empty body and failed).
    { name: 'context-affine on the whole latent as the only step', shape: [2, 3, 4], flow: [{ type: 'context-affine', context: 2, latent: true }], context: { size: 2, labels: false } },
  ],
  logit: [{ name: 'logit on the range [−8, 8]', shape: [2, 3, 4], flow: [{ type: 'logit', alpha: 0.1 }], range: [-8, 8] }],
  actnorm: [{ name: 'ActNorm', shape: [3, 2, 4], flow: [{ type: 'actnorm' }] }],
  invconv: [{ name: 'invertible 1×1 convolution (LU)', shape: [3, 2, 4], flow: [{ type: 'invconv' }] }],
  squeeze: [{ name: 'squeeze 2×2', shape: [2, 2, 6], flow: [{ type: 'squeeze' }] }],
  split: [
    {
      name: 'split, then a level on half the channels',
      shape: [6, 2, 2],
      flow: [{ type: 'split' }, { type: 'actnorm' }, { type: 'coupling', law: 'affine', partition: 'channels', ...conv }],
    },
  ],
};

/** A multi-scale flow with every kind, as a whole model would have it. */
export const MULTI_SCALE_CASE: StepCase = {
  name: 'multi-scale flow: logit, squeeze, 2 × (actnorm, invconv, affine coupling), split, level 2, scaling',
  shape: [1, 4, 6],
  range: [-8, 8],
  flow: [
    { type: 'logit', alpha: 0.1 },
    { type: 'squeeze' },
    { type: 'actnorm' }, { type: 'invconv' }, { type: 'coupling', law: 'affine', partition: 'channels', ...conv, zeroInit: true },
    { type: 'actnorm' }, { type: 'invconv' }, { type: 'coupling', law: 'affine', partition: 'channels', ...conv, zeroInit: true },
    { type: 'split' },
    { type: 'actnorm' }, { type: 'invconv' }, { type: 'coupling', law: 'additive', partition: 'checkerboard', ...conv },
    { type: 'scaling' },
  ],
};

/** A case's model config: its flow on its shape, with its range and context. */
export function stepCaseConfig(c: StepCase, prior: PriorName = 'logistic'): NiceConfig {
  const conditional = c.context ? (c.context.labels ? { classes: c.context.size } : { context: c.context.size }) : {};
  return { dim: c.shape[0] * c.shape[1] * c.shape[2], prior, shape: c.shape, flow: c.flow, ...(c.range ? { range: c.range } : {}), ...conditional };
}

/**
 * The model of a case on the backend: initialised, started from data (ActNorm; the scaling too), then every
 * parameter moved by N(0, jitter²) so no layer is left at the identity (zero-initialised convolutions included).
 */
export function stepCaseModel(backend: Backend, c: StepCase, seed = 3, jitter = 0.3): NiceModel {
  const dim = c.shape[0] * c.shape[1] * c.shape[2];
  const model = new NiceModel(backend, stepCaseConfig(c));
  model.init(new Rng(seed));
  const lo = c.range?.[0] ?? 0, hi = c.range?.[1] ?? 1;
  // Data inside the range, spread over its middle.
  const x = Float64Array.from(randn(40 * dim, seed + 1, (hi - lo) / 8), (v) => (lo + hi) / 2 + v);
  // 40 rows of context: the case's 8 context rows, repeated.
  const rows = c.context ? contextRows(c.context.size, c.context.labels) : null;
  const context = rows ? Float64Array.from({ length: 40 * c.context!.size }, (_, i) => rows[i % rows.length]) : undefined;
  const f = <T extends Float64Array>(a: T) => (backend.dtype === 'float64' ? a : Float32Array.from(a));
  model.initFromData(f(x), 40, { scaling: true, context: context && f(context) });
  for (const [k, p] of model.params.entries()) {
    const r = randn(p.data.length, seed + 10 + k, jitter);
    for (let i = 0; i < p.data.length; i++) p.data[i] += r[i];
  }
  return model;
}

/** Every step case, and the multi-scale flow, as named makers of the flow bijection. */
export function stepBijectionCases(): { name: string; make: (b: Backend) => Bijection; context?: { size: number; rows: Float64Array } }[] {
  const all = [...Object.values(STEP_CASES).flat(), MULTI_SCALE_CASE];
  // The whole flow stacks 12 layers: smaller moves keep it well conditioned enough for a float32 round trip to 1e-5.
  return all.map((c) => ({
    name: `flow step: ${c.name}`,
    make: (b: Backend) => stepCaseModel(b, c, 3, c === MULTI_SCALE_CASE ? 0.1 : 0.3).flow,
    ...(c.context ? { context: { size: c.context.size, rows: contextRows(c.context.size, c.context.labels) } } : {}),
  }));
}
