// Images for inpaint, encode and interpolate: from an IDX data set, PNG files or a .npy array.
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { Rng } from '../src/core/Rng.js';
import { dequantizeBatch, type Dequantize } from '../src/data/dequantize.js';
import { decodePngImage } from '../src/io/pngGrid.js';
import { readNpyF32 } from '../src/io/npy.js';
import type { NiceModel } from '../src/model/NiceModel.js';
import { loadSplit, type Split } from './data.js';
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

/**
 * Loads the images the flags name, as [n, D] floats in the data range, checked against the model. `indexName` says
 * which flag chose the k-th index, for the error when it is past the end of the split.
 */
export function loadImages(flags: InputFlags, model: NiceModel, defaultLimit: number, indexName = (_k: number): string => '--index'): { images: Float32Array; n: number } {
  const D = model.dim;
  const sources = [flags.image?.length ? 1 : 0, flags.npy ? 1 : 0].reduce((a, b) => a + b, 0);
  if (sources > 1) throw new NiceFlowError('give images one way: --data, --image or --npy');
  if (flags.limit !== undefined && flags.index !== undefined) throw new NiceFlowError('give --limit or --index, not both');
  if (flags.image?.length) return loadPngs(flags.image, model);
  if (flags.npy) {
    const { data, n } = readRows(flags.npy, D, 'images');
    return { images: data, n };
  }
  const ds = loadSplit(flags.data ?? 'mnist', flags.split, { validSize: flags.validSize });
  if (ds.dim !== D) throw new NiceFlowError(`${flags.data} has ${ds.dim} values per image, the model expects ${D}`);
  const order = flags.index ?? Array.from({ length: Math.min(flags.limit ?? defaultLimit, ds.count) }, (_, i) => i);
  order.forEach((i, k) => {
    if (i >= ds.count) throw new NiceFlowError(`${indexName(k)} ${i} is past the end of the ${flags.split} split (${ds.count} images)`);
  });
  const images = new Float32Array(order.length * D);
  dequantizeBatch(ds, Int32Array.from(order), 0, order.length, flags.dequantize, new Rng(flags.seed), images, model.range);
  return { images, n: order.length };
}

/**
 * Reads a float32 .npy of rows [n, D] (or one row [D]) for the model: the file named in every error, the shape
 * checked against D, and NaN or infinite values refused (they would pass through the bijection silently).
 */
export function readRows(path: string, D: number, what: 'images' | 'codes'): { data: Float32Array; n: number } {
  const { data, shape } = parseInput(path, '.npy file', readNpyF32);
  const n = shape.length === 1 ? 1 : shape[0];
  if (shape.length > 2 || data.length !== n * D || n < 1) {
    throw new NiceFlowError(`${path} has shape [${shape.join(', ')}], the model needs [n, ${D}]`);
  }
  const bad = data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new NiceFlowError(`${path}: value ${bad} (row ${Math.floor(bad / D)}) is ${data[bad]}; NaN or infinite ${what} cannot be ${what === 'codes' ? 'decoded' : 'encoded'}`);
  }
  return { data, n };
}

/** PNG files as model images in its data range: gray from colour and nearest-neighbour resizing, each said on stderr. */
function loadPngs(paths: string[], model: NiceModel): { images: Float32Array; n: number } {
  const [C, H, W] = imageShape(model.config.shape, model.dim);
  const images = new Float32Array(paths.length * C * H * W);
  paths.forEach((path, k) => {
    const img = parseInput(path, 'PNG', decodePngImage);
    let data = img.data;
    let channels = img.channels;
    if (C === 1 && channels === 3) {
      process.stderr.write(`note: ${path} is in colour; converted to gray\n`);
      const P = img.height * img.width;
      const gray = new Float32Array(P);
      for (let p = 0; p < P; p++) gray[p] = 0.299 * data[p] + 0.587 * data[P + p] + 0.114 * data[2 * P + p];
      data = gray;
      channels = 1;
    }
    if (channels !== C) throw new NiceFlowError(`${path} has ${channels} channels, the model's images have ${C}`);
    if (img.height !== H || img.width !== W) {
      process.stderr.write(`note: ${path} is ${img.width}×${img.height}; resized to ${W}×${H} (nearest neighbour)\n`);
    }
    const [lo, hi] = model.range;
    for (let c = 0; c < C; c++) {
      for (let y = 0; y < H; y++) {
        const sy = Math.min(img.height - 1, Math.floor(((y + 0.5) * img.height) / H));
        for (let x = 0; x < W; x++) {
          const sx = Math.min(img.width - 1, Math.floor(((x + 0.5) * img.width) / W));
          images[k * C * H * W + c * H * W + y * W + x] = lo + (hi - lo) * data[c * img.height * img.width + sy * img.width + sx];
        }
      }
    }
  });
  return { images, n: paths.length };
}
