import type { FloatArray } from '../core/FloatArray.js';
import { NiceFlowError } from '../core/NiceFlowError.js';
import type { NiceModel } from './NiceModel.js';
import { oneHot } from './oneHot.js';

/**
 * Each image written as every class, cINN's style transfer: the latent code of x under its own label y,
 * z = f(x; y), decoded under every class k, x_k = f⁻¹(z; k). For a class-conditional model whose label moves and
 * scales the prior, z holds what the label does not: the image's style (slant, thickness, size).
 *
 * x [n, dim], labels [n] (each image's class). Returns rows [n·(K + 1), dim]: per image, the image itself, then its
 * versions as classes 0 … K − 1 (the one for its own class is x again, up to float32 rounding).
 */
export function restyle(model: NiceModel, x: FloatArray, n: number, labels: ArrayLike<number>): Float32Array {
  const K = model.config.classes;
  if (!K) throw new NiceFlowError('restyle: the model is not class-conditional (train one with --conditional)');
  const D = model.dim;
  const { h } = model.encode(x, n, oneHot(labels, K, undefined, n));
  const out = new Float32Array(n * (K + 1) * D);
  for (let i = 0; i < n; i++) out.set(x.subarray(i * D, (i + 1) * D), i * (K + 1) * D);
  for (let k = 0; k < K; k++) {
    const xk = model.decode(h, n, oneHot(new Array<number>(n).fill(k), K));
    for (let i = 0; i < n; i++) out.set(xk.subarray(i * D, (i + 1) * D), (i * (K + 1) + 1 + k) * D);
  }
  return out;
}
