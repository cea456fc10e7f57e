import type { Backend } from '../core/Backend.js';
import { checkMemory, formatCount } from '../core/checkMemory.js';
import type { DType, FloatArray } from '../core/FloatArray.js';
import { NiceFlowError } from '../core/NiceFlowError.js';
import type { Rng } from '../core/Rng.js';
import { UNIT_RANGE, type DataRange } from '../data/dequantize.js';
import type { Bijection, LayerBuffer } from '../flows/Bijection.js';
import { Chain } from '../flows/Chain.js';
import { ContextAffine } from '../flows/ContextAffine.js';
import { Coupling } from '../flows/Coupling.js';
import { DiagonalScaling } from '../flows/DiagonalScaling.js';
import { Prefix } from '../flows/Prefix.js';
import type { Whitening } from '../flows/Whitening.js';
import type { Param } from '../nn/Param.js';
import { Workspace } from '../nn/Workspace.js';
import { getPrior } from '../priors/getPrior.js';
import { priorLogProb, type Prior } from '../priors/Prior.js';
import { contextSize } from './contextSize.js';
import { type NiceConfig, validateConfig } from './NiceConfig.js';
import { buildPlannedFlow, countPlannedParams, planFlow } from './planFlow.js';

/** Every leaf layer of a flow, data side first (chains and splits opened up). */
function leafLayers(b: Bijection): Bijection[] {
  if (b instanceof Chain) return b.layers.flatMap(leafLayers);
  if (b instanceof Prefix) return leafLayers(b.inner);
  return [b];
}

/**
 * Trainable parameters of a model with this config (what `new NiceModel(backend, config).params` hold), counted
 * from its steps' shapes without building it.
 */
export function countParams(config: NiceConfig): number {
  return countPlannedParams(planFlow(validateConfig(config)));
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
 * A NICE model (Dinh et al. 2014): `h = f(x)` and log p_X(x) = Σ_d log p_H(h_d) + log|det ∂f/∂x| (§2, eq. 2), with f
 * the flow its config describes: the paper's scaling ∘ coupling_{K−1} ∘ … ∘ coupling_0, or any list of registered
 * steps (`config.flow`: couplings, scaling, logit, ActNorm, invertible 1×1 convolutions, squeeze, multi-scale
 * splits). Batches are flat rows [n, dim]; the latent is one flat row too (a multi-scale model's levels side by side).
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
  /** The flow's coupling layers, data side first. */
  readonly couplings: Coupling[];
  /** The last layer when it is NICE's diagonal scaling over all values (one scale per latent), else null. */
  readonly scaling: DiagonalScaling | null;
  /** The flow's layers without the whitening, data side first (chains and splits opened up). */
  readonly layers: readonly Bijection[];
  /** Whether a new model starts some layers from data (ActNorm) before training: see `initFromData`. */
  readonly startsFromData: boolean;
  private readonly body: Chain;
  private chain: Chain;
  private whiteningLayer: Whitening | null = null;
  readonly prior: Prior;
  readonly params: Param[];
  /** Fixed tensors saved with the weights (ActNorm's started flags, 1×1 convolutions' permutations). */
  readonly buffers: LayerBuffer[];
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
    const { dim } = this.config;
    const range = this.config.range ?? UNIT_RANGE;
    this.body = buildPlannedFlow(backend, planFlow(this.config), [range[0], range[1]]);
    this.layers = leafLayers(this.body);
    this.couplings = this.layers.filter((l): l is Coupling => l instanceof Coupling);
    // The scaling is the last layer but for a conditional flat model's context-affine step after it.
    const tail = this.body.layers.filter((l) => !(l instanceof ContextAffine));
    const last = tail[tail.length - 1];
    this.scaling = last instanceof DiagonalScaling && last.dim === dim ? last : null;
    this.startsFromData = this.layers.some((l) => l.initFromData && !(l instanceof DiagonalScaling));
    // With whiten: 'zca' the whitening layer comes later (fitted, or loaded from the file) through setWhitening;
    // until then `flow` refuses to run rather than silently leave it out of log p(x).
    this.chain = this.buildChain();
    this.prior = getPrior(this.config.prior);
    this.params = this.body.params;
    this.buffers = this.body.buffers;
    this.dh = new Workspace(backend, dim);
    this.draws = new Workspace(backend, dim);
  }

  get dim(): number {
    return this.config.dim;
  }

  /**
   * Context values per example (0: an unconditional model). A conditional model's methods that run the flow take
   * a context [n, contextSize] (for a class-conditional model, one-hot labels: see `oneHot`) and refuse to run
   * without one.
   */
  get contextSize(): number {
    return contextSize(this.config);
  }

  /** Checks that a context is given exactly when the model is conditional (one-line NiceFlowErrors). */
  checkContext(context: FloatArray | undefined, n: number): void {
    const C = this.contextSize;
    if (C === 0) {
      if (context !== undefined) throw new NiceFlowError('this model is not conditional: it takes no context (label)');
      return;
    }
    if (context === undefined) {
      throw new NiceFlowError(this.config.classes ? `this model is class-conditional: give a label (0 to ${this.config.classes - 1}) for each example` : `this model is conditional: give a context of ${C} values for each example`);
    }
    if (context.length < n * C) throw new NiceFlowError(`context: expected ${n} × ${C} values, got ${context.length}`);
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
    return this.whiteningLayer ? new Chain(this.backend, [this.whiteningLayer, this.body]) : this.body;
  }

  /** The data range [lo, hi] the model is defined on (config.range, default [0, 1]). */
  get range(): DataRange {
    return this.config.range ?? UNIT_RANGE;
  }

  /**
   * Initialise the coupling networks like PyTorch (torch.nn.Linear / Conv2d defaults; a conv step with `zeroInit`
   * starts its last layer at zero); the scale starts at 0 (the identity), ActNorm unstarted, 1×1 convolutions at a
   * random rotation. The multiplicative and affine laws keep the default init, with no special zeroing of the last
   * layer unless asked: their log-scale ℓ(a) = 2·tanh(a/2) is bounded in (−2, 2) per layer, so a random start cannot
   * blow up the forward or the inverse, and it is near the identity map where the net outputs are small (NICE §3.2).
   */
  init(rng: Rng): void {
    this.body.init(rng);
  }

  private logProbBuffer(n: number): Float64Array {
    if (this.lp.buf.length < n) this.lp.buf = new Float64Array(n);
    return this.lp.buf.subarray(0, n);
  }

  /** log p_X(x_i) in nats for each row of x [n, dim] (log p(x_i | c_i) for a conditional model, context c [n, C]). */
  logProb(x: FloatArray, n: number, context?: FloatArray): Float64Array {
    this.checkContext(context, n);
    const { y, logDet } = this.flow.forward(x, n, context);
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
  gradLogProb(x: FloatArray, n: number, weight: number, paramGrads: boolean, context?: FloatArray): { dx: FloatArray; logProb: Float64Array } {
    const { dx, logProb } = this.backprop(x, n, weight, paramGrads, true, context);
    return { dx: dx!, logProb };
  }

  /**
   * Parameter gradients of `weight · Σ_i log p(x_i)` into each param's `grad`, without the input gradient (the
   * training step: it saves the first layer's input-gradient product). Returns the log-likelihoods (a view).
   */
  paramGradLogProb(x: FloatArray, n: number, weight: number, context?: FloatArray): Float64Array {
    return this.backprop(x, n, weight, true, false, context).logProb;
  }

  private backprop(x: FloatArray, n: number, weight: number, paramGrads: boolean, inputGrad: boolean, context?: FloatArray): { dx: FloatArray | null; logProb: Float64Array } {
    this.checkContext(context, n);
    const { y: h, logDet } = this.flow.forward(x, n, context);
    const logProb = this.logProbBuffer(n);
    const dh = this.priorTerms(h, n, weight, logProb);
    for (let i = 0; i < n; i++) logProb[i] += logDet[i];
    const dx = this.flow.backward(dh, weight, paramGrads, inputGrad);
    return { dx, logProb };
  }

  /** Encode: h = f(x) (f(x; c) for a conditional model) and log|det ∂f/∂x| per example. */
  encode(x: FloatArray, n: number, context?: FloatArray): { h: Float32Array; logDet: Float64Array } {
    this.checkContext(context, n);
    const { y, logDet } = this.flow.forward(x, n, context);
    return { h: Float32Array.from(y.subarray(0, n * this.dim)), logDet: Float64Array.from(logDet.subarray(0, n)) };
  }

  /** Decode: x = f⁻¹(h) (f⁻¹(h; c) for a conditional model). */
  decode(h: FloatArray, n: number, context?: FloatArray): Float32Array {
    this.checkContext(context, n);
    return Float32Array.from(this.flow.inverse(h, n, context).subarray(0, n * this.dim));
  }

  /**
   * n samples x = f⁻¹(T·h), h ~ p_H (§3.4). Temperature T scales the prior draw; T = 0 decodes the prior's mode (h = 0).
   */
  sample(n: number, rng: Rng, temperature = 1, context?: FloatArray): Float32Array {
    this.checkContext(context, n);
    const h = this.draws.get(n);
    for (let i = 0; i < h.length; i++) h[i] = temperature === 0 ? 0 : temperature * this.prior.sample(rng);
    return this.decode(h, n, context);
  }

  /**
   * Data-dependent start on a batch x [n, dim] of (dequantized) data, for a new model before training: each layer
   * that starts from data does so on what the layers before it make of x, in order. ActNorm layers set their outputs'
   * mean to 0 and spread to the prior's (once: a started layer, saved as started, never starts again); with
   * `scaling` the diagonal scaling sets s_d = log(σ_prior / σ_d), σ_d the spread of its input d, so each latent
   * starts with the prior's spread (see docs/conventions.md, "Reference learning curve (MNIST)"); without it s must
   * travel to about ln 256 at Adam's pace.
   */
  initFromData(x: FloatArray, n: number, options: { scaling: boolean; context?: FloatArray }): void {
    this.checkContext(options.context, n);
    this.flow.initFromData(x, n, { priorStd: this.prior.std, scaling: options.scaling, context: options.context });
  }

  /** `initFromData` with the scaling started too (`--scale-init data`). */
  initScaleFromData(x: FloatArray, n: number, context?: FloatArray): void {
    this.initFromData(x, n, { scaling: true, context });
  }

  /** Parameters by weight-file name. */
  paramMap(): Map<string, Param> {
    return new Map(this.params.map((p) => [p.name, p]));
  }

  /** Fixed tensors (`buffers`) by weight-file name. */
  bufferMap(): Map<string, LayerBuffer> {
    return new Map(this.buffers.map((b) => [b.name, b]));
  }
}
