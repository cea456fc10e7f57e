import type { Backend } from '../core/Backend.js';
import type { FloatArray } from '../core/FloatArray.js';
import { createParam, type Param } from '../nn/Param.js';
import { Workspace } from '../nn/Workspace.js';
import type { Bijection, DataInitOptions } from './Bijection.js';

/**
 * Diagonal scaling, NICE's last layer (§3.3): `h = exp(s) ⊙ z`, log|det| = Σ_d s_d for every example.
 * `s` starts at 0 (the identity). Parameter name: `scaling.scale` in the paper's models, `flow.{i}.scale` in described flows.
 *
 * Backward: dL/dz = dL/dh ⊙ exp(s);  dL/ds_d = Σ_i dL/dh_{i,d} h_{i,d} + w · n  (w = logDetWeight).
 * It reads h from forward's output buffer `out`, which only forward writes; inverse has its own `outInv`.
 */
export class DiagonalScaling implements Bijection {
  readonly params: Param[];
  readonly scale: Param;
  private readonly out: Workspace;
  private readonly logDet: Workspace;
  private readonly outInv: Workspace;
  /** exp(±s), scratch: refreshed by each method before use. */
  private readonly expS: Float64Array;
  /** Float64 accumulator for the gradient of s. */
  private readonly gradAcc: Float64Array;
  private n = 0;

  constructor(
    backend: Backend,
    readonly dim: number,
    name = 'scaling.scale',
  ) {
    this.scale = createParam(backend, name, [dim]);
    this.params = [this.scale];
    this.out = new Workspace(backend, dim);
    this.logDet = new Workspace(backend, 1);
    this.outInv = new Workspace(backend, dim);
    this.expS = new Float64Array(dim);
    this.gradAcc = new Float64Array(dim);
  }

  /** The identity: s = 0. */
  init(): void {
    this.scale.data.fill(0);
  }

  /**
   * With `options.scaling` (`--scale-init data`): s_d = log(σ_prior / σ_d), σ_d the spread of input d over the batch,
   * so each latent starts with the prior's spread (see docs/conventions.md). Without it s must travel to about ln 256
   * at Adam's pace.
   */
  initFromData(x: FloatArray, n: number, options: DataInitOptions): void {
    if (!options.scaling) return;
    const D = this.dim;
    const s = this.scale.data;
    for (let d = 0; d < D; d++) {
      let mean = 0;
      for (let i = 0; i < n; i++) mean += x[i * D + d];
      mean /= n;
      let v = 0;
      for (let i = 0; i < n; i++) v += (x[i * D + d] - mean) ** 2;
      const std = Math.sqrt(v / Math.max(1, n - 1));
      s[d] = Math.log(options.priorStd / Math.max(std, 1e-6));
    }
  }

  private refreshExp(sign: 1 | -1): number {
    const s = this.scale.data;
    let sum = 0;
    for (let d = 0; d < this.dim; d++) {
      this.expS[d] = Math.exp(sign * s[d]);
      sum += s[d];
    }
    return sum;
  }

  forward(x: FloatArray, n: number): { y: FloatArray; logDet: FloatArray } {
    this.n = n;
    const sum = this.refreshExp(+1);
    const y = this.out.get(n);
    const D = this.dim;
    for (let r = 0; r < n; r++) for (let d = 0; d < D; d++) y[r * D + d] = x[r * D + d] * this.expS[d];
    const logDet = this.logDet.get(n);
    logDet.fill(sum);
    return { y, logDet };
  }

  inverse(y: FloatArray, n: number): FloatArray {
    this.refreshExp(-1);
    const x = this.outInv.get(n);
    const D = this.dim;
    for (let r = 0; r < n; r++) for (let d = 0; d < D; d++) x[r * D + d] = y[r * D + d] * this.expS[d];
    return x;
  }

  backward(dy: FloatArray, logDetWeight: number, paramGrads: boolean, inputGrad = true): FloatArray | null {
    const n = this.n;
    const D = this.dim;
    const h = this.out.get(n);
    this.refreshExp(+1);
    if (paramGrads) {
      // Row by row (contiguous reads), summed in float64.
      const acc = this.gradAcc;
      acc.fill(logDetWeight * n);
      for (let r = 0; r < n; r++) {
        const o = r * D;
        for (let d = 0; d < D; d++) acc[d] += dy[o + d] * h[o + d];
      }
      this.scale.grad.set(acc);
    }
    if (!inputGrad) return null;
    for (let r = 0; r < n; r++) for (let d = 0; d < D; d++) dy[r * D + d] *= this.expS[d];
    return dy;
  }
}
