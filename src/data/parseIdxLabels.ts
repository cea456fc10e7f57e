import { NiceFlowError } from '../core/NiceFlowError.js';
import { parseIdx } from './idx.js';

/** Classes of MNIST, Fashion-MNIST and CIFAR-10. */
export const DEFAULT_CLASSES = 10;

/**
 * Parses an IDX label file (MNIST's `train-labels-idx1-ubyte`): one dimension, one unsigned byte per image. The file
 * must hold exactly `count` labels (the images it belongs to) and every label must be below `classes`; nothing the
 * file claims is used before it is checked. `what` names the file in errors. Returns a view into `bytes`.
 */
export function parseIdxLabels(bytes: Uint8Array, count: number, what = 'label file', classes = DEFAULT_CLASSES): Uint8Array {
  const idx = parseIdx(bytes, what);
  if (idx.dims.length !== 1) throw new NiceFlowError(`${what}: expected labels (one dimension), got dimensions [${idx.dims.join(', ')}] (an image file?)`);
  if (idx.dims[0] !== count) throw new NiceFlowError(`${what}: has ${idx.dims[0]} labels for ${count} images`);
  const labels = idx.data;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] >= classes) throw new NiceFlowError(`${what}: label ${i} is ${labels[i]}, but the classes are 0..${classes - 1}`);
  }
  return labels;
}
