import type { Backend } from '../core/Backend.js';
import type { FloatArray } from '../core/FloatArray.js';
import { NiceFlowError } from '../core/NiceFlowError.js';
import type { Param } from '../nn/Param.js';
import { Workspace } from '../nn/Workspace.js';
import type { Bijection } from './Bijection.js';

/**
 * The logit preprocessing of RealNVP (§4.1) and Glow, as a bijection from the data range [lo, hi] to R, per value:
 *
 *   u = (x − lo)/(hi − lo) ∈ [0, 1],   s = α + (1 − 2α)·u ∈ [α, 1 − α],   y = log(s) − log(1 − s).
 *
 * With k = (1 − 2α)/(hi − lo) = ds/dx, computed as s = α + k·(x − lo) and 1 − s = α + k·(hi − x) (symmetric, no
 * cancellation near either end):
 *
 *   log|det ∂y/∂x| = Σ_d [log(1 − 2α) − log(hi − lo) − log(s_d) − log(1 − s_d)]   (per example, summed in float64).
 *
 * Inverse: s = sigmoid(y) (the stable form, exp of a non-positive number only), x = lo + (s − α)/k.
 *
 * Backward, with w = logDetWeight: dy/dx = k/(s(1 − s)) and ∂logdet/∂x = k·(−1/s + 1/(1 − s)) = k·(2s − 1)/(s(1 − s)),
 * so dL/dx = k·(dL/dy + w·(2s − 1))/(s(1 − s)). s(1 − s) and 2s − 1 are recomputed from forward's output y (which
 * only forward writes): with e = exp(−|y|), s(1 − s) = e/(1 + e)² and 2s − 1 = sign(y)·(1 − e)/(1 + e).
 *
 * Data inside [lo, hi] always gives s ∈ [α, 1 − α] (α > 0), so finite values. Inputs outside the range are still
 * mapped as long as s stays in (0, 1), i.e. x ∈ (lo − α/k, hi + α/k); beyond that, s ≤ 0 or s ≥ 1 gives NaN or ±∞
 * (log of a non-positive number), in y, the log-determinant and the gradient.
 *
 * No parameters. Buffers per direction (the Bijection contract): forward writes `out` and `logDet`; inverse only
 * `outInv` (allocated on the first inverse); backward overwrites and returns `dy`.
 */
export class Logit implements Bijection {
  readonly params: Param[] = [];
  readonly lo: number;
  readonly hi: number;
  /** ds/dx = (1 − 2α)/(hi − lo). */
  private readonly k: number;
  /** The per-value constant of the log-determinant, log(1 − 2α) − log(hi − lo). */
  private readonly logK: number;
  private readonly out: Workspace;
  private readonly logDet: Workspace;
  private readonly outInv: Workspace;
  private n = 0;

  /**
   * @param alpha α ∈ (0, 0.5): how far inside (0, 1) the data range lands (a NiceFlowError otherwise)
   * @param range the data range [lo, hi], lo < hi (a NiceFlowError otherwise)
   */
  constructor(
    backend: Backend,
    readonly dim: number,
    readonly alpha = 0.05,
    range: readonly [number, number] = [0, 1],
  ) {
    if (!(alpha > 0 && alpha < 0.5)) throw new NiceFlowError(`logit: alpha must be in (0, 0.5), got ${alpha}`);
    const [lo, hi] = range;
    if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo < hi)) {
      throw new NiceFlowError(`logit: the data range [${lo}, ${hi}] must be finite with lo < hi`);
    }
    this.lo = lo;
    this.hi = hi;
    this.k = (1 - 2 * alpha) / (hi - lo);
    this.logK = Math.log1p(-2 * alpha) - Math.log(hi - lo);
    this.out = new Workspace(backend, dim);
    this.logDet = new Workspace(backend, 1);
    this.outInv = new Workspace(backend, dim);
  }

  forward(x: FloatArray, n: number): { y: FloatArray; logDet: FloatArray } {
    this.n = n;
    const D = this.dim;
    const { alpha, lo, hi, k } = this;
    const y = this.out.get(n);
    const logDet = this.logDet.get(n);
    for (let r = 0; r < n; r++) {
      const o = r * D;
      let sum = 0;
      for (let d = 0; d < D; d++) {
        const v = x[o + d];
        const ls = Math.log(alpha + k * (v - lo)); // log s
        const lt = Math.log(alpha + k * (hi - v)); // log(1 − s)
        y[o + d] = ls - lt;
        sum -= ls + lt;
      }
      logDet[r] = D * this.logK + sum;
    }
    return { y, logDet };
  }

  inverse(y: FloatArray, n: number): FloatArray {
    const D = this.dim;
    const { alpha, lo, k } = this;
    const x = this.outInv.get(n);
    for (let i = 0; i < n * D; i++) {
      const v = y[i];
      let s: number;
      if (v >= 0) s = 1 / (1 + Math.exp(-v));
      else {
        const e = Math.exp(v);
        s = e / (1 + e);
      }
      x[i] = lo + (s - alpha) / k;
    }
    return x;
  }

  backward(dy: FloatArray, logDetWeight: number, _paramGrads: boolean, inputGrad = true): FloatArray | null {
    if (!inputGrad) return null;
    const n = this.n;
    const y = this.out.get(n);
    const { k } = this;
    for (let i = 0; i < n * this.dim; i++) {
      const v = y[i];
      const e = Math.exp(-Math.abs(v));
      const onePlus = 1 + e;
      // 1/(s(1 − s)) = (1 + e)²/e;  2s − 1 = sign(y)(1 − e)/(1 + e).
      const twoSm1 = (v < 0 ? e - 1 : 1 - e) / onePlus;
      dy[i] = (k * (dy[i] + logDetWeight * twoSm1) * onePlus * onePlus) / e;
    }
    return dy;
  }
}
