import type { Backend } from '../core/Backend.js';
import { NiceFlowError } from '../core/NiceFlowError.js';
import type { Bijection } from '../flows/Bijection.js';
import { Chain } from '../flows/Chain.js';
import { getStepKind } from '../flows/steps/stepRegistry.js';
import type { Shape3, StepKind, StepSpec } from '../flows/steps/StepKind.js';
import { imageShape } from './imageShape.js';
import { contextSize } from './contextSize.js';
import type { NiceConfig } from './NiceConfig.js';

/**
 * The shape a config's flow starts from: its `shape`, or for continuous data one row [1, 1, dim], else the square (or
 * row) `imageShape` guesses from `dim`.
 */
export function flowInputShape(config: Pick<NiceConfig, 'shape' | 'dim' | 'data'>): Shape3 {
  if (!config.shape && config.data === 'continuous') return [1, 1, config.dim];
  const [c, h, w] = imageShape(config.shape, config.dim);
  return [c, h, w];
}

/** The most steps a flow description may list. */
export const MAX_FLOW_STEPS = 4096;

/** One step of a model's flow, checked and placed: its kind, complete spec, input shape and weight-file prefix. */
export interface PlannedStep {
  kind: StepKind;
  spec: StepSpec;
  /** The shape the step sees. */
  shape: Shape3;
  /** Weight-file name prefix of its tensors. */
  prefix: string;
  /** For couplings without an explicit parity: the alternation of consecutive couplings. */
  parity: number;
}

/**
 * Checks an untrusted flow description (a model config's `flow`) for data of shape `shape`: a non-empty list of
 * registered steps whose settings fit the shapes they meet (a squeeze needs even sides, a split an even channel count
 * and steps after it). Returns the complete specs (defaults filled in); errors name the step by its index.
 */
export function validateFlow(raw: unknown, shape: Shape3): StepSpec[] {
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_FLOW_STEPS) {
    throw new NiceFlowError(`"flow" must be a list of 1 to ${MAX_FLOW_STEPS} steps, got ${Array.isArray(raw) ? `${raw.length} steps` : JSON.stringify(raw)?.slice(0, 40)}`);
  }
  const out: StepSpec[] = [];
  let cur = shape;
  for (const [i, step] of raw.entries()) {
    if (typeof step !== 'object' || step === null || Array.isArray(step)) throw new NiceFlowError(`flow step ${i}: not a JSON object`);
    try {
      const kind = getStepKind((step as StepSpec).type);
      const spec = kind.validate(step as StepSpec, cur);
      if (kind.encloses && i === raw.length - 1) throw new NiceFlowError(`${spec.type} step: nothing follows it (the steps of the next level must come after it)`);
      if (spec.latent === true && i !== raw.length - 1) throw new NiceFlowError(`${spec.type} step: "latent": true only for the flow's last step (it acts on the whole latent, after every level)`);
      out.push(spec);
      cur = kind.outShape(spec, cur);
    } catch (e) {
      if (e instanceof NiceFlowError) throw new NiceFlowError(`flow step ${i}: ${e.message}`);
      throw e;
    }
  }
  return out;
}

/**
 * The steps of the paper's flat config: K couplings named `couplings.{k}.`, then the scaling `scaling.` (NICE §3,
 * the weight-file names of docs/weight-files.md). Whitening, when asked, is not a step: the model puts it first.
 */
function paperSteps(config: NiceConfig): StepSpec[] {
  const { couplings = 0, coupling = 'additive', partition = 'alternate', network = 'mlp', hidden = 1, depth = 0 } = config;
  // A conditional flat model reads its class (or context) in the prior (a last step that moves and scales it), in
  // every coupling network, or both (config.conditioning).
  const C = contextSize(config);
  const conditioning = config.conditioning ?? 'prior';
  const inCouplings = C > 0 && conditioning !== 'prior' ? { context: C } : {};
  const steps: StepSpec[] = [];
  for (let k = 0; k < couplings; k++) steps.push({ type: 'coupling', law: coupling, partition, network, hidden, depth, ...inCouplings });
  steps.push({ type: 'scaling' });
  if (C > 0 && conditioning !== 'couplings') steps.push({ type: 'context-affine', context: C });
  return steps;
}

/**
 * A model config's flow as placed steps: its `flow` description (tensors named `flow.{i}.…`), or the steps of the
 * paper's flat config (named as the paper's weight files always were). Consecutive couplings alternate their
 * partition's sets (NICE §3.2) unless a spec sets `parity`.
 */
export function planFlow(config: NiceConfig): PlannedStep[] {
  const described = config.flow !== undefined;
  let shape = flowInputShape(config);
  const specs = described ? validateFlow(config.flow, shape) : paperSteps(config);
  const planned: PlannedStep[] = [];
  let couplings = 0;
  for (const [i, raw] of specs.entries()) {
    const kind = getStepKind(raw.type);
    // A step on the whole latent (the last) sees as many values as the flow's input, in the latent's order.
    if (raw.latent === true) shape = flowInputShape(config);
    const spec = kind.validate(raw, shape);
    const prefix = described ? `flow.${i}.` : raw.type === 'coupling' ? `couplings.${couplings}.` : raw.type === 'scaling' ? 'scaling.' : 'conditional.';
    planned.push({ kind, spec, shape, prefix, parity: raw.type === 'coupling' ? couplings++ % 2 : 0 });
    shape = kind.outShape(spec, shape);
  }
  return planned;
}

/** Trainable values of the planned steps, counted from their shapes (nothing is built). */
export function countPlannedParams(plan: PlannedStep[]): number {
  let total = 0;
  for (const p of plan) for (const t of p.kind.paramShapes(p.spec, p.shape)) total += t.shape.reduce((a, b) => a * b, 1);
  return total;
}

/**
 * Builds planned steps on a backend as one Chain; a step that encloses the rest (a split) gets the steps after it
 * built first, as its inner flow; a last step with `latent: true` comes after all of it, on the whole latent. `range`
 * is the model's data range (for the logit step).
 */
export function buildPlannedFlow(backend: Backend, plan: PlannedStep[], range: readonly [number, number]): Chain {
  const last = plan[plan.length - 1];
  const onLatent = last?.spec.latent === true ? last : null;
  const body = onLatent ? plan.slice(0, -1) : plan;
  const site = (p: PlannedStep) => ({ backend, shape: p.shape, prefix: p.prefix, parity: p.parity, range });
  const build = (from: number): Chain => {
    const layers: Bijection[] = [];
    for (let i = from; i < body.length; i++) {
      const p = body[i];
      if (p.kind.encloses) {
        layers.push(p.kind.build(p.spec, site(p), build(i + 1)));
        break;
      }
      layers.push(p.kind.build(p.spec, site(p)));
    }
    return new Chain(backend, layers);
  };
  if (!onLatent) return build(0);
  // A flow of that one step has no body to build.
  const before = body.length > 0 ? build(0).layers : [];
  return new Chain(backend, [...before, onLatent.kind.build(onLatent.spec, site(onLatent))]);
}
