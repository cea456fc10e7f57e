import type { Backend } from '../core/Backend.js';
import type { FloatArray } from '../core/FloatArray.js';
import { NiceFlowError } from '../core/NiceFlowError.js';
import type { Rng } from '../core/Rng.js';
import type { CouplingNet } from './CouplingNet.js';
import { conv2dBackward, conv2dForward, ConvScratch, type ConvShape } from './conv2d.js';
import { ConvInput } from './ConvInput.js';
import { convPositions } from './convPositions.js';
import { createParam, type Param } from './Param.js';
import { Workspace } from './Workspace.js';

/**
 * A convolutional coupling function for images C×H×W: the kept coordinates are placed in a zero image, which goes
 * through `depth` 3×3 convolutions (C → hidden → … → hidden, each followed by ReLU) and a final linear 1×1
 * convolution to `outGroups`·C channels; output group g for updated coordinate j is channel g·C + c (c being that
 * coordinate's channel) at that coordinate's pixel.
 *
 * Because the updated coordinates enter the image as zeros, the output cannot depend on them, whatever the
 * partition (checkerboard, channel split, alternate): the coupling's Jacobian stays triangular.
 *
 * `kept` and `updated` are flat indices into the channel-major image (c·H·W + y·W + x) and must partition 0..C·H·W−1.
 * Parameters are named `{prefix}layers.{j}.weight` ([out, in, k, k]) and `{prefix}layers.{j}.bias` ([out]),
 * j = 0..depth, as torch.nn.Conv2d's. Internally activations are NHWC (see conv2d.ts).
 *
 * Conditional (`contextSize` K > 0): each input row is [x_I1 | c], the example's K context values after its kept
 * values (as a conditional Mlp reads them), and the first layer's pre-activation at every pixel gets E·c added,
 * E = `{prefix}context.weight` [hidden, K] (a learned embedding of the label per hidden channel: Glow's and cINN's
 * conditioning inside the coupling network). The context gets no gradient (its columns of dL/dx are 0).
 */
export class ConvNet implements CouplingNet {
  readonly params: Param[] = [];
  readonly inDim: number;
  readonly outDim: number;
  /** Geometry of each convolution, first layer first. */
  readonly layers: ConvShape[] = [];
  // Reads the input rows: the kept values into the image, a conditional net's context as E·c (ConvInput.ts).
  private readonly input: ConvInput;
  // For output value g·U + j (group g, updated coordinate j at pixel p, channel c): its position p·GC + g·C + c in
  // the last layer's NHWC output of GC = outGroups·C channels.
  private readonly outPos: Int32Array;
  private readonly image: Workspace;
  private readonly acts: Workspace[];
  private readonly gradA: Workspace;
  private readonly gradB: Workspace;
  private readonly outFlat: Workspace;
  /** The output of a forward without `save` (allocated on first use). */
  private readonly inferOut: Workspace;
  private readonly scratch: ConvScratch;
  private n = 0;
  /** The saving forward's input (the CouplingNet contract keeps it untouched until backward): its context columns. */
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
    /** Start the last layer at zero, so the coupling starts as the identity (Glow's zero-initialised last conv). */
    readonly zeroInit = false,
    /** Context values per example read after the kept values (0: unconditional). */
    readonly contextSize = 0,
  ) {
    const [C, H, W] = shape;
    if (!(depth >= 1 && hidden >= 1 && outGroups >= 1)) throw new NiceFlowError(`ConvNet: depth, hidden and outGroups must be ≥ 1 (got ${depth}, ${hidden}, ${outGroups})`);
    if (!(Number.isInteger(contextSize) && contextSize >= 0)) throw new NiceFlowError(`ConvNet: contextSize must be an integer ≥ 0 (got ${contextSize})`);
    const pos = convPositions(shape, kept, updated, outGroups, 'ConvNet');
    this.input = new ConvInput(backend, shape, pos.keptPos, contextSize, hidden, prefix);
    this.outPos = pos.outPos;
    this.inDim = this.input.inDim;
    this.outDim = outGroups * updated.length;
    const P = H * W;

    for (let j = 0; j <= depth; j++) {
      const last = j === depth;
      this.layers.push({ inC: j === 0 ? C : hidden, outC: last ? outGroups * C : hidden, height: H, width: W, kernel: last ? 1 : 3 });
    }
    for (const [j, s] of this.layers.entries()) {
      this.params.push(createParam(backend, `${prefix}layers.${j}.weight`, [s.outC, s.inC, s.kernel, s.kernel]));
      this.params.push(createParam(backend, `${prefix}layers.${j}.bias`, [s.outC]));
    }
    if (this.input.embedding) this.params.push(this.input.embedding);
    this.image = new Workspace(backend, P * C);
    this.acts = this.layers.map((s) => new Workspace(backend, P * s.outC));
    const widest = P * Math.max(C, hidden, outGroups * C);
    this.gradA = new Workspace(backend, widest);
    this.gradB = new Workspace(backend, widest);
    this.outFlat = new Workspace(backend, this.outDim);
    this.inferOut = new Workspace(backend, this.outDim);
    this.scratch = new ConvScratch(backend);
  }

  /**
   * torch.nn.Conv2d's default initialisation: weight and bias uniform on ±1/sqrt(fan_in), fan_in = in·k·k; with
   * `zeroInit` the last layer is then set to zero (the draws are made all the same, so the other layers get the same
   * values either way). A conditional net's embedding E is drawn last, as torch.nn.Linear(K, hidden)'s weight
   * (uniform on ±1/sqrt(K)).
   */
  init(rng: Rng): void {
    for (const [j, s] of this.layers.entries()) {
      const bound = 1 / Math.sqrt(s.inC * s.kernel * s.kernel);
      for (const p of [this.params[2 * j].data, this.params[2 * j + 1].data]) {
        for (let i = 0; i < p.length; i++) p[i] = (2 * rng.uniform() - 1) * bound;
      }
    }
    this.input.initEmbedding(rng);
    if (this.zeroInit) for (const p of this.params.slice(2 * this.depth, 2 * this.depth + 2)) p.data.fill(0);
  }

  /**
   * x [n, inDim] → out [n, outDim] (see CouplingNet.forward). With `save` (the default) the input image and every
   * layer's output go to their own buffers (`image`, `acts`), kept for `backward`, and out to `outFlat`: valid until
   * the next saving forward. Without `save` the image and the layers ping-pong between `gradA` and `gradB`
   * (backward's scratch) and out goes to `inferOut`: the saved activations are left as they were.
   */
  forward(x: FloatArray, n: number, save = true): FloatArray {
    if (save) {
      this.n = n;
      this.savedInput = x;
    }
    const C = this.shape[0], P = this.shape[1] * this.shape[2];
    const buffers = [this.gradA, this.gradB];
    // Scatter into a zero image: the updated positions stay 0 (the triangular-Jacobian guarantee).
    const img = save ? this.image.get(n) : this.gradA.get(n).subarray(0, n * P * C);
    this.input.scatter(x, n, img);
    const K = this.contextSize;
    let cur = img;
    for (const [j, s] of this.layers.entries()) {
      const y = save ? this.acts[j].get(n) : buffers[(j + 1) % 2].get(n).subarray(0, n * P * s.outC);
      // A conditional net's first layer: the convolution without its ReLU, + E·c at every pixel, then the ReLU.
      const addContext = j === 0 && K > 0;
      conv2dForward(this.backend, cur, this.params[2 * j].data, this.params[2 * j + 1].data, y, n, s, j < this.depth && !addContext, this.scratch);
      if (addContext) {
        this.input.addEmbedding(x, n, y);
        this.backend.reluMaskAdd(y, y, y, n * P * s.outC, false);
      }
      cur = y;
    }
    // Gather: group g of updated coordinate j reads output channel g·C + c at its pixel.
    const out = (save ? this.outFlat : this.inferOut).get(n);
    this.backend.gather(cur, n, P * this.outGroups * C, this.outPos, out);
    return out;
  }

  /**
   * Backward through the last forward with `save`: dOut [n, outDim] (left unchanged). Writes (overwrites) parameter
   * gradients when `paramGrads`; returns dL/dx [n, inDim] (a view valid until the next `backward`) when
   * `inputGrad`, else null.
   */
  backward(dOut: FloatArray, paramGrads: boolean, inputGrad: boolean): FloatArray | null {
    if (!paramGrads && !inputGrad) return null;
    const n = this.n, C = this.shape[0], P = this.shape[1] * this.shape[2];
    const GC = this.outGroups * C;
    // dOut scattered back onto the output image (the exact adjoint of the gather; other entries get no gradient).
    // dy and spare are whole buffers (layer widths differ); views of the right length are taken per layer.
    let dy = this.gradA.get(n);
    dy.fill(0, 0, n * P * GC);
    this.backend.scatterAdd(dOut, n, P * GC, this.outPos, dy);
    let spare = this.gradB.get(n);
    let dImg: FloatArray | null = null;
    for (let j = this.depth; j >= 0; j--) {
      const s = this.layers[j];
      const layerIn = j > 0 ? this.acts[j - 1].get(n) : this.image.get(n);
      const W = this.params[2 * j], b = this.params[2 * j + 1];
      const dx = j > 0 || inputGrad ? spare.subarray(0, n * P * s.inC) : null;
      if (j === 0 && paramGrads) this.input.embeddingGrad(this.savedInput!, dy, n);
      // The bias gradient of the last layer here; those of the layers below come with their ReLU mask (next lines).
      conv2dBackward(this.backend, layerIn, W.data, dy, n, s, paramGrads ? W.grad : null, paramGrads && j === this.depth ? b.grad : null, dx, this.scratch);
      if (j === 0) {
        dImg = dx;
        break;
      }
      // Mask by the ReLU of layer j−1, whose output is this layer's input; that mask is layer j−1's dy, whose
      // column sums are its bias gradient (one pass over the activations instead of two).
      if (paramGrads) this.backend.reluBackwardColSum(dx!, layerIn, n * P, s.inC, this.params[2 * j - 1].grad);
      else this.backend.reluBackward(dx!, layerIn, n * P * s.inC);
      [dy, spare] = [spare, dy];
    }
    if (!dImg) return null;
    // The kept positions of the input-image gradient (the adjoint of the forward's scatter).
    return this.input.gatherGrad(dImg, n);
  }
}
