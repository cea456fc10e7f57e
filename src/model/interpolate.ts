import type { FloatArray } from '../core/FloatArray.js';
import type { NiceModel } from './NiceModel.js';

/**
 * Decodes `steps` points on the straight line between the latent codes of two images a and b [dim]:
 * x_t = f⁻¹((1 − t) f(a) + t f(b)), t = 0 … 1. The first and last rows are a and b up to float32 rounding.
 *
 * A conditional model takes each image's context (`contexts`: a's then b's, 2 × C values; one-hot labels for a
 * class-conditional model). The context moves along the line too: x_t = f⁻¹((1 − t) f(a; c_a) + t f(b; c_b);
 * (1 − t) c_a + t c_b), so a 3 turns into a 7 through contexts between the two labels.
 */
export function interpolate(model: NiceModel, a: Float32Array, b: Float32Array, steps: number, contexts?: ArrayLike<number>): Float32Array {
  const D = model.dim;
  const C = model.contextSize;
  const both = new Float32Array(2 * D);
  both.set(a.subarray(0, D));
  both.set(b.subarray(0, D), D);
  const ends = contexts ? Float32Array.from(contexts) : undefined;
  const { h } = model.encode(both, 2, ends);
  const codes = model.backend.alloc(steps * D);
  const path: FloatArray | undefined = ends ? new Float32Array(steps * C) : undefined;
  try {
    for (let s = 0; s < steps; s++) {
      const t = steps === 1 ? 0 : s / (steps - 1);
      for (let d = 0; d < D; d++) codes[s * D + d] = (1 - t) * h[d] + t * h[D + d];
      if (path) for (let c = 0; c < C; c++) path[s * C + c] = (1 - t) * ends![c] + t * ends![C + c];
    }
    return model.decode(codes, steps, path);
  } finally {
    model.backend.free(codes); // decode returned a copy
  }
}
