import { encode } from 'fast-png';
import { NiceFlowError } from '../core/NiceFlowError.js';
import { readPng } from './readPng.js';
import type { PngReadOptions } from './readPngHeader.js';

/** Image geometry, channel-major (C×H×W per image). */
export interface ImageShape {
  channels: number;
  height: number;
  width: number;
}

/** Layout and value range of a grid. */
export interface GridOptions {
  /** Tiles per row (default ceil(sqrt(count))). */
  columns?: number;
  /** Values mapped to black and white (default 0 and 1); others are clipped, NaN is black. */
  low?: number;
  high?: number;
  /** Gray pixels between tiles (default 1). */
  padding?: number;
  /** Integer upscaling of every pixel (default 1). */
  scale?: number;
}

/**
 * A PNG of `count` images [count, C·H·W] laid out in a grid: grayscale for C = 1, RGB for C = 3.
 */
export function imageGridPng(images: ArrayLike<number>, count: number, shape: ImageShape, options: GridOptions = {}): Uint8Array {
  const { channels: C, height: H, width: W } = shape;
  if (C !== 1 && C !== 3) throw new NiceFlowError(`cannot draw images with ${C} channels (1 or 3)`);
  const cols = Math.max(1, Math.min(count, options.columns ?? Math.ceil(Math.sqrt(count))));
  const rows = Math.max(1, Math.ceil(count / cols));
  const pad = options.padding ?? 1;
  const scale = Math.max(1, Math.floor(options.scale ?? 1));
  const low = options.low ?? 0;
  const high = options.high ?? 1;
  const tileW = W * scale;
  const tileH = H * scale;
  const width = cols * tileW + (cols + 1) * pad;
  const height = rows * tileH + (rows + 1) * pad;
  const out = new Uint8Array(width * height * C).fill(128);
  const D = C * H * W;
  for (let k = 0; k < count; k++) {
    const x0 = pad + (k % cols) * (tileW + pad);
    const y0 = pad + Math.floor(k / cols) * (tileH + pad);
    for (let y = 0; y < tileH; y++) {
      const sy = Math.floor(y / scale);
      for (let x = 0; x < tileW; x++) {
        const sx = Math.floor(x / scale);
        for (let c = 0; c < C; c++) {
          const v = images[k * D + c * H * W + sy * W + sx];
          const t = (v - low) / (high - low);
          out[((y0 + y) * width + x0 + x) * C + c] = Number.isNaN(t) ? 0 : Math.round(255 * Math.min(1, Math.max(0, t)));
        }
      }
    }
  }
  return encode({ width, height, data: out, channels: C, depth: 8 });
}

/** A decoded picture: values in [0, 1], channel-major C×H×W; `alpha` (H×W, in [0, 1]) when the file has transparency. */
export interface DecodedImage {
  channels: number;
  height: number;
  width: number;
  data: Float32Array;
  alpha?: Float32Array;
}

/**
 * Decodes a PNG to values in [0, 1], C×H×W: C = 1 for gray and gray+alpha, 3 for RGB, RGBA and palette images.
 * Every colour type, bit depth (1, 2, 4, 8, 16) and Adam7 interlacing is read; a value is sample / (2^depth − 1),
 * so any depth gives exactly what its 8-bit copy gives (17/255 at 8 bits is 1/15 at 4 bits).
 *
 * Transparency (an alpha channel, or tRNS: palette alphas or one transparent gray/RGB colour) is composited over
 * black: data = colour · alpha, so a digit drawn on a transparent background reads like an MNIST digit (background 0),
 * whatever colour the transparent pixels happen to store. The alpha itself is returned in `alpha` (only for files
 * with transparency), so a caller can composite otherwise; `maskFromImage` judges a mask over white, so a mask
 * painted dark on a transparent background hides what is painted. An opaque pixel decodes exactly as without alpha.
 *
 * Refused with a one-line NiceFlowError (see {@link readPng}): a width or height of 0 and more than `maxPixels`
 * pixels (default 2^24 = 4096×4096) from the header alone, before anything is inflated or allocated ("PNG declares
 * 4294967295×1 pixels; at most 16777216 pixels are read"); a file that is not a PNG, truncated, or fails a chunk CRC;
 * and image data that inflates to more bytes than the declared size needs (a zlib bomb), stopped at the first excess
 * byte, so memory stays bounded by the declared size.
 */
export function decodePngImage(bytes: Uint8Array, options: PngReadOptions = {}): DecodedImage {
  const { header: h, samples, palette, transparentColor, hasAlpha } = readPng(bytes, options);
  const { width: W, height: H, samplesPerPixel: spp } = h;
  const P = W * H;
  const max = 2 ** h.bitDepth - 1;
  const C = h.colorType === 0 || h.colorType === 4 ? 1 : 3;
  const colours = h.colorType === 4 || h.colorType === 6 ? spp - 1 : spp; // colour samples before the alpha one
  const data = new Float32Array(C * P);
  const alpha = hasAlpha ? new Float32Array(P).fill(1) : undefined;
  if (palette) {
    for (let p = 0; p < P; p++) {
      const e = 4 * samples[p];
      const a = palette[e + 3];
      // colour·alpha / (255·255) in one division, so an opaque pixel gives exactly colour/255.
      for (let c = 0; c < 3; c++) data[c * P + p] = (palette[e + c] * a) / 65025;
      if (alpha) alpha[p] = a / 255;
    }
  } else if (colours < spp) {
    for (let p = 0; p < P; p++) {
      const a = samples[p * spp + colours];
      for (let c = 0; c < C; c++) data[c * P + p] = (samples[p * spp + c] * a) / (max * max);
      alpha![p] = a / max;
    }
  } else {
    for (let p = 0; p < P; p++) {
      let opaque = true;
      if (transparentColor) {
        opaque = false;
        for (let c = 0; c < C; c++) if (samples[p * spp + c] !== transparentColor[c]) opaque = true;
        if (!opaque) alpha![p] = 0;
      }
      if (opaque) for (let c = 0; c < C; c++) data[c * P + p] = samples[p * spp + c] / max;
    }
  }
  return alpha ? { channels: C, height: H, width: W, data, alpha } : { channels: C, height: H, width: W, data };
}
