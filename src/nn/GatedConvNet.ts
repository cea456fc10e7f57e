import type { Backend } from '../core/Backend.js';
import type { ConvShape } from '../core/ConvShape.js';
import type { FloatArray } from '../core/FloatArray.js';
import { NiceFlowError } from '../core/NiceFlowError.js';
import type { Rng } from '../core/Rng.js';
import type { CouplingNet } from './CouplingNet.js';
import { conv2dBackward, conv2dForward, ConvScratch } from './conv2d.js';
import { ConvInput } from './ConvInput.js';
import { convPositions } from './convPositions.js';
import { createParam, type Param } from './Param.js';
import { Workspace } from './Workspace.js';

/**
 * A gated residual convolutional coupling function for images C×H×W (the gated blocks of PixelCNN++ and of the UvA
 * flows tutorial, with ReLU): the kept coordinates are placed in a zero image (as in ConvNet, so the output cannot
 * depend on the updated ones), then, NHWC [n·P, channels] throughout (P = H·W, F = `hidden`):
 *
 *   h_0     = conv3×3(image) [+ E·c at every pixel]         C → F        `first`
 *   block b: v = ReLU(conv3×3(ReLU(h_b)))                     F → F        `blocks.{b}.conv`
 *           [a | g] = conv1×1(v)                              F → 2F       `blocks.{b}.gate`
 *           h_{b+1} = h_b + a ⊙ σ(g)
 *   out     = conv1×1(ReLU(h_L))                              F → G·C      `last` (zero-started with `zeroInit`)
 *
 * read at the updated coordinates as ConvNet reads its output (group g of updated coordinate j: channel g·C + c at
 * its pixel). `depth` = L ≥ 1 blocks. The residual path lets gradients reach the first layer through any depth; the
 * gate lets a block start nearly silent. Parameters `{prefix}first.weight|bias`, `{prefix}blocks.{b}.conv.weight|bias`,
 * `{prefix}blocks.{b}.gate.weight|bias`, `{prefix}last.weight|bias` (torch.nn.Conv2d layouts) and, conditional,
 * `{prefix}context.weight` [F, K] (as ConvNet's: each row is [x_I1 | c] and E·c is added to h_0).
 *
 * Backward (dh the gradient reaching h_{b+1}, s = σ(g)):
 *   da = dh ⊙ s,  dg = dh ⊙ a ⊙ s(1 − s),  dv = conv1×1ᵀ([da | dg]) ⊙ [v > 0],
 *   dh_b = dh + conv3×3ᵀ(dv) ⊙ [h_b > 0].
 */
export class GatedConvNet implements CouplingNet {
  readonly params: Param[] = [];
  readonly inDim: number;
  readonly outDim: number;
  // Reads the input rows: the kept values into the image, a conditional net's context as E·c (ConvInput.ts).
  private readonly input: ConvInput;
  private readonly outPos: Int32Array;
  private readonly sFirst: ConvShape;
  private readonly sConv: ConvShape;
  private readonly sGate: ConvShape;
  private readonly sLast: ConvShape;
  // Saved by a forward with `save`: the image, per block ReLU(h_b), v and [a | σ(g)], then ReLU(h_L) and the last
  // output.
  private readonly image: Workspace;
  private readonly u: Workspace[];
  private readonly v: Workspace[];
  private readonly w: Workspace[];
  private readonly r: Workspace;
  private readonly last: Workspace;
  private readonly outFlat: Workspace;
  // The running h (forward), reused by backward as dh.
  private readonly h: Workspace;
  // Forward without `save`: its own buffers (allocated on first use).
  private readonly infImage: Workspace;
  private readonly infH: Workspace;
  private readonly infA: Workspace;
  private readonly infB: Workspace;
  private readonly infW: Workspace;
  private readonly infLast: Workspace;
  private readonly inferOut: Workspace;
  // Backward scratch.
  private readonly dLast: Workspace;
  private readonly dW: Workspace;
  private readonly dV: Workspace;
  private readonly dU: Workspace;
  private readonly dImage: Workspace;
  private readonly scratch: ConvScratch;
  private n = 0;
  private savedInput: FloatArray | null = null;

  constructor(
    private readonly backend: Backend,
    readonly shape: [number, number, number],
    readonly kept: Int32Array,
    readonly updated: Int32Array,
    readonly outGroups: number,
    readonly hidden: number,
    readonly depth: number,
    prefix = '',
    /** Start the last layer at zero, so the coupling starts as the identity. */
    readonly zeroInit = false,
    /** Context values per example read after the kept values (0: unconditional). */
    readonly contextSize = 0,
  ) {
    const [C, H, W] = shape;
    if (!(Number.isInteger(depth) && depth >= 1 && hidden >= 1 && outGroups >= 1)) {
      throw new NiceFlowError(`GatedConvNet: depth, hidden and outGroups must be ≥ 1 (got ${depth}, ${hidden}, ${outGroups})`);
    }
    if (!(Number.isInteger(contextSize) && contextSize >= 0)) throw new NiceFlowError(`GatedConvNet: contextSize must be an integer ≥ 0 (got ${contextSize})`);
    const pos = convPositions(shape, kept, updated, outGroups, 'GatedConvNet');
    this.input = new ConvInput(backend, shape, pos.keptPos, contextSize, hidden, prefix);
    this.outPos = pos.outPos;
    this.inDim = this.input.inDim;
    this.outDim = outGroups * updated.length;
    const F = hidden, GC = outGroups * C, P = H * W;
    this.sFirst = { inC: C, outC: F, height: H, width: W, kernel: 3 };
    this.sConv = { inC: F, outC: F, height: H, width: W, kernel: 3 };
    this.sGate = { inC: F, outC: 2 * F, height: H, width: W, kernel: 1 };
    this.sLast = { inC: F, outC: GC, height: H, width: W, kernel: 1 };
    const add = (name: string, s: ConvShape) => {
      this.params.push(createParam(backend, `${prefix}${name}.weight`, [s.outC, s.inC, s.kernel, s.kernel]));
      this.params.push(createParam(backend, `${prefix}${name}.bias`, [s.outC]));
    };
    add('first', this.sFirst);
    for (let b = 0; b < depth; b++) {
      add(`blocks.${b}.conv`, this.sConv);
      add(`blocks.${b}.gate`, this.sGate);
    }
    add('last', this.sLast);
    if (this.input.embedding) this.params.push(this.input.embedding);

    const ws = (perImage: number) => new Workspace(backend, perImage);
    this.image = ws(P * C);
    this.u = Array.from({ length: depth }, () => ws(P * F));
    this.v = Array.from({ length: depth }, () => ws(P * F));
    this.w = Array.from({ length: depth }, () => ws(P * 2 * F));
    this.r = ws(P * F);
    this.last = ws(P * GC);
    this.outFlat = ws(this.outDim);
    this.h = ws(P * F);
    this.infImage = ws(P * C);
    this.infH = ws(P * F);
    this.infA = ws(P * F);
    this.infB = ws(P * F);
    this.infW = ws(P * 2 * F);
    this.infLast = ws(P * GC);
    this.inferOut = ws(this.outDim);
    this.dLast = ws(P * GC);
    this.dW = ws(P * 2 * F);
    this.dV = ws(P * F);
    this.dU = ws(P * F);
    this.dImage = ws(P * C);
    this.scratch = new ConvScratch(backend);
  }

  /** The weight and bias of a conv: `first` is 0, block b's conv 1 + 2b and gate 2 + 2b, `last` 1 + 2L. */
  private conv(k: number): [Param, Param] {
    return [this.params[2 * k], this.params[2 * k + 1]];
  }

  /**
   * torch.nn.Conv2d's default initialisation for every convolution (uniform on ±1/sqrt(fan_in)), in parameter
   * order; then a conditional net's embedding (torch.nn.Linear(K, F)'s weight: ±1/sqrt(K)); with `zeroInit` the last
   * layer is then set to zero.
   */
  init(rng: Rng): void {
    const convs = 2 + 2 * this.depth;
    for (let k = 0; k < convs; k++) {
      const [W, b] = this.conv(k);
      const bound = 1 / Math.sqrt(W.shape[1] * W.shape[2] * W.shape[3]);
      for (const p of [W.data, b.data]) for (let i = 0; i < p.length; i++) p[i] = (2 * rng.uniform() - 1) * bound;
    }
    this.input.initEmbedding(rng);
    if (this.zeroInit) for (const p of this.conv(convs - 1)) p.data.fill(0);
  }

  /** x [n, inDim] → out [n, outDim] (see CouplingNet.forward). */
  forward(x: FloatArray, n: number, save = true): FloatArray {
    if (save) {
      this.n = n;
      this.savedInput = x;
    }
    const P = this.shape[1] * this.shape[2], F = this.hidden, L = this.depth;
    const rows = n * P;
    const img = (save ? this.image : this.infImage).get(n);
    this.input.scatter(x, n, img);
    const h = (save ? this.h : this.infH).get(n);
    const [W0, b0] = this.conv(0);
    conv2dForward(this.backend, img, W0.data, b0.data, h, n, this.sFirst, false, this.scratch);
    this.input.addEmbedding(x, n, h);
    for (let b = 0; b < L; b++) {
      const u = (save ? this.u[b] : this.infA).get(n);
      this.backend.reluMaskAdd(h, h, u, rows * F, false);
      const v = (save ? this.v[b] : this.infB).get(n);
      const [Wc, bc] = this.conv(1 + 2 * b);
      conv2dForward(this.backend, u, Wc.data, bc.data, v, n, this.sConv, true, this.scratch);
      const wg = (save ? this.w[b] : this.infW).get(n);
      const [Wg, bg] = this.conv(2 + 2 * b);
      conv2dForward(this.backend, v, Wg.data, bg.data, wg, n, this.sGate, false, this.scratch);
      // h += a ⊙ σ(g); a saving forward keeps σ(g) in place of g (backward needs a and σ(g), not g).
      this.backend.gateForward(wg, h, rows, F, save);
    }
    const r = (save ? this.r : this.infA).get(n);
    this.backend.reluMaskAdd(h, h, r, rows * F, false);
    const lastOut = (save ? this.last : this.infLast).get(n);
    const [Wl, bl] = this.conv(1 + 2 * L);
    conv2dForward(this.backend, r, Wl.data, bl.data, lastOut, n, this.sLast, false, this.scratch);
    const out = (save ? this.outFlat : this.inferOut).get(n);
    this.backend.gather(lastOut, n, P * this.sLast.outC, this.outPos, out);
    return out;
  }

  /** Backward through the last forward with `save` (see CouplingNet.backward). */
  backward(dOut: FloatArray, paramGrads: boolean, inputGrad: boolean): FloatArray | null {
    if (!paramGrads && !inputGrad) return null;
    const n = this.n, P = this.shape[1] * this.shape[2], F = this.hidden, L = this.depth;
    const rows = n * P, GC = this.sLast.outC;
    const g = (p: Param) => (paramGrads ? p.grad : null);
    const dLast = this.dLast.get(n);
    dLast.fill(0, 0, rows * GC);
    this.backend.scatterAdd(dOut, n, P * GC, this.outPos, dLast);
    // dh = dL/dh_L: through the last 1×1 conv and the ReLU before it.
    const dh = this.h.get(n);
    const r = this.r.get(n);
    const [Wl, bl] = this.conv(1 + 2 * L);
    conv2dBackward(this.backend, r, Wl.data, dLast, n, this.sLast, g(Wl), g(bl), dh, this.scratch);
    this.backend.reluBackward(dh, r, rows * F);
    const dw = this.dW.get(n), dv = this.dV.get(n), du = this.dU.get(n);
    for (let b = L - 1; b >= 0; b--) {
      const wg = this.w[b].get(n), v = this.v[b].get(n), u = this.u[b].get(n);
      this.backend.gateBackward(wg, dh, dw, rows, F);
      const [Wg, bg] = this.conv(2 + 2 * b);
      conv2dBackward(this.backend, v, Wg.data, dw, n, this.sGate, g(Wg), g(bg), dv, this.scratch);
      this.backend.reluBackward(dv, v, rows * F);
      const [Wc, bc] = this.conv(1 + 2 * b);
      conv2dBackward(this.backend, u, Wc.data, dv, n, this.sConv, g(Wc), g(bc), du, this.scratch);
      this.backend.reluMaskAdd(du, u, dh, rows * F, true);
    }
    if (paramGrads) this.input.embeddingGrad(this.savedInput!, dh, n);
    const [W0, b0] = this.conv(0);
    const dImg = inputGrad ? this.dImage.get(n) : null;
    conv2dBackward(this.backend, this.image.get(n), W0.data, dh, n, this.sFirst, g(W0), g(b0), dImg, this.scratch);
    return dImg ? this.input.gatherGrad(dImg, n) : null;
  }
}
