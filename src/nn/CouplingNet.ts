import type { FloatArray } from '../core/FloatArray.js';
import type { Rng } from '../core/Rng.js';
import type { Param } from './Param.js';

/**
 * The function `m` of a coupling layer (NICE §3.2): maps the kept coordinates x_I1 [n, inDim] (gathered, in
 * partition order) to [n, outDim] values for the updated coordinates (outDim = G·|I2|, G the coupling law's `groups`:
 * 1 for the additive and multiplicative laws, 2 for the affine, bounded-affine and glow-affine laws). Implemented by
 * the dense `Mlp`, the convolutional `ConvNet` and the gated residual `GatedConvNet`; a conditional net's input rows
 * are [x_I1 | c], the example's context after its kept values.
 */
export interface CouplingNet {
  readonly inDim: number;
  readonly outDim: number;
  /** Trainable parameters with their weight-file names. */
  readonly params: Param[];
  /** Default initialisation (PyTorch's for the layer types used). */
  init(rng: Rng): void;
  /**
   * x [n, inDim] → out [n, outDim] (a view).
   *
   * With `save` (the default, training): the activations `backward` needs are kept, and `x` must stay untouched
   * until `backward` (it is not copied); `out` stays valid until the next saving forward.
   *
   * Without `save` (inference, e.g. a coupling's inverse): nothing `backward` needs is written, so a saving forward,
   * any number of inference forwards of any batch size, then `backward` give the gradients of the saving forward.
   * The inference output lives in scratch shared with `backward`: valid until the net's next forward without `save`
   * or its next `backward` (so it cannot be fed back as `x`). Its buffers are allocated on first use only.
   */
  forward(x: FloatArray, n: number, save?: boolean): FloatArray;
  /**
   * Backward through the last forward with `save`: dOut [n, outDim] (left unchanged). Writes (overwrites) parameter
   * gradients when `paramGrads`; returns dL/dx [n, inDim] (a view, valid until the next `backward` or forward
   * without `save`) when `inputGrad`, else null.
   */
  backward(dOut: FloatArray, paramGrads: boolean, inputGrad: boolean): FloatArray | null;
}
