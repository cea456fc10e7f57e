import type { FloatArray } from './FloatArray.js';

// Plain TypeScript kernels: the oracle every other backend is tested against (llm.c's "naive reference kernel").
// Loop orders keep the innermost loop over contiguous memory; nothing else is clever here.

/**
 * C[M,N] (+)= op(A)[M,K] · op(B)[K,N]; see Backend.gemm for storage layouts.
 */
export function gemmRef(
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  A: FloatArray,
  B: FloatArray,
  C: FloatArray,
  accumulate: boolean,
): void {
  if (!accumulate) C.fill(0, 0, M * N);
  if (!transB) {
    // C[i,:] += a(i,p) · B[p,:], B row p contiguous.
    for (let i = 0; i < M; i++) {
      const ci = i * N;
      for (let p = 0; p < K; p++) {
        const a = transA ? A[p * M + i] : A[i * K + p];
        if (a === 0) continue;
        const bp = p * N;
        for (let j = 0; j < N; j++) C[ci + j] += a * B[bp + j];
      }
    }
  } else {
    // C[i,j] += Σ_p a(i,p) · B[j,p], B row j contiguous: a dot product per output.
    for (let i = 0; i < M; i++) {
      const ci = i * N;
      for (let j = 0; j < N; j++) {
        const bj = j * K;
        let s = 0;
        if (transA) for (let p = 0; p < K; p++) s += A[p * M + i] * B[bj + p];
        else {
          const ai = i * K;
          for (let p = 0; p < K; p++) s += A[ai + p] * B[bj + p];
        }
        C[ci + j] += s;
      }
    }
  }
}

/** y[r,c] = y[r,c] + b[c], then max(0, ·) when relu. y [rows, cols], b [cols]. */
export function addBiasRef(y: FloatArray, b: FloatArray, rows: number, cols: number, relu: boolean): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    if (relu) {
      for (let c = 0; c < cols; c++) {
        const t = y[o + c] + b[c];
        y[o + c] = t > 0 ? t : 0;
      }
    } else {
      for (let c = 0; c < cols; c++) y[o + c] += b[c];
    }
  }
}

/** dy[i] = y[i] > 0 ? dy[i] : 0, with y the ReLU's output. */
export function reluBackwardRef(dy: FloatArray, y: FloatArray, n: number): void {
  for (let i = 0; i < n; i++) if (!(y[i] > 0)) dy[i] = 0;
}

/** ReLU backward, then the column sums of the masked dy into out (see Backend.reluBackwardColSum). */
export function reluBackwardColSumRef(dy: FloatArray, y: FloatArray, rows: number, cols: number, out: FloatArray): void {
  reluBackwardRef(dy, y, rows * cols);
  colSumRef(dy, rows, cols, out, false);
}

/** out[c] (+)= Σ_r dy[r,c]. dy [rows, cols], out [cols]. */
export function colSumRef(dy: FloatArray, rows: number, cols: number, out: FloatArray, accumulate: boolean): void {
  if (!accumulate) out.fill(0, 0, cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let c = 0; c < cols; c++) out[c] += dy[o + c];
  }
}

/** The smallest normal float32 (2^−126): Adam's moments below it are stored as 0. */
export const ADAM_MIN_MOMENT = 1.1754943508222875e-38;

/**
 * One Adam step (see Backend.adam). Moments below ADAM_MIN_MOMENT in magnitude are flushed to 0. Without this, a
 * weight whose gradient stays 0 (an MNIST border pixel's weights, a dead ReLU's) has a first moment that decays by
 * β1 each step into the denormal floats and sticks there (0.9 × the smallest denormal rounds back to it). Measured
 * on the paper's MNIST model: after 4 epochs half of the 19M first moments were denormal, and a step took 3× as
 * long, since x86 handles denormal arithmetic in microcode and WebAssembly cannot switch it to flush-to-zero.
 * Moments that small move no weight (lr · 1e-38 / ε).
 */
export function adamRef(
  p: FloatArray,
  g: FloatArray,
  m: FloatArray,
  v: FloatArray,
  n: number,
  lr: number,
  beta1: number,
  beta2: number,
  eps: number,
  step: number,
): void {
  const bc1 = 1 - Math.pow(beta1, step);
  const bc2 = 1 - Math.pow(beta2, step);
  const a = lr / bc1;
  const sb2 = 1 / Math.sqrt(bc2);
  for (let i = 0; i < n; i++) {
    const gi = g[i];
    let mi = beta1 * m[i] + (1 - beta1) * gi;
    let vi = beta2 * v[i] + (1 - beta2) * gi * gi;
    if (Math.abs(mi) < ADAM_MIN_MOMENT) mi = 0; // (a NaN stays NaN, for the trainer's checks to see)
    if (vi < ADAM_MIN_MOMENT) vi = 0;
    m[i] = mi;
    v[i] = vi;
    p[i] -= (a * mi) / (Math.sqrt(vi) * sb2 + eps);
  }
}

/** im2col, or with `back` its adjoint col2im (see Backend.im2col). */
export function im2colRef(x: FloatArray, cols: FloatArray, m: number, H: number, Wd: number, C: number, k: number, back: boolean): void {
  const pad = (k - 1) >> 1, rowLen = C * k * k;
  let row = 0;
  for (let img = 0; img < m; img++) {
    const imgBase = img * H * Wd;
    for (let yy = 0; yy < H; yy++) {
      for (let xx = 0; xx < Wd; xx++, row++) {
        let t = row * rowLen;
        for (let ky = 0; ky < k; ky++) {
          const sy = yy + ky - pad;
          for (let kx = 0; kx < k; kx++, t += C) {
            const sx = xx + kx - pad;
            if (sy < 0 || sy >= H || sx < 0 || sx >= Wd) {
              if (!back) cols.fill(0, t, t + C);
              continue;
            }
            const src = (imgBase + sy * Wd + sx) * C;
            if (back) for (let c = 0; c < C; c++) x[src + c] += cols[t + c];
            else for (let c = 0; c < C; c++) cols[t + c] = x[src + c];
          }
        }
      }
    }
  }
}

/** out[r, j] = x[r, idx[j]]. x [n, D], out [n, idx.length]. */
export function gatherRef(x: FloatArray, n: number, D: number, idx: Int32Array, out: FloatArray): void {
  const k = idx.length;
  for (let r = 0; r < n; r++) {
    const o = r * D;
    const q = r * k;
    for (let j = 0; j < k; j++) out[q + j] = x[o + idx[j]];
  }
}

/** x[r, idx[j]] += v[r, j]. v [n, idx.length], x [n, D]. */
export function scatterAddRef(v: FloatArray, n: number, D: number, idx: Int32Array, x: FloatArray): void {
  const k = idx.length;
  for (let r = 0; r < n; r++) {
    const o = r * D;
    const q = r * k;
    for (let j = 0; j < k; j++) x[o + idx[j]] += v[q + j];
  }
}

/**
 * Standard logistic prior (NICE §3.4) with its gradient, per element with e = exp(−|h|) ≤ 1 (never overflows):
 *   log p(h) = −|h| − 2·log1p(e)            (= −softplus(h) − softplus(−h))
 *   d log p/dh = −tanh(h/2) = −sign(h)·(1 − e)/(1 + e)
 * logProb[r] = Σ_d log p(h[r,d]) in float64; dh[r,d] = weight · d log p/dh.
 */
export function logisticPriorRef(h: FloatArray, n: number, D: number, weight: number, logProb: Float64Array, dh: FloatArray): void {
  for (let r = 0; r < n; r++) {
    const o = r * D;
    let s = 0;
    for (let d = 0; d < D; d++) {
      const x = h[o + d];
      const a = Math.abs(x);
      const e = Math.exp(-a);
      s += -a - 2 * Math.log1p(e);
      const t = (1 - e) / (1 + e);
      dh[o + d] = -weight * (x < 0 ? -t : t);
    }
    logProb[r] = s;
  }
}

/**
 * The exponential-scale coupling law's forward on the updated coordinates idx (du = idx.length) of rows [n, D]
 * (formulas: src/flows/laws/scaleShiftLaw.ts): h [n, G·du] with G = 2 when `shift` ([a | t] per row) else 1 ([a]);
 * ℓ = S·tanh(a/S) with S = `bound`, e = exp(ℓ); y[r, idx[j]] = x[r, idx[j]]·e_j (+ t_j); logDet[r] = Σ_j ℓ_j (summed
 * in float64); saved [n, 3·du] = [ℓ | e | x·e] per row. y's other coordinates are left as they are.
 */
export function scaleShiftForwardRef(h: FloatArray, x: FloatArray, y: FloatArray, logDet: FloatArray, saved: FloatArray, n: number, D: number, idx: Int32Array, shift: boolean, bound: number): void {
  const du = idx.length, G = shift ? 2 : 1;
  for (let r = 0; r < n; r++) {
    const o = r * D, s = r * 3 * du, hq = r * G * du;
    let sum = 0;
    for (let j = 0; j < du; j++) {
      const l = bound * Math.tanh(h[hq + j] / bound);
      const e = Math.exp(l);
      const v = x[o + idx[j]] * e;
      saved[s + j] = l;
      saved[s + du + j] = e;
      saved[s + 2 * du + j] = v;
      y[o + idx[j]] = shift ? v + h[hq + du + j] : v;
      sum += l;
    }
    logDet[r] = sum;
  }
}

/** The inverse of {@link scaleShiftForwardRef}, in place: x[r, idx[j]] = (x[r, idx[j]] − t_j)·exp(−ℓ_j). */
export function scaleShiftInverseRef(h: FloatArray, x: FloatArray, n: number, D: number, idx: Int32Array, shift: boolean, bound: number): void {
  const du = idx.length, G = shift ? 2 : 1;
  for (let r = 0; r < n; r++) {
    const o = r * D, hq = r * G * du;
    for (let j = 0; j < du; j++) {
      const t = shift ? h[hq + du + j] : 0;
      x[o + idx[j]] = (x[o + idx[j]] - t) * Math.exp(-bound * Math.tanh(h[hq + j] / bound));
    }
  }
}

/** σ(z) without overflow on either side. */
function sigmoidRef(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/** The gate of a gated residual block (Backend.gateForward): h[r, c] += a·σ(g); with save, σ(g) replaces g in w. */
export function gateForwardRef(w: FloatArray, h: FloatArray, rows: number, F: number, save: boolean): void {
  for (let r = 0; r < rows; r++) {
    const q = 2 * r * F, o = r * F;
    for (let c = 0; c < F; c++) {
      const s = sigmoidRef(w[q + F + c]);
      if (save) w[q + F + c] = s;
      h[o + c] += w[q + c] * s;
    }
  }
}

/** Its backward (Backend.gateBackward): w = [a | s], dw = [dh·s | dh·a·s(1 − s)]. */
export function gateBackwardRef(w: FloatArray, dh: FloatArray, dw: FloatArray, rows: number, F: number): void {
  for (let r = 0; r < rows; r++) {
    const q = 2 * r * F, o = r * F;
    for (let c = 0; c < F; c++) {
      const s = w[q + F + c], d = dh[o + c];
      dw[q + c] = d * s;
      dw[q + F + c] = d * w[q + c] * s * (1 - s);
    }
  }
}

/** Backend.reluMaskAdd: dst[i] = (accumulate ? dst[i] : 0) + (mask[i] > 0 ? src[i] : 0). */
export function reluMaskAddRef(src: FloatArray, mask: FloatArray, dst: FloatArray, n: number, accumulate: boolean): void {
  for (let i = 0; i < n; i++) {
    const v = mask[i] > 0 ? src[i] : 0;
    dst[i] = accumulate ? dst[i] + v : v;
  }
}
