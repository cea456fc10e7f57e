import type { NiceModel } from './NiceModel.js';

/**
 * Decodes `steps` points on the straight line between the latent codes of two images a and b [dim]:
 * x_t = f⁻¹((1 − t) f(a) + t f(b)), t = 0 … 1. The first and last rows are a and b up to float32 rounding.
 */
export function interpolate(model: NiceModel, a: Float32Array, b: Float32Array, steps: number): Float32Array {
  const D = model.dim;
  const both = new Float32Array(2 * D);
  both.set(a.subarray(0, D));
  both.set(b.subarray(0, D), D);
  const { h } = model.encode(both, 2);
  const codes = model.backend.alloc(steps * D);
  try {
    for (let s = 0; s < steps; s++) {
      const t = steps === 1 ? 0 : s / (steps - 1);
      for (let d = 0; d < D; d++) codes[s * D + d] = (1 - t) * h[d] + t * h[D + d];
    }
    return model.decode(codes, steps);
  } finally {
    model.backend.free(codes); // decode returned a copy
  }
}
