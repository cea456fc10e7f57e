import type { Backend } from '../core/Backend.js';
import type { FloatArray } from '../core/FloatArray.js';
import type { Mlp } from '../nn/Mlp.js';
import { Workspace } from '../nn/Workspace.js';
import type { Bijection } from './Bijection.js';
import type { Partition } from './Partition.js';

/**
 * Additive coupling layer (NICE §3.2, eq. 6): `y_I1 = x_I1`, `y_I2 = x_I2 + m(x_I1)`.
 * The Jacobian is unit triangular, so log|det| = 0; the inverse subtracts: `x_I2 = y_I2 − m(y_I1)`.
 *
 * Backward: dL/dx_I2 = dL/dy_I2;  dL/dx_I1 = dL/dy_I1 + (∂m/∂x_I1)ᵀ dL/dy_I2 (the MLP's input gradient).
 */
export class AdditiveCoupling implements Bijection {
  readonly params;
  private readonly kept: Workspace;
  private readonly out: Workspace;
  private readonly dm: Workspace;
  private readonly zeros: Workspace;
  private n = 0;

  constructor(
    backend: Backend,
    readonly dim: number,
    readonly partition: Partition,
    readonly m: Mlp,
  ) {
    this.params = m.params;
    this.kept = new Workspace(backend, partition.kept.length);
    this.out = new Workspace(backend, dim);
    this.dm = new Workspace(backend, partition.updated.length);
    this.zeros = new Workspace(backend, 1);
  }

  forward(x: FloatArray, n: number): { y: FloatArray; logDet: FloatArray } {
    this.n = n;
    const y = this.couple(x, n, +1);
    const logDet = this.zeros.get(n);
    logDet.fill(0);
    return { y, logDet };
  }

  inverse(y: FloatArray, n: number): FloatArray {
    return this.couple(y, n, -1);
  }

  /** out = input with out_I2 += sign · m(input_I1). */
  private couple(input: FloatArray, n: number, sign: 1 | -1): FloatArray {
    const { kept, updated } = this.partition;
    const D = this.dim;
    const xk = this.kept.get(n);
    gather(input, n, D, kept, xk);
    const mOut = this.m.forward(xk, n);
    const out = this.out.get(n);
    out.set(input.subarray(0, n * D));
    const du = updated.length;
    for (let r = 0; r < n; r++) {
      const o = r * D;
      const mo = r * du;
      for (let j = 0; j < du; j++) out[o + updated[j]] += sign * mOut[mo + j];
    }
    return out;
  }

  backward(dy: FloatArray, _logDetWeight: number, paramGrads: boolean): FloatArray {
    const n = this.n;
    const D = this.dim;
    const { kept, updated } = this.partition;
    const dm = this.dm.get(n);
    gather(dy, n, D, updated, dm);
    const dxk = this.m.backward(dm, paramGrads, true)!;
    const dk = kept.length;
    for (let r = 0; r < n; r++) {
      const o = r * D;
      const ko = r * dk;
      for (let j = 0; j < dk; j++) dy[o + kept[j]] += dxk[ko + j];
    }
    return dy;
  }
}

/** out[r, j] = x[r, idx[j]] for a batch x [n, D]. */
export function gather(x: FloatArray, n: number, D: number, idx: Int32Array, out: FloatArray): void {
  const k = idx.length;
  for (let r = 0; r < n; r++) {
    const o = r * D;
    const q = r * k;
    for (let j = 0; j < k; j++) out[q + j] = x[o + idx[j]];
  }
}
