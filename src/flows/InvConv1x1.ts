import { checkChannelShape, MAX_LAYER_CHANNELS } from './checkChannelShape.js';
import type { Backend } from '../core/Backend.js';
import type { FloatArray } from '../core/FloatArray.js';
import { NiceFlowError } from '../core/NiceFlowError.js';
import type { Rng } from '../core/Rng.js';
import { createParam, type Param } from '../nn/Param.js';
import { Workspace } from '../nn/Workspace.js';
import type { Bijection, LayerBuffer } from './Bijection.js';

/**
 * Glow's invertible 1×1 convolution (Kingma & Dhariwal 2018, §3.2) in its LU form, on images [C, H, W] stored as
 * channel-major rows (value c·H·W + p, p = y·W + x). The same C×C matrix W mixes the channels at every pixel:
 *
 *     y[c, p] = Σ_c' W[c, c'] · x[c', p],   W = P · L · (U + diag(sign ⊙ exp(logScale))),
 *     log|det ∂y/∂x| = H·W · Σ_c logScale_c   (every example).
 *
 * L is unit lower triangular and U strictly upper triangular. The log-determinant is a plain sum of parameters, so
 * it stays exact in float32 however long the layer trains (the point of the LU form).
 *
 * Parameters, in this order: `${prefix}lower` [C, C] (only its strictly lower part is used: the diagonal and upper
 * entries are ignored, kept at 0, and get gradient 0), `${prefix}upper` [C, C] (only its strictly upper part, same
 * rule) and `${prefix}logScale` [C].
 *
 * Buffers (fixed, saved with the weights): `${prefix}perm` [C] and `${prefix}sign` [C] (each ±1). The permutation
 * is stored as row indices: (P·v)[i] = v[perm[i]], i.e. P[i, j] = 1 exactly when j = perm[i], so row i of W is
 * row perm[i] of L·(U + diag(sign ⊙ exp(logScale))).
 *
 * W (and W⁻¹, by triangular inversion) is composed in float64 at each call from the parameters (C is small) and
 * applied with plain loops, accumulating in float64.
 *
 * Backward, with M = L·Ũ (Ũ = U + diag(sign ⊙ exp(logScale))), w = logDetWeight and sums over the examples and
 * pixels of the last forward:
 *     dW[c, c'] = Σ dL/dy[c, p] · x[c', p],   dM = Pᵀ·dW (dM[perm[i], :] = dW[i, :]),
 *     dL/dlower = strictly-lower(dM · Ũᵀ),   dL/dupper = strictly-upper(Lᵀ · dM),
 *     dL/dlogScale_c = (Lᵀ · dM)[c, c] · sign_c · exp(logScale_c) + w · n · H · W,
 *     dL/dx[:, p] = Wᵀ · dL/dy[:, p].
 * Forward saves its input and the composed L, Ũ, W in buffers only forward writes; inverse has its own output
 * buffer and scratch, so an inverse between forward and backward changes nothing backward computes.
 */
export class InvConv1x1 implements Bijection {
  /** The most channels the layer accepts. */
  static readonly MAX_CHANNELS = MAX_LAYER_CHANNELS;

  readonly dim: number;
  readonly params: Param[];
  readonly buffers: LayerBuffer[];
  readonly lower: Param;
  readonly upper: Param;
  readonly logScale: Param;
  /** The permutation as row indices: (P·v)[i] = v[perm[i]]. */
  readonly perm: LayerBuffer;
  /** The signs of the diagonal of U + diag(sign ⊙ exp(logScale)), each ±1. */
  readonly sign: LayerBuffer;
  private readonly channels: number;
  private readonly pixels: number;
  private readonly out: Workspace;
  private readonly logDet: Workspace;
  private readonly outInv: Workspace;
  /** Forward's input, which backward needs for dW (forward's x may change once forward returns). */
  private readonly savedX: Workspace;
  // Forward's composed factors and matrix (only forward writes them), float64, C×C row-major.
  private readonly fwdL: Float64Array;
  private readonly fwdU: Float64Array;
  private readonly fwdW: Float64Array;
  private readonly fwdPerm: Int32Array;
  /** Inverse's scratch (only inverse writes it), allocated on the first inverse. */
  private inv: { L: Float64Array; U: Float64Array; W: Float64Array; Linv: Float64Array; Uinv: Float64Array; perm: Int32Array } | null = null;
  /** Backward's scratch: dM = Pᵀ·dW. */
  private readonly dM: Float64Array;
  /** One example, accumulated in float64 (forward, inverse, and backward's dL/dx in place). */
  private readonly rowAcc: Float64Array;
  /** Scratch for checking the permutation. */
  private readonly seen: Uint8Array;
  private n = 0;

  /**
   * All parameters and buffers start at zero: call {@link InvConv1x1.init} (or load weights) before use.
   * @param shape [C, H, W] of the images the layer sees
   * @param prefix weight-file name prefix, e.g. `flow.3.`
   */
  constructor(
    backend: Backend,
    readonly shape: readonly [number, number, number],
    prefix = '',
  ) {
    InvConv1x1.checkShape(shape);
    const [C, H, W] = shape;
    this.channels = C;
    this.pixels = H * W;
    this.dim = C * H * W;
    this.lower = createParam(backend, `${prefix}lower`, [C, C]);
    this.upper = createParam(backend, `${prefix}upper`, [C, C]);
    this.logScale = createParam(backend, `${prefix}logScale`, [C]);
    this.params = [this.lower, this.upper, this.logScale];
    this.perm = { name: `${prefix}perm`, shape: [C], data: backend.alloc(C) };
    this.sign = { name: `${prefix}sign`, shape: [C], data: backend.alloc(C) };
    this.buffers = [this.perm, this.sign];
    this.out = new Workspace(backend, this.dim);
    this.logDet = new Workspace(backend, 1);
    this.outInv = new Workspace(backend, this.dim);
    this.savedX = new Workspace(backend, this.dim);
    const CC = C * C;
    this.fwdL = new Float64Array(CC);
    this.fwdU = new Float64Array(CC);
    this.fwdW = new Float64Array(CC);
    this.fwdPerm = new Int32Array(C);
    this.dM = new Float64Array(CC);
    this.rowAcc = new Float64Array(this.dim);
    this.seen = new Uint8Array(C);
  }

  /**
   * Checks an untrusted shape [C, H, W]: positive integers, C ≤ {@link InvConv1x1.MAX_CHANNELS}, C·H·W < 2³¹.
   * Throws a one-line NiceFlowError otherwise (the constructor calls it; so does the step kind's validate).
   */
  static checkShape(shape: readonly number[]): void {
    checkChannelShape(shape, 'invconv');
  }

  /**
   * A random rotation (Glow's init): Q from the QR decomposition (modified Gram–Schmidt, float64) of a C×C matrix
   * of standard normals drawn from `rng` row by row, then the LU decomposition with partial pivoting of Q gives
   * perm, lower, upper, sign and logScale = log|diag U| (so log|det W| = 0 up to rounding).
   */
  init(rng: Rng): void {
    const C = this.channels;
    const Q = randomRotation(C, rng);
    // LU with partial pivoting: A = Q, row-swapped in place; rowOf[k] = the row of Q now at position k, so that
    // (LU)[k, :] = Q[rowOf[k], :], i.e. Q[i, :] = (LU)[perm[i], :] with perm[rowOf[k]] = k.
    const A = Q;
    const rowOf = Array.from({ length: C }, (_, i) => i);
    for (let k = 0; k < C; k++) {
      let piv = k;
      for (let r = k + 1; r < C; r++) if (Math.abs(A[r * C + k]) > Math.abs(A[piv * C + k])) piv = r;
      if (piv !== k) {
        for (let j = 0; j < C; j++) [A[k * C + j], A[piv * C + j]] = [A[piv * C + j], A[k * C + j]];
        [rowOf[k], rowOf[piv]] = [rowOf[piv], rowOf[k]];
      }
      const d = A[k * C + k];
      for (let r = k + 1; r < C; r++) {
        const f = A[r * C + k] / d;
        A[r * C + k] = f; // L's entry, stored below the diagonal
        for (let j = k + 1; j < C; j++) A[r * C + j] -= f * A[k * C + j];
      }
    }
    for (let i = 0; i < C; i++) {
      for (let j = 0; j < C; j++) {
        this.lower.data[i * C + j] = i > j ? A[i * C + j] : 0;
        this.upper.data[i * C + j] = i < j ? A[i * C + j] : 0;
      }
      const d = A[i * C + i];
      this.sign.data[i] = d < 0 ? -1 : 1;
      this.logScale.data[i] = Math.log(Math.abs(d));
      this.perm.data[rowOf[i]] = i;
    }
  }

  /**
   * Reads perm and sign into `perm` (checked: a permutation of 0…C−1 and signs ±1, since they come from files),
   * composes L (unit lower) and Ũ = U + diag(sign ⊙ exp(logScale)) into `L`, `U`, and W = P·L·Ũ into `W`.
   * Returns Σ logScale (float64).
   */
  private compose(L: Float64Array, U: Float64Array, W: Float64Array, perm: Int32Array): number {
    const C = this.channels;
    const seen = this.seen;
    seen.fill(0);
    for (let i = 0; i < C; i++) {
      const v = this.perm.data[i];
      if (!(Number.isInteger(v) && v >= 0 && v < C) || seen[v]) {
        throw new NiceFlowError(`invconv: buffer ${this.perm.name} is not a permutation of 0…${C - 1} (entry ${i} is ${v})`);
      }
      seen[v] = 1;
      perm[i] = v;
      const s = this.sign.data[i];
      if (s !== 1 && s !== -1) throw new NiceFlowError(`invconv: buffer ${this.sign.name} must hold ±1, entry ${i} is ${s}`);
    }
    const lo = this.lower.data;
    const up = this.upper.data;
    const ls = this.logScale.data;
    let sum = 0;
    for (let i = 0; i < C; i++) {
      for (let j = 0; j < C; j++) {
        L[i * C + j] = i > j ? lo[i * C + j] : i === j ? 1 : 0;
        U[i * C + j] = i < j ? up[i * C + j] : 0;
      }
      U[i * C + i] = this.sign.data[i] * Math.exp(ls[i]);
      sum += ls[i];
    }
    // W[i, :] = (L·Ũ)[perm[i], :]; L·Ũ[r, j] = Σ_{k ≤ min(r, j)} L[r, k] Ũ[k, j].
    for (let i = 0; i < C; i++) {
      const r = perm[i];
      for (let j = 0; j < C; j++) {
        let acc = 0;
        const kMax = Math.min(r, j);
        for (let k = 0; k <= kMax; k++) acc += L[r * C + k] * U[k * C + j];
        W[i * C + j] = acc;
      }
    }
    return sum;
  }

  /** out[r, :, p] = A · in[r, :, p] for every example r < n and pixel p; A is C×C float64. */
  private apply(A: Float64Array, input: FloatArray, output: FloatArray, n: number): void {
    const C = this.channels;
    const P = this.pixels;
    const D = this.dim;
    const acc = this.rowAcc;
    for (let r = 0; r < n; r++) {
      const o = r * D;
      acc.fill(0);
      for (let c = 0; c < C; c++) {
        const a = c * P;
        for (let c2 = 0; c2 < C; c2++) {
          const w = A[c * C + c2];
          if (w === 0) continue;
          const b = o + c2 * P;
          for (let p = 0; p < P; p++) acc[a + p] += w * input[b + p];
        }
      }
      output.set(acc, o);
    }
  }

  forward(x: FloatArray, n: number): { y: FloatArray; logDet: FloatArray } {
    const sum = this.compose(this.fwdL, this.fwdU, this.fwdW, this.fwdPerm);
    this.n = n;
    const saved = this.savedX.get(n);
    saved.set(x.subarray(0, n * this.dim));
    const y = this.out.get(n);
    this.apply(this.fwdW, saved, y, n);
    const logDet = this.logDet.get(n);
    logDet.fill(this.pixels * sum);
    return { y, logDet };
  }

  inverse(y: FloatArray, n: number): FloatArray {
    const C = this.channels;
    const CC = C * C;
    this.inv ??= { L: new Float64Array(CC), U: new Float64Array(CC), W: new Float64Array(CC), Linv: new Float64Array(CC), Uinv: new Float64Array(CC), perm: new Int32Array(C) };
    const { L, U, Linv: Li, Uinv: Ui, W: Winv, perm } = this.inv;
    this.compose(L, U, Winv, perm);
    // L⁻¹ (unit lower), column by column: Li[i, j] = −Σ_{j ≤ k < i} L[i, k] Li[k, j].
    Li.fill(0);
    for (let j = 0; j < C; j++) {
      Li[j * C + j] = 1;
      for (let i = j + 1; i < C; i++) {
        let acc = 0;
        for (let k = j; k < i; k++) acc += L[i * C + k] * Li[k * C + j];
        Li[i * C + j] = -acc;
      }
    }
    // Ũ⁻¹ (upper), bottom row first: Ui[i, j] = −(Σ_{i < k ≤ j} Ũ[i, k] Ui[k, j]) / Ũ[i, i].
    Ui.fill(0);
    for (let i = C - 1; i >= 0; i--) {
      const d = U[i * C + i];
      Ui[i * C + i] = 1 / d;
      for (let j = i + 1; j < C; j++) {
        let acc = 0;
        for (let k = i + 1; k <= j; k++) acc += U[i * C + k] * Ui[k * C + j];
        Ui[i * C + j] = -acc / d;
      }
    }
    // W⁻¹ = Ũ⁻¹ · L⁻¹ · Pᵀ: W⁻¹[a, b] = (Ũ⁻¹ L⁻¹)[a, perm[b]].
    for (let a = 0; a < C; a++) {
      for (let b = 0; b < C; b++) {
        const col = perm[b];
        let acc = 0;
        for (let k = Math.max(a, col); k < C; k++) acc += Ui[a * C + k] * Li[k * C + col];
        Winv[a * C + b] = acc;
      }
    }
    const x = this.outInv.get(n);
    this.apply(Winv, y, x, n);
    return x;
  }

  backward(dy: FloatArray, logDetWeight: number, paramGrads: boolean, inputGrad = true): FloatArray | null {
    const n = this.n;
    const C = this.channels;
    const P = this.pixels;
    const D = this.dim;
    if (paramGrads) {
      const x = this.savedX.get(n);
      const perm = this.fwdPerm;
      const dM = this.dM;
      // dW[c, c'] = Σ_{r, p} dy[r, c, p] · x[r, c', p] in float64, stored straight into dM = Pᵀ·dW (row i of W is
      // row perm[i] of M, so dM[perm[i], :] = dW[i, :]).
      for (let c = 0; c < C; c++) {
        const row = perm[c] * C;
        for (let c2 = 0; c2 < C; c2++) {
          let acc = 0;
          for (let r = 0; r < n; r++) {
            const a = r * D + c * P;
            const b = r * D + c2 * P;
            for (let p = 0; p < P; p++) acc += dy[a + p] * x[b + p];
          }
          dM[row + c2] = acc;
        }
      }
      const L = this.fwdL;
      const U = this.fwdU;
      const gl = this.lower.grad;
      const gu = this.upper.grad;
      const gs = this.logScale.grad;
      const ldw = logDetWeight * n * P;
      for (let i = 0; i < C; i++) {
        for (let j = 0; j < C; j++) {
          if (i > j) {
            // (dM · Ũᵀ)[i, j] = Σ_k dM[i, k] Ũ[j, k], Ũ[j, k] ≠ 0 only for k ≥ j.
            let acc = 0;
            for (let k = j; k < C; k++) acc += dM[i * C + k] * U[j * C + k];
            gl[i * C + j] = acc;
            gu[i * C + j] = 0;
          } else {
            // (Lᵀ · dM)[i, j] = Σ_k L[k, i] dM[k, j], L[k, i] ≠ 0 only for k ≥ i.
            let acc = 0;
            for (let k = i; k < C; k++) acc += L[k * C + i] * dM[k * C + j];
            gl[i * C + j] = 0;
            if (i < j) gu[i * C + j] = acc;
            else {
              gu[i * C + j] = 0;
              gs[i] = acc * U[i * C + i] + ldw;
            }
          }
        }
      }
    }
    if (!inputGrad) return null;
    // dL/dx[:, p] = Wᵀ dy[:, p], in place row by row through the float64 row buffer.
    const W = this.fwdW;
    const acc = this.rowAcc;
    for (let r = 0; r < n; r++) {
      const o = r * D;
      acc.fill(0);
      for (let c = 0; c < C; c++) {
        const b = o + c * P;
        for (let c2 = 0; c2 < C; c2++) {
          const w = W[c * C + c2];
          if (w === 0) continue;
          const a = c2 * P;
          for (let p = 0; p < P; p++) acc[a + p] += w * dy[b + p];
        }
      }
      dy.set(acc, o);
    }
    return dy;
  }
}

/**
 * A C×C rotation-or-reflection Q (row-major, float64): the Q factor of a matrix of standard normals drawn from `rng`
 * row by row, by modified Gram–Schmidt on its columns (R's diagonal positive, so Q is Haar-distributed). Draws again
 * in the (probability zero) event of a rank-deficient draw.
 */
function randomRotation(C: number, rng: Rng): Float64Array {
  const Q = new Float64Array(C * C);
  for (;;) {
    for (let i = 0; i < C * C; i++) Q[i] = rng.normal();
    let ok = true;
    for (let j = 0; j < C && ok; j++) {
      for (let k = 0; k < j; k++) {
        let dot = 0;
        for (let i = 0; i < C; i++) dot += Q[i * C + k] * Q[i * C + j];
        for (let i = 0; i < C; i++) Q[i * C + j] -= dot * Q[i * C + k];
      }
      let norm = 0;
      for (let i = 0; i < C; i++) norm += Q[i * C + j] * Q[i * C + j];
      norm = Math.sqrt(norm);
      if (!(norm > 1e-12)) ok = false;
      else for (let i = 0; i < C; i++) Q[i * C + j] /= norm;
    }
    if (ok) return Q;
  }
}
