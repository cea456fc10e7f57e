// Images for inpaint, encode and interpolate: from an IDX data set, PNG files or a .npy array.
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { Rng } from '../src/core/Rng.js';
import { dequantizeBatch, type Dequantize } from '../src/data/dequantize.js';
import { fillBatch, isPointDataset, type Dataset } from '../src/data/Dataset.js';
import { decodePngImage } from '../src/io/pngGrid.js';
import { imageToModelInput } from '../src/data/imageToModelInput.js';
import { imageDatasetFromArray } from '../src/data/imageArray.js';
import type { ImageDataset } from '../src/data/ImageDataset.js';
import { isUint8Dtype, npyDtype, readNpyF32, readNpyU8 } from '../src/io/npy.js';
import { checkOutputRows, imagesFarOutside, type FarInputs, type RowCheck } from '../src/model/checkFinite.js';
import type { NiceModel } from '../src/model/NiceModel.js';
import { loadDataSplit, type Split } from './data.js';
import { parseInput } from './fsio.js';
import { imageShape } from './images.js';

export interface InputFlags {
  data?: string;
  split: Split;
  limit?: number;
  index?: number[];
  image?: string[];
  npy?: string;
  dequantize: Dequantize;
  seed: number;
  validSize: number;
}

/** Parses "3,17,42" into image indices. */
export function parseIndexList(value: string): number[] {
  const out = value.split(',').map((s) => s.trim());
  if (out.some((s) => !/^\d+$/.test(s))) throw new NiceFlowError(`--index expects comma-separated image numbers, got "${value}"`);
  return out.map(Number);
}

/** Images loaded for a command: [n, D] floats, and how to name them and their rows in messages. */
export interface LoadedImages {
  images: Float32Array;
  n: number;
  /** Where they come from, e.g. "images x.npy" or "the test split of mnist". */
  source: string;
  /** One row's name ("row", "image") and each row's number when it is not its position (indices in a split). */
  noun: string;
  ids?: number[];
  /** The images' class labels, when a class-conditional model reads them from a data set. */
  labels?: number[];
}

/**
 * Loads the images the flags name, as [n, D] floats in the data range, checked against the model. `indexName` says
 * which flag chose the k-th index, for the error when it is past the end of the split.
 */
export function loadImages(flags: InputFlags, model: NiceModel, defaultLimit: number, indexName = (_k: number): string => '--index'): LoadedImages {
  const D = model.dim;
  const sources = [flags.image?.length ? 1 : 0, flags.npy ? 1 : 0].reduce((a, b) => a + b, 0);
  if (sources > 1) throw new NiceFlowError('give images one way: --data, --image or --npy');
  if (flags.limit !== undefined && flags.index !== undefined) throw new NiceFlowError('give --limit or --index, not both');
  const continuous = model.config.data === 'continuous';
  if (flags.image?.length) {
    if (continuous) throw new NiceFlowError('--image: the model is of continuous data, not pictures: give its rows with --data FILE.npy or --npy FILE.npy (float32 or float64 [n, D])');
    return { ...loadPngs(flags.image, model), source: `images ${flags.image.join(', ')}`, noun: 'image' };
  }
  if (flags.npy) return { ...readImageRows(flags.npy, model, flags.dequantize, flags.seed), source: `${continuous ? 'rows' : 'images'} ${flags.npy}`, noun: 'row' };
  const data = flags.data ?? 'mnist';
  const ds = loadDataSplit(data, flags.split, { validSize: flags.validSize, labels: model.config.classes !== undefined });
  checkDataForModel(ds, model, data);
  const noun = isPointDataset(ds) ? 'row' : 'image';
  const order = flags.index ?? Array.from({ length: Math.min(flags.limit ?? defaultLimit, ds.count) }, (_, i) => i);
  order.forEach((i, k) => {
    if (i >= ds.count) throw new NiceFlowError(`${indexName(k)} ${i} is past the end of the ${flags.split} split (${ds.count} ${noun}s)`);
  });
  const images = new Float32Array(order.length * D);
  fillBatch(ds, Int32Array.from(order), 0, order.length, flags.dequantize, new Rng(flags.seed), images, model.range);
  return { images, n: order.length, source: `the ${flags.split} split of ${data}`, noun, ids: order, ...(ds.labels ? { labels: order.map((i) => ds.labels![i]) } : {}) };
}

/**
 * Checks a data set against the model it is for: the same number of values per example, and the same kind (a float
 * .npy's continuous rows for a model of continuous data, 8-bit images for any other). `data` and `modelPath` name
 * them in the one-line error.
 */
export function checkDataForModel(ds: Dataset, model: NiceModel, data: string, modelPath?: string): void {
  const theModel = modelPath ? `the model ${modelPath}` : 'the model';
  const points = isPointDataset(ds);
  if (points && model.config.data !== 'continuous') {
    throw new NiceFlowError(`${data} holds continuous data (float values, ${ds.dim} per row) but ${theModel} is for 8-bit images; train a model on it (nice-flow train --data ${data})`);
  }
  if (!points && model.config.data === 'continuous') {
    throw new NiceFlowError(`${data} holds 8-bit images but ${theModel} is for continuous data: give its rows with --data FILE.npy (float32 or float64 [N, ${model.dim}])`);
  }
  if (ds.dim !== model.dim) throw new NiceFlowError(`${data} has ${ds.dim} values per ${points ? 'row' : 'image'}, ${theModel} expects ${model.dim}`);
}

/**
 * Images from a .npy for the model, by dtype: uint8 holds pixels 0–255, dequantized into the model's data range
 * exactly as a data set is (`dequantize` mode, noise from `seed`; shapes [n, D], [D] or those `--data` takes:
 * [N, H, W], [N, H, W, C], [N, C, H, W]); float32 or float64 holds values already in the data range, as [n, D] or [D]
 * (see readRows).
 */
export function readImageRows(path: string, model: NiceModel, dequantize: Dequantize, seed: number): { images: Float32Array; n: number } {
  const D = model.dim;
  // Read once; the dtype decides: uint8 is pixels, anything else is read as floats (or refused) by readNpyF32.
  // The header's dtype decides; the reader's own errors (a truncated file, say) are the user's message.
  const file = parseInput(path, '.npy file', (bytes) => (isUint8Dtype(npyDtype(bytes)) ? { u8: readNpyU8(bytes) } : { f32: readNpyF32(bytes) }));
  if (file.f32) return { images: floatRows(path, file.f32.data, file.f32.shape, D, 'images'), n: rowCount(file.f32.shape) };
  if (model.config.data === 'continuous') {
    throw new NiceFlowError(`${path} holds uint8 pixels, but the model is for continuous data: save its rows as float32 or float64 [n, ${D}]`);
  }
  const { data, shape } = file.u8!;
  let ds: ImageDataset;
  if (shape.length <= 2) {
    const n = rowCount(shape);
    if (data.length !== n * D || n < 1) throw new NiceFlowError(`${path} has shape [${shape.join(', ')}], the model needs [n, ${D}] (or images of ${D} pixels)`);
    ds = { pixels: data, count: n, dim: D, shape: imageShape(model.config.shape, D) as [number, number, number] };
  } else {
    ds = imageDatasetFromArray(data, shape, `.npy file ${path}`);
    if (ds.dim !== D) throw new NiceFlowError(`${path} has images of ${ds.dim} values ([${shape.join(', ')}]), the model expects ${D}`);
    if (ds.count < 1) throw new NiceFlowError(`${path} holds no images`);
  }
  const images = new Float32Array(ds.count * D);
  dequantizeBatch(ds, null, 0, ds.count, dequantize, new Rng(seed), images, model.range);
  return { images, n: ds.count };
}

/**
 * The outputs of a command for its input rows, by the one rule of checkOutputRows: non-finite rows are a
 * NiceFlowError naming them; inputs far out of range otherwise print a warning on stderr.
 */
export function checkRows(out: ArrayLike<number>, n: number, D: number, check: RowCheck): void {
  const warning = checkOutputRows(out, n, D, check);
  if (warning) process.stderr.write(`warning: ${warning}\n`);
}

/** How far loaded images stray from the model's data range (for checkRows); null for continuous data, which have none. */
export function farImages(loaded: LoadedImages, model: NiceModel): FarInputs | null {
  if (model.config.data === 'continuous') return null;
  return imagesFarOutside(loaded.images, loaded.n, model.dim, model.range);
}

/**
 * Reads a float32 .npy of rows [n, D] (or one row [D]) for the model: the file named in every error, the shape
 * checked against D, and NaN or infinite values refused (they would pass through the bijection silently).
 */
export function readRows(path: string, D: number, what: 'images' | 'codes'): { data: Float32Array; n: number } {
  const { data, shape } = parseInput(path, '.npy file', readNpyF32);
  return { data: floatRows(path, data, shape, D, what), n: rowCount(shape) };
}

const rowCount = (shape: number[]): number => (shape.length === 1 ? 1 : shape[0]);

/** The checks of readRows on a float array read from `path`: shape [n, D] or [D], every value finite. */
function floatRows(path: string, data: Float32Array, shape: number[], D: number, what: 'images' | 'codes'): Float32Array {
  const n = rowCount(shape);
  if (shape.length > 2 || data.length !== n * D || n < 1) {
    throw new NiceFlowError(`${path} has shape [${shape.join(', ')}], the model needs [n, ${D}]`);
  }
  const bad = data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new NiceFlowError(`${path}: value ${bad} (row ${Math.floor(bad / D)}) is ${data[bad]}; NaN or infinite ${what} cannot be ${what === 'codes' ? 'decoded' : 'encoded'}`);
  }
  return data;
}

/** PNG files as model images in its data range (imageToModelInput), what was converted said on stderr. */
function loadPngs(paths: string[], model: NiceModel): { images: Float32Array; n: number } {
  const shape = imageShape(model.config.shape, model.dim);
  const size = shape[0] * shape[1] * shape[2];
  const images = new Float32Array(paths.length * size);
  paths.forEach((path, k) => {
    const img = parseInput(path, 'PNG', decodePngImage);
    let notes: string[];
    try {
      notes = imageToModelInput(img, shape, model.range, images, k * size);
    } catch (e) {
      if (e instanceof NiceFlowError) throw new NiceFlowError(`${path} ${e.message}`);
      throw e;
    }
    for (const note of notes) process.stderr.write(`note: ${path} is ${note}\n`);
  });
  return { images, n: paths.length };
}

/**
 * Checks a command's `--label` against the model: a class of a class-conditional model (0 to K − 1), or absent for
 * any other model. Returns the model's class count (0: not class-conditional). `what` names the command when the model
 * must be class-conditional (restyle, classify).
 */
export function checkLabel(model: NiceModel, label: number | undefined, modelPath: string, what?: string): number {
  const K = model.config.classes ?? 0;
  if (!K && (what || label !== undefined)) {
    throw new NiceFlowError(`${what ?? '--label'}: the model ${modelPath} is not class-conditional (train one with --conditional)`);
  }
  if (K && label !== undefined && label >= K) throw new NiceFlowError(`--label ${label}: the model's classes are 0 to ${K - 1}`);
  return K;
}
