import type { Rng } from '../core/Rng.js';
import type { NiceModel } from './NiceModel.js';

/** Settings of the inpainting ascent. */
export interface InpaintOptions {
  /** Gradient steps (default 1000). */
  steps?: number;
  rng: Rng;
  /** Data range the hidden pixels are clipped to (default [0, 1]). */
  low?: number;
  high?: number;
  /**
   * `normalized` (default): each image's gradient over its hidden pixels is divided by its root mean square, so a
   * step moves pixels by about α_i whatever the model's scale. `raw`: the paper's literal rule; with a trained MNIST
   * model (gradients ~10³) every step then jumps to the clip bounds and the likelihood does not rise (measured).
   */
  gradient?: 'normalized' | 'raw';
  /** Called after each step with its index (from 0) and the batch's mean log-likelihood before that step. */
  onStep?: (step: number, meanLogLikelihood: number) => void | Promise<void>;
}

/** Inpainted images with the mean log-likelihood at the noise start and at the end. */
export interface InpaintResult {
  x: Float32Array;
  meanLLBefore: number;
  meanLLAfter: number;
}

/**
 * Inpainting by noisy projected gradient ascent on log p (NICE §5.2): observed pixels stay as given; hidden pixels
 * start from uniform noise in [low, high] and follow x_H ← clip(x_H + α_i (g + ε)), ε ~ N(0, I),
 * α_i = 10/(100 + i), g = ∂ log p(x)/∂x_H, by default normalized (see `gradient`). `mask` [H·W] (1 = hidden) applies to every channel of the [n, dim] images.
 */
export async function inpaint(model: NiceModel, images: Float32Array, n: number, mask: Uint8Array, options: InpaintOptions): Promise<InpaintResult> {
  const D = model.dim;
  const steps = options.steps ?? 1000;
  const low = options.low ?? 0;
  const high = options.high ?? 1;
  const rng = options.rng;
  const normalized = (options.gradient ?? 'normalized') === 'normalized';
  const hidden: number[] = [];
  for (let d = 0; d < D; d++) if (mask[d % mask.length] === 1) hidden.push(d);
  // The batch being inpainted lives on the backend (its kernels take it without copies) for this call only.
  const x = model.backend.alloc(n * D);
  try {
    x.set(images.subarray(0, n * D));
    for (let r = 0; r < n; r++) for (const d of hidden) x[r * D + d] = low + (high - low) * rng.uniform();
    const mean = (lp: Float64Array): number => lp.reduce((a, v) => a + v, 0) / n;
    const meanLLBefore = mean(model.logProb(x, n));
    for (let i = 0; i < steps; i++) {
      const { dx, logProb } = model.gradLogProb(x, n, 1, false);
      const alpha = 10 / (100 + i);
      for (let r = 0; r < n; r++) {
        let scale = 1;
        if (normalized && hidden.length > 0) {
          let ss = 0;
          for (const d of hidden) ss += dx[r * D + d] ** 2;
          scale = 1 / Math.sqrt(ss / hidden.length + 1e-30);
        }
        for (const d of hidden) {
          const k = r * D + d;
          const v = x[k] + alpha * (scale * dx[k] + rng.normal());
          x[k] = v < low ? low : v > high ? high : v;
        }
      }
      await options.onStep?.(i, mean(logProb));
    }
    const out = Float32Array.from(x);
    // Observed pixels are the input's, bit for bit (x was only written at hidden positions).
    return { x: out, meanLLBefore, meanLLAfter: mean(model.logProb(x, n)) };
  } finally {
    model.backend.free(x);
  }
}
