// What the studio's Worker shows of a model, as pure functions: its description for the Model panel, and images
// moved between the page's display space [0, 1] and the model's data range. No Worker state lives here.
import { dequantizeBatch, imageShape as shapeOf, nonFiniteRows, summarizeFlow, NiceFlowError, Rng, scaleSpectrum, type ImageDataset, type NiceModel } from '../../../src/index.js';
import type { ModelInfo, ModelSource } from '../protocol.js';

/** The model's image shape [C, H, W] (the library's imageShape: its config's, or a square guess from its dimension). */
export function imageShape(model: NiceModel): [number, number, number] {
  const s = shapeOf(model.config.shape, model.dim);
  return s.length === 3 ? [s[0], s[1], s[2]] : [1, 1, model.dim];
}

/**
 * What the Model panel shows of a model: config, a one-line description, size, scale spectrum, the latents to edit.
 * With a final scaling (the paper's models) those are the most scaled latents; a multi-scale flow has no scale per
 * latent, and its first values are the deepest level's (the ones every step acted on), so the sliders take those.
 */
/** Why images of `shape` [C, H, W] cannot be drawn (gray or RGB pictures of at least 2×2 pixels), or null. */
export function notDrawable(shape: readonly number[]): string | null {
  const [C, H, W] = shape;
  if (H < 2 || W < 2) return `this model's data are ${C * H * W} values, not images (shape ${shape.join('×')}): the picture panels cannot show them`;
  if (C !== 1 && C !== 3) return `this model's images have ${C} channels (${shape.join('×')}): the page draws gray (1) or RGB (3) images only`;
  return null;
}

export function describeModel(model: NiceModel, source: ModelSource, name: string): ModelInfo {
  const s = model.scaling?.scale.data;
  // exp(−s_d) is the scale of latent d in data space: the largest ones are the smallest s.
  const order = s ? Array.from({ length: s.length }, (_, d) => d).sort((a, b) => s[a] - s[b]) : Array.from({ length: Math.min(8, model.dim) }, (_, d) => d);
  return {
    source, name, config: model.config, summary: summarizeFlow(model.config), dim: model.dim, shape: imageShape(model),
    params: model.params.reduce((a, p) => a + p.data.length, 0),
    spectrum: s ? Array.from(scaleSpectrum(model)) : [], topDims: order.slice(0, 8), latentRange: Math.round(3 * model.prior.std * 10) / 10,
    notDrawable: notDrawable(imageShape(model)),
  };
}

// ---- images: display space [0, 1] ↔ the model's data range --------------------------------------------------------

/** Model-range values → display [0, 1], clipped; a non-finite value shows as 0. */
export function toDisplay(model: NiceModel, x: ArrayLike<number>, length: number): Float32Array {
  const [lo, hi] = model.range;
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    const v = (x[i] - lo) / (hi - lo);
    out[i] = v > 0 ? (v < 1 ? v : 1) : 0; // NaN lands on 0 too
  }
  return out;
}

/** A warning when the model gave non-finite values for some of `n` images (shown black), else undefined. */
export function nonFinite(x: ArrayLike<number>, n: number, D: number, what: string): string | undefined {
  const rows = nonFiniteRows(x, n, D).length;
  if (rows === 0) return undefined;
  return `${rows === n && n > 1 ? 'all' : rows} of ${n} ${what} ${rows === 1 ? 'has' : 'have'} values that are NaN or infinite (shown black): the model overflows there; try a lower temperature or smaller latents`;
}

/**
 * A picture in [0, 1] as the data are: rounded to 8-bit pixels, then dequantized to the pixel's centre on the
 * model's range (dequantizeBatch 'center'), so a drawing is scored exactly like a test image would be.
 */
export function toData(model: NiceModel, image: Float32Array, n: number): Float32Array {
  const D = model.dim;
  if (image.length !== n * D) throw new NiceFlowError(`an image of ${image.length / n} values was given, the model's have ${D}`);
  const pixels = new Uint8Array(n * D);
  for (let i = 0; i < n * D; i++) {
    const v = image[i];
    if (!Number.isFinite(v)) throw new NiceFlowError(`the image has a non-finite value at ${i}`);
    pixels[i] = Math.max(0, Math.min(255, Math.round(v * 255)));
  }
  const ds: ImageDataset = { pixels, count: n, dim: D, shape: imageShape(model) };
  const out = new Float32Array(n * D);
  dequantizeBatch(ds, null, 0, n, 'center', new Rng(0), out, model.range);
  return out;
}
