// loadSplit on data sets laid out on disk as they are shipped: CIFAR-10 batch folders, Fashion-MNIST's gzipped IDX
// files (via NICE_FLOW_FASHION_MNIST_DIR), .npy files and PNG folders; and the one-line errors for broken ones.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, afterEach, describe, it } from 'node:test';
import { encode } from 'fast-png';
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { describeData, FASHION_MNIST_DIR, loadDataSplit, loadSplit, resolveData } from '../cli/data.js';
import { isPointDataset } from '../src/data/Dataset.js';
import { skipWithout } from './systemPackages.js';

const dir = mkdtempSync(join(tmpdir(), 'nice-flow-data-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const envBefore = process.env.NICE_FLOW_FASHION_MNIST_DIR;
afterEach(() => {
  if (envBefore === undefined) delete process.env.NICE_FLOW_FASHION_MNIST_DIR;
  else process.env.NICE_FLOW_FASHION_MNIST_DIR = envBefore;
});

const throwsUser = (f: () => unknown, pattern: RegExp): void => {
  assert.throws(f, (e: unknown) => e instanceof NiceFlowError && pattern.test(e.message) && !e.message.includes('\n'), `expected a one-line NiceFlowError matching ${pattern}`);
};

/** A folder (created) under the temp dir. */
const folder = (...parts: string[]): string => {
  const p = join(dir, ...parts);
  mkdirSync(p, { recursive: true });
  return p;
};

/** An IDX image file of `n` 2×2 images whose first pixel is `first + k`. */
const idx = (n: number, first: number): Uint8Array => {
  const b = Buffer.alloc(16 + 4 * n);
  b.writeUInt32BE(0x00000803, 0);
  b.writeUInt32BE(n, 4);
  b.writeUInt32BE(2, 8);
  b.writeUInt32BE(2, 12);
  for (let k = 0; k < n; k++) b[16 + 4 * k] = first + k;
  return b;
};

// Small copies of test/data.test.ts's builders (importing that file would run its tests twice).
/** CIFAR-10 binary records: a label byte, then R, G, B planes; every pixel of record i is i. */
const cifarBytes = (labels: number[]): Uint8Array => {
  const out = new Uint8Array(labels.length * 3073);
  labels.forEach((label, i) => {
    out[i * 3073] = label;
    out.fill(i, i * 3073 + 1, (i + 1) * 3073);
  });
  return out;
};

/** A uint8 (or `descr`) .npy file, version 1.0, as NumPy lays it out. */
const npyU8 = (data: number[], shape: number[], descr = '|u1'): Uint8Array => {
  const head = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}), }`;
  const total = Math.ceil((11 + head.length) / 64) * 64;
  const header = head.padEnd(total - 11, ' ') + '\n';
  return Uint8Array.from([0x93, ...Buffer.from('NUMPY'), 1, 0, header.length & 255, header.length >> 8, ...Buffer.from(header), ...data]);
};

/** A PNG of an RGB w×h image filled with value v. */
const png = (v: number, w = 4, h = 3): Uint8Array => encode({ width: w, height: h, data: new Uint8Array(w * h * 3).fill(v), channels: 3, depth: 8 });

describe('loadSplit: CIFAR-10', () => {
  const cifar = folder('cifar-10-batches-bin');
  // records numbered by label across the batches, so order is visible: batch 1 has 0..3, batch 2 has 4..6
  writeFileSync(join(cifar, 'data_batch_2.bin'), cifarBytes([4, 5, 6]));
  writeFileSync(join(cifar, 'data_batch_1.bin'), cifarBytes([0, 1, 2, 3]));
  writeFileSync(join(cifar, 'test_batch.bin'), cifarBytes([9, 8]));
  writeFileSync(join(cifar, 'batches.meta.txt'), 'airplane\nautomobile\n');
  writeFileSync(join(cifar, 'readme.html'), '<html></html>');

  it('concatenates data_batch_1..N for train and valid, and reads test_batch.bin for test', () => {
    const train = loadSplit(cifar, 'train', { validSize: 2 });
    const valid = loadSplit(cifar, 'valid', { validSize: 2 });
    const test = loadSplit(cifar, 'test', { validSize: 2 });
    assert.deepEqual([train.count, valid.count, test.count], [5, 2, 2]);
    assert.deepEqual(train.shape, [3, 32, 32]);
    assert.deepEqual([...train.labels!], [0, 1, 2, 3, 4]);
    assert.deepEqual([...valid.labels!], [5, 6]);
    assert.deepEqual([...test.labels!], [9, 8]);
    assert.equal(loadSplit(cifar, 'train', { validSize: 2, limit: 3 }).count, 3);
    assert.match(describeData(cifar), /CIFAR-10 \(2 training batches in .*cifar-10-batches-bin, test_batch\.bin\)/);
    assert.deepEqual(resolveData(cifar).defaultRange, [-1, 1]);
  });

  it('uses a single .bin file for every split', () => {
    const bin = join(cifar, 'data_batch_1.bin');
    assert.equal(loadSplit(bin, 'train', { validSize: 1 }).count, 3);
    assert.deepEqual([...loadSplit(bin, 'test', { validSize: 1 }).labels!], [0, 1, 2, 3]);
  });

  it('reports truncated files, folders without training batches and a too large --valid-size', () => {
    const cut = join(folder('cut'), 'data_batch_1.bin');
    writeFileSync(cut, cifarBytes([1, 2]).subarray(0, 6000));
    throwsUser(() => loadSplit(cut, 'train', { validSize: 0 }), /CIFAR-10 file .*cut\/data_batch_1\.bin: 6000 bytes .*1 records and 2927 bytes left over/);
    throwsUser(() => loadSplit(folder('cut'), 'test', { validSize: 0 }), /no test split .*test_batch\.bin is missing/);
    const onlyTest = folder('only-test');
    writeFileSync(join(onlyTest, 'test_batch.bin'), cifarBytes([1]));
    throwsUser(() => loadSplit(onlyTest, 'train', { validSize: 0 }), /CIFAR-10 folder .*only-test has no data_batch_N\.bin files/);
    throwsUser(() => loadSplit(cifar, 'train', { validSize: 7 }), /--valid-size 7 leaves no training images \(.* has 7\)/);
  });
});

describe('loadSplit: Fashion-MNIST', () => {
  it('reads the gzipped IDX files from NICE_FLOW_FASHION_MNIST_DIR', () => {
    const fm = folder('fashion');
    writeFileSync(join(fm, 'train-images-idx3-ubyte.gz'), gzipSync(idx(5, 10)));
    writeFileSync(join(fm, 't10k-images-idx3-ubyte.gz'), gzipSync(idx(3, 100)));
    process.env.NICE_FLOW_FASHION_MNIST_DIR = fm;
    const train = loadSplit('fashion-mnist', 'train', { validSize: 1 });
    const valid = loadSplit('fashion-mnist', 'valid', { validSize: 1 });
    const test = loadSplit('fashion-mnist', 'test', { validSize: 1 });
    assert.deepEqual([train.count, valid.count, test.count], [4, 1, 3]);
    assert.deepEqual(train.shape, [1, 2, 2]);
    assert.deepEqual([train.pixels[0], train.pixels[12], valid.pixels[0], test.pixels[8]], [10, 13, 14, 102]);
    assert.match(describeData('fashion-mnist'), /Fashion-MNIST \(.*fashion\)/);
  });

  it('says how to install it when the folder is missing', () => {
    process.env.NICE_FLOW_FASHION_MNIST_DIR = join(dir, 'no-such-dir');
    throwsUser(() => loadSplit('fashion-mnist', 'train', { validSize: 1 }), /Fashion-MNIST not found in .*no-such-dir: run `apt-get install dataset-fashion-mnist` or give the path/);
  });

  it('finds the Debian package when it is installed', { skip: skipWithout(existsSync(join(FASHION_MNIST_DIR, 't10k-images-idx3-ubyte.gz')), 'Fashion-MNIST', 'apt-get install dataset-fashion-mnist') }, () => {
    delete process.env.NICE_FLOW_FASHION_MNIST_DIR;
    const test = loadSplit('fashion-mnist', 'test', { validSize: 10000, limit: 100 });
    assert.deepEqual([test.count, test.shape], [100, [1, 28, 28]]);
  });
});

describe('loadSplit: .npy files and PNG folders', () => {
  it('reads a uint8 NHWC .npy, with its test sibling', () => {
    const d = folder('svhn');
    const nhwc = (n: number, v: number) => npyU8(new Array(n * 2 * 2 * 3).fill(0).map((_, i) => v + (i % 3)), [n, 2, 2, 3]);
    writeFileSync(join(d, 'train_32x32.npy'), nhwc(4, 10));
    writeFileSync(join(d, 'test_32x32.npy'), nhwc(2, 50));
    const train = loadSplit(join(d, 'train_32x32.npy'), 'train', { validSize: 1 });
    const test = loadSplit(join(d, 'train_32x32.npy'), 'test', { validSize: 1 });
    assert.deepEqual([train.count, test.count, train.shape], [3, 2, [3, 2, 2]]);
    assert.deepEqual([...test.pixels.subarray(0, 12)], [50, 50, 50, 50, 51, 51, 51, 51, 52, 52, 52, 52]);
    writeFileSync(join(d, 'float.npy'), npyU8(new Array(16).fill(0), [1, 2, 2], '<f4'));
    throwsUser(() => loadSplit(join(d, 'float.npy'), 'test', { validSize: 0 }), /\.npy file .*float\.npy: float32 values of shape \[1, 2, 2\]: continuous data are \[N, D\].*images must be uint8/);
    writeFileSync(join(d, 'int.npy'), npyU8(new Array(8).fill(0), [1, 2], '<i4'));
    throwsUser(() => loadSplit(join(d, 'int.npy'), 'test', { validSize: 0 }), /\.npy file .*int\.npy: \.npy dtype <i4 is neither uint8 \(images.*nor float32\/float64/);
  });

  it('reads a float .npy [N, D] as continuous data, with its test sibling; image commands refuse it', () => {
    const d = folder('points');
    const f64 = (values: number[], shape: number[]): Uint8Array => npyU8([...new Uint8Array(Float64Array.from(values).buffer)], shape, '<f8');
    writeFileSync(join(d, 'train.npy'), f64([0, 1, 2, 3, 4, 5, 6, 7], [4, 2]));
    writeFileSync(join(d, 'test.npy'), f64([-1.5, 2.5], [1, 2]));
    const train = loadDataSplit(join(d, 'train.npy'), 'train', { validSize: 1 });
    const valid = loadDataSplit(join(d, 'train.npy'), 'valid', { validSize: 1 });
    const test = loadDataSplit(join(d, 'train.npy'), 'test', { validSize: 1 });
    assert.ok(isPointDataset(train) && isPointDataset(valid) && isPointDataset(test));
    assert.deepEqual([train.count, valid.count, test.count, train.dim], [3, 1, 1, 2]);
    assert.deepEqual([...valid.values, ...test.values], [6, 7, -1.5, 2.5]);
    throwsUser(() => loadSplit(join(d, 'train.npy'), 'test', { validSize: 1 }), /train\.npy holds continuous data \(float values, 2 per row\), not images/);
    throwsUser(() => loadDataSplit(join(d, 'train.npy'), 'train', { validSize: 1, labels: true }), /has no class labels/);
    writeFileSync(join(d, 'nan.npy'), f64([0, 1, NaN, 3], [2, 2]));
    throwsUser(() => loadDataSplit(join(d, 'nan.npy'), 'test', { validSize: 0 }), /nan\.npy \(float64\): row 1 holds NaN \(column 0\)/);
  });

  it('uses train/ and test/ subfolders of PNG images as the splits', () => {
    const p = folder('pngs');
    for (const [k, name] of ['c', 'a', 'b'].entries()) writeFileSync(join(folder('pngs', 'train'), `${name}.png`), png(k));
    for (const name of ['x', 'y']) writeFileSync(join(folder('pngs', 'test'), `${name}.png`), png(200));
    writeFileSync(join(p, 'train', '.DS_Store'), 'ignored');
    const train = loadSplit(p, 'train', { validSize: 1 });
    const valid = loadSplit(p, 'valid', { validSize: 1 });
    const test = loadSplit(p, 'test', { validSize: 1 });
    assert.deepEqual([train.count, valid.count, test.count, train.shape], [2, 1, 2, [3, 3, 4]]);
    // sorted by name: a.png (1), b.png (2), c.png (0)
    assert.deepEqual([train.pixels[0], train.pixels[36], valid.pixels[0], test.pixels[0]], [1, 2, 0, 200]);
    assert.match(describeData(p), /PNG images in .*pngs \(train\/ and test\/\)/);
  });

  it('uses a flat folder for every split, and names the bad file', () => {
    const flat = folder('flat');
    writeFileSync(join(flat, '1.png'), png(5));
    writeFileSync(join(flat, '2.png'), png(6));
    assert.equal(loadSplit(flat, 'test', { validSize: 1 }).count, 2);
    writeFileSync(join(flat, '3.png'), png(6, 8, 8));
    throwsUser(() => loadSplit(flat, 'test', { validSize: 1 }), /flat\/3\.png is 8×8 RGB, but 1\.png is 4×3 RGB/);
    writeFileSync(join(folder('mixed'), 'a.png'), png(1));
    writeFileSync(join(folder('mixed'), 'labels.csv'), '1\n');
    throwsUser(() => loadSplit(join(dir, 'mixed'), 'test', { validSize: 0 }), /mixed\/labels\.csv is not a PNG file/);
    folder('nested', 'cats');
    writeFileSync(join(dir, 'nested', 'a.png'), png(1));
    throwsUser(() => loadSplit(join(dir, 'nested'), 'test', { validSize: 0 }), /nested\/cats is a folder/);
  });

  it('reports an empty folder and a missing path', () => {
    throwsUser(() => loadSplit(folder('empty'), 'train', { validSize: 0 }), /folder .*empty is empty/);
    const emptyTrain = folder('empty-train');
    folder('empty-train', 'train');
    throwsUser(() => loadSplit(emptyTrain, 'train', { validSize: 0 }), /empty-train\/train has no \.png images/);
    throwsUser(() => loadSplit(join(dir, 'nope'), 'train', { validSize: 0 }), /data set ".*nope" not found/);
  });
});
