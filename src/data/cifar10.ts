import { NiceFlowError } from '../core/NiceFlowError.js';
import type { ImageDataset } from './ImageDataset.js';

/** CIFAR-10 images are 3×32×32. */
export const CIFAR10_SHAPE: [number, number, number] = [3, 32, 32];
/** One record of the binary version: a label byte, then 1024 red, 1024 green and 1024 blue bytes. */
export const CIFAR10_RECORD_BYTES = 1 + 3 * 32 * 32;

/**
 * Parses a file of the CIFAR-10 binary version (data_batch_N.bin, test_batch.bin): records of 1 label byte (0..9)
 * and 3072 pixel bytes, each channel's 32×32 plane row-major, R then G then B. That is already the C×H×W order of
 * {@link ImageDataset}, so the pixels are copied as they are, minus the labels. `what` names the file in errors.
 */
export function parseCifar10(bytes: Uint8Array, what = 'CIFAR-10 file'): ImageDataset {
  const R = CIFAR10_RECORD_BYTES;
  if (bytes.length === 0) throw new NiceFlowError(`${what}: empty file (expected CIFAR-10 records of ${R} bytes)`);
  if (bytes.length % R !== 0) {
    const whole = Math.floor(bytes.length / R);
    throw new NiceFlowError(
      `${what}: ${bytes.length} bytes is not a whole number of CIFAR-10 records of ${R} bytes ` +
        `(${whole} records and ${bytes.length - whole * R} bytes left over: truncated, or not the binary version?)`,
    );
  }
  const count = bytes.length / R;
  const dim = R - 1;
  const pixels = new Uint8Array(count * dim);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const label = bytes[i * R];
    // CIFAR-100's binary records have two label bytes (3074 bytes); a label over 9 also catches most other files.
    if (label > 9) throw new NiceFlowError(`${what}: record ${i} has label ${label}, but CIFAR-10 labels are 0..9 (not a CIFAR-10 file?)`);
    labels[i] = label;
    pixels.set(bytes.subarray(i * R + 1, (i + 1) * R), i * dim);
  }
  return { pixels, count, dim, shape: [...CIFAR10_SHAPE], labels };
}
