import { NiceFlowError } from '../core/NiceFlowError.js';
import type { ImageDataset } from './ImageDataset.js';

/**
 * The images of several data sets of one shape, in order (e.g. CIFAR-10's five training batches). Labels are kept
 * only when every part has them. `what` names the whole in the error for mismatched shapes.
 */
export function concatDatasets(parts: ImageDataset[], what = 'data set'): ImageDataset {
  if (parts.length === 0) throw new NiceFlowError(`${what}: no images`);
  if (parts.length === 1) return parts[0];
  const shape = parts[0].shape;
  for (const p of parts) {
    if (p.shape.some((v, i) => v !== shape[i])) {
      throw new NiceFlowError(`${what}: parts have different image shapes [${shape.join(', ')}] and [${p.shape.join(', ')}]`);
    }
  }
  const dim = parts[0].dim;
  const count = parts.reduce((a, p) => a + p.count, 0);
  const pixels = new Uint8Array(count * dim);
  const withLabels = parts.every((p) => p.labels);
  const labels = withLabels ? new Uint8Array(count) : undefined;
  let at = 0;
  for (const p of parts) {
    pixels.set(p.pixels.subarray(0, p.count * dim), at * dim);
    if (labels) labels.set(p.labels!.subarray(0, p.count), at);
    at += p.count;
  }
  return { pixels, count, dim, shape, labels };
}
