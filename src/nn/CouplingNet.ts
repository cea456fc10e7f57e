import type { FloatArray } from '../core/FloatArray.js';
import type { Rng } from '../core/Rng.js';
import type { Param } from './Param.js';

/**
 * The function `m` of a coupling layer (NICE §3.2): maps the kept coordinates x_I1 [n, inDim] (gathered, in
 * partition order) to [n, outDim] values for the updated coordinates (outDim = |I2| for the additive and
 * multiplicative laws, 2·|I2| for the affine law). Implemented by the dense `Mlp` and the convolutional `ConvNet`.
 */
export interface CouplingNet {
  readonly inDim: number;
  readonly outDim: number;
  /** Trainable parameters with their weight-file names. */
  readonly params: Param[];
  /** Default initialisation (PyTorch's for the layer types used). */
  init(rng: Rng): void;
  /** x [n, inDim] → out [n, outDim] (a view). `x` must stay untouched until `backward`. */
  forward(x: FloatArray, n: number): FloatArray;
  /**
   * Backward through the last forward: dOut [n, outDim] (left unchanged). Writes (overwrites) parameter gradients
   * when `paramGrads`; returns dL/dx [n, inDim] (a view) when `inputGrad`, else null.
   */
  backward(dOut: FloatArray, paramGrads: boolean, inputGrad: boolean): FloatArray | null;
}
