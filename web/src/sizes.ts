// The model sizes the Train panel offers, shared by the page (labels, defaults) and the Worker (what it builds).
import type { TrainSize } from './protocol.js';

export interface SizeSpec {
  label: string;
  couplings: number;
  hidden: number;
  depth: number;
  /** `data` starts each latent with the prior's spread (fast early progress); `zero` is the paper's start. */
  scaleInit: 'zero' | 'data';
  /** Default epochs in the page. */
  epochs: number;
  /** Also keep a checkpoint in IndexedDB every N steps (always at each epoch and on pause). */
  checkpointEvery: number;
}

/** Trainable parameters of an MLP NICE on 784 values with alternating halves (392 in, 392 out per coupling). */
export function paramCount(spec: Pick<SizeSpec, 'couplings' | 'hidden' | 'depth'>, dim = 784): number {
  const half = dim / 2;
  const widths = [half, ...Array<number>(spec.depth).fill(spec.hidden), half];
  let perCoupling = 0;
  for (let j = 0; j + 1 < widths.length; j++) perCoupling += (widths[j] + 1) * widths[j + 1];
  return spec.couplings * perCoupling + dim;
}

export const TRAIN_SIZES: Record<TrainSize, SizeSpec> = {
  // Recognisable digits (at temperature ≈ 0.8) after a few epochs, a few minutes on a laptop.
  small: { label: 'Small: 4 couplings × 3 × 256', couplings: 4, hidden: 256, depth: 3, scaleInit: 'data', epochs: 10, checkpointEvery: 100 },
  // NICE §5.1: 4 additive couplings of 5 × 1000 ReLU layers; the test likelihood flattens after ~35 epochs.
  paper: { label: "Paper's MNIST model: 4 × 5 × 1000", couplings: 4, hidden: 1000, depth: 5, scaleInit: 'zero', epochs: 40, checkpointEvery: 25 },
};
