import { NiceFlowError } from '../core/NiceFlowError.js';
import { crc32 } from './crc32.js';

// A PNG starts with an 8-byte signature, then the IHDR chunk: length 13 (u32 BE), "IHDR", width and height (u32 BE),
// bit depth, colour type, compression, filter and interlace methods (one byte each), its CRC-32 (u32 BE).

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Bytes from the start of a PNG file to the end of its IHDR chunk. */
export const PNG_HEADER_BYTES = 33;

/** The default limit on width × height when reading a PNG: 2^24 pixels (4096×4096). */
export const PNG_MAX_PIXELS = 2 ** 24;

/** Bit depths each PNG colour type allows (PNG spec. 11.2.2): gray, RGB, palette, gray+alpha, RGBA. */
const DEPTHS: Record<number, readonly number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
const SAMPLES: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** What the IHDR chunk of a PNG declares. */
export interface PngHeader {
  width: number;
  height: number;
  bitDepth: 1 | 2 | 4 | 8 | 16;
  /** 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA. */
  colorType: 0 | 2 | 3 | 4 | 6;
  /** Samples per pixel as stored: 1 gray, 3 RGB, 1 palette index, 2 gray+alpha, 4 RGBA. */
  samplesPerPixel: number;
  /** Adam7 interlacing (else rows in order). */
  interlaced: boolean;
}

/** Limits on the PNGs a reader accepts. */
export interface PngReadOptions {
  /** Largest width × height read (default {@link PNG_MAX_PIXELS}, 2^24 = 4096×4096). */
  maxPixels?: number;
}

/** Four chunk-type bytes as text, or as hex when they are not letters (a mangled file). */
export function pngChunkName(bytes: Uint8Array, at: number): string {
  const b = bytes.subarray(at, at + 4);
  const letters = b.length === 4 && b.every((c) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122));
  return letters ? String.fromCharCode(...b) : `0x${Array.from(b, (c) => c.toString(16).padStart(2, '0')).join('')}`;
}

/**
 * Reads and checks the header of a PNG file without touching its image data, so it is fast and allocates nothing
 * whatever the file declares. Refused with a one-line {@link NiceFlowError}: a file without the PNG signature or
 * whose first chunk is not a 13-byte IHDR ("not a PNG file (…)"), a header cut short or failing its CRC, a bit depth
 * or colour type the format does not define, compression or filter methods other than 0, interlace methods other than
 * 0 and 1 (Adam7), a width or height of 0, and width × height above `maxPixels` (default 2^24 = 4096×4096;
 * "PNG declares 4294967295×1 pixels; at most 16777216 pixels are read").
 */
export function readPngHeader(bytes: Uint8Array, options: PngReadOptions = {}): PngHeader {
  const maxPixels = options.maxPixels ?? PNG_MAX_PIXELS;
  if (bytes.length < SIGNATURE.length || SIGNATURE.some((b, i) => bytes[i] !== b)) {
    throw new NiceFlowError('not a PNG file (no PNG signature)');
  }
  if (bytes.length < 16) throw new NiceFlowError(`PNG file is truncated (${bytes.length} bytes, its header needs ${PNG_HEADER_BYTES})`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = pngChunkName(bytes, 12);
  if (type !== 'IHDR') throw new NiceFlowError(`not a PNG file (its first chunk is ${type}, not IHDR)`);
  if (view.getUint32(8) !== 13) throw new NiceFlowError(`PNG header is corrupt (IHDR chunk of ${view.getUint32(8)} bytes, not 13)`);
  if (bytes.length < PNG_HEADER_BYTES) throw new NiceFlowError(`PNG file is truncated (${bytes.length} bytes, its header needs ${PNG_HEADER_BYTES})`);
  if (crc32(bytes, 12, 29) !== view.getUint32(29)) throw new NiceFlowError('PNG header is corrupt (IHDR fails its CRC check)');
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  const [bitDepth, colorType, compression, filter, interlace] = bytes.subarray(24, 29);
  if (!(colorType in DEPTHS)) throw new NiceFlowError(`PNG header is invalid (colour type ${colorType}; PNG has 0, 2, 3, 4 and 6)`);
  if (!DEPTHS[colorType].includes(bitDepth)) {
    throw new NiceFlowError(`PNG header is invalid (bit depth ${bitDepth} with colour type ${colorType}, which allows ${DEPTHS[colorType].join(', ')})`);
  }
  if (compression !== 0) throw new NiceFlowError(`PNG header is invalid (compression method ${compression}; PNG has only 0)`);
  if (filter !== 0) throw new NiceFlowError(`PNG header is invalid (filter method ${filter}; PNG has only 0)`);
  if (interlace > 1) throw new NiceFlowError(`PNG header is invalid (interlace method ${interlace}; PNG has 0 and 1)`);
  if (width === 0 || height === 0) throw new NiceFlowError(`PNG declares ${width}×${height} pixels; an image needs at least 1×1`);
  if (width * height > maxPixels) throw new NiceFlowError(`PNG declares ${width}×${height} pixels; at most ${maxPixels} pixels are read`);
  return {
    width,
    height,
    bitDepth: bitDepth as PngHeader['bitDepth'],
    colorType: colorType as PngHeader['colorType'],
    samplesPerPixel: SAMPLES[colorType],
    interlaced: interlace === 1,
  };
}
