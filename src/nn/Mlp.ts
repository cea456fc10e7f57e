import type { Backend } from '../core/Backend.js';
import type { FloatArray } from '../core/FloatArray.js';
import type { Rng } from '../core/Rng.js';
import type { CouplingNet } from './CouplingNet.js';
import { denseBackward, denseForward } from './dense.js';
import { createParam, type Param } from './Param.js';
import { Workspace } from './Workspace.js';

/**
 * A ReLU multilayer perceptron: `depth` hidden layers of `hidden` units, then a linear output layer
 * (the coupling function m of NICE §3, §5.1). Parameters are named `{prefix}layers.{j}.weight|bias`.
 */
export class Mlp implements CouplingNet {
  readonly params: Param[] = [];
  /** Layer widths, input first: [inDim, hidden × depth, outDim]. */
  readonly widths: number[];
  private readonly acts: Workspace[];
  private readonly gradA: Workspace;
  private readonly gradB: Workspace;
  private input: FloatArray | null = null;
  private n = 0;

  constructor(
    private readonly backend: Backend,
    readonly inDim: number,
    readonly outDim: number,
    readonly hidden: number,
    readonly depth: number,
    prefix = '',
  ) {
    this.widths = [inDim, ...Array<number>(depth).fill(hidden), outDim];
    for (let j = 0; j + 1 < this.widths.length; j++) {
      this.params.push(createParam(backend, `${prefix}layers.${j}.weight`, [this.widths[j + 1], this.widths[j]]));
      this.params.push(createParam(backend, `${prefix}layers.${j}.bias`, [this.widths[j + 1]]));
    }
    this.acts = this.widths.slice(1).map((w) => new Workspace(backend, w));
    const widest = Math.max(...this.widths);
    this.gradA = new Workspace(backend, widest);
    this.gradB = new Workspace(backend, widest);
  }

  /** Number of dense layers (depth + 1). */
  get layerCount(): number {
    return this.widths.length - 1;
  }

  /** torch.nn.Linear's default initialisation: W and b uniform on ±1/sqrt(fan_in). */
  init(rng: Rng): void {
    for (let j = 0; j < this.layerCount; j++) {
      const bound = 1 / Math.sqrt(this.widths[j]);
      for (const p of [this.params[2 * j].data, this.params[2 * j + 1].data]) {
        for (let i = 0; i < p.length; i++) p[i] = (2 * rng.uniform() - 1) * bound;
      }
    }
  }

  /**
   * x [n, inDim] → out [n, outDim] (see CouplingNet.forward). With `save` (the default) every layer's output goes to
   * its own buffer in `acts`, kept for `backward`, and the returned view and `x` must stay untouched until
   * `backward` (x is not copied). Without `save` the layers ping-pong between `gradA` and `gradB` (backward's
   * scratch, whose contents never outlive a call), so the saved activations and input are left as they were.
   */
  forward(x: FloatArray, n: number, save = true): FloatArray {
    if (save) {
      this.input = x;
      this.n = n;
    }
    let cur = x;
    for (let j = 0; j < this.layerCount; j++) {
      const out = save ? this.acts[j].get(n) : (j % 2 === 0 ? this.gradA : this.gradB).get(n).subarray(0, n * this.widths[j + 1]);
      const hiddenLayer = j + 1 < this.layerCount;
      denseForward(this.backend, cur, this.params[2 * j].data, this.params[2 * j + 1].data, out, n, this.widths[j], this.widths[j + 1], hiddenLayer);
      cur = out;
    }
    return cur;
  }

  /**
   * Backward through the last forward with `save`: dOut [n, outDim] (left unchanged). Writes parameter gradients
   * when `paramGrads`, and returns dL/dx [n, inDim] when `inputGrad` (a view valid until the next `backward` or
   * forward without `save`), else null.
   */
  backward(dOut: FloatArray, paramGrads: boolean, inputGrad: boolean): FloatArray | null {
    const n = this.n;
    const x = this.input!;
    let dy = dOut;
    let spare = this.gradA.get(n);
    let other = this.gradB.get(n);
    for (let j = this.layerCount - 1; j >= 0; j--) {
      const inF = this.widths[j];
      const outF = this.widths[j + 1];
      const layerIn = j > 0 ? this.acts[j - 1].get(n) : x;
      const W = this.params[2 * j];
      const b = this.params[2 * j + 1];
      const needDx = j > 0 || inputGrad;
      const dx = needDx ? spare.subarray(0, n * inF) : null;
      // A hidden layer's bias gradient was already summed when its dy was masked (below, one layer up).
      const gb = paramGrads && j === this.layerCount - 1 ? b.grad : null;
      denseBackward(this.backend, layerIn, W.data, dy, n, inF, outF, paramGrads ? W.grad : null, gb, dx);
      if (j > 0) {
        // Mask by the ReLU of layer j−1, whose output is this layer's input; with parameter gradients, the same
        // pass sums layer j−1's bias gradient (dL/db = Σ_rows of the masked dy).
        if (paramGrads) this.backend.reluBackwardColSum(dx!, layerIn, n, inF, this.params[2 * j - 1].grad);
        else this.backend.reluBackward(dx!, layerIn, n * inF);
        dy = dx!;
        [spare, other] = [other, spare];
      } else {
        return dx;
      }
    }
    return null;
  }
}
