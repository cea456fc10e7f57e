// Class labels as data: IDX label files (MNIST's, Fashion-MNIST's, any IDX image file's sibling) are read only when
// asked for and checked like image files (one dimension, one label per image, 0..9).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { parseIdxLabels } from '../src/data/parseIdxLabels.js';
import { idxLabelPath, loadSplit } from '../cli/data.js';
import { skipWithoutFashionMnist } from './systemPackages.js';

const throwsUser = (f: () => unknown, pattern: RegExp): void => {
  assert.throws(f, (e: unknown) => e instanceof NiceFlowError && pattern.test(e.message) && !e.message.includes('\n'), `expected a one-line NiceFlowError matching ${pattern}`);
};

/** An IDX file of unsigned bytes with these dimensions. */
function idx(dims: number[], data: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  out.set([0, 0, 8, dims.length]);
  const view = new DataView(out.buffer);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

describe('IDX label files', () => {
  it('reads one label per image', () => {
    assert.deepEqual([...parseIdxLabels(idx([4], [3, 0, 9, 1]), 4)], [3, 0, 9, 1]);
  });

  it('refuses image files, wrong counts, labels past 9 and truncated files, in one line naming the file', () => {
    throwsUser(() => parseIdxLabels(idx([2, 2, 2], new Uint8Array(8)), 2, 'label file a'), /^label file a: expected labels \(one dimension\), got dimensions \[2, 2, 2\]/);
    throwsUser(() => parseIdxLabels(idx([3], [1, 2, 3]), 4, 'label file b'), /^label file b: has 3 labels for 4 images/);
    throwsUser(() => parseIdxLabels(idx([3], [1, 10, 3]), 3, 'label file c'), /^label file c: label 1 is 10, but the classes are 0\.\.9/);
    throwsUser(() => parseIdxLabels(idx([3], [1, 2, 3]).subarray(0, 10), 3, 'label file d'), /^label file d: truncated/);
  });
});

describe('labels of the data sets', () => {
  it('MNIST: the test split and the training file split into train and valid, each image with its own label', () => {
    assert.deepEqual([...loadSplit('mnist', 'test', { validSize: 10000, limit: 10, labels: true }).labels!], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    const train = loadSplit('mnist', 'train', { validSize: 1000, labels: true });
    const valid = loadSplit('mnist', 'valid', { validSize: 1000, labels: true });
    assert.equal(train.labels!.length, 59000);
    assert.equal(valid.labels!.length, 1000);
    assert.deepEqual([...train.labels!.subarray(0, 10)], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    // Every class is there, in about MNIST's proportions.
    const counts = new Array(10).fill(0);
    for (const y of train.labels!) counts[y]++;
    for (const c of counts) assert.ok(c > 5000 && c < 7000, `class counts ${counts.join(', ')}`);
  });

  it('Fashion-MNIST: the gzipped label files of the Debian package', { skip: skipWithoutFashionMnist() }, () => {
    assert.deepEqual([...loadSplit('fashion-mnist', 'test', { validSize: 10000, limit: 10, labels: true }).labels!], [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
  });

  const dir = mkdtempSync(join(tmpdir(), 'nice-labels-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('finds the label file beside an IDX image file, gzipped or not', () => {
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), idx([3, 2, 2], new Uint8Array(12)));
    assert.equal(idxLabelPath(join(dir, 'train-images-idx3-ubyte')), join(dir, 'train-labels-idx1-ubyte'));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte.gz'), gzipSync(idx([3], [2, 1, 0])));
    assert.equal(idxLabelPath(join(dir, 'train-images-idx3-ubyte')), join(dir, 'train-labels-idx1-ubyte.gz'));
    const ds = loadSplit(join(dir, 'train-images-idx3-ubyte'), 'train', { validSize: 1, labels: true });
    assert.deepEqual([...ds.labels!], [2, 1]);
    assert.equal(idxLabelPath(join(dir, 'digits.idx')), null);
  });

  it('asks for labels only when told to: a missing or damaged label file stops only labelled work', () => {
    writeFileSync(join(dir, 'other-images-idx3-ubyte'), idx([3, 2, 2], new Uint8Array(12)));
    const path = join(dir, 'other-images-idx3-ubyte');
    assert.equal(loadSplit(path, 'test', { validSize: 1 }).labels, undefined);
    throwsUser(() => loadSplit(path, 'test', { validSize: 1, labels: true }), /^no labels for .*other-images-idx3-ubyte: expected .*other-labels-idx1-ubyte beside it/);
    writeFileSync(join(dir, 'other-labels-idx1-ubyte'), idx([2], [0, 1]));
    throwsUser(() => loadSplit(path, 'test', { validSize: 1, labels: true }), /other-labels-idx1-ubyte: has 2 labels for 3 images/);
    assert.equal(loadSplit(path, 'test', { validSize: 1 }).count, 3);
  });

  it('says so for data sets that carry no labels', () => {
    const npy = join(dir, 'x.npy');
    const header = "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2, 2), }";
    const padded = header.padEnd(64 - 11, ' ') + '\n';
    writeFileSync(npy, Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, padded.length, 0]), Buffer.from(padded, 'latin1'), Buffer.alloc(8)]));
    throwsUser(() => loadSplit(npy, 'test', { validSize: 1, labels: true }), /has no class labels/);
  });
});
