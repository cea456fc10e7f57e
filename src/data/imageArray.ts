import { NiceFlowError } from '../core/NiceFlowError.js';
import type { ImageDataset } from './ImageDataset.js';

/**
 * An array of 8-bit images as an image data set, whatever its layout (e.g. the uint8 contents of a .npy file):
 * - [N, H, W]: grayscale;
 * - [N, H, W, C] with C ∈ {1, 3}: channel-last, as NumPy/SciPy/TensorFlow dumps (SVHN, CIFAR) are; transposed to
 *   C×H×W per image;
 * - [N, C, H, W] with C ∈ {1, 3} and the last dimension not 1 or 3: channel-first, as PyTorch/torchvision keep it.
 * Channel-last wins when both readings fit (e.g. [N, 3, 32, 3]), since that is how most image arrays are saved.
 * The result shares `data` when no transpose is needed. `what` names the file in errors; the shape must be of whole
 * sizes that multiply to `data.length`.
 */
export function imageDatasetFromArray(data: Uint8Array, shape: readonly number[], what: string): ImageDataset {
  const dims = `[${shape.join(', ')}]`;
  if (shape.length !== 3 && shape.length !== 4) {
    throw new NiceFlowError(`${what}: images must have shape [N, H, W], [N, H, W, C] or [N, C, H, W], got ${dims} (rank ${shape.length})`);
  }
  if (!shape.every((v) => Number.isSafeInteger(v) && v >= 0)) throw new NiceFlowError(`${what}: shape ${dims} has a size that is not a whole number ≥ 0`);
  if (shape.slice(1).some((v) => v === 0)) throw new NiceFlowError(`${what}: images of shape ${dims} have no pixels`);
  // The shape is a claim (from a file's header): it must describe exactly the bytes given, before anything is sized by it.
  const values = shape.reduce((a, b) => a * b, 1);
  if (values !== data.length) {
    throw new NiceFlowError(`${what}: shape ${dims} needs ${Number.isSafeInteger(values) ? values : 'more than 2^53'} bytes, the data have ${data.length}`);
  }
  const N = shape[0];
  if (shape.length === 3) return { pixels: data, count: N, dim: shape[1] * shape[2], shape: [1, shape[1], shape[2]] };
  const isC = (v: number): boolean => v === 1 || v === 3;
  if (isC(shape[3])) {
    const [, H, W, C] = shape;
    const dim = C * H * W;
    if (C === 1) return { pixels: data, count: N, dim, shape: [1, H, W] }; // [N,H,W,1] is already C×H×W
    const pixels = new Uint8Array(N * dim);
    const plane = H * W;
    for (let n = 0; n < N; n++) {
      const base = n * dim;
      for (let p = 0; p < plane; p++) for (let c = 0; c < C; c++) pixels[base + c * plane + p] = data[base + p * C + c];
    }
    return { pixels, count: N, dim, shape: [C, H, W] };
  }
  if (isC(shape[1])) {
    const [, C, H, W] = shape;
    return { pixels: data, count: N, dim: C * H * W, shape: [C, H, W] };
  }
  throw new NiceFlowError(`${what}: cannot tell the channels of shape ${dims}: expected 1 or 3 channels last ([N, H, W, C]) or second ([N, C, H, W])`);
}
