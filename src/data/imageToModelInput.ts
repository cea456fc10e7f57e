import { NiceFlowError } from '../core/NiceFlowError.js';
import type { DataRange } from './dequantize.js';

/** A decoded picture: values in [0, 1], channel-major C×H×W (what decodePngImage returns). */
export interface PictureValues {
  channels: number;
  height: number;
  width: number;
  data: Float32Array;
}

/**
 * A picture as one model input of shape [C, H, W] in the model's data range, written to `out` from `offset`:
 * colour becomes gray (ITU-R 601 weights) for a one-channel model, another size is resized by nearest neighbour, and
 * values v ∈ [0, 1] become lo + (hi − lo)·v. Returns what was changed, one note each, for the caller to show.
 */
export function imageToModelInput(img: PictureValues, shape: readonly number[], range: DataRange, out: Float32Array, offset = 0): string[] {
  const [C, H, W] = shape;
  const notes: string[] = [];
  let data = img.data;
  let channels = img.channels;
  if (C === 1 && channels === 3) {
    notes.push('in colour; converted to gray');
    const P = img.height * img.width;
    const gray = new Float32Array(P);
    for (let p = 0; p < P; p++) gray[p] = 0.299 * data[p] + 0.587 * data[P + p] + 0.114 * data[2 * P + p];
    data = gray;
    channels = 1;
  }
  if (channels !== C) throw new NiceFlowError(`has ${channels} channels, the model's images have ${C}`);
  if (img.height !== H || img.width !== W) notes.push(`${img.width}×${img.height}; resized to ${W}×${H} (nearest neighbour)`);
  const [lo, hi] = range;
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < H; y++) {
      const sy = Math.min(img.height - 1, Math.floor(((y + 0.5) * img.height) / H));
      for (let x = 0; x < W; x++) {
        const sx = Math.min(img.width - 1, Math.floor(((x + 0.5) * img.width) / W));
        out[offset + c * H * W + y * W + x] = lo + (hi - lo) * data[c * img.height * img.width + sy * img.width + sx];
      }
    }
  }
  return notes;
}
