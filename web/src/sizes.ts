// The model sizes the Train panel offers and the checks on its settings, shared by the page (labels, defaults, its
// messages) and the Worker (what it builds, what it accepts).
import { configFromSettings, countParams, NiceFlowError, UNIT_RANGE } from '../../src/index.js';
import type { TrainSettings, TrainSize } from './protocol.js';

export interface SizeSpec {
  label: string;
  couplings: number;
  hidden: number;
  depth: number;
  /** `data` starts each latent with the prior's spread (fast early progress); `zero` is the paper's start. */
  scaleInit: 'zero' | 'data';
  /** Default epochs in the page. */
  epochs: number;
}

/** Trainable parameters of a size's model on images of `shape` [C, H, W] (the library's countParams of the config it builds). */
export function paramCount(spec: Pick<SizeSpec, 'couplings' | 'hidden' | 'depth'>, shape: readonly number[] = [1, 28, 28]): number {
  const dim = shape.reduce((a, b) => a * b, 1);
  return countParams(configFromSettings({ dim, shape }, { couplings: spec.couplings, hidden: spec.hidden, depth: spec.depth }, undefined, UNIT_RANGE));
}

/**
 * Checks a run's settings (the Worker before it starts one, the page before it sends them): one line for the first
 * thing wrong. `typed` holds what the person typed, quoted in the message instead of the parsed number.
 */
export function checkTrainSettings(s: TrainSettings, typed: Partial<Record<keyof TrainSettings, string>> = {}): void {
  const shown = (k: keyof TrainSettings, v: unknown): string => (typed[k] !== undefined ? `"${typed[k]}"` : String(v));
  const int = (k: 'epochs' | 'batchSize' | 'limit' | 'validLimit' | 'seed', name: string, min: number): void => {
    const v = s[k];
    if (v !== undefined && (!Number.isSafeInteger(v) || v < min)) throw new NiceFlowError(`${name} must be a whole number ≥ ${min}${k === 'limit' || k === 'validLimit' ? ' (or empty for all)' : ''}, got ${shown(k, v)}`);
  };
  if (!Object.hasOwn(TRAIN_SIZES, s.size)) throw new NiceFlowError(`unknown model size "${s.size}"`);
  if (!(Number.isFinite(s.lr) && s.lr > 0 && s.lr < 1)) throw new NiceFlowError(`the learning rate must be a number between 0 and 1, e.g. 0.001; got ${shown('lr', s.lr)}`);
  int('epochs', 'epochs', 1);
  int('batchSize', 'the batch size', 1);
  int('limit', 'training images', 1);
  int('validLimit', 'validation images', 1);
  int('seed', 'the seed', 0);
}

export const TRAIN_SIZES: Record<TrainSize, SizeSpec> = {
  // Recognisable digits (at temperature ≈ 0.8) after a few epochs, a few minutes on a laptop.
  small: { label: 'Small: 4 couplings × 3 × 256', couplings: 4, hidden: 256, depth: 3, scaleInit: 'data', epochs: 10 },
  // NICE §5.1: 4 additive couplings of 5 × 1000 ReLU layers; the test likelihood flattens after ~35 epochs.
  paper: { label: "Paper's MNIST model: 4 × 5 × 1000", couplings: 4, hidden: 1000, depth: 5, scaleInit: 'zero', epochs: 40 },
};

/**
 * Besides each epoch and each pause, the page keeps a checkpoint in IndexedDB once this many seconds of training have
 * passed since the last one: a crash loses at most a minute. Counted in time, not steps: a save writes the weights
 * and both Adam moments (230 MB for the paper's model) through IndexedDB, and on a 2-core machine the browser's
 * writing takes its CPU from the kernel threads (every 25 steps, as before, meant a 2-second save every ~9 s of the
 * paper's model's training).
 */
export const CHECKPOINT_SECONDS = 60;
