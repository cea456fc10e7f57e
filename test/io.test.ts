import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decode, encode } from 'fast-png';
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { parseIdx } from '../src/data/idx.js';
import { readNpyF32, writeNpyF32 } from '../src/io/npy.js';
import { decodePngImage, imageGridPng } from '../src/io/pngGrid.js';
import { readSafetensors, writeSafetensors } from '../src/io/safetensors.js';

const throwsUser = (f: () => unknown, pattern: RegExp): void => {
  assert.throws(f, (e: unknown) => e instanceof NiceFlowError && pattern.test(e.message), `expected a NiceFlowError matching ${pattern}`);
};

/** A safetensors file assembled by hand from a header object and data bytes, as another program would write it. */
function rawSafetensors(header: unknown, data: Uint8Array, headerText?: string): Uint8Array {
  const json = new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const f32bytes = (...v: number[]): Uint8Array => new Uint8Array(Float32Array.from(v).buffer);

describe('safetensors', () => {
  it('round-trips tensors and metadata; the header is 8-byte aligned', () => {
    const bytes = writeSafetensors({ b: { shape: [3], data: Float32Array.from([1, -2, 3.5]) }, a: { shape: [2, 2], data: Float32Array.from([0.1, 0.2, 0.3, 0.4]) } }, { config: '{"x":1}' });
    assert.equal(Number(new DataView(bytes.buffer).getBigUint64(0, true)) % 8, 0);
    const { tensors, metadata } = readSafetensors(bytes);
    assert.deepEqual(metadata, { config: '{"x":1}' });
    assert.deepEqual(tensors.a.shape, [2, 2]);
    assert.deepEqual(tensors.a.data, Float32Array.from([0.1, 0.2, 0.3, 0.4]));
    assert.deepEqual(tensors.b.data, Float32Array.from([1, -2, 3.5]));
  });

  it('reads a hand-built file with an unaligned, unsorted layout', () => {
    const header = { 'scaling.scale': { dtype: 'F32', shape: [2], data_offsets: [8, 16] }, 'couplings.0.layers.0.bias': { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
    // A 5-character-odd header length makes the data start unaligned.
    const bytes = rawSafetensors(header, new Uint8Array([...f32bytes(1, 2), ...f32bytes(3, 4)]), JSON.stringify(header) + '   ');
    const { tensors } = readSafetensors(bytes);
    assert.deepEqual(tensors['couplings.0.layers.0.bias'].data, Float32Array.from([1, 2]));
    assert.deepEqual(tensors['scaling.scale'].data, Float32Array.from([3, 4]));
  });

  it('rejects malformed files, naming the problem', () => {
    const ok = { t: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
    throwsUser(() => readSafetensors(new Uint8Array(5)), /truncated/);
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 1n << 40n, true);
    throwsUser(() => readSafetensors(huge), /oversized/);
    const short = rawSafetensors(ok, f32bytes(1, 2)).subarray(0, 20);
    throwsUser(() => readSafetensors(short), /truncated/);
    throwsUser(() => readSafetensors(rawSafetensors(null, new Uint8Array(0), '{not json')), /not valid JSON/);
    throwsUser(() => readSafetensors(rawSafetensors([1, 2], new Uint8Array(0))), /not a JSON object/);
    throwsUser(() => readSafetensors(rawSafetensors({ t: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8))), /dtype F64/);
    throwsUser(() => readSafetensors(rawSafetensors({ t: { dtype: 'F32', shape: [2] } }, f32bytes(1, 2))), /malformed/);
    throwsUser(() => readSafetensors(rawSafetensors({ t: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, f32bytes(1, 2))), /past the end/);
    throwsUser(() => readSafetensors(rawSafetensors({ t: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, f32bytes(1, 2))), /do not match shape/);
    throwsUser(
      () => readSafetensors(rawSafetensors({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, f32bytes(1, 2, 3))),
      /overlap/,
    );
    throwsUser(() => readSafetensors(rawSafetensors({ __metadata__: { config: 3 }, ...ok }, f32bytes(1, 2))), /not a string/);
    throwsUser(() => readSafetensors(rawSafetensors({ t: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, f32bytes(1, 2))), /invalid data_offsets/);
  });
});

describe('npy', () => {
  it('round-trips float32 [n, D] with a 64-byte aligned header', () => {
    const data = Float32Array.from([1, 2, 3, 4, 5, 6.5]);
    const bytes = writeNpyF32(data, [2, 3]);
    const headerLen = new DataView(bytes.buffer).getUint16(8, true);
    assert.equal((10 + headerLen) % 64, 0);
    assert.equal(bytes[10 + headerLen - 1], 0x0a);
    const back = readNpyF32(bytes);
    assert.deepEqual(back.shape, [2, 3]);
    assert.deepEqual(back.data, data);
  });

  it('reads a hand-built float64 file and rejects bad ones', () => {
    const header = "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }".padEnd(117, ' ') + '\n';
    const bytes = new Uint8Array(10 + header.length + 24);
    bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    new DataView(bytes.buffer).setUint16(8, header.length, true);
    for (let i = 0; i < header.length; i++) bytes[10 + i] = header.charCodeAt(i);
    new Float64Array(bytes.buffer, 10 + header.length, 3).set([0.5, -1, 2]);
    assert.deepEqual(readNpyF32(bytes), { data: Float32Array.from([0.5, -1, 2]), shape: [3] });
    throwsUser(() => readNpyF32(bytes.subarray(0, bytes.length - 4)), /truncated/);
    throwsUser(() => readNpyF32(new Uint8Array(20)), /bad magic/);
    // Same-length edits of the header, byte for byte.
    const edit = (from: string, to: string): Uint8Array => {
      const copy = Uint8Array.from(bytes);
      const at = header.indexOf(from);
      for (let i = 0; i < to.length; i++) copy[10 + at + i] = to.charCodeAt(i);
      return copy;
    };
    throwsUser(() => readNpyF32(edit("'fortran_order': False", "'fortran_order': True ")), /Fortran/);
    throwsUser(() => readNpyF32(edit('<f8', '<i8')), /dtype <i8/);
  });
});

describe('PNG', () => {
  it('draws a grid with padding, scaling and clipping', () => {
    const imgs = Float32Array.from([0, 1, 0.5, 2, /* second */ -1, NaN, 1, 0]);
    const png = decode(imageGridPng(imgs, 2, { channels: 1, height: 2, width: 2 }, { columns: 2, scale: 2 }));
    assert.equal(png.channels, 1);
    assert.equal(png.width, 2 * 4 + 3);
    assert.equal(png.height, 4 + 2);
    const px = (x: number, y: number): number => png.data[y * png.width + x];
    assert.equal(px(0, 0), 128); // padding
    assert.equal(px(1, 1), 0);
    assert.equal(px(3, 1), 255);
    assert.equal(px(1, 3), 128); // 0.5
    assert.equal(px(4, 4), 255); // 2 clipped
    assert.equal(px(6, 1), 0); // −1 clipped
    assert.equal(px(8, 1), 0); // NaN drawn black
  });

  it('draws colour grids and decodes gray and RGB PNGs to [0,1] C×H×W', () => {
    const rgb = decode(imageGridPng(Float32Array.from([1, 0, 0, 1, 0.5, 0.5]), 1, { channels: 3, height: 1, width: 2 }, { padding: 0 }));
    assert.equal(rgb.channels, 3);
    assert.deepEqual(Array.from(rgb.data), [1, 0, 0, 0, 1, 0].map((v, i) => (i % 3 === 2 ? 128 : v * 255)));
    const gray = decodePngImage(encode({ width: 2, height: 1, data: new Uint8Array([0, 255]), channels: 1, depth: 8 }));
    assert.deepEqual(gray, { channels: 1, height: 1, width: 2, data: Float32Array.from([0, 1]) });
    const colour = decodePngImage(encode({ width: 1, height: 1, data: new Uint8Array([255, 0, 51, 255]), channels: 4, depth: 8 }));
    assert.equal(colour.channels, 3);
    assert.deepEqual(colour.data, Float32Array.from([1, 0, 0.2]));
    throwsUser(() => decodePngImage(new Uint8Array([1, 2, 3, 4])), /not a PNG/);
  });
});

describe('IDX', () => {
  const build = (magic: number[], dims: number[], data: number[]): Uint8Array => {
    const out = new Uint8Array(4 + 4 * dims.length + data.length);
    out.set(magic);
    dims.forEach((d, i) => new DataView(out.buffer).setUint32(4 + 4 * i, d, false));
    out.set(data, 4 + 4 * dims.length);
    return out;
  };

  it('parses image and label files', () => {
    const images = parseIdx(build([0, 0, 8, 3], [2, 2, 3], [...Array(12).keys()]));
    assert.deepEqual(images.dims, [2, 2, 3]);
    assert.deepEqual(Array.from(images.data), [...Array(12).keys()]);
    const labels = parseIdx(build([0, 0, 8, 1], [3], [7, 1, 9]));
    assert.deepEqual(labels.dims, [3]);
    assert.deepEqual(Array.from(labels.data), [7, 1, 9]);
  });

  it('rejects truncated, oversized, wrong-magic and gzipped files, naming the file', () => {
    const good = build([0, 0, 8, 3], [2, 2, 3], [...Array(12).keys()]);
    throwsUser(() => parseIdx(good.subarray(0, good.length - 1), 'train.idx'), /train\.idx: truncated: expected 12 bytes of data, found 11/);
    throwsUser(() => parseIdx(new Uint8Array([...good, 0, 0]), 'x'), /2 extra bytes/);
    throwsUser(() => parseIdx(build([0x50, 0x4b, 3, 4], [1], [0]), 'zip'), /wrong magic number 0x504b0304/);
    throwsUser(() => parseIdx(new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0]), 'g'), /gzipped/);
    throwsUser(() => parseIdx(build([0, 0, 0x0d, 1], [1], [0, 0, 0, 0]), 'floats'), /not unsigned byte/);
    throwsUser(() => parseIdx(new Uint8Array([0, 0, 8, 3, 0, 0]), 'h'), /truncated header/);
  });
});
