import { Unzlib } from 'fflate';
import { NiceFlowError } from '../core/NiceFlowError.js';
import { crc32 } from './crc32.js';
import { PNG_HEADER_BYTES, pngChunkName, readPngHeader, type PngHeader, type PngReadOptions } from './readPngHeader.js';

/** The samples of a PNG as stored, unpacked to one number per sample. */
export interface PngPixels {
  header: PngHeader;
  /**
   * header.samplesPerPixel samples per pixel, pixels row by row (de-interlaced), each the stored integer
   * 0 … 2^bitDepth − 1 (palette indices for colour type 3), not rescaled. Uint16Array for 16-bit images.
   */
  samples: Uint8Array | Uint16Array;
  /** Colour type 3: the palette as R, G, B, A bytes per entry; A comes from tRNS (255 past its end or without it). */
  palette?: Uint8Array;
  /** Colour types 0 and 2 with a tRNS chunk: the sample values (1 gray or 3 RGB) of the one fully transparent colour. */
  transparentColor?: number[];
  /** Whether the file carries transparency: an alpha channel (colour types 4, 6) or a tRNS chunk. */
  hasAlpha: boolean;
}

/** Adam7 passes: first column, first row, column step, row step. */
const ADAM7: readonly (readonly [number, number, number, number])[] = [
  [0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2],
];

const COLOUR_NAMES: Record<number, string> = { 0: 'gray', 2: 'RGB', 3: 'palette', 4: 'gray+alpha', 6: 'RGBA' };

/** Compressed bytes handed to the inflater at a time: deflate expands at most ~1032×, so one step yields ≤ ~4 MB. */
const INFLATE_STEP = 4096;

/** The sub-images of a PNG's data stream: one, or the non-empty Adam7 passes. */
function passes(h: PngHeader): { x0: number; y0: number; dx: number; dy: number; width: number; height: number }[] {
  if (!h.interlaced) return [{ x0: 0, y0: 0, dx: 1, dy: 1, width: h.width, height: h.height }];
  return ADAM7.map(([x0, y0, dx, dy]) => ({
    x0, y0, dx, dy,
    width: h.width > x0 ? Math.ceil((h.width - x0) / dx) : 0,
    height: h.height > y0 ? Math.ceil((h.height - y0) / dy) : 0,
  })).filter((p) => p.width > 0 && p.height > 0);
}

const rowBytes = (h: PngHeader, width: number): number => Math.ceil((width * h.samplesPerPixel * h.bitDepth) / 8);

/**
 * A zlib stream inflated into a buffer of at most `size` bytes, grown as data arrives: more output than that is
 * refused as soon as it is produced (the input is fed in small steps), so a small file that inflates to gigabytes
 * costs a few MB, and a short file declaring a large image costs only what its data inflates to.
 */
function boundedInflater(size: number, what: string): { push(data: Uint8Array): void; finish(): Uint8Array } {
  let out = new Uint8Array(Math.min(size, 1 << 16));
  let filled = 0;
  const z = new Unzlib((chunk) => {
    if (filled + chunk.length > size) throw new NiceFlowError(`PNG image data inflates to more than the ${size} bytes ${what} need`);
    if (filled + chunk.length > out.length) {
      const grown = new Uint8Array(Math.min(size, Math.max(2 * out.length, filled + chunk.length)));
      grown.set(out.subarray(0, filled));
      out = grown;
    }
    out.set(chunk, filled);
    filled += chunk.length;
  });
  const feed = (data: Uint8Array, final: boolean): void => {
    try {
      z.push(data, final);
    } catch (e) {
      if (e instanceof NiceFlowError) throw e;
      throw new NiceFlowError(`PNG image data is corrupt (${(e as Error).message})`);
    }
  };
  return {
    push(data) {
      for (let i = 0; i < data.length; i += INFLATE_STEP) feed(data.subarray(i, Math.min(data.length, i + INFLATE_STEP)), false);
    },
    finish() {
      feed(new Uint8Array(0), true);
      if (filled < size) throw new NiceFlowError(`PNG image data is truncated (${filled} of the ${size} bytes ${what} need)`);
      return out;
    },
  };
}

/** Undoes the PNG row filters of one sub-image in place (row = filter byte + rb bytes; bpp = bytes per pixel, ≥ 1). */
function unfilter(data: Uint8Array, start: number, rows: number, rb: number, bpp: number): void {
  for (let r = 0; r < rows; r++) {
    const f = start + r * (rb + 1);
    const cur = f + 1;
    const prev = r > 0 ? cur - (rb + 1) : -1; // -1: the row above is all zeros
    const type = data[f];
    switch (type) {
      case 0:
        break;
      case 1:
        for (let i = bpp; i < rb; i++) data[cur + i] = (data[cur + i] + data[cur + i - bpp]) & 255;
        break;
      case 2:
        if (prev >= 0) for (let i = 0; i < rb; i++) data[cur + i] = (data[cur + i] + data[prev + i]) & 255;
        break;
      case 3:
        for (let i = 0; i < rb; i++) {
          const a = i >= bpp ? data[cur + i - bpp] : 0;
          const b = prev >= 0 ? data[prev + i] : 0;
          data[cur + i] = (data[cur + i] + ((a + b) >> 1)) & 255;
        }
        break;
      case 4:
        for (let i = 0; i < rb; i++) {
          const a = i >= bpp ? data[cur + i - bpp] : 0;
          const b = prev >= 0 ? data[prev + i] : 0;
          const c = prev >= 0 && i >= bpp ? data[prev + i - bpp] : 0;
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          data[cur + i] = (data[cur + i] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 255;
        }
        break;
      default:
        throw new NiceFlowError(`PNG image data is corrupt (row filter type ${type}; PNG has 0 to 4)`);
    }
  }
}

/**
 * Reads a PNG file to its stored samples, for every colour type, bit depth and interlacing the format defines.
 * The header is checked first ({@link readPngHeader}: signature, IHDR, its CRC, declared size at least 1×1 and at most
 * `maxPixels`, default 2^24), before anything is inflated or allocated for the image; then every chunk's length and CRC, a
 * palette for colour type 3, palette indices within it, and image data that inflates to exactly the bytes the
 * declared size needs: inflation stops at the first byte too many, so memory stays bounded by the declared size even
 * for a zlib bomb. Any problem is a one-line {@link NiceFlowError}; no other error escapes for any input.
 */
export function readPng(bytes: Uint8Array, options: PngReadOptions = {}): PngPixels {
  const h = readPngHeader(bytes, options);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const subs = passes(h);
  let total = 0;
  for (const p of subs) total += p.height * (rowBytes(h, p.width) + 1);
  const inflater = boundedInflater(total, `${h.width}×${h.height} ${h.bitDepth}-bit ${COLOUR_NAMES[h.colorType]} pixels${h.interlaced ? ' (interlaced)' : ''}`);
  let palette: Uint8Array | undefined;
  let paletteSize = 0;
  let seenPalette = false;
  let transparentColor: number[] | undefined;
  let hasTrns = false;
  let seenData = false;
  let pos = PNG_HEADER_BYTES;
  for (;;) {
    const at = pos;
    if (at + 12 > bytes.length) throw new NiceFlowError(`PNG file is truncated (no IEND chunk${seenData ? '' : ', no image data'})`);
    const length = view.getUint32(at);
    const type = pngChunkName(bytes, at + 4);
    if (length > 0x7fffffff || at + 12 + length > bytes.length) {
      throw new NiceFlowError(`PNG file is truncated (chunk ${type} at byte ${at} declares ${length} bytes, ${Math.max(0, bytes.length - at - 12)} remain)`);
    }
    const data = bytes.subarray(at + 8, at + 8 + length);
    if (crc32(bytes, at + 4, at + 8 + length) !== view.getUint32(at + 8 + length)) {
      throw new NiceFlowError(`PNG file is corrupt (chunk ${type} at byte ${at} fails its CRC check)`);
    }
    pos = at + 12 + length;
    if (type === 'IEND') break;
    switch (type) {
      case 'IDAT':
        seenData = true;
        inflater.push(data);
        break;
      case 'PLTE':
        if (h.colorType === 0 || h.colorType === 4) throw new NiceFlowError('PNG file is invalid (a palette in a gray image)');
        if (seenPalette || seenData) throw new NiceFlowError('PNG file is invalid (a second palette, or one after the image data)');
        if (length === 0 || length % 3 !== 0 || length / 3 > 256) throw new NiceFlowError(`PNG file is invalid (palette of ${length} bytes)`);
        seenPalette = true;
        if (h.colorType === 3) { // (of an RGB image it is only a suggestion for display, not needed)
          paletteSize = length / 3;
          palette = new Uint8Array(4 * paletteSize).fill(255);
          for (let i = 0; i < paletteSize; i++) palette.set(data.subarray(3 * i, 3 * i + 3), 4 * i);
        }
        break;
      case 'tRNS':
        if (seenData || hasTrns) throw new NiceFlowError('PNG file is invalid (a second tRNS chunk, or one after the image data)');
        if (h.colorType === 3) {
          if (!palette) throw new NiceFlowError('PNG file is invalid (tRNS before the palette)');
          if (length > paletteSize) throw new NiceFlowError(`PNG file is invalid (tRNS has ${length} alphas for ${paletteSize} palette entries)`);
          for (let i = 0; i < length; i++) palette[4 * i + 3] = data[i];
        } else if (h.colorType === 0 || h.colorType === 2) {
          const n = h.colorType === 0 ? 1 : 3;
          if (length !== 2 * n) throw new NiceFlowError(`PNG file is invalid (tRNS of ${length} bytes for colour type ${h.colorType}, not ${2 * n})`);
          // Only the low bitDepth bits count (the others should be 0).
          transparentColor = Array.from({ length: n }, (_, i) => view.getUint16(at + 8 + 2 * i) & (2 ** h.bitDepth - 1));
        } else {
          break; // colour types 4 and 6 have an alpha channel; a stray tRNS is ignored
        }
        hasTrns = true;
        break;
      default:
        // Ancillary chunks (lower-case first letter) are skipped; an unknown critical one changes the image's meaning.
        if (!(bytes[at + 4] & 0x20)) throw new NiceFlowError(`PNG file has an unknown critical chunk ${type}`);
    }
  }
  if (!seenData) throw new NiceFlowError('PNG file has no image data (IDAT chunk)');
  if (h.colorType === 3 && !palette) throw new NiceFlowError('PNG file is invalid (a palette image without its palette, PLTE)');
  const raw = inflater.finish();

  const spp = h.samplesPerPixel;
  const depth = h.bitDepth;
  const bpp = Math.max(1, (spp * depth) >> 3);
  const samples = depth === 16 ? new Uint16Array(h.width * h.height * spp) : new Uint8Array(h.width * h.height * spp);
  const mask = (1 << depth) - 1;
  let start = 0;
  for (const p of subs) {
    const rb = rowBytes(h, p.width);
    unfilter(raw, start, p.height, rb, bpp);
    const n = p.width * spp;
    for (let r = 0; r < p.height; r++) {
      const row = start + r * (rb + 1) + 1;
      const base = (p.y0 + r * p.dy) * h.width;
      if (depth === 8 && p.dx === 1) { // whole rows (then x0 = 0)
        samples.set(raw.subarray(row, row + n), base * spp);
        continue;
      }
      for (let j = 0, k = 0; j < p.width; j++) {
        const o = (base + p.x0 + j * p.dx) * spp;
        for (let c = 0; c < spp; c++, k++) {
          if (depth === 8) samples[o + c] = raw[row + k];
          else if (depth === 16) samples[o + c] = (raw[row + 2 * k] << 8) | raw[row + 2 * k + 1];
          else samples[o + c] = (raw[row + ((k * depth) >> 3)] >> (8 - depth - ((k * depth) & 7))) & mask;
        }
      }
    }
    start += p.height * (rb + 1);
  }
  if (h.colorType === 3) {
    for (let i = 0; i < samples.length; i++) {
      if (samples[i] >= paletteSize) {
        throw new NiceFlowError(`PNG file is invalid (pixel ${i % h.width},${Math.floor(i / h.width)} uses palette entry ${samples[i]} of ${paletteSize})`);
      }
    }
  }
  return {
    header: h,
    samples,
    ...(h.colorType === 3 ? { palette } : {}),
    ...(transparentColor ? { transparentColor } : {}),
    hasAlpha: h.colorType === 4 || h.colorType === 6 || hasTrns,
  };
}
