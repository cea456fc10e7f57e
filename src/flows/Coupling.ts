import type { Backend } from '../core/Backend.js';
import type { FloatArray } from '../core/FloatArray.js';
import type { CouplingNet } from '../nn/CouplingNet.js';
import type { Param } from '../nn/Param.js';
import { Workspace } from '../nn/Workspace.js';
import type { Bijection } from './Bijection.js';
import { boundedLogScale, type CouplingLaw, LOG_SCALE_BOUND, lawOutputGroups } from './couplingLaw.js';
import type { Partition } from './Partition.js';

/**
 * A coupling layer with a general coupling law (NICE §3.2): `y_I1 = x_I1`, `y_I2 = g(x_I2; m(x_I1))`, with `m` the
 * coupling network (`net`, a dense Mlp or a ConvNet) and g one of (see couplingLaw.ts):
 * - additive (eq. 6, the default): y2 = x2 + m, log|det| = 0, inverse x2 = y2 − m(y1);
 * - multiplicative: a = m(x1) [n, |I2|], y2 = x2 ⊙ exp(ℓ(a));
 * - affine: m(x1) = [a, t] per example (first |I2| values a, the log-scale pre-activation; next |I2| values t, the
 *   shift), y2 = x2 ⊙ exp(ℓ(a)) + t.
 * with ℓ(a) = S·tanh(a/S), S = 2 (bounded log-scale, see LOG_SCALE_BOUND). The Jacobian is triangular with diagonal
 * [1 on I1, exp(ℓ(a)) on I2], so log|det| per example = Σ_j ℓ(a_j). Inverse (a, t computed from y1 = x1):
 * x2 = (y2 − t) ⊙ exp(−ℓ(a)).
 *
 * Backward, given dy = dL/dy and w = logDetWeight (L = … + w·Σ_i logDet_i), with e = exp(ℓ(a)):
 *   dL/dx2 = dy2 ⊙ e,   dL/dt = dy2,   dL/dℓ = dy2 ⊙ x2 ⊙ e + w,   dL/da = dL/dℓ ⊙ (1 − tanh²(a/S)),
 *   dL/dx1 = dy1 + netBackward([dL/da, dL/dt])   (additive: dL/dx2 = dy2, netBackward(dy2)).
 */
export class Coupling implements Bijection {
  readonly params: Param[];
  /** Net outputs per updated coordinate: 2 for affine (a and t), else 1. */
  readonly groups: number;
  private readonly keptWs: Workspace;
  private readonly out: Workspace;
  private readonly dNet: Workspace;
  private readonly logDet: Workspace;
  /** Saved by forward for backward (non-additive laws): ℓ(a), e = exp(ℓ), x2 ⊙ e. */
  private readonly ellWs: Workspace;
  private readonly expWs: Workspace;
  private readonly xeWs: Workspace;
  private n = 0;

  constructor(
    private readonly backend: Backend,
    readonly dim: number,
    readonly partition: Partition,
    readonly net: CouplingNet,
    readonly law: CouplingLaw = 'additive',
  ) {
    this.groups = lawOutputGroups(law);
    const dk = partition.kept.length;
    const du = partition.updated.length;
    if (net.inDim !== dk || net.outDim !== this.groups * du) {
      throw new Error(`coupling (${law}): the net maps ${net.inDim} → ${net.outDim}, the partition needs ${dk} → ${this.groups * du}`);
    }
    this.params = net.params;
    this.keptWs = new Workspace(backend, dk);
    this.out = new Workspace(backend, dim);
    this.dNet = new Workspace(backend, this.groups * du);
    this.logDet = new Workspace(backend, 1);
    const saved = law === 'additive' ? 0 : du;
    this.ellWs = new Workspace(backend, saved);
    this.expWs = new Workspace(backend, saved);
    this.xeWs = new Workspace(backend, saved);
  }

  /** The coupling function m (the same object as `net`; the name AdditiveCoupling used). */
  get m(): CouplingNet {
    return this.net;
  }

  /** Gathers x_I1, runs the net on it and copies the input to `out`; returns the net output (a view). */
  private begin(input: FloatArray, n: number, out: FloatArray): FloatArray {
    const xk = this.keptWs.get(n);
    this.backend.gather(input, n, this.dim, this.partition.kept, xk);
    const h = this.net.forward(xk, n);
    out.set(input.subarray(0, n * this.dim));
    return h;
  }

  forward(x: FloatArray, n: number): { y: FloatArray; logDet: FloatArray } {
    this.n = n;
    const D = this.dim;
    const { updated } = this.partition;
    const du = updated.length;
    const y = this.out.get(n);
    const h = this.begin(x, n, y);
    const logDet = this.logDet.get(n);
    if (this.law === 'additive') {
      this.backend.scatterAdd(h, n, D, updated, y);
      logDet.fill(0);
      return { y, logDet };
    }
    const G = this.groups;
    const ell = this.ellWs.get(n);
    const ex = this.expWs.get(n);
    const xe = this.xeWs.get(n);
    for (let r = 0; r < n; r++) {
      const o = r * D;
      const q = r * du;
      const hq = r * G * du;
      let sum = 0;
      for (let j = 0; j < du; j++) {
        const l = boundedLogScale(h[hq + j]);
        const e = Math.exp(l);
        const v = x[o + updated[j]] * e;
        ell[q + j] = l;
        ex[q + j] = e;
        xe[q + j] = v;
        y[o + updated[j]] = G === 2 ? v + h[hq + du + j] : v;
        sum += l;
      }
      logDet[r] = sum;
    }
    return { y, logDet };
  }

  inverse(y: FloatArray, n: number): FloatArray {
    const D = this.dim;
    const { updated } = this.partition;
    const du = updated.length;
    const x = this.out.get(n);
    const h = this.begin(y, n, x);
    if (this.law === 'additive') {
      for (let r = 0; r < n; r++) {
        const o = r * D;
        const q = r * du;
        for (let j = 0; j < du; j++) x[o + updated[j]] -= h[q + j];
      }
      return x;
    }
    const G = this.groups;
    for (let r = 0; r < n; r++) {
      const o = r * D;
      const hq = r * G * du;
      for (let j = 0; j < du; j++) {
        const t = G === 2 ? h[hq + du + j] : 0;
        x[o + updated[j]] = (x[o + updated[j]] - t) * Math.exp(-boundedLogScale(h[hq + j]));
      }
    }
    return x;
  }

  backward(dy: FloatArray, logDetWeight: number, paramGrads: boolean, inputGrad = true): FloatArray | null {
    const n = this.n;
    const D = this.dim;
    const { kept, updated } = this.partition;
    const du = updated.length;
    const dh = this.dNet.get(n);
    if (this.law === 'additive') {
      this.backend.gather(dy, n, D, updated, dh);
    } else {
      const G = this.groups;
      const S = LOG_SCALE_BOUND;
      const ell = this.ellWs.get(n);
      const ex = this.expWs.get(n);
      const xe = this.xeWs.get(n);
      for (let r = 0; r < n; r++) {
        const o = r * D;
        const q = r * du;
        const hq = r * G * du;
        for (let j = 0; j < du; j++) {
          const g = dy[o + updated[j]];
          const th = ell[q + j] / S;
          dh[hq + j] = (g * xe[q + j] + logDetWeight) * (1 - th * th);
          if (G === 2) dh[hq + du + j] = g;
          dy[o + updated[j]] = g * ex[q + j];
        }
      }
    }
    // dL/dx1 needs the net's input gradient; without inputGrad the net skips its first layer's dX product.
    const dxk = this.net.backward(dh, paramGrads, inputGrad);
    if (!dxk) return null;
    this.backend.scatterAdd(dxk, n, D, kept, dy);
    return dy;
  }
}
