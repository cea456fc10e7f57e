import { NiceFlowError } from '../core/NiceFlowError.js';

/** 8-bit images, flattened C×H×W per image. */
export interface ImageDataset {
  /** [count, dim] pixel values 0..255. */
  pixels: Uint8Array;
  count: number;
  dim: number;
  /** [C, H, W]. */
  shape: [number, number, number];
  /** Optional class labels, one per image. */
  labels?: Uint8Array;
}

/** Wraps IDX-style dims ([count, H, W] or [count, C, H, W]) as an image data set. */
export function imageDatasetFromDims(pixels: Uint8Array, dims: number[], what: string): ImageDataset {
  let shape: [number, number, number];
  if (dims.length === 3) shape = [1, dims[1], dims[2]];
  else if (dims.length === 4) shape = [dims[1], dims[2], dims[3]];
  else if (dims.length === 2) shape = [1, 1, dims[1]];
  else throw new NiceFlowError(`${what}: expected images ([count, H, W]), got dimensions [${dims.join(', ')}]`);
  const dim = shape[0] * shape[1] * shape[2];
  return { pixels, count: dims[0], dim, shape };
}

/** Images [start, end) of a data set, sharing memory. */
export function sliceDataset(ds: ImageDataset, start: number, end: number): ImageDataset {
  const s = Math.max(0, Math.min(start, ds.count));
  const e = Math.max(s, Math.min(end, ds.count));
  return {
    pixels: ds.pixels.subarray(s * ds.dim, e * ds.dim),
    count: e - s,
    dim: ds.dim,
    shape: ds.shape,
    labels: ds.labels?.subarray(s, e),
  };
}
