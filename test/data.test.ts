// Data-set parsers on small files built here in the real formats: CIFAR-10 binary, uint8 .npy, PNG folders; and
// dequantization ranges with their bits/dim.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encode } from 'fast-png';
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { Rng } from '../src/core/Rng.js';
import { parseCifar10 } from '../src/data/cifar10.js';
import { concatDatasets } from '../src/data/concatDatasets.js';
import { bitsPerDim, dequantizeBatch, parseDataRange, SYMMETRIC_RANGE, UNIT_RANGE } from '../src/data/dequantize.js';
import { imageDatasetFromArray } from '../src/data/imageArray.js';
import { imagesFromPngs } from '../src/data/imageFolder.js';
import type { ImageDataset } from '../src/data/ImageDataset.js';
import { readNpyU8 } from '../src/io/npy.js';

const throwsUser = (f: () => unknown, pattern: RegExp): void => {
  assert.throws(f, (e: unknown) => e instanceof NiceFlowError && pattern.test(e.message) && !e.message.includes('\n'), `expected a one-line NiceFlowError matching ${pattern}`);
};

/** Pixel (channel c, row y, column x) of test image i: distinct per channel, row and column. */
const cifarPixel = (i: number, c: number, y: number, x: number): number => (i * 7 + c * 85 + y * 3 + x) % 256;

/** CIFAR-10 binary records written the way the format describes them: label, then the R, G and B planes row by row. */
function cifarBytes(labels: number[], pixel = cifarPixel): Uint8Array {
  const out: number[] = [];
  labels.forEach((label, i) => {
    out.push(label);
    for (const c of [0, 1, 2]) for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) out.push(pixel(i, c, y, x));
  });
  return Uint8Array.from(out);
}

/** A .npy file of bytes, built by hand as NumPy lays it out (version 1.0, 64-byte-aligned header). */
function npyU8(data: ArrayLike<number>, shape: number[], descr = '|u1'): Uint8Array {
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 11, ' ') + '\n';
  const out = new Uint8Array(total + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 255, header.length >> 8]);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(Array.from(data), total);
  return out;
}

const at = (ds: ImageDataset, n: number, c: number, y: number, x: number): number =>
  ds.pixels[n * ds.dim + c * ds.shape[1] * ds.shape[2] + y * ds.shape[2] + x];

describe('CIFAR-10 binary', () => {
  it('reads labels and R, G, B planes as C×H×W', () => {
    const ds = parseCifar10(cifarBytes([3, 0, 9]));
    assert.equal(ds.count, 3);
    assert.equal(ds.dim, 3072);
    assert.deepEqual(ds.shape, [3, 32, 32]);
    assert.deepEqual([...ds.labels!], [3, 0, 9]);
    for (let i = 0; i < 3; i++) for (let c = 0; c < 3; c++) for (const [y, x] of [[0, 0], [0, 31], [31, 0], [17, 5]]) {
      assert.equal(at(ds, i, c, y, x), cifarPixel(i, c, y, x), `image ${i} channel ${c} (${y}, ${x})`);
    }
    // the label byte of the next record must not leak into the pixels
    assert.equal(ds.pixels[3072], cifarPixel(1, 0, 0, 0));
  });

  it('rejects truncated, empty and non-CIFAR-10 files, saying how many bytes and records', () => {
    const two = cifarBytes([1, 2]);
    throwsUser(() => parseCifar10(two.subarray(0, 2 * 3073 - 5), 'b.bin'), /^b\.bin: 6141 bytes .*3073 bytes \(1 records and 3068 bytes left over/);
    throwsUser(() => parseCifar10(new Uint8Array(0), 'e.bin'), /^e\.bin: empty file/);
    const bad = cifarBytes([1, 12]);
    throwsUser(() => parseCifar10(bad, 'c.bin'), /record 1 has label 12.*0\.\.9/);
  });

  it('concatenates batches in order, keeping labels', () => {
    const all = concatDatasets([parseCifar10(cifarBytes([1, 2])), parseCifar10(cifarBytes([5]))]);
    assert.equal(all.count, 3);
    assert.deepEqual([...all.labels!], [1, 2, 5]);
    assert.equal(all.pixels[2 * 3072 + 1024], cifarPixel(0, 1, 0, 0));
  });
});

describe('uint8 .npy images', () => {
  // data[n, h, w, c] for 2 images of 2×3 pixels with 3 channels, NHWC as NumPy stores SVHN/CIFAR arrays.
  const N = 2, H = 2, W = 3, C = 3;
  const value = (n: number, c: number, h: number, w: number): number => n * 100 + c * 30 + h * 3 + w;
  const nhwc: number[] = [];
  for (let n = 0; n < N; n++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) for (let c = 0; c < C; c++) nhwc.push(value(n, c, h, w));

  it('transposes [N, H, W, C] to C×H×W', () => {
    const arr = readNpyU8(npyU8(nhwc, [N, H, W, C]));
    assert.deepEqual(arr.shape, [N, H, W, C]);
    const ds = imageDatasetFromArray(arr.data, arr.shape, 'x.npy');
    assert.deepEqual(ds.shape, [3, 2, 3]);
    assert.equal(ds.count, 2);
    for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) {
      assert.equal(at(ds, n, c, h, w), value(n, c, h, w));
    }
  });

  it('keeps [N, C, H, W] and reads [N, H, W] and [N, H, W, 1] as gray', () => {
    const nchw = Array.from({ length: 2 * 3 * 2 * 4 }, (_, i) => i);
    const ds = imageDatasetFromArray(Uint8Array.from(nchw), [2, 3, 2, 4], 'x.npy');
    assert.deepEqual(ds.shape, [3, 2, 4]);
    assert.deepEqual([...ds.pixels], nchw);
    const gray = imageDatasetFromArray(readNpyU8(npyU8([1, 2, 3, 4, 5, 6], [1, 2, 3])).data, [1, 2, 3], 'g.npy');
    assert.deepEqual([gray.shape, gray.count, [...gray.pixels]], [[1, 2, 3], 1, [1, 2, 3, 4, 5, 6]]);
    const last1 = imageDatasetFromArray(Uint8Array.from([1, 2, 3, 4, 5, 6]), [1, 2, 3, 1], 'g.npy');
    assert.deepEqual(last1.shape, [1, 2, 3]);
  });

  it('names the file in errors: dtype, rank, channels, truncation', () => {
    throwsUser(() => readNpyU8(npyU8(new Array(24).fill(0), [6], '<f4'), 'f.npy'), /^f\.npy: \.npy dtype <f4 is not uint8/);
    throwsUser(() => readNpyU8(npyU8([1, 2, 3], [4]), 'short.npy'), /^short\.npy: .*truncated/);
    throwsUser(() => readNpyU8(new Uint8Array(30), 'z.npy'), /^z\.npy: not a \.npy file/);
    throwsUser(() => imageDatasetFromArray(new Uint8Array(6), [2, 3], 'r.npy'), /^r\.npy: .*rank 2/);
    throwsUser(() => imageDatasetFromArray(new Uint8Array(160), [2, 5, 4, 4], 'a.npy'), /^a\.npy: cannot tell the channels/);
  });
});

describe('PNG image folders', () => {
  const rgb = (w: number, h: number, f: (x: number, y: number, c: number) => number): Uint8Array => {
    const data = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = f(x, y, c);
    return encode({ width: w, height: h, data, channels: 3, depth: 8 });
  };
  const gray = (w: number, h: number, f: (x: number, y: number) => number, depth: 8 | 16 = 8): Uint8Array => {
    const data = depth === 8 ? new Uint8Array(w * h) : new Uint16Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[y * w + x] = f(x, y);
    return encode({ width: w, height: h, data, channels: 1, depth });
  };

  it('reads RGB images in file-name order as C×H×W', () => {
    const img = (k: number) => rgb(3, 2, (x, y, c) => k * 50 + c * 20 + y * 3 + x);
    const ds = imagesFromPngs([{ name: 'b.png', bytes: img(2) }, { name: 'a.png', bytes: () => img(1) }, { name: '10.png', bytes: img(0) }], 'dir');
    assert.deepEqual([ds.count, ds.dim, ds.shape], [3, 18, [3, 2, 3]]);
    for (let k = 0; k < 3; k++) for (let c = 0; c < 3; c++) for (let y = 0; y < 2; y++) for (let x = 0; x < 3; x++) {
      assert.equal(at(ds, k, c, y, x), k * 50 + c * 20 + y * 3 + x, `image ${k} channel ${c}`);
    }
  });

  it('reads 8- and 16-bit gray images as one channel of 0..255', () => {
    const ds = imagesFromPngs([{ name: 'a.png', bytes: gray(2, 2, (x, y) => 200 * x + y) }, { name: 'b.PNG', bytes: gray(2, 2, (x, y) => 257 * (10 * x + y), 16) }]);
    assert.deepEqual(ds.shape, [1, 2, 2]);
    assert.deepEqual([...ds.pixels], [0, 200, 1, 201, 0, 10, 1, 11]);
  });

  it('names the file for mixed sizes or channels, non-PNG files and empty folders', () => {
    const a = { name: 'a.png', bytes: rgb(3, 2, () => 0) };
    throwsUser(() => imagesFromPngs([a, { name: 'b.png', bytes: rgb(2, 2, () => 0) }], 'dir'), /^dir\/b\.png is 2×2 RGB, but a\.png is 3×2 RGB/);
    throwsUser(() => imagesFromPngs([a, { name: 'b.png', bytes: gray(3, 2, () => 0) }], 'dir'), /^dir\/b\.png is 3×2 gray, but a\.png is 3×2 RGB/);
    throwsUser(() => imagesFromPngs([a, { name: 'notes.txt', bytes: new Uint8Array(3) }], 'dir'), /^dir\/notes\.txt is not a PNG file/);
    throwsUser(() => imagesFromPngs([a, { name: 'c.png', bytes: new Uint8Array(40) }], 'dir'), /^dir\/c\.png: not a PNG file/);
    throwsUser(() => imagesFromPngs([], 'dir'), /^dir has no \.png images/);
  });
});

describe('Rng.fillUniform', () => {
  it('draws the same numbers as repeated uniform() and leaves the same state', () => {
    for (const seed of [0, 1, 12345, 0xffffffff]) {
      const a = new Rng(seed), b = new Rng(seed);
      a.uniform();
      b.uniform();
      const out = new Float64Array(1003).fill(-1);
      a.fillUniform(out, 2, 1000);
      assert.deepEqual([out[0], out[1], out[1002]], [-1, -1, -1], 'writes only [offset, offset + count)');
      for (let i = 0; i < 1000; i++) assert.equal(out[2 + i], b.uniform(), `seed ${seed}, draw ${i}`);
      assert.deepEqual(a.getState(), b.getState());
      assert.equal(a.uniform(), b.uniform());
    }
  });
});

describe('dequantization ranges', () => {
  const ds: ImageDataset = { pixels: Uint8Array.from([0, 255, 128, 7, 1, 254]), count: 2, dim: 3, shape: [1, 1, 3] };

  it('maps pixels onto [−1, 1] as 2·(pixel + u)/256 − 1, and [0, 1] as before', () => {
    const x01 = new Float64Array(6);
    const x11 = new Float64Array(6);
    const old = new Float64Array(6);
    dequantizeBatch(ds, null, 0, 2, 'uniform', new Rng(4), x01);
    dequantizeBatch(ds, null, 0, 2, 'uniform', new Rng(4), x11, SYMMETRIC_RANGE);
    const rng = new Rng(4);
    for (let i = 0; i < 6; i++) old[i] = (ds.pixels[i] + rng.uniform()) / 256;
    assert.deepEqual(x01, old, 'the default range must reproduce the old formula bit for bit');
    for (let i = 0; i < 6; i++) {
      assert.equal(x11[i], 2 * x01[i] - 1);
      assert.ok(x11[i] >= -1 + (2 * ds.pixels[i]) / 256 && x11[i] < -1 + (2 * (ds.pixels[i] + 1)) / 256, `noise of width 1/128 at ${i}`);
    }
    const c = new Float32Array(6);
    dequantizeBatch(ds, Int32Array.from([1, 0]), 0, 2, 'center', new Rng(0), c, [-1, 1]);
    assert.deepEqual([...c], [7, 1, 254, 0, 255, 128].map((p) => Math.fround(-1 + (2 * (p + 0.5)) / 256)));
  });

  it('gives the bits/dim of the 256-level data whatever the range', () => {
    const D = 784;
    // the uniform density on the range: on [0,1]^D LL = 0, on [−1,1]^D LL = −D ln 2; both are 8 bits/dim
    assert.equal(bitsPerDim(0, D), 8);
    assert.equal(bitsPerDim(0, D, UNIT_RANGE), 8);
    assert.ok(Math.abs(bitsPerDim(-D * Math.LN2, D, SYMMETRIC_RANGE) - 8) < 1e-12);
    assert.ok(Math.abs(bitsPerDim(0, D, SYMMETRIC_RANGE) - 7) < 1e-12, 'the same LL on a wider range is a better fit');
    // a non-uniform density f on [0,1]^D, and its image g(y) = f((y+1)/2)/2^D on [−1,1]^D, score the same data equally
    const x01 = new Float64Array(6);
    const x11 = new Float64Array(6);
    dequantizeBatch(ds, null, 0, 2, 'uniform', new Rng(9), x01);
    dequantizeBatch(ds, null, 0, 2, 'uniform', new Rng(9), x11, SYMMETRIC_RANGE);
    const logf = (v: number): number => Math.log(2 * v); // density 2v on [0,1]
    const ll01 = [...x01.subarray(0, 3)].reduce((a, v) => a + logf(v), 0);
    const ll11 = [...x11.subarray(0, 3)].reduce((a, y) => a + logf((y + 1) / 2) - Math.LN2, 0);
    assert.ok(Math.abs(bitsPerDim(ll01, 3) - bitsPerDim(ll11, 3, [-1, 1])) < 1e-12);
  });

  it('parses LOW,HIGH', () => {
    assert.deepEqual(parseDataRange('-1,1'), [-1, 1]);
    assert.deepEqual(parseDataRange(' 0 , 1 '), [0, 1]);
    for (const bad of ['1,0', '0', '0,1,2', 'a,b', ',1', '0,Infinity']) throwsUser(() => parseDataRange(bad), /LOW,HIGH/);
  });
});
