import type { FloatArray } from '../core/FloatArray.js';
import type { Rng } from '../core/Rng.js';
import type { Param } from '../nn/Param.js';

/**
 * A fixed tensor a layer keeps beside its parameters and saves in weight files and checkpoints, but never trains
 * (ActNorm's started flag, an invertible 1×1 convolution's permutation and signs). Loading writes `data` in place.
 */
export interface LayerBuffer {
  /** Weight-file name, e.g. `flow.3.started`. */
  name: string;
  shape: number[];
  data: FloatArray;
}

/** What a data-dependent start needs to know about the model around the layer. */
export interface DataInitOptions {
  /** The prior's standard deviation: a started layer gives its outputs this spread (Prior.std). */
  priorStd: number;
  /** Also start the layers that only start from data when asked (the diagonal scaling: `--scale-init data`). */
  scaling: boolean;
  /** The batch's context [n, C] for a conditional flow (see `Bijection.forward`). */
  context?: FloatArray;
}

/**
 * An invertible layer on batches of flat vectors (rows of length `dim`), in the zuko/nflows convention:
 * `forward` maps data towards the latent and returns the per-example log |det ∂y/∂x| with it; `inverse` maps back.
 *
 * Buffers, per direction: each method writes only buffers of its own (growing with the batch; see Workspace).
 * - `forward`'s `y` and `logDet` are views that only `forward` writes: they stay valid and unchanged until the
 *   layer's next `forward`, whatever `inverse` and `backward` calls come in between. They are read-only for the
 *   caller (`backward` may read `y` again). `forward`'s input `x` may be changed or reused once it returns.
 * - What `backward` needs is saved by `forward` alone, so `backward` differentiates the last `forward`: any number
 *   of `inverse` calls in between (other data, other batch sizes; e.g. sampling during training) change neither the
 *   gradients nor `forward`'s outputs.
 * - `inverse`'s result is a view that only `inverse` writes: valid and unchanged until the layer's next `inverse`,
 *   whatever `forward` and `backward` calls come in between. Its buffers are allocated on the first `inverse`.
 * - `backward`'s result is `dy` itself (overwritten) or a view of the layer's own buffer, valid until the layer's
 *   next `forward` or `backward`.
 *
 * Context (conditional flows, zuko/nflows style): `forward` and `inverse` take an optional per-example context
 * [n, C] (a class label one-hot encoded, or any vector). Composite layers pass it to their parts; a layer that uses
 * it (`ContextAffine`; a coupling with a conditional network) requires it and saves what `backward` needs, the others
 * ignore it. For each fixed context the layer is a bijection of x. No gradient flows into the context.
 */
export interface Bijection {
  readonly dim: number;
  /** Trainable parameters, weight-file names included. */
  readonly params: Param[];
  /** x [n, dim] → y [n, dim] and logDet [n]. Saves what `backward` needs (and only `forward` writes that). */
  forward(x: FloatArray, n: number, context?: FloatArray): { y: FloatArray; logDet: FloatArray };
  /** y [n, dim] → x [n, dim]. Leaves `forward`'s outputs and saved state as they were. */
  inverse(y: FloatArray, n: number, context?: FloatArray): FloatArray;
  /**
   * Backward through the last `forward` (not disturbed by `inverse` calls since), for a loss L that depends on its
   * outputs through dL/dy = `dy` and on its log-determinants as `L = … + logDetWeight · Σ_i logDet_i`. Returns
   * dL/dx [n, dim] (it may reuse and overwrite `dy`), or null when `inputGrad` is false: training needs no gradient
   * for the data, and skipping it saves the first layer's input-gradient product. Parameter gradients are written
   * (overwritten, not accumulated) when `paramGrads` is true.
   */
  backward(dy: FloatArray, logDetWeight: number, paramGrads: boolean, inputGrad?: boolean): FloatArray | null;
  /** Fixed tensors saved with the weights (see LayerBuffer); absent or empty when there are none. */
  readonly buffers?: LayerBuffer[];
  /** The default initialisation of the parameters (PyTorch's for the layer types used), drawing from `rng`. */
  init?(rng: Rng): void;
  /**
   * Data-dependent start from a batch x [n, dim] of what this layer sees (ActNorm; the scaling with
   * `options.scaling`). A layer that has started once (its state saved in its buffers) never starts again, so a
   * reloaded model keeps its trained values. Composite layers start their parts in order, each on its own input.
   */
  initFromData?(x: FloatArray, n: number, options: DataInitOptions): void;
}
