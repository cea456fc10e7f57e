import type { FloatArray } from '../core/FloatArray.js';
import { NiceFlowError } from '../core/NiceFlowError.js';
import type { Bijection } from '../flows/Bijection.js';
import { Chain } from '../flows/Chain.js';
import { ContextAffine } from '../flows/ContextAffine.js';
import { Coupling } from '../flows/Coupling.js';
import { priorLogProb } from '../priors/Prior.js';
import type { NiceModel } from './NiceModel.js';

/** log p(y) of each class: the config's `classPrior`, or uniform. */
export function classLogPrior(model: NiceModel): Float64Array {
  const K = model.config.classes;
  if (!K) throw new NiceFlowError('this model is not class-conditional (its config has no "classes")');
  const p = model.config.classPrior;
  return Float64Array.from({ length: K }, (_, k) => Math.log(p ? p[k] : 1 / K));
}

/**
 * log p(x_i | y = k) for every row of x [n, dim] and every class k of a class-conditional model: [n, K], row-major.
 * When only the flow's last layer reads the label (the per-class prior of `train --conditional`), the flow before it
 * runs once and that layer once per class; otherwise the whole flow runs once per class. `codes` is scratch for the
 * one-hot contexts (n·K values; allocated when absent).
 */
export function classLogLikelihoods(model: NiceModel, x: FloatArray, n: number, codes?: Float32Array): Float64Array {
  const K = model.config.classes;
  if (!K) throw new NiceFlowError('this model is not class-conditional (its config has no "classes")');
  const c = codes ?? new Float32Array(n * K);
  const out = new Float64Array(n * K);
  const split = priorCondition(model);
  if (split) {
    // Only the last layer reads the label: the flow before it runs once, the last layer and the prior once per class.
    model.checkContext(c, n);
    const D = model.dim;
    let h: FloatArray = x;
    const headLogDet = new Float64Array(n);
    for (const layer of split.head) {
      const r = layer.forward(h, n);
      for (let i = 0; i < n; i++) headLogDet[i] += r.logDet[i];
      h = r.y;
    }
    const lp = new Float64Array(n);
    for (let k = 0; k < K; k++) {
      c.fill(0, 0, n * K);
      for (let i = 0; i < n; i++) c[i * K + k] = 1;
      const { y, logDet } = split.last.forward(h, n, c);
      priorLogProb(model.prior, y, n, D, lp);
      for (let i = 0; i < n; i++) out[i * K + k] = lp[i] + logDet[i] + headLogDet[i];
    }
    return out;
  }
  for (let k = 0; k < K; k++) {
    c.fill(0, 0, n * K);
    for (let i = 0; i < n; i++) c[i * K + k] = 1;
    const lp = model.logProb(x, n, c);
    for (let i = 0; i < n; i++) out[i * K + k] = lp[i];
  }
  return out;
}

/**
 * Bayes' rule over the classes from log p(x_i | k) [n, K] and log p(k) [K]: the marginal log p(x_i) =
 * log Σ_k p(x_i | k) p(k) (log-sum-exp, stable), the posterior p(k | x_i) [n, K] and the most probable class.
 */
export function classPosterior(classLogLik: Float64Array, n: number, logPrior: Float64Array): { marginal: Float64Array; posterior: Float64Array; predicted: Int32Array } {
  const K = logPrior.length;
  const marginal = new Float64Array(n);
  const posterior = new Float64Array(n * K);
  const predicted = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = -Infinity;
    let arg = 0;
    for (let k = 0; k < K; k++) {
      const v = classLogLik[i * K + k] + logPrior[k];
      if (v > best) {
        best = v;
        arg = k;
      }
    }
    predicted[i] = arg;
    if (best === -Infinity || !Number.isFinite(best)) {
      // No class gives x a positive (finite) density: the marginal is that, and no class is preferred.
      marginal[i] = best;
      posterior.fill(Number.isNaN(best) ? NaN : 1 / K, i * K, (i + 1) * K);
      continue;
    }
    let sum = 0;
    for (let k = 0; k < K; k++) sum += Math.exp(classLogLik[i * K + k] + logPrior[k] - best);
    const lse = best + Math.log(sum);
    marginal[i] = lse;
    for (let k = 0; k < K; k++) posterior[i * K + k] = Math.exp(classLogLik[i * K + k] + logPrior[k] - lse);
  }
  return { marginal, posterior, predicted };
}

/** The likeliest class of each row of x [n, dim] under a class-conditional model (Bayes' rule with its class prior). */
export function predictClasses(model: NiceModel, x: FloatArray, n: number): Int32Array {
  return classPosterior(classLogLikelihoods(model, x, n), n, classLogPrior(model)).predicted;
}

/** Chains opened up (not splits: a Prefix is one layer here), data side first. */
function chainLayers(b: Bijection): Bijection[] {
  return b instanceof Chain ? b.layers.flatMap(chainLayers) : [b];
}

/**
 * When the model's only context-reading layer is its last (a ContextAffine: the label moves and scales the prior,
 * as `train --conditional` builds it), the layers before it and that layer; else null.
 */
export function priorCondition(model: NiceModel): { head: Bijection[]; last: ContextAffine } | null {
  const layers = chainLayers(model.flow);
  const last = layers[layers.length - 1];
  if (!(last instanceof ContextAffine)) return null;
  if (model.layers.filter((l) => l instanceof ContextAffine || (l instanceof Coupling && l.contextSize > 0)).length !== 1) return null;
  return { head: layers.slice(0, -1), last };
}
