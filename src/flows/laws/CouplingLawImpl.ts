import type { Backend } from '../../core/Backend.js';
import type { FloatArray } from '../../core/FloatArray.js';

/**
 * Where a coupling applies its law: the backend (for its gather/scatter kernels), the row length D and the updated
 * coordinates I2 (flat indices into a row, in partition order; du = |I2|). Fixed for the coupling's life.
 */
export interface LawSite {
  readonly backend: Backend;
  readonly dim: number;
  readonly updated: Int32Array;
}

/**
 * A coupling law g of NICE §3.2, `y_I2 = g(x_I2; m(x_I1))`, `y_I1 = x_I1`, as an object a `Coupling` plugs in
 * (zuko/nflows style): the coupling gathers x_I1, runs its net m and copies the rows; the law does everything that
 * depends on g. Shapes, with G = `groups`, S = `saved`, du = |I2|:
 *
 *   net output  h     [n, G·du]   (group g of updated coordinate j at r·G·du + g·du + j)
 *   rows        x, y  [n, D]
 *   log-det     logDet [n]        log|det ∂y/∂x| per example (the Jacobian is triangular: only g's diagonal counts)
 *   saved             [n, S·du]   what forward keeps for backward, in the coupling's own buffer
 *
 * Laws live in one registry (lawRegistry.ts); a new law is one file implementing this interface plus one entry
 * there. Every registered law goes through the bijection property suite (test/bijections.test.ts) and the law
 * checks of test/registries.test.ts.
 */
export interface CouplingLawImpl<N extends string = string> {
  /** The name in configs, weight files and the CLI's `--coupling`. */
  readonly name: N;
  /** G: net outputs per updated coordinate (the coupling's net maps |I1| → G·|I2|). */
  readonly groups: number;
  /** S: values per updated coordinate that forward saves for backward (0 when backward needs none). */
  readonly saved: number;
  /**
   * Forward: h [n, G·du] (from x_I1), x [n, D] the layer's input, y [n, D] holding a copy of x on entry. Writes
   * y_I2 = g(x_I2; h) (reading x_I2 from `x`), logDet [n], and saved [n, S·du]. Leaves y_I1 as it is.
   */
  forward(site: LawSite, h: FloatArray, x: FloatArray, y: FloatArray, logDet: FloatArray, saved: FloatArray, n: number): void;
  /** Inverse: h [n, G·du] (from y_I1 = x_I1), x [n, D] holding a copy of y on entry: writes x_I2 = g⁻¹(y_I2; h) in place. */
  inverse(site: LawSite, h: FloatArray, x: FloatArray, n: number): void;
  /**
   * Backward through the forward that wrote `saved`, for L = … + logDetWeight · Σ_i logDet_i: dy [n, D] = dL/dy.
   * Writes dh [n, G·du] = dL/dh and replaces dy_I2 by dL/dx_I2 through g (dy_I1 is left for the coupling, which adds
   * the net's input gradient to it).
   */
  backward(site: LawSite, dy: FloatArray, saved: FloatArray, logDetWeight: number, dh: FloatArray, n: number): void;
}
