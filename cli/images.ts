// Writing pictures and arrays of images.
import { imageGridPng } from '../src/io/pngGrid.js';
import { UNIT_RANGE, type DataRange } from '../src/data/dequantize.js';
import { writeNpyF32 } from '../src/io/npy.js';
import { writeAtomic } from './fsio.js';
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import type { NiceModel } from '../src/model/NiceModel.js';

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

/** Whether an output path names a .npy file (by its extension) rather than a picture. */
export function isNpyPath(path: string): boolean {
  return /\.npy$/i.test(path);
}

/**
 * Refuses a picture of a model of continuous data (`data: 'continuous'`): its rows are values, not pixels. `flag`
 * names what asked for it (e.g. "--out x.png"), `instead` the way to write the rows (e.g. "--npy FILE.npy").
 */
export function checkPictures(model: NiceModel, flag: string, modelPath: string, instead: string): void {
  if (model.config.data === 'continuous') {
    throw new NiceFlowError(`${flag}: the model ${modelPath} is of continuous data (${model.dim} values per row), which make no picture; write the rows with ${instead}`);
  }
}

export { imageShape } from '../src/model/imageShape.js';
