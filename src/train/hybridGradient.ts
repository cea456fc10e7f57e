import type { FloatArray } from '../core/FloatArray.js';
import { NiceFlowError } from '../core/NiceFlowError.js';
import { LOG_SCALE_BOUND } from '../flows/laws/boundedLogScale.js';
import { classLogPrior, priorCondition } from '../model/classLikelihoods.js';
import type { NiceModel } from '../model/NiceModel.js';
import { Workspace } from '../nn/Workspace.js';

const NEEDS_PRIOR_CONDITION = 'the classification term needs a class-conditional model whose label only its last layer reads (train --conditional with --conditioning prior, the default)';

/** Scratch of {@link hybridGradient}, reused across steps (grown to the largest batch). */
export interface HybridScratch {
  ll: Float64Array;
  headLogDet: Float64Array;
  dh: Float64Array;
  /** dL/dh on the backend, for the backward through the flow before the last layer. */
  dhBackend: Workspace;
  /** Per class: ℓ_k, exp(ℓ_k) and t_k [K, P] each (P: the last layer's width). */
  ell: Float64Array;
  scale: Float64Array;
  shift: Float64Array;
  w: Float64Array;
  /** log p(k): the model's class prior (fixed by its config). */
  logPrior: Float64Array;
  gradW: Float64Array;
  gradB: Float64Array;
}

/**
 * Parameter gradients of the hybrid objective of a class-conditional model whose label is read by its last layer only
 * (the per-class prior of `train --conditional`; see `priorCondition`), for a batch x [n, dim] with labels y:
 *
 *   L = −(1/n) Σ_i [ log p(x_i | y_i) + λ · log p(y_i | x_i) ],   p(y | x) = p(x | y) p(y) / Σ_k p(x | k) p(k),
 *
 * λ = `classWeight` (0: plain maximum likelihood; Glow's class-conditional model and IB-INN add such a term to make
 * the likelihood classifier sharper). Since d log p(y|x) = d log p(x|y) − Σ_k p(k|x) d log p(x|k), the gradient is
 * that of −Σ_i Σ_k w_ik log p(x_i | k) with w_ik = ((1 + λ)[k = y_i] − λ p(k | x_i)) / n. The flow before the last
 * layer runs forward and backward once (its log-det weight is Σ_k w_ik = 1/n per row); the last layer and the prior
 * are evaluated for every class here, in float64 (in a multi-scale flow the last layer covers the last level's values
 * only; the values earlier levels let go reach the prior the same for every class); the gradient skips classes whose weight is below 1e-9/n (a posterior
 * that rules them out).
 *
 * Writes every parameter's `grad`; returns the batch's mean log p(x_i | y_i) and mean log p(y_i | x_i).
 */
export function hybridGradient(model: NiceModel, x: FloatArray, n: number, labels: ArrayLike<number>, classWeight: number, scratch: HybridScratch): { conditional: number; classLogProb: number } {
  const split = priorCondition(model);
  const K = model.config.classes;
  if (!split || !K) throw new NiceFlowError(NEEDS_PRIOR_CONDITION);
  const D = model.dim;
  // The last layer acts on the first P values of the latent (all of them in a flat model; the last level's in a
  // multi-scale one); the other D − P reach the prior as they are, the same for every class.
  const P = split.width;
  const S = LOG_SCALE_BOUND;
  const prior = model.prior;
  const last = split.last;
  const W = last.weight.data;
  const b = last.bias.data;
  if (scratch.ll.length < n * K) scratch.ll = new Float64Array(n * K);
  if (scratch.headLogDet.length < n) scratch.headLogDet = new Float64Array(n);
  if (scratch.dh.length < n * D) scratch.dh = new Float64Array(n * D);
  const { ll, headLogDet, dh, gradW, gradB, ell, scale, shift, w, logPrior } = scratch;

  // The flow before the last layer, once; with it the class-independent part of log p(x | k).
  let h: FloatArray = x;
  headLogDet.fill(0, 0, n);
  if (split.head) {
    const r = split.head.forward(x, n);
    for (let i = 0; i < n; i++) headLogDet[i] = r.logDet[i];
    h = r.y;
  }
  for (let i = 0; i < n; i++) for (let d = P; d < D; d++) headLogDet[i] += prior.logDensity(h[i * D + d]);
  // log p(x_i | k) for every class: y = h ⊙ exp(ℓ_k) + t_k on the first P values, [a_k | t_k] = W[:, k] + b.
  for (let k = 0; k < K; k++) {
    let logDetK = 0;
    for (let d = 0; d < P; d++) {
      const l = S * Math.tanh((W[d * K + k] + b[d]) / S);
      ell[k * P + d] = l;
      scale[k * P + d] = Math.exp(l);
      shift[k * P + d] = W[(P + d) * K + k] + b[P + d];
      logDetK += l;
    }
    for (let i = 0; i < n; i++) {
      let s = headLogDet[i] + logDetK;
      for (let d = 0; d < P; d++) s += prior.logDensity(h[i * D + d] * scale[k * P + d] + shift[k * P + d]);
      ll[i * K + k] = s;
    }
  }
  // Weights w_ik from the posterior; the means reported.
  let conditional = 0;
  let classLogProb = 0;
  dh.fill(0, 0, n * D);
  gradW.fill(0);
  gradB.fill(0);
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    let best = -Infinity;
    for (let k = 0; k < K; k++) best = Math.max(best, ll[i * K + k] + logPrior[k]);
    let sum = 0;
    for (let k = 0; k < K; k++) sum += Math.exp(ll[i * K + k] + logPrior[k] - best);
    const lse = best + Math.log(sum);
    conditional += ll[i * K + y];
    classLogProb += ll[i * K + y] + logPrior[y] - lse;
    for (let k = 0; k < K; k++) w[k] = ((k === y ? 1 + classWeight : 0) - classWeight * Math.exp(ll[i * K + k] + logPrior[k] - lse)) / n;
    // L = −Σ_k w_k log p(x_i | k): its gradients through the last layer and the prior.
    for (let k = 0; k < K; k++) {
      const wk = w[k];
      // A class the posterior rules out (weight below 1e-9 of a label's) adds nothing measurable: skipped.
      if (Math.abs(wk) * n < 1e-9) continue;
      for (let d = 0; d < P; d++) {
        const e = scale[k * P + d];
        const hv = h[i * D + d];
        const g = prior.score(hv * e + shift[k * P + d]); // d log p / dy
        dh[i * D + d] -= wk * g * e;
        const th = ell[k * P + d] / S;
        const da = -wk * (g * hv * e + 1) * (1 - th * th);
        const dt = -wk * g;
        gradW[d * K + k] += da;
        gradW[(P + d) * K + k] += dt;
        gradB[d] += da;
        gradB[P + d] += dt;
      }
    }
    // The values past the last level: Σ_k w_ik = 1/n of the prior's score.
    for (let d = P; d < D; d++) dh[i * D + d] = -prior.score(h[i * D + d]) / n;
  }
  last.weight.grad.set(gradW);
  last.bias.grad.set(gradB);
  // Back through the flow before the last layer, its log-determinants weighted −1/n (Σ_k w_ik = 1/n).
  if (split.head) {
    const cur = scratch.dhBackend.get(n);
    for (let i = 0; i < n * D; i++) cur[i] = dh[i];
    split.head.backward(cur, -1 / n, true, false);
  }
  return { conditional: conditional / n, classLogProb: classLogProb / n };
}

/** Empty scratch for {@link hybridGradient} on a model (its last layer's weight and bias sizes). */
export function hybridScratch(model: NiceModel): HybridScratch {
  const split = priorCondition(model);
  if (!split) throw new NiceFlowError(NEEDS_PRIOR_CONDITION);
  const K = split.last.contextSize;
  const D = model.dim;
  const P = split.width;
  return {
    ll: new Float64Array(0), headLogDet: new Float64Array(0), dh: new Float64Array(0), dhBackend: new Workspace(model.backend, D),
    ell: new Float64Array(K * P), scale: new Float64Array(K * P), shift: new Float64Array(K * P), w: new Float64Array(K), logPrior: classLogPrior(model),
    gradW: new Float64Array(split.last.weight.data.length), gradB: new Float64Array(split.last.bias.data.length),
  };
}
