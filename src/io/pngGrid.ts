import { convertIndexedToRgb, decode, encode } from 'fast-png';
import { NiceFlowError } from '../core/NiceFlowError.js';

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

/**
 * Decodes a PNG to values in [0, 1], C×H×W (C = 1 for gray and gray+alpha, 3 for RGB, RGBA and palette images;
 * alpha is dropped).
 */
export function decodePngImage(bytes: Uint8Array): { channels: number; height: number; width: number; data: Float32Array } {
  let png;
  try {
    png = decode(bytes);
  } catch (e) {
    throw new NiceFlowError(`not a PNG file (${(e as Error).message})`);
  }
  const { width: W, height: H } = png;
  let src: ArrayLike<number> = png.data;
  let inC = png.channels;
  let max = png.depth === 16 ? 65535 : (1 << png.depth) - 1;
  if (png.palette) {
    src = convertIndexedToRgb(png);
    inC = png.palette[0]?.length ?? 3;
    max = 255;
  }
  const C = inC >= 3 ? 3 : 1;
  const data = new Float32Array(C * H * W);
  for (let p = 0; p < H * W; p++) for (let c = 0; c < C; c++) data[c * H * W + p] = src[p * inC + c] / max;
  return { channels: C, height: H, width: W, data };
}
