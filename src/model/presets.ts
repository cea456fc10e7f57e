import { NiceFlowError } from '../core/NiceFlowError.js';
import type { StepSpec } from '../flows/steps/StepKind.js';
import type { NiceConfig } from './NiceConfig.js';

/**
 * What a preset fixes: the paper's architecture, prior and preprocessing for one data set (NICE §5.1), and for a
 * recipe preset the training settings measured for it (flags given explicitly win over both).
 */
export type PresetConfig = Pick<NiceConfig, 'couplings' | 'hidden' | 'depth' | 'prior' | 'coupling' | 'range' | 'whiten' | 'flow'> & {
  training?: PresetTraining;
};

/** Training settings a recipe preset brings (the CLI's --ema, --epochs, --valid-size when not given). */
export interface PresetTraining {
  ema?: number;
  epochs?: number;
  validSize?: number;
  batchSize?: number;
  lr?: number;
  lrSchedule?: 'constant' | 'cosine' | 'step';
  warmup?: number;
  clipGradNorm?: number;
}

/** Names of the presets. */
export type PresetName = 'mnist' | 'mnist-ema' | 'tfd-like' | 'svhn' | 'cifar10' | 'mnist-conv' | 'mnist-gated';

/**
 * One level of a multi-scale flow: K × (ActNorm, invertible 1×1 convolution, affine channel coupling), the couplings'
 * networks `conv` (depth = 3×3 layers) or `gated` (depth = gated residual blocks).
 */
function glowLevel(couplings: number, hidden: number, depth: number, network: 'conv' | 'gated' = 'conv'): StepSpec[] {
  const step: StepSpec[] = [
    { type: 'actnorm' },
    { type: 'invconv' },
    { type: 'coupling', law: 'affine', partition: 'channels', network, hidden, depth, zeroInit: true },
  ];
  return Array.from({ length: couplings }, () => step.map((s) => ({ ...s }))).flat();
}

/**
 * The image flow of `mnist-conv` (docs/architectures.md): logit, squeeze to 4×14×14, a level of couplings, split
 * (half the channels to the prior), squeeze to 8×7×7, a second level. Any C×H×W with H and W divisible by 4.
 */
export const MNIST_CONV_FLOW: readonly StepSpec[] = [
  { type: 'logit', alpha: 0.05 },
  { type: 'squeeze' },
  ...glowLevel(8, 64, 2),
  { type: 'split' },
  { type: 'squeeze' },
  ...glowLevel(8, 64, 2),
];

/**
 * The flow of `mnist-gated` (docs/architectures.md): `mnist-conv`'s, each coupling network one gated residual block
 * of 48 channels (a step costs about what `mnist-conv`'s does, and learns more).
 */
export const MNIST_GATED_FLOW: readonly StepSpec[] = [
  { type: 'logit', alpha: 0.05 },
  { type: 'squeeze' },
  ...glowLevel(8, 48, 1, 'gated'),
  { type: 'split' },
  { type: 'squeeze' },
  ...glowLevel(8, 48, 1, 'gated'),
];

/**
 * The paper's settings per data set (§5.1 and its appendix; docs/conventions.md): 4 additive couplings each time;
 * MNIST 5 × 1000 ReLU layers, logistic prior, no preprocessing; TFD 4 × 5000, Gaussian prior, "approximate
 * whitening" (here: ZCA, the exact version, since TFD's own approximation is not specified further); SVHN and
 * CIFAR-10 4 × 2000, logistic prior, ZCA whitening, CIFAR-10 dequantized to [−1, 1].
 */
export const PRESETS: Readonly<Record<PresetName, PresetConfig>> = {
  mnist: { couplings: 4, hidden: 1000, depth: 5, prior: 'logistic', coupling: 'additive' },
  // The paper's MNIST model with the recipe measured in docs/results.md: an average of the weights (decay
  // 0.999), 59,000 training images (1,000 held out to choose the best epoch), 50 epochs.
  'mnist-ema': { couplings: 4, hidden: 1000, depth: 5, prior: 'logistic', coupling: 'additive', training: { ema: 0.999, epochs: 50, validSize: 1000 } },
  'tfd-like': { couplings: 4, hidden: 5000, depth: 4, prior: 'gaussian', coupling: 'additive', whiten: 'zca' },
  svhn: { couplings: 4, hidden: 2000, depth: 4, prior: 'logistic', coupling: 'additive', whiten: 'zca' },
  cifar10: { couplings: 4, hidden: 2000, depth: 4, prior: 'logistic', coupling: 'additive', whiten: 'zca', range: [-1, 1] },
  // Beyond the paper: a multi-scale convolutional flow (RealNVP/Glow pieces) and the recipe measured for it on MNIST.
  'mnist-conv': { prior: 'logistic', flow: [...MNIST_CONV_FLOW], training: { batchSize: 64, lr: 1e-3, lrSchedule: 'cosine', warmup: 200, epochs: 17, validSize: 1000, ema: 0.999, clipGradNorm: 50000 } },
  // The same recipe with gated residual coupling networks, 16 epochs (an hour on 2 cores).
  'mnist-gated': { prior: 'logistic', flow: [...MNIST_GATED_FLOW], training: { batchSize: 64, lr: 1e-3, lrSchedule: 'cosine', warmup: 200, epochs: 16, validSize: 1000, ema: 0.999, clipGradNorm: 50000 } },
};

/** The names accepted for `PresetName`. */
export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];

/** The preset of that name; the error lists the others. */
export function getPreset(name: string): PresetConfig {
  if (!(PRESET_NAMES as string[]).includes(name)) throw new NiceFlowError(`unknown preset "${name}" (use ${PRESET_NAMES.join(', ')})`);
  return PRESETS[name as PresetName];
}
