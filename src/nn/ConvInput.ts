import type { Backend } from '../core/Backend.js';
import type { FloatArray } from '../core/FloatArray.js';
import type { Rng } from '../core/Rng.js';
import { createParam, type Param } from './Param.js';
import { Workspace } from './Workspace.js';

/**
 * How a convolutional coupling network (ConvNet, GatedConvNet) reads its input rows [x_I1 | c] (row length
 * inDim = |I1| + K): the kept values x_I1 go into a zero NHWC image of C×H×W at `keptPos` (so the network cannot see
 * the updated coordinates), and a conditional network's K context values c become a learned vector E·c added to its
 * first layer's output at every pixel, E = `{prefix}context.weight` [F, K] (`embedding`, F the first layer's
 * channels). The context gets no gradient: its columns of dL/dx are 0.
 */
export class ConvInput {
  /** Values per input row: |I1| + K. */
  readonly inDim: number;
  /** E [F, K] (null without context); the network lists it after its convolutions' parameters. */
  readonly embedding: Param | null;
  private readonly e: Workspace;
  private readonly g: Workspace;
  private readonly dx: Workspace;

  constructor(
    private readonly backend: Backend,
    readonly shape: readonly [number, number, number],
    /** For kept coordinate j: its NHWC position in the image (convPositions.ts). */
    readonly keptPos: Int32Array,
    /** K: context values per row (0: unconditional). */
    readonly contextSize: number,
    /** F: channels of the network's first layer. */
    readonly hidden: number,
    prefix: string,
  ) {
    this.inDim = keptPos.length + contextSize;
    this.embedding = contextSize > 0 ? createParam(backend, `${prefix}context.weight`, [hidden, contextSize]) : null;
    this.e = new Workspace(backend, contextSize > 0 ? hidden : 0);
    this.g = new Workspace(backend, contextSize > 0 ? hidden : 0);
    this.dx = new Workspace(backend, this.inDim);
  }

  /** E drawn as torch.nn.Linear(K, F)'s weight (uniform on ±1/sqrt(K)); nothing without context. */
  initEmbedding(rng: Rng): void {
    if (!this.embedding) return;
    const e = this.embedding.data, bound = 1 / Math.sqrt(this.contextSize);
    for (let i = 0; i < e.length; i++) e[i] = (2 * rng.uniform() - 1) * bound;
  }

  /** img [n, C·H·W] (NHWC) = 0, then the kept values of rows x [n, inDim] at their positions. */
  scatter(x: FloatArray, n: number, img: FloatArray): void {
    const pc = this.shape[0] * this.shape[1] * this.shape[2];
    img.fill(0, 0, n * pc);
    if (this.contextSize === 0) {
      this.backend.scatterAdd(x, n, pc, this.keptPos, img);
      return;
    }
    const w = this.inDim, k = this.keptPos.length;
    for (let r = 0; r < n; r++) for (let j = 0; j < k; j++) img[r * pc + this.keptPos[j]] = x[r * w + j];
  }

  /** h [n, P, F] (the first layer's output) += E·c_r at every pixel, c_r the context of row r of x. */
  addEmbedding(x: FloatArray, n: number, h: FloatArray): void {
    const E = this.embedding;
    if (!E) return;
    const K = this.contextSize, F = this.hidden, w = this.inDim, k = this.keptPos.length;
    const P = this.shape[1] * this.shape[2];
    const e = this.e.get(1);
    for (let r = 0; r < n; r++) {
      for (let f = 0; f < F; f++) {
        let s = 0;
        for (let c = 0; c < K; c++) s += E.data[f * K + c] * x[r * w + k + c];
        e[f] = s;
      }
      for (let p = 0, o = r * P * F; p < P; p++, o += F) for (let f = 0; f < F; f++) h[o + f] += e[f];
    }
  }

  /**
   * E's gradient (overwritten): dE = Σ_r (Σ_p dH[r, p, :]) ⊗ c_r, from dH [n, P, F] = dL/d(first layer's output
   * before its activation) and the rows x the saving forward read.
   */
  embeddingGrad(x: FloatArray, dH: FloatArray, n: number): void {
    const E = this.embedding;
    if (!E) return;
    const K = this.contextSize, F = this.hidden, w = this.inDim, k = this.keptPos.length;
    const P = this.shape[1] * this.shape[2];
    const dE = E.grad, s = this.g.get(1);
    dE.fill(0);
    for (let r = 0; r < n; r++) {
      s.fill(0);
      for (let p = 0, o = r * P * F; p < P; p++, o += F) for (let f = 0; f < F; f++) s[f] += dH[o + f];
      for (let c = 0; c < K; c++) {
        const cv = x[r * w + k + c];
        if (cv !== 0) for (let f = 0; f < F; f++) dE[f * K + c] += s[f] * cv;
      }
    }
  }

  /** dL/dx [n, inDim] (a view, valid until the next call) from the image's gradient dImg [n, C·H·W]; context columns 0. */
  gatherGrad(dImg: FloatArray, n: number): FloatArray {
    const out = this.dx.get(n);
    const pc = this.shape[0] * this.shape[1] * this.shape[2];
    if (this.contextSize === 0) {
      this.backend.gather(dImg, n, pc, this.keptPos, out);
      return out;
    }
    const w = this.inDim, k = this.keptPos.length;
    for (let r = 0; r < n; r++) {
      for (let j = 0; j < k; j++) out[r * w + j] = dImg[r * pc + this.keptPos[j]];
      out.fill(0, r * w + k, (r + 1) * w);
    }
    return out;
  }
}
