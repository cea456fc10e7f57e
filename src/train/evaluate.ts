import { NiceFlowError } from '../core/NiceFlowError.js';
import type { Rng } from '../core/Rng.js';
import { bitsPerDim, dequantizeBatch, type Dequantize } from '../data/dequantize.js';
import type { ImageDataset } from '../data/ImageDataset.js';
import { classLogLikelihoods, classLogPrior, classPosterior } from '../model/classLikelihoods.js';
import type { NiceModel } from '../model/NiceModel.js';

/** Mean log-likelihood of a data set and what it means in bits per dimension. */
export interface EvalResult {
  /**
   * Mean log p(x) in nats per example, on the model's dequantized scale (its `range`, [0,1]^D by default). For a
   * class-conditional model the marginal log Σ_y p(x | y) p(y).
   */
  logLikelihood: number;
  /** Bits per dimension of the 256-level data, (−LL/D − ln(hi − lo) + ln 256)/ln 2. */
  bitsPerDim: number;
  /** Standard error of the mean log-likelihood. */
  stdError: number;
  n: number;
  /** A class-conditional model: the mean log p(x | y) under each image's own label y, and its bits/dim. */
  conditionalLogLikelihood?: number;
  conditionalBitsPerDim?: number;
  /** A class-conditional model: the share of images whose most probable class (Bayes' rule) is their label. */
  accuracy?: number;
  /** A class-conditional model: confusion[true][predicted], image counts (K × K). */
  confusion?: number[][];
}

/**
 * Evaluates the model on every image of `ds`, in batches; `onBatch(done)` reports progress. A class-conditional
 * model is scored under every class (log p(x | k) for every k): it reports the marginal and, when the images have
 * labels, the conditional under the true label and the likelihood classifier's accuracy and confusion matrix.
 */
export async function evaluate(
  model: NiceModel,
  ds: ImageDataset,
  options: { batchSize?: number; dequantize?: Dequantize; rng: Rng; onBatch?: (done: number) => void | Promise<void> },
): Promise<EvalResult> {
  const batchSize = options.batchSize ?? 200;
  const K = model.config.classes ?? 0;
  if (model.contextSize > 0 && !K) throw new NiceFlowError('this model takes a context vector per example, which image data sets do not carry: evaluate it with model.logProb(x, n, context)');
  const x = model.backend.alloc(Math.min(batchSize, ds.count) * ds.dim);
  const codes = K ? new Float32Array(Math.min(batchSize, ds.count) * K) : undefined;
  const logPrior = K ? classLogPrior(model) : undefined;
  const confusion = Array.from({ length: K }, () => new Array<number>(K).fill(0));
  let sum = 0;
  let sumSq = 0;
  let condSum = 0;
  let correct = 0;
  try {
    for (let start = 0; start < ds.count; start += batchSize) {
      const n = Math.min(batchSize, ds.count - start);
      dequantizeBatch(ds, null, start, n, options.dequantize ?? 'uniform', options.rng, x, model.range);
      let lp: ArrayLike<number>;
      if (K) {
        const ll = classLogLikelihoods(model, x, n, codes);
        const post = classPosterior(ll, n, logPrior!);
        lp = post.marginal;
        for (let i = 0; ds.labels && i < n; i++) {
          const y = ds.labels[start + i];
          if (y >= K) throw new NiceFlowError(`label ${y} of image ${start + i} is not one of the model's ${K} classes`);
          condSum += ll[i * K + y];
          confusion[y][post.predicted[i]]++;
          if (post.predicted[i] === y) correct++;
        }
      } else {
        lp = model.logProb(x, n);
      }
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
  const result: EvalResult = { logLikelihood: mean, bitsPerDim: bitsPerDim(mean, ds.dim, model.range), stdError: Math.sqrt(variance / Math.max(1, n - 1)), n };
  if (K && ds.labels) {
    result.conditionalLogLikelihood = condSum / n;
    result.conditionalBitsPerDim = bitsPerDim(condSum / n, ds.dim, model.range);
    result.accuracy = correct / n;
    result.confusion = confusion;
  }
  return result;
}
