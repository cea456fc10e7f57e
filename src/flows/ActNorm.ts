import { checkChannelShape, MAX_LAYER_CHANNELS } from './checkChannelShape.js';
import type { Backend } from '../core/Backend.js';
import type { FloatArray } from '../core/FloatArray.js';
import { NiceFlowError } from '../core/NiceFlowError.js';
import type { Rng } from '../core/Rng.js';
import { createParam, type Param } from '../nn/Param.js';
import { Workspace } from '../nn/Workspace.js';
import type { Bijection, DataInitOptions, LayerBuffer } from './Bijection.js';

/**
 * Activation normalisation (Glow, Kingma & Dhariwal 2018, §3.1): a per-channel affine map on images [C, H, W]
 * stored as channel-major rows (value c·H·W + p, p = y·W + x):
 *
 *     y[c, p] = (x[c, p] + bias_c) · exp(logScale_c),   log|det ∂y/∂x| = H·W · Σ_c logScale_c  (every example).
 *
 * Parameters, in this order: `${prefix}bias` [C] and `${prefix}logScale` [C], both 0 at init (the identity).
 * Buffer: `${prefix}started` [1], 0 until the layer has been started from data, then 1 (any non-zero value reads
 * as started). {@link ActNorm.initFromData} sets bias and logScale so that the batch it sees comes out with mean 0
 * and standard deviation `priorStd` per channel, once: a layer whose `started` is set (e.g. loaded from a trained
 * model's weights) is never started again.
 *
 * Backward (w = logDetWeight, sums over the examples and pixels of the last forward):
 *     dL/dx[c, p] = dL/dy[c, p] · exp(logScale_c)
 *     dL/dbias_c = Σ dL/dy[c, p] · exp(logScale_c)
 *     dL/dlogScale_c = Σ dL/dy[c, p] · y[c, p] + w · n · H · W
 * It reads y from forward's output buffer, which only forward writes; inverse has its own.
 */
export class ActNorm implements Bijection {
  readonly dim: number;
  readonly params: Param[];
  readonly buffers: LayerBuffer[];
  readonly bias: Param;
  readonly logScale: Param;
  /** The `started` flag [1]: 0 = not started from data yet, 1 = started. */
  readonly started: LayerBuffer;
  private readonly channels: number;
  private readonly pixels: number;
  private readonly out: Workspace;
  private readonly logDet: Workspace;
  private readonly outInv: Workspace;
  /** exp(±logScale) per channel, scratch: refreshed by each method before use. */
  private readonly expS: Float64Array;
  /** Float64 accumulators for the parameter gradients. */
  private readonly gradBias: Float64Array;
  private readonly gradLogScale: Float64Array;
  /** The exp(logScale) of the last forward, which backward differentiates. */
  private readonly expFwd: Float64Array;
  private n = 0;

  /**
   * @param shape [C, H, W] of the images the layer sees
   * @param prefix weight-file name prefix, e.g. `flow.3.`
   */
  constructor(
    backend: Backend,
    readonly shape: readonly [number, number, number],
    prefix = '',
  ) {
    ActNorm.checkShape(shape);
    const [C, H, W] = shape;
    this.channels = C;
    this.pixels = H * W;
    this.dim = C * H * W;
    this.bias = createParam(backend, `${prefix}bias`, [C]);
    this.logScale = createParam(backend, `${prefix}logScale`, [C]);
    this.params = [this.bias, this.logScale];
    this.started = { name: `${prefix}started`, shape: [1], data: backend.alloc(1) };
    this.buffers = [this.started];
    this.out = new Workspace(backend, this.dim);
    this.logDet = new Workspace(backend, 1);
    this.outInv = new Workspace(backend, this.dim);
    this.expS = new Float64Array(C);
    this.gradBias = new Float64Array(C);
    this.gradLogScale = new Float64Array(C);
    this.expFwd = new Float64Array(C);
  }

  /** The most channels the layer accepts. */
  static readonly MAX_CHANNELS = MAX_LAYER_CHANNELS;

  /**
   * Checks an untrusted shape [C, H, W]: positive integers, C ≤ {@link ActNorm.MAX_CHANNELS}, C·H·W < 2³¹. Throws a
   * one-line NiceFlowError otherwise (the constructor calls it; so does the step kind's validate).
   */
  static checkShape(shape: readonly number[]): void {
    checkChannelShape(shape, 'actnorm');
  }

  /** Whether the layer has been started from data (its `started` buffer is non-zero). */
  get isStarted(): boolean {
    return this.started.data[0] !== 0;
  }

  /** The identity: bias and logScale 0, and not started (so a data-dependent start follows). Draws nothing. */
  init(_rng: Rng): void {
    this.bias.data.fill(0);
    this.logScale.data.fill(0);
    this.started.data[0] = 0;
  }

  /**
   * Data-dependent start on a batch x [n, C·H·W]: bias_c = −mean_c and logScale_c = log(priorStd / max(std_c, 1e-6))
   * over the n·H·W values of channel c (population standard deviation, summed in float64), then `started` = 1.
   * Does nothing when the layer has started already. `options.scaling` is not used (ActNorm always starts).
   */
  initFromData(x: FloatArray, n: number, options: DataInitOptions): void {
    if (this.isStarted) return;
    const { priorStd } = options;
    if (!(Number.isFinite(priorStd) && priorStd > 0)) throw new NiceFlowError(`actnorm: prior standard deviation ${priorStd} is not a positive number`);
    if (!(Number.isInteger(n) && n >= 1)) throw new NiceFlowError(`actnorm: starting from data needs at least one example, got ${n}`);
    if (x.length < n * this.dim) throw new NiceFlowError(`actnorm: ${n} examples need ${n * this.dim} values, got ${x.length}`);
    const C = this.channels;
    const P = this.pixels;
    const D = this.dim;
    const count = n * P;
    for (let c = 0; c < C; c++) {
      // Two passes (mean, then squared deviations), both in float64.
      let sum = 0;
      for (let r = 0; r < n; r++) {
        const o = r * D + c * P;
        for (let p = 0; p < P; p++) sum += x[o + p];
      }
      const mean = sum / count;
      let sq = 0;
      for (let r = 0; r < n; r++) {
        const o = r * D + c * P;
        for (let p = 0; p < P; p++) {
          const d = x[o + p] - mean;
          sq += d * d;
        }
      }
      const std = Math.sqrt(sq / count);
      if (!Number.isFinite(mean) || !Number.isFinite(std)) throw new NiceFlowError(`actnorm: channel ${c} of the batch is not finite; cannot start from it`);
      this.bias.data[c] = -mean;
      this.logScale.data[c] = Math.log(priorStd / Math.max(std, 1e-6));
    }
    this.started.data[0] = 1;
  }

  /** exp(sign · logScale) into `into`; returns Σ logScale (float64). */
  private refreshExp(sign: 1 | -1, into: Float64Array): number {
    const s = this.logScale.data;
    let sum = 0;
    for (let c = 0; c < this.channels; c++) {
      into[c] = Math.exp(sign * s[c]);
      sum += s[c];
    }
    return sum;
  }

  forward(x: FloatArray, n: number): { y: FloatArray; logDet: FloatArray } {
    this.n = n;
    const sum = this.refreshExp(+1, this.expFwd);
    const y = this.out.get(n);
    const C = this.channels;
    const P = this.pixels;
    const D = this.dim;
    const b = this.bias.data;
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < C; c++) {
        const o = r * D + c * P;
        const bc = b[c];
        const ec = this.expFwd[c];
        for (let p = 0; p < P; p++) y[o + p] = (x[o + p] + bc) * ec;
      }
    }
    const logDet = this.logDet.get(n);
    logDet.fill(P * sum);
    return { y, logDet };
  }

  inverse(y: FloatArray, n: number): FloatArray {
    this.refreshExp(-1, this.expS);
    const x = this.outInv.get(n);
    const C = this.channels;
    const P = this.pixels;
    const D = this.dim;
    const b = this.bias.data;
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < C; c++) {
        const o = r * D + c * P;
        const bc = b[c];
        const ec = this.expS[c];
        for (let p = 0; p < P; p++) x[o + p] = y[o + p] * ec - bc;
      }
    }
    return x;
  }

  backward(dy: FloatArray, logDetWeight: number, paramGrads: boolean, inputGrad = true): FloatArray | null {
    const n = this.n;
    const C = this.channels;
    const P = this.pixels;
    const D = this.dim;
    const e = this.expFwd;
    if (paramGrads) {
      const y = this.out.get(n);
      const gb = this.gradBias;
      const gs = this.gradLogScale;
      for (let c = 0; c < C; c++) {
        let sumDy = 0;
        let sumDyY = 0;
        for (let r = 0; r < n; r++) {
          const o = r * D + c * P;
          for (let p = 0; p < P; p++) {
            sumDy += dy[o + p];
            sumDyY += dy[o + p] * y[o + p];
          }
        }
        gb[c] = sumDy * e[c];
        gs[c] = sumDyY + logDetWeight * n * P;
      }
      this.bias.grad.set(gb);
      this.logScale.grad.set(gs);
    }
    if (!inputGrad) return null;
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < C; c++) {
        const o = r * D + c * P;
        const ec = e[c];
        for (let p = 0; p < P; p++) dy[o + p] *= ec;
      }
    }
    return dy;
  }
}
