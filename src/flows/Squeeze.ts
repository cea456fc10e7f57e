import type { Backend } from '../core/Backend.js';
import type { FloatArray } from '../core/FloatArray.js';
import { NiceFlowError } from '../core/NiceFlowError.js';
import type { Param } from '../nn/Param.js';
import { Workspace } from '../nn/Workspace.js';
import type { Bijection } from './Bijection.js';

/**
 * The 2×2 squeeze of multi-scale flows (RealNVP §3.6, Glow): space-to-depth on channel-major image rows, trading
 * resolution for channels, [C, H, W] → [4C, H/2, W/2]. Exactly PyTorch/Glow's
 * `x.view(C, H/2, 2, W/2, 2).permute(0, 2, 4, 1, 3).reshape(4C, H/2, W/2)`: output channel `c·4 + dy·2 + dx` at
 * (y, x) holds input (c, 2y + dy, 2x + dx).
 *
 * A permutation of the coordinates, so log|det| = 0 and there are no parameters. The index map is computed once;
 * forward, inverse and backward are one `backend.gather` each (forward with the map, inverse and backward, the
 * adjoint of a permutation being its inverse, with the inverse map).
 *
 * Buffers per direction (the Bijection contract): forward writes `out` and `logDet`; inverse only `outInv`
 * (allocated on the first inverse); backward only `grad`.
 */
export class Squeeze implements Bijection {
  readonly params: Param[] = [];
  readonly dim: number;
  /** The output shape [4C, H/2, W/2]. */
  readonly outShape: readonly [number, number, number];
  /** out[j] = in[fwdIdx[j]] (output value j ← input value fwdIdx[j]). */
  private readonly fwdIdx: Int32Array;
  /** The inverse permutation: in[i] = out[invIdx[i]]. */
  private readonly invIdx: Int32Array;
  private readonly out: Workspace;
  private readonly logDet: Workspace;
  private readonly outInv: Workspace;
  private readonly grad: Workspace;
  private n = 0;

  /** `shape`: the input image shape [C, H, W]; H and W must be even (a NiceFlowError otherwise). */
  constructor(
    private readonly backend: Backend,
    readonly shape: readonly [number, number, number],
  ) {
    const [C, H, W] = shape;
    if (!(C >= 1 && H >= 2 && W >= 2 && H % 2 === 0 && W % 2 === 0 && [C, H, W].every(Number.isInteger))) {
      throw new NiceFlowError(`squeeze needs an even height and width, got shape [${C}, ${H}, ${W}]`);
    }
    const H2 = H / 2;
    const W2 = W / 2;
    this.dim = C * H * W;
    this.outShape = [4 * C, H2, W2];
    this.fwdIdx = new Int32Array(this.dim);
    this.invIdx = new Int32Array(this.dim);
    for (let c = 0; c < C; c++) {
      for (let dy = 0; dy < 2; dy++) {
        for (let dx = 0; dx < 2; dx++) {
          const oc = c * 4 + dy * 2 + dx;
          for (let y = 0; y < H2; y++) {
            for (let x = 0; x < W2; x++) {
              const o = (oc * H2 + y) * W2 + x;
              const i = (c * H + 2 * y + dy) * W + 2 * x + dx;
              this.fwdIdx[o] = i;
              this.invIdx[i] = o;
            }
          }
        }
      }
    }
    this.out = new Workspace(backend, this.dim);
    this.logDet = new Workspace(backend, 1);
    this.outInv = new Workspace(backend, this.dim);
    this.grad = new Workspace(backend, this.dim);
  }

  forward(x: FloatArray, n: number): { y: FloatArray; logDet: FloatArray } {
    this.n = n;
    const y = this.out.get(n);
    this.backend.gather(x, n, this.dim, this.fwdIdx, y);
    const logDet = this.logDet.get(n);
    logDet.fill(0);
    return { y, logDet };
  }

  inverse(y: FloatArray, n: number): FloatArray {
    const x = this.outInv.get(n);
    this.backend.gather(y, n, this.dim, this.invIdx, x);
    return x;
  }

  /** dL/dx = dy permuted back (the log-det is constant, so `logDetWeight` adds nothing). */
  backward(dy: FloatArray, _logDetWeight: number, _paramGrads: boolean, inputGrad = true): FloatArray | null {
    if (!inputGrad) return null;
    const dx = this.grad.get(this.n);
    this.backend.gather(dy, this.n, this.dim, this.invIdx, dx);
    return dx;
  }
}
