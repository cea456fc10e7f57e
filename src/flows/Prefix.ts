import type { Backend } from '../core/Backend.js';
import type { FloatArray } from '../core/FloatArray.js';
import type { Rng } from '../core/Rng.js';
import type { Param } from '../nn/Param.js';
import { Workspace } from '../nn/Workspace.js';
import type { Bijection, DataInitOptions, LayerBuffer } from './Bijection.js';

/**
 * A bijection applied to the first `inner.dim` values of each row, the other values passed through unchanged:
 * y = [inner(x_{<k}) | x_{≥k}] with k = inner.dim < dim. This is the multi-scale split of RealNVP (§3.6) and Glow:
 * in channel-major rows the first k values are the first channels, which go on through the flow, while the other
 * channels have left it and reach the prior as they are. The Jacobian is block diagonal [J_inner, I], so the
 * log-determinant is the inner's; the parameters, buffers, `init` and `initFromData` are the inner's.
 *
 * Backward: the compacted dL/dy prefix goes through `inner.backward`, the tail's gradient passes through unchanged;
 * the result is `dy`, overwritten on the prefix.
 *
 * Buffers per direction (the Bijection contract, which the inner keeps for its own): forward writes `fwdIn` (the
 * compacted prefix) and `out`, and returns the inner's forward log-determinant view; inverse only `invIn` and
 * `outInv` (allocated on the first inverse); backward only `dyIn` (and `dy` itself).
 */
export class Prefix implements Bijection {
  readonly params: Param[];
  private readonly k: number;
  private readonly fwdIn: Workspace;
  private readonly out: Workspace;
  private readonly invIn: Workspace;
  private readonly outInv: Workspace;
  private readonly dyIn: Workspace;
  private n = 0;

  /** `inner`: the bijection on the prefix, with 0 < inner.dim < dim (an Error otherwise: a wiring mistake). */
  constructor(
    private readonly backend: Backend,
    readonly dim: number,
    readonly inner: Bijection,
  ) {
    this.k = inner.dim;
    if (!(Number.isInteger(dim) && this.k > 0 && this.k < dim)) {
      throw new Error(`prefix: the inner bijection's dimension ${this.k} must be in [1, ${dim})`);
    }
    this.params = inner.params;
    this.fwdIn = new Workspace(backend, this.k);
    this.out = new Workspace(backend, dim);
    this.invIn = new Workspace(backend, this.k);
    this.outInv = new Workspace(backend, dim);
    this.dyIn = new Workspace(backend, this.k);
  }

  /** The inner's fixed tensors (LayerBuffer), if any. */
  get buffers(): LayerBuffer[] | undefined {
    return this.inner.buffers;
  }

  /** The inner's default initialisation (nothing when it has none). */
  init(rng: Rng): void {
    this.inner.init?.(rng);
  }

  /**
   * The inner's data-dependent start, on the first inner.dim values of each row of x [n, dim] (compacted into a
   * temporary [n, inner.dim] array, freed afterwards). Nothing when the inner has no data-dependent start.
   */
  initFromData(x: FloatArray, n: number, options: DataInitOptions): void {
    if (!this.inner.initFromData) return;
    const xs = this.backend.alloc(n * this.k);
    try {
      this.compact(x, n, xs);
      this.inner.initFromData(xs, n, options);
    } finally {
      this.backend.free(xs);
    }
  }

  /** dst [n, k] = the first k values of each row of src [n, dim]. */
  private compact(src: FloatArray, n: number, dst: FloatArray): void {
    const { dim: D, k } = this;
    for (let r = 0; r < n; r++) dst.set(src.subarray(r * D, r * D + k), r * k);
  }

  /** dst [n, dim] = [head (n, k) | the last dim − k values of each row of tail (n, dim)]. */
  private join(head: FloatArray, tail: FloatArray, n: number, dst: FloatArray): void {
    const { dim: D, k } = this;
    for (let r = 0; r < n; r++) {
      dst.set(head.subarray(r * k, r * k + k), r * D);
      dst.set(tail.subarray(r * D + k, (r + 1) * D), r * D + k);
    }
  }

  forward(x: FloatArray, n: number, context?: FloatArray): { y: FloatArray; logDet: FloatArray } {
    this.n = n;
    const xs = this.fwdIn.get(n);
    this.compact(x, n, xs);
    const { y: ys, logDet } = this.inner.forward(xs, n, context);
    const y = this.out.get(n);
    this.join(ys, x, n, y);
    return { y, logDet };
  }

  inverse(y: FloatArray, n: number, context?: FloatArray): FloatArray {
    const ys = this.invIn.get(n);
    this.compact(y, n, ys);
    const xs = this.inner.inverse(ys, n, context);
    const x = this.outInv.get(n);
    this.join(xs, y, n, x);
    return x;
  }

  backward(dy: FloatArray, logDetWeight: number, paramGrads: boolean, inputGrad = true): FloatArray | null {
    const n = this.n;
    const { dim: D, k } = this;
    const dys = this.dyIn.get(n);
    this.compact(dy, n, dys);
    const dxs = this.inner.backward(dys, logDetWeight, paramGrads, inputGrad);
    if (!inputGrad || dxs === null) return null;
    for (let r = 0; r < n; r++) dy.set(dxs.subarray(r * k, r * k + k), r * D);
    return dy;
  }
}
