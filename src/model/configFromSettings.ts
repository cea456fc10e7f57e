import { NiceFlowError } from '../core/NiceFlowError.js';
import type { DataRange } from '../data/dequantize.js';
import type { StepSpec } from '../flows/steps/StepKind.js';
import type { CouplingLaw } from '../flows/couplingLaw.js';
import type { PartitionName } from '../flows/Partition.js';
import type { PriorName } from '../priors/priorRegistry.js';
import type { Conditioning, NetworkName, NiceConfig } from './NiceConfig.js';
import { getPreset, type PresetConfig } from './presets.js';

/** The architecture choices a user makes for a new model (the CLI's train flags). */
export interface ModelSettings {
  couplings: number;
  hidden: number;
  depth: number;
  prior: PriorName;
  partition: PartitionName;
  coupling: CouplingLaw;
  network: NetworkName;
  whiten: 'none' | 'zca';
  /** The data range; when unset, the preset's, else the data set's own default. */
  range?: DataRange;
  /** A flow description (a list of steps) in place of the flat settings couplings…network (`--flow FILE`). */
  flow?: StepSpec[];
  /**
   * A class-conditional model over this many classes (`--conditional`): the flat form gets a context-affine step
   * after its scaling; a description without a context-affine step gets one at its end.
   */
  classes?: number;
  /** With `classes`: p(y) for Bayes' rule (from the training labels: classPriorFromLabels). */
  classPrior?: number[];
  /** With `classes`, the flat form: where the label enters (NiceConfig.conditioning; default prior). */
  conditioning?: Conditioning;
}

const FLAT_SETTINGS = ['couplings', 'hidden', 'depth', 'partition', 'coupling', 'network'] as const;

/** The defaults: the paper's MNIST model (4 additive couplings of 5 × 1000 ReLU layers, logistic prior). */
export const DEFAULT_MODEL_SETTINGS: Readonly<ModelSettings> = {
  couplings: 4,
  hidden: 1000,
  depth: 5,
  prior: 'logistic',
  partition: 'alternate',
  coupling: 'additive',
  network: 'mlp',
  whiten: 'none',
};

/**
 * The config of a new model for data of `dim` values shaped `shape`: the defaults, overridden by the preset's
 * values (a preset fixes couplings, hidden, depth, prior, coupling, range and whitening), overridden by the settings
 * the user gave explicitly. The range falls back to `dataRange` (the data set's default: [−1, 1] for CIFAR-10).
 * Data without a `shape` are continuous (a `PointDataset`): the config says `data: 'continuous'` and has no shape
 * and no range (a preset's range is the pixels' and is left out; an explicit one is refused).
 */
export function configFromSettings(
  data: { dim: number; shape?: readonly number[] },
  explicit: Partial<ModelSettings>,
  preset: string | undefined,
  dataRange: DataRange,
): NiceConfig {
  const p: Partial<PresetConfig> = preset ? getPreset(preset) : {};
  const pick = <K extends keyof ModelSettings & keyof PresetConfig>(key: K): ModelSettings[K] =>
    (explicit[key] ?? p[key] ?? DEFAULT_MODEL_SETTINGS[key]) as ModelSettings[K];
  const continuous = data.shape === undefined;
  if (continuous && data.dim < 2) {
    throw new NiceFlowError(`continuous data of ${data.dim} value per row: a NICE model needs at least 2 (its couplings update some values from the others)`);
  }
  if (continuous && explicit.range) {
    throw new NiceFlowError('--range: the data range is for 8-bit pixels; continuous data (a float .npy) are the model\'s input as they are');
  }
  const range = explicit.range ?? p.range ?? dataRange;
  // Images: their shape and range; continuous data: neither.
  const input = continuous ? { data: 'continuous' as const } : { shape: [...data.shape!], range: [range[0], range[1]] as [number, number] };
  const whiten = explicit.whiten ?? p.whiten ?? DEFAULT_MODEL_SETTINGS.whiten;
  const described = explicit.flow ?? p.flow;
  const K = explicit.classes;
  const conditional = K ? { classes: K, ...(explicit.classPrior ? { classPrior: explicit.classPrior } : {}) } : {};
  const conditioning = explicit.conditioning ?? 'prior';
  if (described && conditioning !== 'prior' && described.some((s) => s.context !== undefined)) {
    throw new NiceFlowError(`--conditioning ${conditioning}: the flow ${explicit.flow ? 'of --flow' : `of --preset ${preset}`} already says which steps read the context; leave --conditioning out`);
  }
  // A conditional description needs a step that reads the label: with --conditioning couplings or both, every
  // coupling's network reads it; with prior or both, a last step moves and scales the latent per class (unless the
  // description has one).
  const inCouplings = K && conditioning !== 'prior';
  const withContext = described && inCouplings ? described.map((s) => (s.type === 'coupling' ? { ...s, context: K } : s)) : described;
  const flow = withContext && K && conditioning !== 'couplings' && !withContext.some((s) => s.type === 'context-affine') ? [...withContext, { type: 'context-affine', context: K }] : withContext;
  if (flow) {
    // A description fixes the whole flow: a flat setting beside it would be silently ignored, so it is refused.
    const flat = FLAT_SETTINGS.filter((k) => explicit[k] !== undefined);
    if (flat.length) {
      throw new NiceFlowError(`${flat.map((k) => `--${k}`).join(', ')}: the flow is described ${explicit.flow ? 'by --flow' : `by --preset ${preset}`}, which fixes every layer; change the description instead`);
    }
    return {
      dim: data.dim,
      prior: explicit.prior ?? p.prior ?? DEFAULT_MODEL_SETTINGS.prior,
      ...input,
      flow,
      ...(whiten === 'zca' ? { whiten: 'zca' as const } : {}),
      ...conditional,
    };
  }
  return {
    dim: data.dim,
    couplings: pick('couplings'),
    hidden: pick('hidden'),
    depth: pick('depth'),
    prior: pick('prior'),
    partition: explicit.partition ?? DEFAULT_MODEL_SETTINGS.partition,
    coupling: pick('coupling'),
    network: explicit.network ?? DEFAULT_MODEL_SETTINGS.network,
    ...input,
    ...(whiten === 'zca' ? { whiten: 'zca' as const } : {}),
    ...conditional,
    ...(K && explicit.conditioning && explicit.conditioning !== 'prior' ? { conditioning: explicit.conditioning } : {}),
  };
}
