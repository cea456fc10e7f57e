import type { Rng } from '../core/Rng.js';
import { bitsPerDim, dequantizeBatch, type Dequantize } from '../data/dequantize.js';
import type { ImageDataset } from '../data/ImageDataset.js';
import type { NiceModel } from '../model/NiceModel.js';

/** Mean log-likelihood of a data set and what it means in bits per dimension. */
export interface EvalResult {
  /** Mean log p(x) in nats per example, on the model's dequantized scale (its `range`, [0,1]^D by default). */
  logLikelihood: number;
  /** Bits per dimension of the 256-level data, (−LL/D − ln(hi − lo) + ln 256)/ln 2. */
  bitsPerDim: number;
  /** Standard error of the mean log-likelihood. */
  stdError: number;
  n: number;
}

/** Evaluates the model on every image of `ds`, in batches; `onBatch(done)` reports progress. */
export async function evaluate(
  model: NiceModel,
  ds: ImageDataset,
  options: { batchSize?: number; dequantize?: Dequantize; rng: Rng; onBatch?: (done: number) => void | Promise<void> },
): Promise<EvalResult> {
  const batchSize = options.batchSize ?? 200;
  const x = model.backend.alloc(Math.min(batchSize, ds.count) * ds.dim);
  let sum = 0;
  let sumSq = 0;
  try {
    for (let start = 0; start < ds.count; start += batchSize) {
      const n = Math.min(batchSize, ds.count - start);
      dequantizeBatch(ds, null, start, n, options.dequantize ?? 'uniform', options.rng, x, model.range);
      const lp = model.logProb(x, n);
      for (let i = 0; i < n; i++) {
        sum += lp[i];
        sumSq += lp[i] * lp[i];
      }
      await options.onBatch?.(start + n);
    }
  } finally {
    model.backend.free(x);
  }
  const n = ds.count;
  const mean = sum / n;
  const variance = Math.max(0, sumSq / n - mean * mean);
  return { logLikelihood: mean, bitsPerDim: bitsPerDim(mean, ds.dim, model.range), stdError: Math.sqrt(variance / Math.max(1, n - 1)), n };
}
