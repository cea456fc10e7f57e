import type { Backend } from '../core/Backend.js';
import { checkMemory, formatCount } from '../core/checkMemory.js';
import type { DType, FloatArray } from '../core/FloatArray.js';
import { NiceFlowError } from '../core/NiceFlowError.js';
import type { Rng } from '../core/Rng.js';
import { UNIT_RANGE, type DataRange } from '../data/dequantize.js';
import { Chain } from '../flows/Chain.js';
import { Coupling } from '../flows/Coupling.js';
import { lawOutputGroups } from '../flows/couplingLaw.js';
import { DiagonalScaling } from '../flows/DiagonalScaling.js';
import { partitionFor } from '../flows/Partition.js';
import type { Whitening } from '../flows/Whitening.js';
import { ConvNet } from '../nn/ConvNet.js';
import type { CouplingNet } from '../nn/CouplingNet.js';
import { Mlp } from '../nn/Mlp.js';
import type { Param } from '../nn/Param.js';
import { Workspace } from '../nn/Workspace.js';
import { getPrior } from '../priors/getPrior.js';
import { priorLogProb, type Prior } from '../priors/Prior.js';
import { type NiceConfig, validateConfig } from './NiceConfig.js';

/**
 * Trainable parameters of a model with this config (what `new NiceModel(backend, config).params` hold), counted
 * without building it.
 */
export function countParams(config: NiceConfig): number {
  const c = validateConfig(config);
  const G = lawOutputGroups(c.coupling);
  let total = c.dim; // the scaling
  for (let k = 0; k < c.couplings; k++) {
    const part = partitionFor(c.partition, k, c.dim, c.shape);
    if (c.network === 'conv') {
      const C = c.shape![0];
      for (let j = 0; j <= c.depth; j++) {
        const last = j === c.depth;
        const inC = j === 0 ? C : c.hidden;
        const outC = last ? G * C : c.hidden;
        const kk = last ? 1 : 9;
        total += outC * inC * kk + outC;
      }
    } else {
      const widths = [part.kept.length, ...Array<number>(c.depth).fill(c.hidden), G * part.updated.length];
      for (let j = 0; j + 1 < widths.length; j++) total += (widths[j] + 1) * widths[j + 1];
    }
  }
  return total;
}

/**
 * Backend memory a model of this config takes, in bytes, with what it is for (the `what` of `checkMemory`):
 * weights and their gradients, the whitening layer's four arrays, and with `training` Adam's two moments. Batch
 * workspaces (activations) come on top; for dense models they are small next to these.
 */
export function modelMemory(config: NiceConfig, options: { training?: boolean; dtype?: DType } = {}): { bytes: number; what: string } {
  const c = validateConfig(config);
  const params = countParams(c);
  const perValue = options.dtype === 'float64' ? 8 : 4;
  const copies = options.training ? 4 : 2;
  const whitening = c.whiten === 'zca' ? 2 * c.dim * c.dim + 2 * c.dim : 0;
  const what = `${options.training ? 'weights, gradients, Adam moments' : 'weights and gradients'}: ${formatCount(params)} parameters`;
  return { bytes: perValue * (copies * params + whitening), what };
}

/**
 * A NICE model (Dinh et al. 2014): `h = f(x)`, f = scaling ∘ coupling_{K−1} ∘ … ∘ coupling_0, and
 * log p_X(x) = Σ_d log p_H(h_d) + log|det ∂f/∂x| (§2, eq. 2). Batches are flat rows [n, dim].
 *
 * Arrays returned by methods are fresh copies unless the doc says "view".
 *
 * Backend memory: the weights, their gradients and per-batch workspaces are allocated once (the workspaces grow to
 * the largest batch seen and are then reused), and no method leaves anything else behind on the backend, so any
 * number of calls with batches no larger than before keeps the backend's memory flat (see `Backend`). The
 * constructor checks first that the backend can hold the weights and gradients (`checkMemory`).
 */
export class NiceModel {
  readonly config: NiceConfig;
  readonly couplings: Coupling[];
  readonly scaling: DiagonalScaling;
  private chain: Chain;
  private whiteningLayer: Whitening | null = null;
  readonly prior: Prior;
  readonly params: Param[];
  private readonly dh: Workspace;
  /** The prior draw of `sample`. */
  private readonly draws: Workspace;
  private readonly lp = { buf: new Float64Array(0) };

  constructor(
    readonly backend: Backend,
    config: NiceConfig,
  ) {
    this.config = validateConfig(config);
    const need = modelMemory(this.config, { dtype: backend.dtype });
    checkMemory(backend, need.bytes, need.what);
    const { dim, couplings, hidden, depth, partition, shape, coupling, network } = this.config;
    const groups = lawOutputGroups(coupling);
    this.couplings = [];
    for (let k = 0; k < couplings; k++) {
      const part = partitionFor(partition, k, dim, shape);
      const prefix = `couplings.${k}.`;
      const net: CouplingNet =
        network === 'conv'
          ? new ConvNet(backend, shape as [number, number, number], part.kept, part.updated, groups, hidden, depth, prefix)
          : new Mlp(backend, part.kept.length, groups * part.updated.length, hidden, depth, prefix);
      this.couplings.push(new Coupling(backend, dim, part, net, coupling));
    }
    this.scaling = new DiagonalScaling(backend, dim);
    // With whiten: 'zca' the whitening layer comes later (fitted, or loaded from the file) through setWhitening;
    // until then `flow` refuses to run rather than silently leave it out of log p(x).
    this.chain = this.buildChain();
    this.prior = getPrior(this.config.prior);
    this.params = this.chain.params;
    this.dh = new Workspace(backend, dim);
    this.draws = new Workspace(backend, dim);
  }

  get dim(): number {
    return this.config.dim;
  }

  /** The whole bijection f: [whitening], couplings, scaling. */
  get flow(): Chain {
    if (this.config.whiten === 'zca' && !this.whiteningLayer) {
      throw new NiceFlowError('the model config says whiten: "zca" but no whitening is installed: fit one (fitZca) and call setWhitening, or load the model from its file');
    }
    return this.chain;
  }

  /** The fixed whitening layer (config.whiten = zca), or null. */
  get whitening(): Whitening | null {
    return this.whiteningLayer;
  }

  /** Installs a fitted or loaded whitening layer; the config must ask for one (`whiten: 'zca'`). */
  setWhitening(w: Whitening): void {
    if (this.config.whiten !== 'zca') throw new NiceFlowError('setWhitening: the model config has no whitening (whiten: "zca")');
    if (w.dim !== this.dim) throw new NiceFlowError(`setWhitening: whitening of dimension ${w.dim}, the model has ${this.dim}`);
    this.whiteningLayer = w;
    this.chain = this.buildChain();
  }

  private buildChain(): Chain {
    const first = this.whiteningLayer ? [this.whiteningLayer] : [];
    return new Chain(this.backend, [...first, ...this.couplings, this.scaling]);
  }

  /** The data range [lo, hi] the model is defined on (config.range, default [0, 1]). */
  get range(): DataRange {
    return this.config.range ?? UNIT_RANGE;
  }

  /**
   * Initialise the coupling networks like PyTorch (torch.nn.Linear / Conv2d defaults); the scale starts at 0 (the
   * identity). The multiplicative and affine laws keep that default init too, with no special zeroing of the last
   * layer: their log-scale ℓ(a) = 2·tanh(a/2) is bounded in (−2, 2) per layer, so a random start cannot blow up
   * the forward or the inverse, and it is near the identity map where the net outputs are small (NICE §3.2).
   */
  init(rng: Rng): void {
    for (const c of this.couplings) c.net.init(rng);
    this.scaling.scale.data.fill(0);
  }

  private logProbBuffer(n: number): Float64Array {
    if (this.lp.buf.length < n) this.lp.buf = new Float64Array(n);
    return this.lp.buf.subarray(0, n);
  }

  /** log p_X(x_i) in nats for each row of x [n, dim]. */
  logProb(x: FloatArray, n: number): Float64Array {
    const { y, logDet } = this.flow.forward(x, n);
    const out = new Float64Array(n);
    this.priorTerms(y, n, 0, out);
    for (let i = 0; i < n; i++) out[i] += logDet[i];
    return out;
  }

  /**
   * logProb[i] = log p_H(h_i) and, in the workspace returned, weight · ∂ log p_H/∂h (not computed by the element-wise
   * path when weight is 0, as for logProb). The logistic prior has a fused backend kernel (one pass, float32
   * transcendental functions in the wasm backend); other priors go element-wise.
   */
  private priorTerms(h: FloatArray, n: number, weight: number, logProb: Float64Array): FloatArray {
    const D = this.dim;
    const dh = this.dh.get(n);
    if (this.prior.batchLogProb) {
      this.prior.batchLogProb(this.backend, h, n, D, weight, logProb, dh);
    } else {
      priorLogProb(this.prior, h, n, D, logProb);
      if (weight !== 0) for (let i = 0; i < n * D; i++) dh[i] = weight * this.prior.score(h[i]);
    }
    return dh;
  }

  /**
   * Gradient of `weight · Σ_i log p(x_i)`: parameter gradients go to each param's `grad` when `paramGrads`;
   * returns the input gradient [n, dim] (a view) and the per-example log-likelihoods (a view).
   * Training uses weight = −1/n (the loss is the mean negative log-likelihood); inpainting uses weight = 1 and
   * gets ∂ log p(x_i)/∂x_i for every example.
   */
  gradLogProb(x: FloatArray, n: number, weight: number, paramGrads: boolean): { dx: FloatArray; logProb: Float64Array } {
    const { dx, logProb } = this.backprop(x, n, weight, paramGrads, true);
    return { dx: dx!, logProb };
  }

  /**
   * Parameter gradients of `weight · Σ_i log p(x_i)` into each param's `grad`, without the input gradient (the
   * training step: it saves the first layer's input-gradient product). Returns the log-likelihoods (a view).
   */
  paramGradLogProb(x: FloatArray, n: number, weight: number): Float64Array {
    return this.backprop(x, n, weight, true, false).logProb;
  }

  private backprop(x: FloatArray, n: number, weight: number, paramGrads: boolean, inputGrad: boolean): { dx: FloatArray | null; logProb: Float64Array } {
    const { y: h, logDet } = this.flow.forward(x, n);
    const logProb = this.logProbBuffer(n);
    const dh = this.priorTerms(h, n, weight, logProb);
    for (let i = 0; i < n; i++) logProb[i] += logDet[i];
    const dx = this.flow.backward(dh, weight, paramGrads, inputGrad);
    return { dx, logProb };
  }

  /** Encode: h = f(x) and log|det ∂f/∂x| per example. */
  encode(x: FloatArray, n: number): { h: Float32Array; logDet: Float64Array } {
    const { y, logDet } = this.flow.forward(x, n);
    return { h: Float32Array.from(y.subarray(0, n * this.dim)), logDet: Float64Array.from(logDet.subarray(0, n)) };
  }

  /** Decode: x = f⁻¹(h). */
  decode(h: FloatArray, n: number): Float32Array {
    return Float32Array.from(this.flow.inverse(h, n).subarray(0, n * this.dim));
  }

  /**
   * n samples x = f⁻¹(T·h), h ~ p_H (§3.4). Temperature T scales the prior draw; T = 0 decodes the prior's mode (h = 0).
   */
  sample(n: number, rng: Rng, temperature = 1): Float32Array {
    const h = this.draws.get(n);
    for (let i = 0; i < h.length; i++) h[i] = temperature === 0 ? 0 : temperature * this.prior.sample(rng);
    return this.decode(h, n);
  }

  /**
   * Data-dependent start for the scale: s_d = log(σ_prior / σ_d), with σ_d the spread of the couplings' output
   * on these examples, so each latent dimension starts with the prior's spread (see docs/conventions.md, "Reference
   * learning curve (MNIST)"). Without it s must travel to about ln 256 at Adam's pace.
   */
  initScaleFromData(x: FloatArray, n: number): void {
    const D = this.dim;
    const layers = this.flow.layers;
    let z: FloatArray = x;
    for (const layer of layers.slice(0, -1)) z = layer.forward(z, n).y; // all but the scaling layer
    const priorStd = this.prior.std;
    const s = this.scaling.scale.data;
    for (let d = 0; d < D; d++) {
      let mean = 0;
      for (let i = 0; i < n; i++) mean += z[i * D + d];
      mean /= n;
      let v = 0;
      for (let i = 0; i < n; i++) v += (z[i * D + d] - mean) ** 2;
      const std = Math.sqrt(v / Math.max(1, n - 1));
      s[d] = Math.log(priorStd / Math.max(std, 1e-6));
    }
  }

  /** Parameters by weight-file name. */
  paramMap(): Map<string, Param> {
    return new Map(this.params.map((p) => [p.name, p]));
  }
}
