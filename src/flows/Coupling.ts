import type { Backend } from '../core/Backend.js';
import type { FloatArray } from '../core/FloatArray.js';
import type { Rng } from '../core/Rng.js';
import type { CouplingNet } from '../nn/CouplingNet.js';
import type { Param } from '../nn/Param.js';
import { Workspace } from '../nn/Workspace.js';
import { NiceFlowError } from '../core/NiceFlowError.js';
import type { Bijection } from './Bijection.js';
import type { CouplingLaw } from './couplingLaw.js';
import type { CouplingLawImpl, LawSite } from './laws/CouplingLawImpl.js';
import { getLaw } from './laws/lawRegistry.js';
import type { Partition } from './Partition.js';

/**
 * A coupling layer with a pluggable coupling law (NICE §3.2): `y_I1 = x_I1`, `y_I2 = g(x_I2; m(x_I1))`, with `m`
 * the coupling network (`net`, a dense Mlp or a ConvNet) and g the law object (see laws/CouplingLawImpl.ts; the
 * registered ones are additive, multiplicative, affine and bounded-affine, laws/lawRegistry.ts). The Jacobian is triangular with
 * diagonal [1 on I1, ∂g/∂x2 on I2], so log|det| is the law's. Inverse: m is computed from y1 = x1, then
 * x2 = g⁻¹(y2; m(y1)).
 *
 * Backward, given dy = dL/dy and w = logDetWeight (L = … + w·Σ_i logDet_i): the law turns dy2 into dL/dm [n, G·|I2|]
 * and dL/dx2; then dL/dx1 = dy1 + netBackward(dL/dm).
 *
 * Conditional (`contextSize` C > 0, dense networks): the network reads [x_I1 | c], the example's context appended
 * to its kept values (cINN's conditional coupling), so for each context the coupling is a different bijection; the
 * context gets no gradient (the input gradient's last C columns are dropped).
 *
 * Buffers per direction (the Bijection contract): forward writes `out`, `logDet`, the gathered x_I1 the net keeps
 * for its backward, the net's saved activations and the law's saved values; inverse writes only its own `outInv`,
 * `keptInv` and the net's inference scratch (`net.forward(…, false)`), allocated on the first inverse.
 */
export class Coupling implements Bijection {
  readonly params: Param[];
  /** The coupling law's name (`lawImpl.name`: a registered CouplingLaw, unless a custom law object was given). */
  readonly law: string;
  /** The coupling law object. */
  readonly lawImpl: CouplingLawImpl;
  /** Net outputs per updated coordinate (the law's G: 2 for affine, a and t; else 1). */
  readonly groups: number;
  private readonly site: LawSite;
  private readonly keptWs: Workspace;
  private readonly out: Workspace;
  private readonly dNet: Workspace;
  private readonly logDet: Workspace;
  /** The law's saved values [n, lawImpl.saved · |I2|], written by forward for backward. */
  private readonly savedWs: Workspace;
  private readonly keptInv: Workspace;
  private readonly outInv: Workspace;
  private n = 0;

  /**
   * `law`: a law object, or the name of a registered law (default additive). `contextSize`: values of context the
   * network reads besides x_I1 (0: unconditional); the net's input is then |I1| + contextSize wide.
   */
  constructor(
    backend: Backend,
    readonly dim: number,
    readonly partition: Partition,
    readonly net: CouplingNet,
    law: CouplingLaw | CouplingLawImpl = 'additive',
    readonly contextSize = 0,
  ) {
    this.lawImpl = typeof law === 'string' ? getLaw(law) : law;
    this.law = this.lawImpl.name;
    this.groups = this.lawImpl.groups;
    const dk = partition.kept.length;
    const du = partition.updated.length;
    if (net.inDim !== dk + contextSize || net.outDim !== this.groups * du) {
      throw new Error(`coupling (${this.law}): the net maps ${net.inDim} → ${net.outDim}, the partition${contextSize ? ' and context' : ''} need ${dk + contextSize} → ${this.groups * du}`);
    }
    this.params = net.params;
    this.site = { backend, dim, updated: partition.updated };
    this.keptWs = new Workspace(backend, dk + contextSize);
    this.out = new Workspace(backend, dim);
    this.dNet = new Workspace(backend, this.groups * du);
    this.logDet = new Workspace(backend, 1);
    this.savedWs = new Workspace(backend, this.lawImpl.saved * du);
    this.keptInv = new Workspace(backend, dk + contextSize);
    this.outInv = new Workspace(backend, dim);
  }

  /** The network's default initialisation. */
  init(rng: Rng): void {
    this.net.init(rng);
  }

  /** The coupling function m (the same object as `net`; the name AdditiveCoupling used). */
  get m(): CouplingNet {
    return this.net;
  }

  /**
   * Gathers input_I1 into `kept`, runs the net on it (saving for backward when `save`) and copies the input to
   * `out`; returns the net output (a view).
   */
  private begin(input: FloatArray, n: number, kept: FloatArray, out: FloatArray, save: boolean, context: FloatArray | undefined): FloatArray {
    const C = this.contextSize;
    if (C === 0) {
      this.site.backend.gather(input, n, this.dim, this.partition.kept, kept);
    } else {
      if (!context) throw new NiceFlowError('this flow is conditional: give a context (a class label or a context vector) for each example');
      if (context.length < n * C) throw new NiceFlowError(`context: expected ${n} × ${C} values, got ${context.length}`);
      // Rows [x_I1 | c].
      const ids = this.partition.kept;
      const w = ids.length + C;
      for (let r = 0; r < n; r++) {
        const o = r * this.dim;
        for (let j = 0; j < ids.length; j++) kept[r * w + j] = input[o + ids[j]];
        for (let c = 0; c < C; c++) kept[r * w + ids.length + c] = context[r * C + c];
      }
    }
    const h = this.net.forward(kept, n, save);
    out.set(input.subarray(0, n * this.dim));
    return h;
  }

  forward(x: FloatArray, n: number, context?: FloatArray): { y: FloatArray; logDet: FloatArray } {
    this.n = n;
    const y = this.out.get(n);
    const h = this.begin(x, n, this.keptWs.get(n), y, true, context);
    const logDet = this.logDet.get(n);
    this.lawImpl.forward(this.site, h, x, y, logDet, this.savedWs.get(n), n);
    return { y, logDet };
  }

  inverse(y: FloatArray, n: number, context?: FloatArray): FloatArray {
    const x = this.outInv.get(n);
    const h = this.begin(y, n, this.keptInv.get(n), x, false, context);
    this.lawImpl.inverse(this.site, h, x, n);
    return x;
  }

  backward(dy: FloatArray, logDetWeight: number, paramGrads: boolean, inputGrad = true): FloatArray | null {
    const n = this.n;
    const dh = this.dNet.get(n);
    this.lawImpl.backward(this.site, dy, this.savedWs.get(n), logDetWeight, dh, n);
    // dL/dx1 needs the net's input gradient; without inputGrad the net skips its first layer's dX product.
    const dxk = this.net.backward(dh, paramGrads, inputGrad);
    if (!dxk) return null;
    const C = this.contextSize;
    if (C === 0) {
      this.site.backend.scatterAdd(dxk, n, this.dim, this.partition.kept, dy);
    } else {
      // The context's columns of the input gradient are dropped.
      const ids = this.partition.kept;
      const w = ids.length + C;
      for (let r = 0; r < n; r++) for (let j = 0; j < ids.length; j++) dy[r * this.dim + ids[j]] += dxk[r * w + j];
    }
    return dy;
  }
}
