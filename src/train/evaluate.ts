import { NiceFlowError } from '../core/NiceFlowError.js';
import type { Rng } from '../core/Rng.js';
import { bitsPerDim, type Dequantize } from '../data/dequantize.js';
import { checkDataKind, fillBatch, isPointDataset, type Dataset } from '../data/Dataset.js';
import type { ImageDataset } from '../data/ImageDataset.js';
import type { PointDataset } from '../data/PointDataset.js';
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
 * What {@link evaluate} reports for continuous data (a {@link PointDataset}): the mean log-likelihood in nats per
 * example, a density of real values, and no bits/dim (`null`): those count the bits of 256-level pixels.
 */
export interface PointEvalResult extends Omit<EvalResult, 'bitsPerDim' | 'conditionalBitsPerDim'> {
  /** Always null: bits/dim are not defined for continuous data. */
  bitsPerDim: null;
  /** Always null when `conditionalLogLikelihood` is given. */
  conditionalBitsPerDim?: null;
}

/** The options of {@link evaluate}. */
export interface EvaluateOptions {
  /** Examples per forward pass (default 200). */
  batchSize?: number;
  /** How images are dequantized (default `uniform`); unused for continuous data. */
  dequantize?: Dequantize;
  /** The dequantization noise (images); continuous data draw nothing from it. */
  rng: Rng;
  /**
   * Dequantization draws per image (default 1). With K > 1 each image's likelihood (each class's, for a
   * class-conditional model) is log (1/K) Σ_k p(x + u_k): the importance-weighted estimate of the probability of its
   * pixel bin, a lower bound on it that tightens with K (Flow++ and Ho et al. 2019 evaluate this way), and the
   * likelihood classifier compares these. The draws come from `rng` in turn, batch by batch (1: as before).
   * Images only: continuous data are not dequantized.
   */
  draws?: number;
  /** Progress: called after each batch with the number of examples done. */
  onBatch?: (done: number) => void | Promise<void>;
}

/** The most dequantization draws per image {@link evaluate} takes. */
export const MAX_DRAWS = 1000;

/**
 * Evaluates the model on every image of `ds`, in batches; `onBatch(done)` reports progress. A class-conditional
 * model is scored under every class (log p(x | k) for every k): it reports the marginal and, when the images have
 * labels, the conditional under the true label and the likelihood classifier's accuracy and confusion matrix.
 * Continuous data (a {@link PointDataset}) are scored as they are (the mean of `model.logProb` over the rows) and
 * get no bits/dim ({@link PointEvalResult}).
 */
export function evaluate(model: NiceModel, ds: ImageDataset, options: EvaluateOptions): Promise<EvalResult>;
export function evaluate(model: NiceModel, ds: PointDataset, options: EvaluateOptions): Promise<PointEvalResult>;
export function evaluate(model: NiceModel, ds: Dataset, options: EvaluateOptions): Promise<EvalResult | PointEvalResult>;
export async function evaluate(model: NiceModel, ds: Dataset, options: EvaluateOptions): Promise<EvalResult | PointEvalResult> {
  const batchSize = options.batchSize ?? 200;
  const K = model.config.classes ?? 0;
  if (model.contextSize > 0 && !K) throw new NiceFlowError('this model takes a context vector per example, which image data sets do not carry: evaluate it with model.logProb(x, n, context)');
  checkDataKind(model.config, ds);
  const draws = options.draws ?? 1;
  if (!(Number.isInteger(draws) && draws >= 1 && draws <= MAX_DRAWS)) throw new NiceFlowError(`draws must be a whole number from 1 to ${MAX_DRAWS}, got ${draws}`);
  if (draws > 1 && isPointDataset(ds)) throw new NiceFlowError('continuous data are not dequantized: evaluate them with one draw');
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
      // log p(x) (per class for a conditional model) of this batch, averaged over the draws in probability.
      const score = (): Float64Array => {
        fillBatch(ds, null, start, n, options.dequantize ?? 'uniform', options.rng, x, model.range);
        return K ? classLogLikelihoods(model, x, n, codes) : model.logProb(x, n);
      };
      const scores = draws === 1 ? score() : logMeanExp(score, draws, n * Math.max(1, K));
      let lp: ArrayLike<number>;
      if (K) {
        const ll = scores;
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
        lp = scores;
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
  // Bits/dim count the bits of 256-level pixels: continuous data have none.
  const bpd = (ll: number): number | null => (isPointDataset(ds) ? null : bitsPerDim(ll, ds.dim, model.range));
  const classes = K && ds.labels ? { conditionalLogLikelihood: condSum / n, conditionalBitsPerDim: bpd(condSum / n), accuracy: correct / n, confusion } : {};
  return { logLikelihood: mean, bitsPerDim: bpd(mean), stdError: Math.sqrt(variance / Math.max(1, n - 1)), n, ...classes } as EvalResult | PointEvalResult;
}

/** log (1/K) Σ_k exp(v_k) element-wise over K calls of `next` (each `width` values), stably (a running maximum). */
function logMeanExp(next: () => ArrayLike<number>, K: number, width: number): Float64Array {
  const best = new Float64Array(width).fill(-Infinity);
  const sum = new Float64Array(width);
  for (let k = 0; k < K; k++) {
    const v = next();
    for (let j = 0; j < width; j++) {
      const a = v[j];
      const m = best[j];
      if (a !== a || m !== m) best[j] = NaN; // a NaN draw makes the image's score NaN, as with one draw
      else if (a === m) sum[j] += 1; // −∞ twice adds nothing in the end (−∞ + log), +∞ twice stays +∞
      else if (a > m) {
        sum[j] = sum[j] * Math.exp(m - a) + 1;
        best[j] = a;
      } else sum[j] += Math.exp(a - m);
    }
  }
  const out = new Float64Array(width);
  for (let j = 0; j < width; j++) out[j] = best[j] === -Infinity ? -Infinity : best[j] + Math.log(sum[j] / K);
  return out;
}
