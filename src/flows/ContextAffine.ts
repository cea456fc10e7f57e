import type { Backend } from '../core/Backend.js';
import type { FloatArray } from '../core/FloatArray.js';
import { NiceFlowError } from '../core/NiceFlowError.js';
import { createParam, type Param } from '../nn/Param.js';
import { Workspace } from '../nn/Workspace.js';
import type { Bijection } from './Bijection.js';
import { LOG_SCALE_BOUND } from './laws/boundedLogScale.js';

/**
 * A conditional element-wise affine map whose scale and shift are linear in the context c [n, C]:
 *
 *   [a | t] = W c + b          (W [2D, C], b [2D]: rows 0…D−1 give a, rows D…2D−1 give t)
 *   y = x ⊙ exp(ℓ(a)) + t,     ℓ(a) = 2·tanh(a/2),     log|det| = Σ_d ℓ(a_d),     inverse x = (y − t) ⊙ exp(−ℓ(a)).
 *
 * As a flow's last step it is a conditional prior: with a one-hot class label c = e_k, p(h | k) is the prior moved
 * and scaled by class k's own location and scale (column k of W plus b), as normflows' ClassCondDiagGaussian and
 * Glow's class-conditional prior; with a continuous context the location and scale move linearly with it. W and b
 * start at 0: the identity for every context. The log-scale is bounded as in the coupling laws (a factor e^±2).
 *
 * Parameters `{prefix}weight` [2D, C] and `{prefix}bias` [2D]. Saved by forward: ℓ [n, D], e = exp(ℓ) [n, D], the
 * input x [n, D] and the context [n, C]. Backward (g = dL/dy, w = logDetWeight):
 *   dL/dx = g ⊙ e,   dL/dt = g,   dL/da = (g ⊙ x ⊙ e + w) ⊙ (1 − (ℓ/2)²),   dL/dW = [dL/da | dL/dt]ᵀ c,   dL/db = Σ_rows.
 * No gradient goes to the context.
 */
export class ContextAffine implements Bijection {
  readonly params: Param[];
  readonly weight: Param;
  readonly bias: Param;
  private readonly out: Workspace;
  private readonly logDet: Workspace;
  private readonly outInv: Workspace;
  private readonly ell: Workspace;
  private readonly scale: Workspace;
  private readonly xIn: Workspace;
  private readonly ctx: Workspace;
  private readonly rowA: Float64Array;
  private readonly gradW: Float64Array;
  private readonly gradB: Float64Array;
  private n = 0;

  constructor(
    backend: Backend,
    readonly dim: number,
    /** C: values of context per example. */
    readonly contextSize: number,
    prefix = 'conditional.',
  ) {
    if (!(Number.isInteger(contextSize) && contextSize >= 1)) throw new Error(`context-affine: context size ${contextSize} must be an integer ≥ 1`);
    this.weight = createParam(backend, `${prefix}weight`, [2 * dim, contextSize]);
    this.bias = createParam(backend, `${prefix}bias`, [2 * dim]);
    this.params = [this.weight, this.bias];
    this.out = new Workspace(backend, dim);
    this.logDet = new Workspace(backend, 1);
    this.outInv = new Workspace(backend, dim);
    this.ell = new Workspace(backend, dim);
    this.scale = new Workspace(backend, dim);
    this.xIn = new Workspace(backend, dim);
    this.ctx = new Workspace(backend, contextSize);
    this.rowA = new Float64Array(2 * dim);
    this.gradW = new Float64Array(2 * dim * contextSize);
    this.gradB = new Float64Array(2 * dim);
  }

  /** The identity for every context: W = 0, b = 0. */
  init(): void {
    this.weight.data.fill(0);
    this.bias.data.fill(0);
  }

  private need(context: FloatArray | undefined, n: number): FloatArray {
    if (!context) throw new NiceFlowError('this flow is conditional: give a context (a class label or a context vector) for each example');
    if (context.length < n * this.contextSize) {
      throw new NiceFlowError(`context: expected ${n} × ${this.contextSize} values, got ${context.length}`);
    }
    return context;
  }

  /** rowA [2D] = W c_r + b for row r of the context (float64). */
  private affine(c: FloatArray, r: number): Float64Array {
    const D2 = 2 * this.dim;
    const C = this.contextSize;
    const W = this.weight.data;
    const b = this.bias.data;
    const a = this.rowA;
    const o = r * C;
    for (let j = 0; j < D2; j++) {
      let s = b[j];
      const w = j * C;
      for (let k = 0; k < C; k++) {
        const v = c[o + k];
        if (v !== 0) s += W[w + k] * v;
      }
      a[j] = s;
    }
    return a;
  }

  forward(x: FloatArray, n: number, context?: FloatArray): { y: FloatArray; logDet: FloatArray } {
    const c = this.need(context, n);
    this.n = n;
    const D = this.dim;
    const S = LOG_SCALE_BOUND;
    const y = this.out.get(n);
    const ell = this.ell.get(n);
    const e = this.scale.get(n);
    const logDet = this.logDet.get(n);
    this.xIn.get(n).set(x.subarray(0, n * D));
    this.ctx.get(n).set(c.subarray(0, n * this.contextSize));
    for (let r = 0; r < n; r++) {
      const a = this.affine(c, r);
      let sum = 0;
      const o = r * D;
      for (let d = 0; d < D; d++) {
        const l = S * Math.tanh(a[d] / S);
        const m = Math.exp(l);
        ell[o + d] = l;
        e[o + d] = m;
        y[o + d] = x[o + d] * m + a[D + d];
        sum += l;
      }
      logDet[r] = sum;
    }
    return { y, logDet };
  }

  inverse(y: FloatArray, n: number, context?: FloatArray): FloatArray {
    const c = this.need(context, n);
    const D = this.dim;
    const S = LOG_SCALE_BOUND;
    const x = this.outInv.get(n);
    for (let r = 0; r < n; r++) {
      const a = this.affine(c, r);
      const o = r * D;
      for (let d = 0; d < D; d++) x[o + d] = (y[o + d] - a[D + d]) * Math.exp(-S * Math.tanh(a[d] / S));
    }
    return x;
  }

  backward(dy: FloatArray, logDetWeight: number, paramGrads: boolean, inputGrad = true): FloatArray | null {
    const n = this.n;
    const D = this.dim;
    const C = this.contextSize;
    const S = LOG_SCALE_BOUND;
    const ell = this.ell.get(n);
    const e = this.scale.get(n);
    const x = this.xIn.get(n);
    const c = this.ctx.get(n);
    if (paramGrads) {
      const gW = this.gradW;
      const gB = this.gradB;
      gW.fill(0);
      gB.fill(0);
      const da = this.rowA;
      for (let r = 0; r < n; r++) {
        const o = r * D;
        for (let d = 0; d < D; d++) {
          const g = dy[o + d];
          const th = ell[o + d] / S;
          da[d] = (g * x[o + d] * e[o + d] + logDetWeight) * (1 - th * th);
          da[D + d] = g;
        }
        for (let j = 0; j < 2 * D; j++) gB[j] += da[j];
        for (let k = 0; k < C; k++) {
          const v = c[r * C + k];
          if (v === 0) continue;
          for (let j = 0; j < 2 * D; j++) gW[j * C + k] += da[j] * v;
        }
      }
      this.weight.grad.set(gW);
      this.bias.grad.set(gB);
    }
    if (!inputGrad) return null;
    for (let i = 0; i < n * D; i++) dy[i] *= e[i];
    return dy;
  }
}
