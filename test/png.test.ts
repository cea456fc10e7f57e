// PNG reading: every colour type, bit depth and interlacing against the 8-bit gray copy, transparency, masks, and
// hostile files (absurd or empty declared sizes, zlib bombs, truncated and mangled files). The PNGs are written here
// by a small encoder that follows the PNG specification, independently of the reader and of fast-png.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deflateSync, inflateSync } from 'node:zlib';
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { decodePngImage } from '../src/io/pngGrid.js';
import { PNG_MAX_PIXELS, readPngHeader } from '../src/io/readPngHeader.js';
import { hiddenCount, makeMask, maskFromImage } from '../src/model/masks.js';

const throwsUser = (f: () => unknown, pattern: RegExp, what = ''): void => {
  let caught: unknown = null;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof NiceFlowError, `${what}: expected a NiceFlowError matching ${pattern}, got ${caught === null ? 'no error' : String(caught)}`);
  assert.match(caught.message, pattern, what);
  assert.ok(!caught.message.includes('\n'), `${what}: the message is one line`);
};

// ---- A minimal PNG encoder (PNG spec. 5, 7, 8, 9, 11) ----

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** One chunk: length, type, data, CRC over type and data. */
function chunk(type: string, data: ArrayLike<number> = []): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc(out.subarray(4, 8 + data.length)));
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, (o += p.length) - p.length);
  return out;
}

const SIGNATURE = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function ihdr(width: number, height: number, depth: number, colorType: number, interlace = 0): Uint8Array {
  const d = new Uint8Array(13);
  const v = new DataView(d.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  d.set([depth, colorType, 0, 0, interlace], 8);
  return chunk('IHDR', d);
}

/** A PNG file from its header and the zlib stream of its image data (and optional chunks before IDAT). */
function pngFile(width: number, height: number, depth: number, colorType: number, zdata: Uint8Array, extra: Uint8Array[] = [], interlace = 0): Uint8Array {
  return concat([SIGNATURE, ihdr(width, height, depth, colorType, interlace), ...extra, chunk('IDAT', zdata), chunk('IEND')]);
}

/** Filters one row of bytes with filter `type` (a, b, c as in PNG spec. 9.2; prev is null for a first row). */
function filterRow(type: number, row: Uint8Array, prev: Uint8Array | null, bpp: number): Uint8Array {
  const out = new Uint8Array(row.length + 1);
  out[0] = type;
  for (let i = 0; i < row.length; i++) {
    const a = i >= bpp ? row[i - bpp] : 0;
    const b = prev ? prev[i] : 0;
    const c = prev && i >= bpp ? prev[i - bpp] : 0;
    const p = a + b - c;
    const pred = [0, a, b, (a + b) >> 1, Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c][type];
    out[i + 1] = (row[i] - pred) & 255;
  }
  return out;
}

const ADAM7 = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];
const SPP: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

interface Spec {
  width: number;
  height: number;
  depth: number;
  colorType: number;
  /** Samples per pixel, pixels row by row, as stored (palette indices for colour type 3). */
  samples: number[];
  palette?: number[][];
  trns?: number[];
  interlace?: boolean;
}

/** Encodes samples in the given format: bits packed MSB first, rows padded to a byte, filters cycling 0–4 by row. */
function encodePng(s: Spec): Uint8Array {
  const spp = SPP[s.colorType];
  const bpp = Math.max(1, (spp * s.depth) >> 3);
  const passes = s.interlace ? ADAM7 : [[0, 0, 1, 1]];
  const rows: Uint8Array[] = [];
  let r = 0;
  for (const [x0, y0, dx, dy] of passes) {
    let prev: Uint8Array | null = null;
    for (let y = y0; y < s.height; y += dy) {
      const xs: number[] = [];
      for (let x = x0; x < s.width; x += dx) xs.push(x);
      if (xs.length === 0) break;
      const row = new Uint8Array(Math.ceil((xs.length * spp * s.depth) / 8));
      xs.forEach((x, j) => {
        for (let c = 0; c < spp; c++) {
          const v = s.samples[(y * s.width + x) * spp + c];
          const k = j * spp + c;
          if (s.depth === 16) row.set([v >> 8, v & 255], 2 * k);
          else if (s.depth === 8) row[k] = v;
          else row[(k * s.depth) >> 3] |= v << (8 - s.depth - ((k * s.depth) & 7));
        }
      });
      rows.push(filterRow(r++ % 5, row, prev, bpp));
      prev = row;
    }
  }
  const extra: Uint8Array[] = [];
  if (s.palette) extra.push(chunk('PLTE', s.palette.flat()));
  if (s.trns) extra.push(chunk('tRNS', s.trns));
  return pngFile(s.width, s.height, s.depth, s.colorType, deflateSync(concat(rows)), extra, s.interlace ? 1 : 0);
}

/** Big-endian 16-bit bytes of values (a tRNS colour). */
const u16 = (...v: number[]): number[] => v.flatMap((x) => [x >> 8, x & 255]);

// ---- Test pictures ----

const W = 13;
const H = 9;
/** An 8-bit gray picture whose values are representable at `depth` bits (multiples of 255 / (2^depth − 1)). */
function grayPicture(depth: number): number[] {
  const levels = 2 ** Math.min(depth, 8) - 1;
  return Array.from({ length: W * H }, (_, p) => Math.round(((p * 37 + (p >> 3) * 11) % (levels + 1)) * (255 / levels)));
}

/** Every encoding of an 8-bit gray picture g (values representable at `depth` bits) that must decode as g does. */
function encodings(g: number[], depth: number): { name: string; png: Uint8Array }[] {
  const out: { name: string; png: Uint8Array }[] = [];
  const base = { width: W, height: H };
  const distinct = [...new Set(g)];
  for (const interlace of [false, true]) {
    const add = (name: string, s: Omit<Spec, 'width' | 'height' | 'interlace'>): void => {
      out.push({ name: `${name}${interlace ? ' interlaced' : ''}`, png: encodePng({ ...base, ...s, interlace }) });
    };
    for (const d of [1, 2, 4, 8, 16].filter((d) => d >= depth)) {
      const max = 2 ** d - 1;
      const raw = g.map((v) => (v * max) / 255);
      add(`gray ${d}-bit`, { depth: d, colorType: 0, samples: raw });
      const unused = Array.from({ length: max + 1 }, (_, i) => i).find((k) => !raw.includes(k));
      if (unused !== undefined) add(`gray ${d}-bit + unused tRNS`, { depth: d, colorType: 0, samples: raw, trns: u16(unused) });
      if (d >= 8) {
        add(`RGB ${d}-bit`, { depth: d, colorType: 2, samples: raw.flatMap((v) => [v, v, v]) });
        add(`RGB ${d}-bit + unused tRNS`, { depth: d, colorType: 2, samples: raw.flatMap((v) => [v, v, v]), trns: u16(0, max, 0) });
        add(`gray+alpha ${d}-bit opaque`, { depth: d, colorType: 4, samples: raw.flatMap((v) => [v, max]) });
        add(`RGBA ${d}-bit opaque`, { depth: d, colorType: 6, samples: raw.flatMap((v) => [v, v, v, max]) });
      }
      if (d <= 8 && distinct.length <= 2 ** d) {
        // A gray palette in scrambled order, so an index is not its value.
        const order = [...distinct].sort((a, b) => ((a * 89) % 256) - ((b * 89) % 256));
        const palette = order.map((v) => [v, v, v]);
        const idx = g.map((v) => order.indexOf(v));
        add(`palette ${d}-bit`, { depth: d, colorType: 3, samples: idx, palette });
        add(`palette ${d}-bit + opaque tRNS`, { depth: d, colorType: 3, samples: idx, palette, trns: palette.map(() => 255) });
        add(`palette ${d}-bit + short tRNS`, { depth: d, colorType: 3, samples: idx, palette, trns: [255] });
      }
    }
  }
  return out;
}

/** A deflate stream (fixed Huffman) that inflates to `1 + 258·matches` zero bytes: ~13 bits per 258 bytes. */
function zlibBomb(matches: number): Uint8Array {
  const out = new Uint8Array(2 + Math.ceil((3 + 8 + 13 * matches + 7) / 8) + 4);
  out.set([0x78, 0x01]);
  let bit = 16;
  const put = (value: number, n: number): void => { // LSB first
    for (let i = 0; i < n; i++, bit++) if ((value >> i) & 1) out[bit >> 3] |= 1 << (bit & 7);
  };
  const huff = (code: number, n: number): void => { // Huffman codes go MSB first
    for (let i = n - 1; i >= 0; i--, bit++) if ((code >> i) & 1) out[bit >> 3] |= 1 << (bit & 7);
  };
  put(1, 1); // BFINAL
  put(1, 2); // fixed Huffman
  huff(0x30, 8); // literal 0
  for (let m = 0; m < matches; m++) {
    huff(0xc5, 8); // length 258 (code 285)
    huff(0, 5); // distance 1 (code 0)
  }
  huff(0, 7); // end of block
  const n = 1 + 258 * matches;
  const adler = (((n % 65521) << 16) | 1) >>> 0;
  new DataView(out.buffer).setUint32(out.length - 4, adler);
  return out;
}

describe('PNG input', () => {
  it('refuses a zlib bomb (a 1×1 PNG whose data inflates to 128 MiB) without allocating its inflated size', () => {
    assert.equal(inflateSync(zlibBomb(1000)).length, 258001, 'the bomb helper writes a valid zlib stream');
    const matches = Math.ceil((128 * 2 ** 20) / 258);
    const bomb = pngFile(1, 1, 8, 0, zlibBomb(matches));
    assert.ok(bomb.length < 2 ** 21, `the bomb is ${bomb.length} bytes`);
    const rssBefore = process.resourceUsage().maxRSS; // peak resident set, KiB
    throwsUser(() => decodePngImage(bomb), /^PNG image data inflates to more than the 2 bytes 1×1 8-bit gray pixels need$/, 'bomb');
    // A short file declaring the largest image read (4096×4096 RGBA, 16 bits: 128 MiB of data) costs what it holds.
    const short = pngFile(4096, 4096, 16, 6, deflateSync(new Uint8Array(100)));
    throwsUser(() => decodePngImage(short), /^PNG image data is truncated \(100 of the 134221824 bytes 4096×4096 16-bit RGBA pixels need\)$/, 'short');
    const grew = process.resourceUsage().maxRSS - rssBefore;
    assert.ok(grew < 48 * 1024, `the peak resident memory grew by ${grew} KiB`);
    // Also when the excess comes in many small IDAT chunks, and for an image of sensible size.
    const rows = deflateSync(new Uint8Array(29 * 28 + 1));
    throwsUser(() => decodePngImage(pngFile(28, 28, 8, 0, rows)), /inflates to more than the 812 bytes 28×28 8-bit gray pixels need/, 'one byte too many');
  });

  it('refuses absurd and empty declared sizes before decoding, naming the size (readPngHeader, decodePngImage, maxPixels)', () => {
    const cases: [number, number, RegExp][] = [
      [0, 1, /^PNG declares 0×1 pixels; an image needs at least 1×1$/],
      [1, 0, /^PNG declares 1×0 pixels; an image needs at least 1×1$/],
      [4294967295, 1, /^PNG declares 4294967295×1 pixels; at most 16777216 pixels are read$/],
      [70000, 70000, /^PNG declares 70000×70000 pixels; at most 16777216 pixels are read$/],
    ];
    for (const [w, h, pattern] of cases) {
      // The 0×1 file holds its one (empty) row's filter byte, as the reported one did.
      const png = pngFile(w, h, 8, 0, deflateSync(new Uint8Array(w === 0 ? 1 : 0)));
      throwsUser(() => decodePngImage(png), pattern, `${w}×${h}`);
      throwsUser(() => readPngHeader(png), pattern, `${w}×${h} header`);
    }
    assert.equal(PNG_MAX_PIXELS, 4096 * 4096);
    const g = grayPicture(8);
    const ok = encodePng({ width: W, height: H, depth: 8, colorType: 0, samples: g });
    assert.deepEqual(readPngHeader(ok), { width: W, height: H, bitDepth: 8, colorType: 0, samplesPerPixel: 1, interlaced: false });
    throwsUser(() => decodePngImage(ok, { maxPixels: W * H - 1 }), new RegExp(`^PNG declares 13×9 pixels; at most ${W * H - 1} pixels are read$`), 'maxPixels');
    assert.equal(decodePngImage(ok, { maxPixels: W * H }).data.length, W * H);
    // 4096×4096 is still read.
    const big = pngFile(4096, 4096, 1, 0, deflateSync(new Uint8Array(4096 * 513)));
    const img = decodePngImage(big);
    assert.equal(img.width * img.height, 2 ** 24);
  });

  it('reads every colour type and bit depth, interlaced or not, with or without tRNS, as its 8-bit gray copy', () => {
    let count = 0;
    for (const depth of [1, 2, 4, 8]) {
      const g = grayPicture(depth);
      const expected = Float32Array.from(g, (v) => v / 255);
      const copy = decodePngImage(encodePng({ width: W, height: H, depth: 8, colorType: 0, samples: g }));
      assert.deepEqual(copy, { channels: 1, height: H, width: W, data: expected }, `8-bit gray copy of the ${depth}-bit picture`);
      for (const { name, png } of encodings(g, depth)) {
        const img = decodePngImage(png);
        const what = `${name} (picture of ${depth}-bit values)`;
        assert.equal(img.width, W, what);
        assert.equal(img.height, H, what);
        assert.equal(img.channels, /^gray/.test(name) ? 1 : 3, what);
        for (let c = 0; c < img.channels; c++) {
          assert.deepEqual(img.data.subarray(c * W * H, (c + 1) * W * H), copy.data, `${what}, channel ${c}`);
        }
        if (img.alpha) assert.ok(img.alpha.every((a) => a === 1), `${what}: opaque`);
        count++;
      }
    }
    assert.ok(count > 100, `${count} encodings`);
    // Interlaced images smaller than the 8×8 Adam7 block (some passes empty), at 1 and 16 bits.
    for (const [w, h] of [[1, 1], [2, 3], [5, 1]]) {
      const g = Array.from({ length: w * h }, (_, p) => (p % 2) * 255);
      for (const d of [1, 16]) {
        const img = decodePngImage(encodePng({ width: w, height: h, depth: d, colorType: 0, samples: g.map((v) => (v * (2 ** d - 1)) / 255), interlace: true }));
        assert.deepEqual(Array.from(img.data), g.map((v) => v / 255), `${w}×${h} ${d}-bit interlaced`);
      }
    }
  });

  it('composites transparency over black and returns the alpha; a digit drawn on a transparent background reads as on black', () => {
    // Gray+alpha, 8 bits: white stroke (opaque, half and a quarter transparent) over a transparent background that
    // stores white, as paint programs may.
    const ga = decodePngImage(encodePng({ width: 4, height: 1, depth: 8, colorType: 4, samples: [255, 255, 255, 128, 255, 0, 200, 64] }));
    assert.equal(ga.channels, 1);
    assert.deepEqual(ga.data, Float32Array.from([1, 128 / 255, 0, (200 * 64) / 65025]));
    assert.deepEqual(ga.alpha, Float32Array.from([1, 128 / 255, 0, 64 / 255]));
    // RGBA 16 bits.
    const rgba = decodePngImage(encodePng({ width: 2, height: 1, depth: 16, colorType: 6, samples: [65535, 0, 65535, 65535, 65535, 65535, 65535, 0] }));
    assert.equal(rgba.channels, 3);
    assert.deepEqual(rgba.data, Float32Array.from([1, 0, 0, 0, 1, 0]));
    assert.deepEqual(rgba.alpha, Float32Array.from([1, 0]));
    // tRNS: one transparent gray level (4-bit), one transparent RGB colour, palette alphas.
    const gt = decodePngImage(encodePng({ width: 3, height: 1, depth: 4, colorType: 0, samples: [15, 5, 15], trns: u16(15) }));
    assert.deepEqual(gt.data, Float32Array.from([0, 5 / 15, 0]));
    assert.deepEqual(gt.alpha, Float32Array.from([0, 1, 0]));
    const rt = decodePngImage(encodePng({ width: 2, height: 1, depth: 8, colorType: 2, samples: [255, 255, 255, 10, 20, 30], trns: u16(255, 255, 255) }));
    assert.deepEqual(rt.data, Float32Array.from([0, 10 / 255, 0, 20 / 255, 0, 30 / 255]));
    assert.deepEqual(rt.alpha, Float32Array.from([0, 1]));
    const pt = decodePngImage(encodePng({ width: 3, height: 1, depth: 2, colorType: 3, samples: [0, 1, 2], palette: [[255, 255, 255], [255, 0, 0], [0, 0, 255]], trns: [0, 51] }));
    assert.deepEqual(pt.data, Float32Array.from([0, 51 / 255, 0, 0, 0, 0, 0, 0, 1])); // R, G, B planes
    assert.deepEqual(pt.alpha, Float32Array.from([0, 0.2, 1]));
    // A 28×28 digit: a white vertical bar drawn on a transparent background (stored as transparent black, as an
    // HTML canvas does, or as transparent white): the same image as the bar on black, in gray+alpha and in RGBA.
    const bar = (x: number): boolean => x >= 12 && x < 16;
    const onBlack = Float32Array.from({ length: 784 }, (_, p) => (bar(p % 28) ? 1 : 0));
    for (const under of [0, 255]) {
      const gray = decodePngImage(encodePng({ width: 28, height: 28, depth: 8, colorType: 4, samples: Array.from({ length: 784 }, (_, p) => (bar(p % 28) ? [255, 255] : [under, 0])).flat() }));
      assert.deepEqual(gray.data, onBlack, `gray+alpha digit, transparent pixels storing ${under}`);
      const rgb = decodePngImage(encodePng({ width: 28, height: 28, depth: 8, colorType: 6, samples: Array.from({ length: 784 }, (_, p) => (bar(p % 28) ? [255, 255, 255, 255] : [under, under, under, 0])).flat() }));
      assert.deepEqual(rgb.data.subarray(0, 784), onBlack, `RGBA digit, transparent pixels storing ${under}`);
    }
  });

  it('reads a 1-bit bottom-half mask as 392 hidden pixels; a mask painted dark on a transparent background hides what is painted', () => {
    const bottom = Array.from({ length: 784 }, (_, p) => (p >= 14 * 28 ? 0 : 1));
    const expected = makeMask('bottom-half', 28, 28);
    for (const [name, png] of [
      ['1-bit gray', encodePng({ width: 28, height: 28, depth: 1, colorType: 0, samples: bottom })],
      ['1-bit gray interlaced', encodePng({ width: 28, height: 28, depth: 1, colorType: 0, samples: bottom, interlace: true })],
      ['1-bit palette', encodePng({ width: 28, height: 28, depth: 1, colorType: 3, samples: bottom.map((v) => 1 - v), palette: [[255, 255, 255], [0, 0, 0]] })],
      ['2-bit gray', encodePng({ width: 28, height: 28, depth: 2, colorType: 0, samples: bottom.map((v) => 3 * v) })],
      ['4-bit gray', encodePng({ width: 28, height: 28, depth: 4, colorType: 0, samples: bottom.map((v) => 15 * v) })],
      // Painted black (or dark red) on a transparent layer that stores black, as an HTML canvas does.
      ['RGBA painted on transparent', encodePng({ width: 28, height: 28, depth: 8, colorType: 6, samples: bottom.flatMap((v) => (v ? [0, 0, 0, 0] : [90, 0, 0, 255])) })],
      ['gray+alpha painted on transparent', encodePng({ width: 28, height: 28, depth: 8, colorType: 4, samples: bottom.flatMap((v) => (v ? [0, 0] : [0, 255])) })],
      ['palette with tRNS painted on transparent', encodePng({ width: 28, height: 28, depth: 1, colorType: 3, samples: bottom, palette: [[0, 0, 0], [0, 0, 0]], trns: [255, 0] })],
    ] as const) {
      const mask = maskFromImage(decodePngImage(png), 28, 28, name);
      assert.equal(hiddenCount(mask), 392, name);
      assert.deepEqual(mask, expected, name);
    }
  });

  it('gives a one-line NiceFlowError for truncated, mangled and non-PNG files, and no other error', () => {
    const g = grayPicture(8);
    const good = encodePng({ width: W, height: H, depth: 8, colorType: 0, samples: g });
    const zdata = deflateSync(concat(Array.from({ length: H }, (_, y) => Uint8Array.from([0, ...g.slice(y * W, (y + 1) * W)]))));
    const withChunks = (...chunks: Uint8Array[]): Uint8Array => concat([SIGNATURE, ihdr(W, H, 8, 0), ...chunks]);
    // A flipped bit anywhere: the CRCs catch it (or the signature check).
    for (let i = 0; i < good.length; i++) {
      const bad = Uint8Array.from(good);
      bad[i] ^= 0x10;
      throwsUser(() => decodePngImage(bad), /PNG/, `bit flipped in byte ${i}`);
    }
    throwsUser(() => decodePngImage(new Uint8Array([1, 2, 3, 4])), /^not a PNG file/, 'junk');
    throwsUser(() => decodePngImage(new Uint8Array(40)), /^not a PNG file/, 'zeros');
    throwsUser(() => decodePngImage(concat([SIGNATURE, chunk('IDAT', zdata)])), /^not a PNG file \(its first chunk is IDAT, not IHDR\)$/, 'IHDR not first');
    // Every truncation of a good file.
    for (let n = 0; n < good.length; n++) throwsUser(() => decodePngImage(good.subarray(0, n)), /PNG|truncated/, `cut at ${n}`);
    // Valid chunks around bad image data.
    throwsUser(() => decodePngImage(withChunks(chunk('IDAT', zdata.subarray(0, zdata.length - 30)), chunk('IEND'))), /^PNG image data is (truncated|corrupt)/, 'short stream');
    throwsUser(() => decodePngImage(withChunks(chunk('IDAT', deflateSync(new Uint8Array(H * (W + 1) - 1))), chunk('IEND'))), /^PNG image data is truncated \(125 of the 126 bytes/, 'a byte short');
    throwsUser(() => decodePngImage(withChunks(chunk('IDAT', deflateSync(new Uint8Array(H * (W + 1)).fill(5))), chunk('IEND'))), /row filter type 5/, 'filter 5');
    throwsUser(() => decodePngImage(withChunks(chunk('IDAT', Uint8Array.from([0x78, 0x9c, 0xff, 0xff, 0xff, 1, 2, 3]), ), chunk('IEND'))), /^PNG image data is corrupt/, 'bad deflate');
    throwsUser(() => decodePngImage(withChunks(chunk('IDAT', zdata))), /^PNG file is truncated \(no IEND/, 'no IEND');
    throwsUser(() => decodePngImage(withChunks(chunk('IEND'))), /no image data/, 'no IDAT');
    throwsUser(() => decodePngImage(withChunks(chunk('ABCD', [1]), chunk('IDAT', zdata), chunk('IEND'))), /unknown critical chunk ABCD/, 'critical chunk');
    assert.deepEqual(decodePngImage(withChunks(chunk('abCD', [1]), chunk('IDAT', zdata), chunk('IEND'))).data, Float32Array.from(g, (v) => v / 255), 'ancillary chunk skipped');
    // Split IDAT chunks (one byte each) are one stream.
    assert.deepEqual(decodePngImage(withChunks(...Array.from(zdata, (b) => chunk('IDAT', [b])), chunk('IEND'))).data, Float32Array.from(g, (v) => v / 255), 'split IDAT');
    const pal = (samples: number[], palette: number[][]): Uint8Array => encodePng({ width: 2, height: 1, depth: 8, colorType: 3, samples, palette });
    throwsUser(() => decodePngImage(pal([0, 2], [[0, 0, 0], [9, 9, 9]])), /pixel 1,0 uses palette entry 2 of 2/, 'index past the palette');
    throwsUser(() => decodePngImage(concat([SIGNATURE, ihdr(2, 1, 8, 3), chunk('IDAT', deflateSync(new Uint8Array(3))), chunk('IEND')])), /without its palette/, 'no PLTE');
    throwsUser(() => decodePngImage(concat([SIGNATURE, ihdr(2, 1, 3, 0), chunk('IEND')])), /bit depth 3 with colour type 0/, 'depth 3');
    throwsUser(() => decodePngImage(concat([SIGNATURE, ihdr(2, 1, 1, 2), chunk('IEND')])), /bit depth 1 with colour type 2/, '1-bit RGB');
    throwsUser(() => decodePngImage(concat([SIGNATURE, ihdr(2, 1, 8, 0, 2), chunk('IEND')])), /interlace method 2/, 'interlace 2');
    // Random damage to the compressed data inside valid chunks: read or refused with a NiceFlowError, never crashing.
    let state = 12345;
    const rand = (n: number): number => ((state = (state * 1103515245 + 12345) >>> 0) >>> 8) % n;
    for (let k = 0; k < 300; k++) {
      const z = Uint8Array.from(zdata);
      for (let j = 0; j <= k % 3; j++) z[2 + rand(z.length - 2)] = rand(256);
      const png = withChunks(chunk('IDAT', z), chunk('IEND'));
      try {
        decodePngImage(png);
      } catch (e) {
        assert.ok(e instanceof NiceFlowError && !e.message.includes('\n'), `damaged stream ${k}: ${String(e)}`);
      }
    }
  });
});
