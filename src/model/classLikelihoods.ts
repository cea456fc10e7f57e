import type { Backend } from '../core/Backend.js';
import type { FloatArray } from '../core/FloatArray.js';
import { NiceFlowError } from '../core/NiceFlowError.js';
import type { Bijection } from '../flows/Bijection.js';
import { Chain } from '../flows/Chain.js';
import { ContextAffine } from '../flows/ContextAffine.js';
import { Coupling } from '../flows/Coupling.js';
import { Prefix } from '../flows/Prefix.js';
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
    const P = split.width;
    const { y: h, logDet: headLogDet } = split.head ? split.head.forward(x, n) : { y: x, logDet: new Float64Array(n) };
    // What does not depend on the class: the head's log-determinant and the prior on the values past the last level.
    const base = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = headLogDet[i];
      for (let d = P; d < D; d++) s += model.prior.logDensity(h[i * D + d]);
      base[i] = s;
    }
    const hp = P === D ? h : new Float64Array(n * P);
    if (P < D) for (let i = 0; i < n; i++) for (let d = 0; d < P; d++) hp[i * P + d] = h[i * D + d];
    const lp = new Float64Array(n);
    for (let k = 0; k < K; k++) {
      c.fill(0, 0, n * K);
      for (let i = 0; i < n; i++) c[i * K + k] = 1;
      const { y, logDet } = split.last.forward(hp, n, c);
      priorLogProb(model.prior, y, n, P, lp);
      for (let i = 0; i < n; i++) out[i * K + k] = lp[i] + logDet[i] + base[i];
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

/** The layer a bijection applies last: a chain's last layer, a split's (Prefix) inner's last layer, opened up. */
function lastLeaf(b: Bijection): Bijection {
  if (b instanceof Chain) return lastLeaf(b.layers[b.layers.length - 1]);
  if (b instanceof Prefix) return lastLeaf(b.inner);
  return b;
}

/**
 * `b` without the layer it applies last (`lastLeaf`): the same layers (parameters and buffers shared) in new Chain
 * and Prefix wrappers; null when nothing is left (the identity).
 */
function withoutLastLeaf(backend: Backend, b: Bijection): Bijection | null {
  if (b instanceof Chain) {
    const rest = withoutLastLeaf(backend, b.layers[b.layers.length - 1]);
    const layers = [...b.layers.slice(0, -1), ...(rest ? [rest] : [])];
    return layers.length === 0 ? null : layers.length === 1 ? layers[0] : new Chain(backend, layers);
  }
  if (b instanceof Prefix) {
    const inner = withoutLastLeaf(backend, b.inner);
    return inner ? new Prefix(backend, b.dim, inner) : null;
  }
  return null;
}

/**
 * How a model reads its label when the only layer that reads it is the one it applies last (a ContextAffine: the label
 * moves and scales the prior, as `train --conditional` builds it; in a multi-scale flow it sits at the end of the last
 * level and covers that level's latent only):
 * - `head`: the flow without that layer (null: the identity), run once for every class;
 * - `last`: that layer, on the first `width` values of the head's output;
 * - `width` = last.dim; the other values of the latent (what earlier levels let go) reach the prior as they are.
 * Null for any other model. Built once per model.
 */
export interface PriorCondition {
  head: Bijection | null;
  last: ContextAffine;
  width: number;
}

/** Per flow (a model's flow is rebuilt when its whitening is set), so a stale head is never used. */
const conditions = new WeakMap<Bijection, PriorCondition | null>();

/** The model's {@link PriorCondition}, or null when its label is read elsewhere (or it has none). */
export function priorCondition(model: NiceModel): PriorCondition | null {
  const flow = model.flow;
  let found = conditions.get(flow);
  if (found !== undefined) return found;
  const last = lastLeaf(flow);
  const readers = model.layers.filter((l) => l instanceof ContextAffine || (l instanceof Coupling && l.contextSize > 0));
  found = last instanceof ContextAffine && readers.length === 1 && readers[0] === last
    ? { head: withoutLastLeaf(model.backend, flow), last, width: last.dim }
    : null;
  conditions.set(flow, found);
  return found;
}
