// Writing pictures and arrays of images.
import { imageGridPng } from '../src/io/pngGrid.js';
import { UNIT_RANGE, type DataRange } from '../src/data/dequantize.js';
import { writeNpyF32 } from '../src/io/npy.js';
import { writeAtomic } from './fsio.js';

/**
 * Writes a grid PNG of n images of the given [C, H, W] shape; values in `range` (the model's data range, default
 * [0, 1]) map to black..white, others are clipped and NaN is black.
 */
export function writeGrid(path: string, images: Float32Array, n: number, shape: number[], columns?: number, range: DataRange = UNIT_RANGE): void {
  const [channels, height, width] = shape.length === 3 ? shape : [1, 1, images.length / n];
  writeAtomic(path, imageGridPng(images, n, { channels, height, width }, { columns, scale: 2, low: range[0], high: range[1] }), 'PNG');
}

/** Writes a float32 [n, D] .npy file. */
export function writeNpy(path: string, data: Float32Array, n: number): void {
  writeAtomic(path, writeNpyF32(data, [n, data.length / n]), '.npy file');
}

export { imageShape } from '../src/model/imageShape.js';
