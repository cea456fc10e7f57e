import { NiceFlowError } from '../core/NiceFlowError.js';
import { COUPLING_LAWS, type CouplingLaw } from '../flows/couplingLaw.js';
import { PARTITION_NAMES, partitionFor, type PartitionName } from '../flows/Partition.js';
import { MAX_CONTEXT } from '../flows/steps/contextAffineStep.js';
import type { StepSpec } from '../flows/steps/StepKind.js';
import { PRIOR_NAMES, type PriorName } from '../priors/priorRegistry.js';
import { contextSize } from './contextSize.js';
import { flowInputShape, validateFlow } from './planFlow.js';

/**
 * Everything that fixes a NICE model's architecture. Stored as JSON in the weight file's
 * `__metadata__.config`, so a file says what it holds.
 *
 * The flow is given in one of two forms: the paper's flat form (`couplings`, `hidden`, `depth`, `partition`,
 * `coupling`, `network`: K couplings then the diagonal scaling), or a description, `flow`: a list of registered steps
 * (src/flows/steps; docs/architectures.md), for multi-scale image flows and anything else the registry can build.
 * A config has one form or the other, never both.
 */
export interface NiceConfig {
  /** Data dimension D (784 for MNIST). */
  dim: number;
  /** Number of coupling layers (the paper: 4). Flat form only. */
  couplings?: number;
  /** Hidden units per layer of each coupling MLP (the paper, MNIST: 1000); channels per conv layer for `conv`. Flat form only. */
  hidden?: number;
  /** Hidden layers per coupling MLP (the paper, MNIST: 5); number of 3×3 conv layers (≥ 1) for `conv`. Flat form only. */
  depth?: number;
  prior: PriorName;
  /** Flat form only. */
  partition?: PartitionName;
  /** Coupling law g (NICE §3.2); `additive` when absent from a file. Flat form only. */
  coupling?: CouplingLaw;
  /** The flow as a list of steps (the described form), data side first. */
  flow?: StepSpec[];
  /** Image shape [C, H, W] when the data are images (used by checkerboard, channels, conv and for pictures). */
  shape?: number[];
  /**
   * The coupling network m: `mlp` (dense, the default; omitted from configs and files) or `conv` (convolutional on
   * the `shape` image). validateConfig leaves it out when it is `mlp`.
   */
  network?: NetworkName;
  /**
   * The data range [lo, hi] the model was trained on: pixels are dequantized to lo + (hi − lo)·(pixel + u)/256.
   * [0, 1] when absent (omitted from files then); the paper's CIFAR-10 uses [−1, 1]. Not for continuous data.
   */
  range?: [number, number];
  /**
   * What the model's inputs are. Absent: dequantized 8-bit pixels (the data range, bits/dim and pictures apply).
   * `continuous`: real vectors taken as they are (a `PointDataset`): no `range`, no logit step, no pictures,
   * log-likelihoods in nats only; without a `shape` the flow sees one row [1, 1, dim].
   */
  data?: DataKind;
  /**
   * `zca`: a fixed ZCA whitening layer (fitted on the training split, stored in the weight file as `whitening.*`)
   * runs before the couplings, and its log-determinant is part of log p(x) (the paper, SVHN and CIFAR-10).
   */
  whiten?: 'zca';
  /**
   * A class-conditional model over this many classes (K ≥ 2): the context of an example is its label, one-hot
   * encoded (K values). `logProb`, `sample`, encode and decode then take labels; `classify` applies Bayes' rule.
   */
  classes?: number;
  /** The class prior p(y) for Bayes' rule and the marginal likelihood (K probabilities; uniform when absent). */
  classPrior?: number[];
  /** A model conditioned on a context vector of this many values per example (any numbers; `classes` sets it to K). */
  context?: number;
  /**
   * Flat form, conditional model: where the context enters. `prior` (the default): a context-affine step after the
   * scaling moves and scales the prior per context; `couplings`: every coupling network reads the context beside
   * x_I1; `both`.
   */
  conditioning?: Conditioning;
}

/** What a model's inputs are (NiceConfig.data): `continuous` values taken as they are (8-bit pixels when absent). */
export type DataKind = 'continuous';

/** Where a flat conditional model reads its context (NiceConfig.conditioning). */
export type Conditioning = 'prior' | 'couplings' | 'both';
/** The names accepted for `Conditioning`. */
export const CONDITIONINGS: readonly Conditioning[] = ['prior', 'couplings', 'both'];

/** Kinds of coupling network. */
export type NetworkName = 'mlp' | 'conv';

/** The names accepted for `NetworkName`. */
export const NETWORK_NAMES: readonly NetworkName[] = ['mlp', 'conv'];

/** The paper's MNIST model (§5.1): 4 additive couplings of 5 × 1000 ReLU layers, logistic prior. */
export const PAPER_MNIST_CONFIG: NiceConfig = {
  dim: 784,
  couplings: 4,
  hidden: 1000,
  depth: 5,
  prior: 'logistic',
  partition: 'alternate',
  coupling: 'additive',
  shape: [1, 28, 28],
};

/** The largest sizes a config may state: 2^26 values per example (an 8192×8192 image), 1024 layers, 2^20 units. */
export const MAX_CONFIG = { dim: 2 ** 26, couplings: 1024, hidden: 2 ** 20, depth: 1024 } as const;

/**
 * Checks an untrusted config (from a file or the command line) and returns it typed; the error names the field.
 */
export function validateConfig(raw: unknown): NiceConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new NiceFlowError('model config is not a JSON object');
  const c = raw as Record<string, unknown>;
  const posInt = (key: string, min: number, max: number): number => {
    const v = c[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new NiceFlowError(`model config: "${key}" must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  // Upper bounds far beyond any model that fits in memory, so an absurd claim in a file is refused before anything is
  // built on it (a file's tensors are then checked against the config's sizes before the model is allocated).
  const dim = posInt('dim', 2, MAX_CONFIG.dim);
  if (c.flow !== undefined) return validateDescribedConfig(c, dim);
  const couplings = posInt('couplings', 1, MAX_CONFIG.couplings);
  const hidden = posInt('hidden', 1, MAX_CONFIG.hidden);
  const depth = posInt('depth', 0, MAX_CONFIG.depth);
  if (!PRIOR_NAMES.includes(c.prior as PriorName)) {
    throw new NiceFlowError(`model config: "prior" must be one of ${PRIOR_NAMES.join(', ')}, got ${JSON.stringify(c.prior)}`);
  }
  const prior = c.prior as PriorName;
  if (!PARTITION_NAMES.includes(c.partition as PartitionName)) {
    throw new NiceFlowError(`model config: "partition" must be one of ${PARTITION_NAMES.join(', ')}, got ${JSON.stringify(c.partition)}`);
  }
  const coupling = c.coupling ?? 'additive';
  if (!COUPLING_LAWS.includes(coupling as CouplingLaw)) {
    throw new NiceFlowError(`model config: "coupling" must be one of ${COUPLING_LAWS.join(', ')}, got ${JSON.stringify(coupling)}`);
  }
  const network = c.network ?? 'mlp';
  if (!NETWORK_NAMES.includes(network as NetworkName)) {
    throw new NiceFlowError(`model config: "network" must be one of ${NETWORK_NAMES.join(', ')}, got ${JSON.stringify(network)}`);
  }
  const partition = c.partition as PartitionName;
  const config: NiceConfig = { dim, couplings, hidden, depth, prior, partition, coupling: coupling as CouplingLaw };
  readCommon(c, dim, config);
  if (network === 'conv') {
    if (!config.shape) throw new NiceFlowError('model config: "network" conv needs "shape" [C, H, W]');
    if (depth < 1) throw new NiceFlowError(`model config: "depth" must be an integer ≥ 1 for network conv (the number of 3×3 conv layers), got ${depth}`);
    config.network = 'conv';
  }
  try {
    partitionFor(partition, 0, dim, config.data === 'continuous' ? [...flowInputShape(config)] : config.shape);
  } catch (e) {
    throw new NiceFlowError(`model config: "partition": ${(e as Error).message}`);
  }
  return config;
}

const FLAT_KEYS = ['couplings', 'hidden', 'depth', 'partition', 'coupling', 'network'] as const;

/** The described form: dim, prior, shape, range and whiten as in the flat form, and `flow` in place of the flat keys. */
function validateDescribedConfig(c: Record<string, unknown>, dim: number): NiceConfig {
  const flat = FLAT_KEYS.filter((k) => c[k] !== undefined);
  if (flat.length) throw new NiceFlowError(`model config: "flow" describes the whole flow; drop ${flat.map((k) => `"${k}"`).join(', ')} (the paper's flat form)`);
  if (!PRIOR_NAMES.includes(c.prior as PriorName)) {
    throw new NiceFlowError(`model config: "prior" must be one of ${PRIOR_NAMES.join(', ')}, got ${JSON.stringify(c.prior)}`);
  }
  const config: NiceConfig = { dim, prior: c.prior as PriorName, flow: [] };
  readCommon(c, dim, config);
  if (config.data === 'continuous' && Array.isArray(c.flow) && c.flow.some((s) => (s as { type?: unknown } | null)?.type === 'logit')) {
    throw new NiceFlowError('model config: a logit step maps the pixels\' data range onto the reals; continuous data ("data": "continuous") have no range');
  }
  try {
    config.flow = validateFlow(c.flow, flowInputShape(config));
  } catch (e) {
    throw new NiceFlowError(`model config: ${(e as Error).message}`);
  }
  checkContextSteps(config);
  return config;
}

/** `data`, `shape`, `range` and `whiten`, the same in both forms: each checked, and set on `config` when given (and not the default). */
function readCommon(c: Record<string, unknown>, dim: number, config: NiceConfig): void {
  if (c.data !== undefined) {
    if (c.data !== 'continuous') throw new NiceFlowError(`model config: "data" must be "continuous" (absent: 8-bit pixels), got ${JSON.stringify(c.data)?.slice(0, 40)}`);
    if (c.range !== undefined) throw new NiceFlowError('model config: "range" is the dequantized pixels\' range; continuous data ("data": "continuous") are taken as they are');
    config.data = 'continuous';
  }
  if (c.shape !== undefined) {
    const s = c.shape;
    if (!Array.isArray(s) || s.length !== 3 || !s.every((v) => Number.isInteger(v) && v > 0) || s[0] * s[1] * s[2] !== dim) {
      throw new NiceFlowError(`model config: "shape" must be [C, H, W] with C·H·W = dim (${dim}), got ${JSON.stringify(s)}`);
    }
    config.shape = s as number[];
  }
  if (c.range !== undefined) {
    const r = c.range;
    if (!Array.isArray(r) || r.length !== 2 || !r.every((v) => typeof v === 'number' && Number.isFinite(v)) || !(r[0] < r[1]) || !Number.isFinite(r[1] - r[0])) {
      throw new NiceFlowError(`model config: "range" must be [lo, hi] with lo < hi, got ${JSON.stringify(r)}`);
    }
    if (r[0] !== 0 || r[1] !== 1) config.range = [r[0], r[1]];
  }
  if (c.whiten !== undefined && c.whiten !== 'none') {
    if (c.whiten !== 'zca') throw new NiceFlowError(`model config: "whiten" must be zca or none, got ${JSON.stringify(c.whiten)}`);
    config.whiten = 'zca';
  }
  readContext(c, config);
}

/** `classes`, `classPrior` and `context`: checked, and set on `config` when given. */
function readContext(c: Record<string, unknown>, config: NiceConfig): void {
  const int = (key: string, min: number): number => {
    const v = c[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > MAX_CONTEXT) {
      throw new NiceFlowError(`model config: "${key}" must be an integer from ${min} to ${MAX_CONTEXT}, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  if (c.classes !== undefined) config.classes = int('classes', 2);
  if (c.context !== undefined) {
    config.context = int('context', 1);
    if (config.classes !== undefined && config.context !== config.classes) {
      throw new NiceFlowError(`model config: "context" (${config.context}) must equal "classes" (${config.classes}): a label's context is its one-hot code`);
    }
  }
  if (c.conditioning !== undefined) {
    if (config.classes === undefined && config.context === undefined) throw new NiceFlowError('model config: "conditioning" needs "classes" or "context"');
    if (!CONDITIONINGS.includes(c.conditioning as Conditioning)) throw new NiceFlowError(`model config: "conditioning" must be one of ${CONDITIONINGS.join(', ')}, got ${JSON.stringify(c.conditioning)}`);
    if (c.flow !== undefined) throw new NiceFlowError('model config: "conditioning" is for the flat form; a flow description says which steps read the context');
    if (c.conditioning !== 'prior') config.conditioning = c.conditioning as Conditioning;
  }
  if (c.classPrior !== undefined) {
    const p = c.classPrior;
    const K = config.classes;
    if (K === undefined) throw new NiceFlowError('model config: "classPrior" needs "classes"');
    if (!Array.isArray(p) || p.length !== K || !p.every((v) => typeof v === 'number' && v > 0 && v <= 1)) {
      throw new NiceFlowError(`model config: "classPrior" must be ${K} probabilities in (0, 1], got ${JSON.stringify(p)?.slice(0, 80)}`);
    }
    const sum = (p as number[]).reduce((a, b) => a + b, 0);
    if (Math.abs(sum - 1) > 1e-6) throw new NiceFlowError(`model config: "classPrior" must sum to 1, got ${sum}`);
    config.classPrior = [...(p as number[])];
  }
}

/**
 * The context a flow's steps take must be the model's: every `context-affine` step's `context` equals the config's
 * context size, and a conditional model has at least one step that reads the context.
 */
function checkContextSteps(config: NiceConfig): void {
  const C = contextSize(config);
  const steps = (config.flow ?? []).filter((s) => s.type === 'context-affine' || (s.type === 'coupling' && s.context !== undefined));
  for (const s of steps) {
    if (s.context !== C) {
      throw new NiceFlowError(C === 0
        ? `model config: the flow has a ${s.type} step that reads a context but the model has no context ("classes" or "context")`
        : `model config: a ${s.type} step takes ${String(s.context)} context values, the model's context has ${C}`);
    }
  }
  if (C > 0 && steps.length === 0) throw new NiceFlowError('model config: a conditional model ("classes" or "context") needs a step that reads the context (context-affine, or a coupling with "context")');
}
