import type { FloatArray } from '../core/FloatArray.js';
import { NiceFlowError } from '../core/NiceFlowError.js';
import type { Rng } from '../core/Rng.js';
import type { NiceConfig } from '../model/NiceConfig.js';
import { dequantizeBatch, UNIT_RANGE, type DataRange, type Dequantize } from './dequantize.js';
import { sliceDataset, type ImageDataset } from './ImageDataset.js';
import { slicePoints, type PointDataset } from './PointDataset.js';

/**
 * A data set Trainer, evaluate and splitDataset take: 8-bit images (dequantized into the model's data range on the
 * way in, log-likelihoods also reported in bits/dim) or continuous points (the model's input as they are, nats only).
 * {@link isPointDataset} tells them apart.
 */
export type Dataset = ImageDataset | PointDataset;

/** Whether a data set holds continuous values (a {@link PointDataset}) rather than 8-bit pixels. */
export function isPointDataset(ds: Dataset): ds is PointDataset {
  return (ds as Partial<PointDataset>).values !== undefined;
}

/** Examples [start, end) of a data set of either kind, sharing memory (sliceDataset or slicePoints). */
export function sliceExamples<T extends Dataset>(ds: T, start: number, end: number): T {
  return (isPointDataset(ds) ? slicePoints(ds, start, end) : sliceDataset(ds, start, end)) as T;
}

/**
 * Refuses images for a model of continuous data (`config.data` is `continuous`: it has no data range to dequantize
 * them into). Any other model takes either kind: points are its input as they are, as `model.logProb` takes them.
 */
export function checkDataKind(config: Pick<NiceConfig, 'data'>, ds: Dataset): void {
  if (config.data === 'continuous' && !isPointDataset(ds)) {
    throw new NiceFlowError('the model is for continuous data ("data": "continuous"); these are 8-bit images: give it a PointDataset of real values');
  }
}

/**
 * out[r, :] = the model input of example `order[offset + r]` (or example offset + r when `order` is null), r < n:
 * for images the dequantized pixels, exactly as {@link dequantizeBatch} gives them (`mode`, noise from `rng`, mapped
 * onto `range`); for points the values as they are (`mode`, `rng` and `range` unused: no random number is drawn).
 * Allocates nothing.
 */
export function fillBatch(
  ds: Dataset,
  order: Int32Array | null,
  offset: number,
  n: number,
  mode: Dequantize,
  rng: Rng,
  out: FloatArray,
  range: DataRange = UNIT_RANGE,
): void {
  if (!isPointDataset(ds)) {
    dequantizeBatch(ds, order, offset, n, mode, rng, out, range);
    return;
  }
  const D = ds.dim;
  const values = ds.values;
  for (let r = 0; r < n; r++) {
    const src = (order ? order[offset + r] : offset + r) * D;
    const dst = r * D;
    for (let d = 0; d < D; d++) out[dst + d] = values[src + d];
  }
}
