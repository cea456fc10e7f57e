import type { FloatArray } from '../core/FloatArray.js';
import type { Rng } from '../core/Rng.js';
import type { NiceModel } from './NiceModel.js';

/** Steps of the inpainting ascent when none are given. */
export const INPAINT_DEFAULT_STEPS = 1000;

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
  /**
   * The noise ε of each step: `anneal` (default) scales it down linearly to zero at `annealUntil` of the steps, so the
   * rest is a noise-free ascent that settles on a likely completion; `paper`: full noise at every step (§5.2), which
   * leaves the hidden pixels speckled (a spread of ~√Σα_i² ≈ 0.28 from the last 500 of 1000 steps alone).
   */
  noise?: 'anneal' | 'paper';
  /** With `noise: 'anneal'`: the fraction of the steps after which there is no noise (default 0.5). */
  annealUntil?: number;
  /**
   * Independent starts per image (default 1); each image keeps its likeliest completion. Costs that many times the
   * compute and memory of one.
   */
  restarts?: number;
  /**
   * Called after each step with its index (from 0), the batch's mean log-likelihood before that step, and the images
   * being completed as they stand (a view [n·restarts, dim], image r's start k at row r·restarts + k; valid during
   * the call only: copy what you keep), for progress bars and animations.
   */
  onStep?: (step: number, meanLogLikelihood: number, images: FloatArray) => void | Promise<void>;
}

/** Inpainted images with the mean log-likelihood at the noise start and at the end. */
export interface InpaintResult {
  x: Float32Array;
  meanLLBefore: number;
  meanLLAfter: number;
}

/**
 * Inpainting by projected gradient ascent on log p (NICE §5.2): observed pixels stay as given; hidden pixels start
 * from uniform noise in [low, high] and follow x_H ← clip(x_H + α_i (g + c_i ε)), ε ~ N(0, I), α_i = 10/(100 + i),
 * g = ∂ log p(x)/∂x_H, by default normalized (see `gradient`), with the noise c_i annealed to zero halfway by default
 * (see `noise`; `gradient: 'raw', noise: 'paper'` is the paper's exact rule). `mask` [H·W] (1 = hidden) applies to
 * every channel of the [n, dim] images. `meanLLBefore` is over every start, `meanLLAfter` over the kept ones.
 */
export async function inpaint(model: NiceModel, images: Float32Array, n: number, mask: Uint8Array, options: InpaintOptions): Promise<InpaintResult> {
  const D = model.dim;
  const steps = options.steps ?? INPAINT_DEFAULT_STEPS;
  const low = options.low ?? 0;
  const high = options.high ?? 1;
  const rng = options.rng;
  const normalized = (options.gradient ?? 'normalized') === 'normalized';
  const anneal = (options.noise ?? 'anneal') === 'anneal';
  const quietFrom = Math.max(1, (options.annealUntil ?? 0.5) * steps);
  const R = Math.max(1, Math.floor(options.restarts ?? 1));
  const hidden: number[] = [];
  for (let d = 0; d < D; d++) if (mask[d % mask.length] === 1) hidden.push(d);
  // Restarts are more rows of the same batch: row r·R + k is start k of image r.
  const N = n * R;
  // The batch being inpainted lives on the backend (its kernels take it without copies) for this call only.
  const x = model.backend.alloc(N * D);
  try {
    for (let r = 0; r < n; r++) for (let k = 0; k < R; k++) x.set(images.subarray(r * D, (r + 1) * D), (r * R + k) * D);
    for (let r = 0; r < N; r++) for (const d of hidden) x[r * D + d] = low + (high - low) * rng.uniform();
    const mean = (lp: Float64Array): number => lp.reduce((a, v) => a + v, 0) / N;
    const meanLLBefore = mean(model.logProb(x, N));
    for (let i = 0; i < steps; i++) {
      const { dx, logProb } = model.gradLogProb(x, N, 1, false);
      const alpha = 10 / (100 + i);
      const noise = anneal ? Math.max(0, 1 - i / quietFrom) : 1;
      for (let r = 0; r < N; r++) {
        let scale = 1;
        if (normalized && hidden.length > 0) {
          let ss = 0;
          for (const d of hidden) ss += dx[r * D + d] ** 2;
          scale = 1 / Math.sqrt(ss / hidden.length + 1e-30);
        }
        for (const d of hidden) {
          const k = r * D + d;
          const v = x[k] + alpha * (scale * dx[k] + (noise > 0 ? noise * rng.normal() : 0));
          x[k] = v < low ? low : v > high ? high : v;
        }
      }
      await options.onStep?.(i, mean(logProb), x);
    }
    // Each image keeps its likeliest start. Observed pixels are the input's, bit for bit (only hidden ones were written).
    const final = model.logProb(x, N);
    const out = new Float32Array(n * D);
    let after = 0;
    for (let r = 0; r < n; r++) {
      let best = r * R;
      for (let k = 1; k < R; k++) if (final[r * R + k] > final[best]) best = r * R + k;
      out.set(x.subarray(best * D, (best + 1) * D), r * D);
      after += final[best];
    }
    return { x: out, meanLLBefore, meanLLAfter: after / n };
  } finally {
    model.backend.free(x);
  }
}
