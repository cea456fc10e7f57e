import type { FloatArray } from '../core/FloatArray.js';
import type { Param } from '../nn/Param.js';

/**
 * An invertible layer on batches of flat vectors (rows of length `dim`), in the zuko/nflows convention:
 * `forward` maps data towards the latent and returns the per-example log |det ∂y/∂x| with it; `inverse` maps back.
 *
 * Returned arrays are views of the layer's own workspace, valid until the layer's next call of the same method.
 */
export interface Bijection {
  readonly dim: number;
  /** Trainable parameters, weight-file names included. */
  readonly params: Param[];
  /** x [n, dim] → y [n, dim] and logDet [n]. Remembers what `backward` needs. */
  forward(x: FloatArray, n: number): { y: FloatArray; logDet: FloatArray };
  /** y [n, dim] → x [n, dim]. */
  inverse(y: FloatArray, n: number): FloatArray;
  /**
   * Backward through the last `forward`, for a loss L that depends on its outputs through dL/dy = `dy` and on its
   * log-determinants as `L = … + logDetWeight · Σ_i logDet_i`. Returns dL/dx [n, dim] (it may reuse and overwrite
   * `dy`), or null when `inputGrad` is false: training needs no gradient for the data, and skipping it saves the
   * first layer's input-gradient product. Parameter gradients are written (overwritten, not accumulated) when
   * `paramGrads` is true.
   */
  backward(dy: FloatArray, logDetWeight: number, paramGrads: boolean, inputGrad?: boolean): FloatArray | null;
}
