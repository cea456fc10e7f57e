// WebAssembly SIMD kernels (AssemblyScript) behind src/core/wasm/createWasmBackend.ts. All pointers are byte
// offsets into the shared memory; matrices are row-major float32. Formulas are those of src/core/refKernels.ts.
//
// gemm follows the GotoBLAS scheme: blocks of op(B) (KC×NC) and op(A) (MC×KC) are packed into panels of 8 columns
// and 4 rows, so that the 4×8 register-blocked micro-kernel reads both operands contiguously whatever the
// transposes; with relaxed SIMD the multiply-add is one fused instruction. The convolutions at the end (direct and
// Winograd, for src/core/wasm/createWasmConv.ts) use register tiles of the same 4×8 shape.

const MR: i32 = 4;
const NR: i32 = 8;
const KC: i32 = 256;
const MC: i32 = 64;
const NC: i32 = 512;

/** Bytes of scratch one thread needs for gemm: packed A block, packed B block, an edge tile. */
export const SCRATCH_BYTES: i32 = (MC * KC + KC * NC + MR * NR) * 4;

// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** Packs op(B)[k0:k0+kc, j0:j0+nc] into panels of NR columns: dst[(p·kc + k)·NR + jj], zero-padded. */
function packB(transB: bool, b: usize, N: i32, K: i32, k0: i32, kc: i32, j0: i32, nc: i32, dst: usize): void {
  for (let p = 0; p < nc; p += NR) {
    const panel = dst + <usize>(p * kc) * 4; // panel p/NR starts at (p/NR)·kc·NR
    const cols = min(NR, nc - p);
    if (!transB) {
      for (let k = 0; k < kc; k++) {
        const src = b + <usize>((k0 + k) * N + j0 + p) * 4;
        const out = panel + <usize>(k * NR) * 4;
        if (cols == NR) {
          v128.store(out, v128.load(src));
          v128.store(out, v128.load(src, 16), 16);
        } else {
          for (let jj = 0; jj < NR; jj++) store<f32>(out + <usize>jj * 4, jj < cols ? load<f32>(src + <usize>jj * 4) : 0);
        }
      }
    } else {
      // B stored [N, K]: column j of op(B) is row j of B, contiguous in k.
      for (let jj = 0; jj < NR; jj++) {
        if (jj < cols) {
          const src = b + <usize>((j0 + p + jj) * K + k0) * 4;
          for (let k = 0; k < kc; k++) store<f32>(panel + <usize>(k * NR + jj) * 4, load<f32>(src + <usize>k * 4));
        } else {
          for (let k = 0; k < kc; k++) store<f32>(panel + <usize>(k * NR + jj) * 4, 0);
        }
      }
    }
  }
}

/** Packs op(A)[i0:i0+mc, k0:k0+kc] into panels of MR rows: dst[(p·kc + k)·MR + ii], zero-padded. */
function packA(transA: bool, a: usize, M: i32, K: i32, i0: i32, mc: i32, k0: i32, kc: i32, dst: usize): void {
  for (let p = 0; p < mc; p += MR) {
    const panel = dst + <usize>(p * kc) * 4; // panel p/MR starts at (p/MR)·kc·MR
    const rows = min(MR, mc - p);
    if (transA) {
      // A stored [K, M]: the MR rows of op(A) at column k are MR consecutive floats of A's row k.
      for (let k = 0; k < kc; k++) {
        const src = a + <usize>((k0 + k) * M + i0 + p) * 4;
        const out = panel + <usize>(k * MR) * 4;
        if (rows == MR) v128.store(out, v128.load(src));
        else for (let ii = 0; ii < MR; ii++) store<f32>(out + <usize>ii * 4, ii < rows ? load<f32>(src + <usize>ii * 4) : 0);
      }
    } else {
      for (let ii = 0; ii < MR; ii++) {
        if (ii < rows) {
          const src = a + <usize>((i0 + p + ii) * K + k0) * 4;
          for (let k = 0; k < kc; k++) store<f32>(panel + <usize>(k * MR + ii) * 4, load<f32>(src + <usize>k * 4));
        } else {
          for (let k = 0; k < kc; k++) store<f32>(panel + <usize>(k * MR + ii) * 4, 0);
        }
      }
    }
  }
}

/**
 * C[0:rows, 0:cols] (+)= Ap·Bp for one MR×NR tile over kc. `overwrite` stores instead of adding;
 * partial tiles go through `tmp`.
 */
function micro(kc: i32, ap: usize, bp: usize, c: usize, ldc: i32, rows: i32, cols: i32, overwrite: bool, tmp: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    let a = v128.load32_splat(ap);
    c00 = madd(a, b0, c00);
    c01 = madd(a, b1, c01);
    a = v128.load32_splat(ap, 4);
    c10 = madd(a, b0, c10);
    c11 = madd(a, b1, c11);
    a = v128.load32_splat(ap, 8);
    c20 = madd(a, b0, c20);
    c21 = madd(a, b1, c21);
    a = v128.load32_splat(ap, 12);
    c30 = madd(a, b0, c30);
    c31 = madd(a, b1, c31);
    ap += MR * 4;
    bp += NR * 4;
  }
  const stride = <usize>ldc * 4;
  if (rows == MR && cols == NR) {
    if (overwrite) {
      v128.store(c, c00); v128.store(c, c01, 16); c += stride;
      v128.store(c, c10); v128.store(c, c11, 16); c += stride;
      v128.store(c, c20); v128.store(c, c21, 16); c += stride;
      v128.store(c, c30); v128.store(c, c31, 16);
    } else {
      v128.store(c, f32x4.add(v128.load(c), c00)); v128.store(c, f32x4.add(v128.load(c, 16), c01), 16); c += stride;
      v128.store(c, f32x4.add(v128.load(c), c10)); v128.store(c, f32x4.add(v128.load(c, 16), c11), 16); c += stride;
      v128.store(c, f32x4.add(v128.load(c), c20)); v128.store(c, f32x4.add(v128.load(c, 16), c21), 16); c += stride;
      v128.store(c, f32x4.add(v128.load(c), c30)); v128.store(c, f32x4.add(v128.load(c, 16), c31), 16);
    }
    return;
  }
  v128.store(tmp, c00); v128.store(tmp, c01, 16);
  v128.store(tmp, c10, 32); v128.store(tmp, c11, 48);
  v128.store(tmp, c20, 64); v128.store(tmp, c21, 80);
  v128.store(tmp, c30, 96); v128.store(tmp, c31, 112);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < cols; j++) {
      const dst = c + <usize>r * stride + <usize>j * 4;
      const v = load<f32>(tmp + <usize>(r * NR + j) * 4);
      store<f32>(dst, overwrite ? v : load<f32>(dst) + v);
    }
  }
}

/**
 * The block rows [m0, m1) × columns [n0, n1) of C[M,N] (+)= op(A)[M,K]·op(B)[K,N] (see Backend.gemm). K must be ≥ 1.
 * `scratch` holds SCRATCH_BYTES for this thread. Threads split C by rows or by columns: by columns, each packs only
 * its own part of op(B) (the larger operand when N > M, as in a batch-200 forward pass).
 */
export function gemm(transA: i32, transB: i32, M: i32, N: i32, K: i32, a: usize, b: usize, c: usize, accumulate: i32, m0: i32, m1: i32, n0: i32, n1: i32, scratch: usize): void {
  const ap = scratch;
  const bp = scratch + <usize>(MC * KC) * 4;
  const tmp = bp + <usize>(KC * NC) * 4;
  for (let jc = n0; jc < n1; jc += NC) {
    const nc = min(NC, n1 - jc);
    for (let pc = 0; pc < K; pc += KC) {
      const kc = min(KC, K - pc);
      const overwrite = accumulate == 0 && pc == 0;
      packB(transB != 0, b, N, K, pc, kc, jc, nc, bp);
      for (let ic = m0; ic < m1; ic += MC) {
        const mc = min(MC, m1 - ic);
        packA(transA != 0, a, M, K, ic, mc, pc, kc, ap);
        for (let jr = 0; jr < nc; jr += NR) {
          const bpanel = bp + <usize>(jr * kc) * 4;
          const cols = min(NR, nc - jr);
          for (let ir = 0; ir < mc; ir += MR) {
            const cptr = c + <usize>((ic + ir) * N + jc + jr) * 4;
            micro(kc, ap + <usize>(ir * kc) * 4, bpanel, cptr, N, min(MR, mc - ir), cols, overwrite, tmp);
          }
        }
      }
    }
  }
}

/** Rows [r0, r1) of y[rows, cols] += b, then ReLU when relu ≠ 0. */
export function addBias(y: usize, b: usize, cols: i32, relu: i32, r0: i32, r1: i32): void {
  const zero = f32x4.splat(0);
  const vecEnd = cols & ~3;
  for (let r = r0; r < r1; r++) {
    const row = y + <usize>(r * cols) * 4;
    for (let c = 0; c < vecEnd; c += 4) {
      let v = f32x4.add(v128.load(row + <usize>c * 4), v128.load(b + <usize>c * 4));
      if (relu) v = f32x4.max(v, zero);
      v128.store(row + <usize>c * 4, v);
    }
    for (let c = vecEnd; c < cols; c++) {
      let v = load<f32>(row + <usize>c * 4) + load<f32>(b + <usize>c * 4);
      if (relu && !(v > 0)) v = 0;
      store<f32>(row + <usize>c * 4, v);
    }
  }
}

/** dy[i] = y[i] > 0 ? dy[i] : 0 for i in [i0, i1). */
export function reluBackward(dy: usize, y: usize, i0: i32, i1: i32): void {
  const zero = f32x4.splat(0);
  let i = i0;
  for (; i + 4 <= i1; i += 4) {
    const o = <usize>i * 4;
    v128.store(dy + o, v128.and(v128.load(dy + o), f32x4.gt(v128.load(y + o), zero)));
  }
  for (; i < i1; i++) if (!(load<f32>(y + <usize>i * 4) > 0)) store<f32>(dy + <usize>i * 4, 0);
}

/**
 * ReLU backward fused with the bias gradient of the layer below, columns [c0, c1): dy[r, c] = y[r, c] > 0 ? dy[r, c]
 * : 0 in place, and out[c] = Σ_r dy[r, c] (overwritten). One pass over dy instead of two.
 */
export function reluBackwardColSum(dy: usize, y: usize, rows: i32, cols: i32, out: usize, c0: i32, c1: i32): void {
  const zero = f32x4.splat(0);
  for (let c = c0; c < c1; c++) store<f32>(out + <usize>c * 4, 0);
  for (let r = 0; r < rows; r++) {
    const rowD = dy + <usize>(r * cols) * 4;
    const rowY = y + <usize>(r * cols) * 4;
    let c = c0;
    for (; c + 4 <= c1; c += 4) {
      const o = <usize>c * 4;
      const m = v128.and(v128.load(rowD + o), f32x4.gt(v128.load(rowY + o), zero));
      v128.store(rowD + o, m);
      v128.store(out + o, f32x4.add(v128.load(out + o), m));
    }
    for (; c < c1; c++) {
      const o = <usize>c * 4;
      const v: f32 = load<f32>(rowY + o) > 0 ? load<f32>(rowD + o) : 0;
      store<f32>(rowD + o, v);
      store<f32>(out + o, load<f32>(out + o) + v);
    }
  }
}

/** Columns [c0, c1) of out (+)= Σ_r dy[r, :]. */
export function colSum(dy: usize, rows: i32, cols: i32, out: usize, accumulate: i32, c0: i32, c1: i32): void {
  if (!accumulate) for (let c = c0; c < c1; c++) store<f32>(out + <usize>c * 4, 0);
  for (let r = 0; r < rows; r++) {
    const row = dy + <usize>(r * cols) * 4;
    let c = c0;
    for (; c + 4 <= c1; c += 4) {
      const o = <usize>c * 4;
      v128.store(out + o, f32x4.add(v128.load(out + o), v128.load(row + o)));
    }
    for (; c < c1; c++) store<f32>(out + <usize>c * 4, load<f32>(out + <usize>c * 4) + load<f32>(row + <usize>c * 4));
  }
}

/** The smallest normal float32, 2^−126: moments below it are stored as 0 (see adam). */
const MIN_NORMAL: f32 = 1.1754943508222875e-38;

/**
 * Adam on elements [i0, i1): a = lr/(1−β1^t), sb2 = 1/sqrt(1−β2^t) (see Backend.adam). Moments that fall below the
 * smallest normal float are flushed to 0 (refKernels.ts says why: a weight whose gradient stays 0 has a first moment
 * that decays into the denormals and sticks there, and arithmetic on denormals is ~100× slower on x86).
 */
export function adam(p: usize, g: usize, m: usize, v: usize, a: f32, beta1: f32, beta2: f32, eps: f32, sb2: f32, i0: i32, i1: i32): void {
  const b1 = f32x4.splat(beta1), nb1 = f32x4.splat(1 - beta1);
  const b2 = f32x4.splat(beta2), nb2 = f32x4.splat(1 - beta2);
  const va = f32x4.splat(a), veps = f32x4.splat(eps), vsb2 = f32x4.splat(sb2);
  const tiny = f32x4.splat(MIN_NORMAL);
  let i = i0;
  for (; i + 4 <= i1; i += 4) {
    const o = <usize>i * 4;
    const gi = v128.load(g + o);
    let mi = f32x4.add(f32x4.mul(b1, v128.load(m + o)), f32x4.mul(nb1, gi));
    let vi = f32x4.add(f32x4.mul(b2, v128.load(v + o)), f32x4.mul(nb2, f32x4.mul(gi, gi)));
    // (andnot with "below": a NaN moment stays NaN, for the trainer's checks to see)
    mi = v128.andnot(mi, f32x4.lt(f32x4.abs(mi), tiny));
    vi = v128.andnot(vi, f32x4.lt(vi, tiny));
    v128.store(m + o, mi);
    v128.store(v + o, vi);
    const den = f32x4.add(f32x4.mul(f32x4.sqrt(vi), vsb2), veps);
    v128.store(p + o, f32x4.sub(v128.load(p + o), f32x4.div(f32x4.mul(va, mi), den)));
  }
  for (; i < i1; i++) {
    const o = <usize>i * 4;
    const gi = load<f32>(g + o);
    let mi = beta1 * load<f32>(m + o) + (1 - beta1) * gi;
    let vi = beta2 * load<f32>(v + o) + (1 - beta2) * gi * gi;
    if (Mathf.abs(mi) < MIN_NORMAL) mi = 0;
    if (vi < MIN_NORMAL) vi = 0;
    store<f32>(m + o, mi);
    store<f32>(v + o, vi);
    store<f32>(p + o, load<f32>(p + o) - (a * mi) / (Mathf.sqrt(vi) * sb2 + eps));
  }
}

/** out[r, j] = x[r, idx[j]] for rows r < n of x [n, D]; idx holds k int32 column indices. */
export function gather(x: usize, n: i32, D: i32, idx: usize, k: i32, out: usize): void {
  for (let r = 0; r < n; r++) {
    const src = x + <usize>(r * D) * 4;
    const dst = out + <usize>(r * k) * 4;
    for (let j = 0; j < k; j++) {
      store<f32>(dst + <usize>j * 4, load<f32>(src + (<usize>load<i32>(idx + <usize>j * 4)) * 4));
    }
  }
}

/** x[r, idx[j]] += v[r, j] for rows r < n of x [n, D]; v [n, k]. */
export function scatterAdd(v: usize, n: i32, D: i32, idx: usize, k: i32, x: usize): void {
  for (let r = 0; r < n; r++) {
    const src = v + <usize>(r * k) * 4;
    const dst = x + <usize>(r * D) * 4;
    for (let j = 0; j < k; j++) {
      const p = dst + (<usize>load<i32>(idx + <usize>j * 4)) * 4;
      store<f32>(p, load<f32>(p) + load<f32>(src + <usize>j * 4));
    }
  }
}

// exp(x) for x ≤ 0, four lanes: Cephes expf (range reduction by ln 2 in two parts, degree-5 polynomial, scaling
// by 2^k through the exponent bits). Inputs below −87 are clamped there (e^−87 ≈ 1.6e−38, the smallest normal),
// which is exact to f32 for what it feeds (log1p of it, and 1 ± it).
// @ts-ignore: decorator
@inline function expNonPositive(x: v128): v128 {
  x = f32x4.max(x, f32x4.splat(-87.0));
  const k = f32x4.nearest(f32x4.mul(x, f32x4.splat(1.44269504088896341)));
  let r = f32x4.sub(x, f32x4.mul(k, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(k, f32x4.splat(-2.12194440e-4)));
  let y = f32x4.splat(1.9875691500e-4);
  y = madd(y, r, f32x4.splat(1.3981999507e-3));
  y = madd(y, r, f32x4.splat(8.3334519073e-3));
  y = madd(y, r, f32x4.splat(4.1665795894e-2));
  y = madd(y, r, f32x4.splat(1.6666665459e-1));
  y = madd(y, r, f32x4.splat(5.0000001201e-1));
  y = f32x4.add(madd(y, f32x4.mul(r, r), r), f32x4.splat(1));
  const pow2 = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(k), i32x4.splat(127)), 23);
  return f32x4.mul(y, pow2);
}

// log1p(e) for e in [0, 1], four lanes: 2·atanh(s) with s = e/(2+e) ∈ [0, 1/3], as the odd series
// 2s·(1 + s²/3 + s⁴/5 + … + s¹⁴/15), whose next term is below 2e−9: relative accuracy to f32 even for tiny e.
// @ts-ignore: decorator
@inline function log1pUnit(e: v128): v128 {
  const s = f32x4.div(e, f32x4.add(e, f32x4.splat(2)));
  const z = f32x4.mul(s, s);
  let q = f32x4.splat(<f32>(1.0 / 15));
  q = madd(q, z, f32x4.splat(<f32>(1.0 / 13)));
  q = madd(q, z, f32x4.splat(<f32>(1.0 / 11)));
  q = madd(q, z, f32x4.splat(<f32>(1.0 / 9)));
  q = madd(q, z, f32x4.splat(<f32>(1.0 / 7)));
  q = madd(q, z, f32x4.splat(<f32>(1.0 / 5)));
  q = madd(q, z, f32x4.splat(<f32>(1.0 / 3)));
  q = madd(q, z, f32x4.splat(1));
  return f32x4.mul(f32x4.add(s, s), q);
}

/**
 * Standard logistic prior on h [n, D] (formulas in src/priors/logisticPrior.ts): logProb[r] (f64) = Σ_d log p(h[r,d])
 * with log p(h) = −|h| − 2·log1p(e^−|h|), and dh[r,d] = weight · score = −weight · tanh(h/2), written as
 * −weight · sign(h) · (1 − e)/(1 + e) with the same e = e^−|h|.
 */
export function logisticPrior(h: usize, n: i32, D: i32, weight: f32, logProb: usize, dh: usize): void {
  const signBit = i32x4.splat(0x80000000);
  const one = f32x4.splat(1);
  const two = f32x4.splat(2);
  const nw = f32x4.splat(-weight);
  const vecEnd = D & ~3;
  for (let r = 0; r < n; r++) {
    const row = <usize>(r * D) * 4;
    let acc0 = f64x2.splat(0);
    let acc1 = f64x2.splat(0);
    for (let d = 0; d < vecEnd; d += 4) {
      const o = row + <usize>d * 4;
      const x = v128.load(h + o);
      const a = f32x4.abs(x);
      const e = expNonPositive(f32x4.neg(a));
      const lp = f32x4.sub(f32x4.neg(a), f32x4.mul(two, log1pUnit(e)));
      acc0 = f64x2.add(acc0, f64x2.promote_low_f32x4(lp));
      acc1 = f64x2.add(acc1, f64x2.promote_low_f32x4(v128.shuffle<f32>(lp, lp, 2, 3, 0, 1)));
      const t = f32x4.div(f32x4.sub(one, e), f32x4.add(one, e));
      v128.store(dh + o, f32x4.mul(nw, v128.or(t, v128.and(x, signBit))));
    }
    let s = f64x2.extract_lane(acc0, 0) + f64x2.extract_lane(acc0, 1) + f64x2.extract_lane(acc1, 0) + f64x2.extract_lane(acc1, 1);
    // The last D mod 4 values go through the same vector code, padded with zeros that are then left out (no
    // scalar Mathf here: its lookup tables would be a data segment, which each worker's instantiation rewrites).
    const rem = D - vecEnd;
    if (rem > 0) {
      const o = row + <usize>vecEnd * 4;
      let x = f32x4.replace_lane(f32x4.splat(0), 0, load<f32>(h + o));
      if (rem > 1) x = f32x4.replace_lane(x, 1, load<f32>(h + o + 4));
      if (rem > 2) x = f32x4.replace_lane(x, 2, load<f32>(h + o + 8));
      const a = f32x4.abs(x);
      const e = expNonPositive(f32x4.neg(a));
      const lp = f32x4.sub(f32x4.neg(a), f32x4.mul(two, log1pUnit(e)));
      const g = f32x4.mul(nw, v128.or(f32x4.div(f32x4.sub(one, e), f32x4.add(one, e)), v128.and(x, signBit)));
      s += <f64>f32x4.extract_lane(lp, 0);
      store<f32>(dh + o, f32x4.extract_lane(g, 0));
      if (rem > 1) {
        s += <f64>f32x4.extract_lane(lp, 1);
        store<f32>(dh + o + 4, f32x4.extract_lane(g, 1));
      }
      if (rem > 2) {
        s += <f64>f32x4.extract_lane(lp, 2);
        store<f32>(dh + o + 8, f32x4.extract_lane(g, 2));
      }
    }
    store<f64>(logProb + <usize>r * 8, s);
  }
}

// tanh(u), four lanes (Cephes tanhf): for |u| ≤ 0.625 the odd polynomial u + u³·P(u²) (relative accuracy near 0,
// where 1 − e^(−2|u|) would cancel); above, sign(u)·(1 − q)/(1 + q) with q = e^(−2|u|) < 0.29.
// @ts-ignore: decorator
@inline function tanh4(u: v128): v128 {
  const one = f32x4.splat(1);
  const a = f32x4.abs(u);
  const z = f32x4.mul(u, u);
  let p = f32x4.splat(-5.70498872745e-3);
  p = madd(p, z, f32x4.splat(2.06390887954e-2));
  p = madd(p, z, f32x4.splat(-5.37397155531e-2));
  p = madd(p, z, f32x4.splat(1.33314422036e-1));
  p = madd(p, z, f32x4.splat(-3.33332819422e-1));
  const small = madd(f32x4.mul(p, z), u, u);
  const q = expNonPositive(f32x4.mul(a, f32x4.splat(-2)));
  const big = v128.or(f32x4.div(f32x4.sub(one, q), f32x4.add(one, q)), v128.and(u, i32x4.splat(0x80000000)));
  return v128.bitselect(big, small, f32x4.gt(a, f32x4.splat(0.625)));
}

// exp(x) for any x in the f32 range of e^x, four lanes: e^x for x ≤ 0, 1/e^(−x) above.
// @ts-ignore: decorator
@inline function exp4(x: v128): v128 {
  const en = expNonPositive(f32x4.neg(f32x4.abs(x)));
  return v128.bitselect(f32x4.div(f32x4.splat(1), en), en, f32x4.gt(x, f32x4.splat(0)));
}

// Four lanes of a row at the updated coordinates idx[j..j+cnt) (cnt ≤ 4; the other lanes 0).
// @ts-ignore: decorator
@inline function gather4(row: usize, idx: usize, cnt: i32): v128 {
  let v = f32x4.splat(0);
  v = f32x4.replace_lane(v, 0, load<f32>(row + (<usize>load<i32>(idx) << 2)));
  if (cnt > 1) v = f32x4.replace_lane(v, 1, load<f32>(row + (<usize>load<i32>(idx, 4) << 2)));
  if (cnt > 2) v = f32x4.replace_lane(v, 2, load<f32>(row + (<usize>load<i32>(idx, 8) << 2)));
  if (cnt > 3) v = f32x4.replace_lane(v, 3, load<f32>(row + (<usize>load<i32>(idx, 12) << 2)));
  return v;
}

// Stores the first cnt lanes of v at row[idx[j..j+cnt)].
// @ts-ignore: decorator
@inline function scatter4(v: v128, row: usize, idx: usize, cnt: i32): void {
  store<f32>(row + (<usize>load<i32>(idx) << 2), f32x4.extract_lane(v, 0));
  if (cnt > 1) store<f32>(row + (<usize>load<i32>(idx, 4) << 2), f32x4.extract_lane(v, 1));
  if (cnt > 2) store<f32>(row + (<usize>load<i32>(idx, 8) << 2), f32x4.extract_lane(v, 2));
  if (cnt > 3) store<f32>(row + (<usize>load<i32>(idx, 12) << 2), f32x4.extract_lane(v, 3));
}

// Stores the first cnt lanes of v contiguously at p.
// @ts-ignore: decorator
@inline function storeN(p: usize, v: v128, cnt: i32): void {
  if (cnt == 4) {
    v128.store(p, v);
    return;
  }
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (cnt > 1) store<f32>(p + 4, f32x4.extract_lane(v, 1));
  if (cnt > 2) store<f32>(p + 8, f32x4.extract_lane(v, 2));
}

// Loads cnt contiguous floats at p (the other lanes 0).
// @ts-ignore: decorator
@inline function loadN(p: usize, cnt: i32): v128 {
  if (cnt == 4) return v128.load(p);
  let v = f32x4.splat(0);
  v = f32x4.replace_lane(v, 0, load<f32>(p));
  if (cnt > 1) v = f32x4.replace_lane(v, 1, load<f32>(p + 4));
  if (cnt > 2) v = f32x4.replace_lane(v, 2, load<f32>(p + 8));
  return v;
}

/**
 * The exponential-scale coupling law's forward (src/core/refKernels.ts, scaleShiftForwardRef): rows x, y [n, D], the
 * du updated coordinates idx (int32), h [n, G·du] (G = 2 with shift: [a | t]), ℓ = S·tanh(a/S), e = exp(ℓ);
 * y[r, idx[j]] = x[r, idx[j]]·e_j (+ t_j), logDet[r] (f32) = Σ_j ℓ_j summed in f64, saved [n, 3·du] = [ℓ | e | x·e].
 */
export function scaleShiftForward(h: usize, x: usize, y: usize, logDet: usize, saved: usize, n: i32, D: i32, idx: usize, du: i32, shift: i32, bound: f32): void {
  const G = shift ? 2 : 1;
  const S = f32x4.splat(bound);
  const invS = f32x4.splat(1 / bound);
  for (let r = 0; r < n; r++) {
    const xr = x + <usize>(r * D) * 4;
    const yr = y + <usize>(r * D) * 4;
    const hr = h + <usize>(r * G * du) * 4;
    const sr = saved + <usize>(r * 3 * du) * 4;
    let acc0 = f64x2.splat(0);
    let acc1 = f64x2.splat(0);
    for (let j = 0; j < du; j += 4) {
      const cnt = min(4, du - j);
      const o = <usize>j * 4;
      const l = f32x4.mul(S, tanh4(f32x4.mul(loadN(hr + o, cnt), invS)));
      const e = exp4(l);
      const v = f32x4.mul(gather4(xr, idx + o, cnt), e);
      storeN(sr + o, l, cnt);
      storeN(sr + <usize>du * 4 + o, e, cnt);
      storeN(sr + <usize>du * 8 + o, v, cnt);
      scatter4(shift ? f32x4.add(v, loadN(hr + <usize>du * 4 + o, cnt)) : v, yr, idx + o, cnt);
      // Lanes past cnt hold ℓ = 0 (a = 0 there): they add nothing.
      acc0 = f64x2.add(acc0, f64x2.promote_low_f32x4(l));
      acc1 = f64x2.add(acc1, f64x2.promote_low_f32x4(v128.shuffle<f32>(l, l, 2, 3, 0, 1)));
    }
    const s = f64x2.extract_lane(acc0, 0) + f64x2.extract_lane(acc0, 1) + f64x2.extract_lane(acc1, 0) + f64x2.extract_lane(acc1, 1);
    store<f32>(logDet + <usize>r * 4, <f32>s);
  }
}

/** The inverse of scaleShiftForward, in place on x [n, D]: x[r, idx[j]] = (x[r, idx[j]] − t_j)·exp(−ℓ_j). */
export function scaleShiftInverse(h: usize, x: usize, n: i32, D: i32, idx: usize, du: i32, shift: i32, bound: f32): void {
  const G = shift ? 2 : 1;
  const S = f32x4.splat(bound);
  const invS = f32x4.splat(1 / bound);
  for (let r = 0; r < n; r++) {
    const xr = x + <usize>(r * D) * 4;
    const hr = h + <usize>(r * G * du) * 4;
    for (let j = 0; j < du; j += 4) {
      const cnt = min(4, du - j);
      const o = <usize>j * 4;
      const l = f32x4.mul(S, tanh4(f32x4.mul(loadN(hr + o, cnt), invS)));
      let v = gather4(xr, idx + o, cnt);
      if (shift) v = f32x4.sub(v, loadN(hr + <usize>du * 4 + o, cnt));
      scatter4(f32x4.mul(v, exp4(f32x4.neg(l))), xr, idx + o, cnt);
    }
  }
}

/**
 * im2col for a stride-1, 'same'-padded k×k convolution (layouts in src/nn/conv2d.ts), images [img0, img1) of an NHWC
 * batch: x [m·H·W, C] → cols [m·H·W, k·k·C], column order (ky, kx, c), zeros where the window leaves the image.
 * With back ≠ 0 the adjoint (col2im): x[pixel, c] += every column entry copied from it.
 */
export function im2col(x: usize, cols: usize, H: i32, W: i32, C: i32, k: i32, back: i32, img0: i32, img1: i32): void {
  const pad = (k - 1) >> 1;
  const tapBytes = <usize>C * 4;
  const vecBytes = <usize>(C & ~3) * 4;
  for (let img = img0; img < img1; img++) {
    const imgBase = img * H * W;
    for (let yy = 0; yy < H; yy++) {
      for (let xx = 0; xx < W; xx++) {
        let t = cols + <usize>(imgBase + yy * W + xx) * <usize>k * <usize>k * tapBytes;
        for (let ky = 0; ky < k; ky++) {
          const sy = yy + ky - pad;
          for (let kx = 0; kx < k; kx++, t += tapBytes) {
            const sx = xx + kx - pad;
            if (sy < 0 || sy >= H || sx < 0 || sx >= W) {
              if (!back) for (let o: usize = 0; o < tapBytes; o += 4) store<f32>(t + o, 0);
              continue;
            }
            const src = x + <usize>(imgBase + sy * W + sx) * tapBytes;
            let o: usize = 0;
            if (back) {
              for (; o < vecBytes; o += 16) v128.store(src + o, f32x4.add(v128.load(src + o), v128.load(t + o)));
              for (; o < tapBytes; o += 4) store<f32>(src + o, load<f32>(src + o) + load<f32>(t + o));
            } else {
              for (; o < vecBytes; o += 16) v128.store(t + o, v128.load(src + o));
              for (; o < tapBytes; o += 4) store<f32>(t + o, load<f32>(src + o));
            }
          }
        }
      }
    }
  }
}

// ---- Direct convolution (src/core/wasm/createWasmConv.ts says why and how it is used) ----
//
// A stride-1, 'same'-padded k×k convolution from an NHWC source of S channels to an NHWC destination of D channels,
// with weights Wd[d, s, ky, kx]: forward is (S, D) = (inC, outC), Wd = W; backward-data is the same convolution
// run on dy with (S, D) = (outC, inC) and Wd[ci, co, ky, kx] = W[co, ci, k−1−ky, k−1−kx] (flipped, transposed).
// Rows of an image are copied once into a zero-padded band ((rows + 2·pad) × (W + 2·pad) × S, a thread's scratch),
// so that the k taps of a kernel row at output pixel x are k·S contiguous floats of the band row: the reduction
// runs over (ky, j) with j = kx·S + s, reading the band directly (no column buffer, no packing of the input).

/**
 * Packs the weights for `convForward`, as the convolution (S, D) described above (`back` ≠ 0: backward-data's).
 * dot = 0: panels of 8 destination channels, dst[p, ky, j, c] = Wd[8p + c, s, ky, kx] (0 past D);
 * dot ≠ 0: rows, dst[d, ky, j] = Wd[d, s, ky, kx]. Then at `biasDst`, ⌈D/8⌉·8 floats: the bias (0 past D, or all 0
 * when `bias` is 0).
 */
export function convPack(W: usize, bias: usize, dst: usize, biasDst: usize, inC: i32, outC: i32, k: i32, back: i32, dot: i32): void {
  const S = back ? outC : inC;
  const D = back ? inC : outC;
  const kk = k * k;
  const kS = k * S;
  const panels = (D + 7) >> 3;
  for (let d = 0; d < panels * 8; d++) {
    for (let ky = 0; ky < k; ky++) {
      for (let kx = 0; kx < k; kx++) {
        for (let s = 0; s < S; s++) {
          let v: f32 = 0;
          if (d < D) {
            // W[co, ci, ty, tx]
            v = back
              ? load<f32>(W + <usize>((s * inC + d) * kk + (k - 1 - ky) * k + (k - 1 - kx)) * 4)
              : load<f32>(W + <usize>((d * inC + s) * kk + ky * k + kx) * 4);
          } else if (dot) continue;
          const j = kx * S + s;
          const o = dot ? (d * k + ky) * kS + j : (((d >> 3) * k + ky) * kS + j) * 8 + (d & 7);
          store<f32>(dst + <usize>o * 4, v);
        }
      }
    }
    store<f32>(biasDst + <usize>d * 4, bias && d < D ? load<f32>(bias + <usize>d * 4) : 0);
  }
}

/**
 * Band rows r0 ≤ r < r1 of an image (src: its first pixel, H×W×S): row r of the image with padL zeros before and
 * padR after, or a zero row where r is outside the image.
 */
function padBand(src: usize, band: usize, H: i32, W: i32, S: i32, padL: i32, padR: i32, r0: i32, r1: i32): void {
  const inBytes = <usize>(W * S) * 4;
  const leftBytes = <usize>(padL * S) * 4;
  const rightBytes = <usize>(padR * S) * 4;
  const rowBytes = leftBytes + inBytes + rightBytes;
  for (let r = r0; r < r1; r++) {
    const dst = band + <usize>(r - r0) * rowBytes;
    if (r < 0 || r >= H) {
      memory.fill(dst, 0, rowBytes);
      continue;
    }
    if (padL) memory.fill(dst, 0, leftBytes);
    memory.copy(dst + leftBytes, src + <usize>r * inBytes, inBytes);
    if (padR) memory.fill(dst + leftBytes + inBytes, 0, rightBytes);
  }
}

/**
 * 4 pixels × all D channels of a convolution, in register tiles of 4 pixels × 8 channels: out[i, c] = bias[c] +
 * Σ_{ky, j} a(i)[ky·rowB + j] · wp[c / 8, ky, j, c mod 8] for i < rows, c < D, where a(i) = a + i·pixB is pixel i's
 * window origin in the band; ReLU when relu. Pixels past `rows` read pixel 0 (in bounds; their results are dropped).
 */
function convMicro(a: usize, pixB: usize, rowB: usize, k: i32, kS: i32, wp: usize, bias: usize, D: i32, out: usize, ldo: usize, rows: i32, relu: bool, tmp: usize): void {
  const o1: usize = rows > 1 ? pixB : 0;
  const o2: usize = rows > 2 ? 2 * pixB : 0;
  const o3: usize = rows > 3 ? 3 * pixB : 0;
  for (let d = 0; d < D; d += 8) {
    const bias0 = v128.load(bias + <usize>d * 4), bias1 = v128.load(bias + <usize>d * 4, 16);
    let c00 = bias0, c01 = bias1;
    let c10 = bias0, c11 = bias1;
    let c20 = bias0, c21 = bias1;
    let c30 = bias0, c31 = bias1;
    for (let ky = 0; ky < k; ky++) {
      let p0 = a + <usize>ky * rowB;
      let p1 = p0 + o1, p2 = p0 + o2, p3 = p0 + o3;
      const end = p0 + <usize>kS * 4;
      for (; p0 < end; p0 += 4, p1 += 4, p2 += 4, p3 += 4, wp += 32) {
        const b0 = v128.load(wp), b1 = v128.load(wp, 16);
        let x = v128.load32_splat(p0); c00 = madd(x, b0, c00); c01 = madd(x, b1, c01);
        x = v128.load32_splat(p1); c10 = madd(x, b0, c10); c11 = madd(x, b1, c11);
        x = v128.load32_splat(p2); c20 = madd(x, b0, c20); c21 = madd(x, b1, c21);
        x = v128.load32_splat(p3); c30 = madd(x, b0, c30); c31 = madd(x, b1, c31);
      }
    }
    if (relu) {
      const z = f32x4.splat(0);
      c00 = f32x4.max(c00, z); c01 = f32x4.max(c01, z);
      c10 = f32x4.max(c10, z); c11 = f32x4.max(c11, z);
      c20 = f32x4.max(c20, z); c21 = f32x4.max(c21, z);
      c30 = f32x4.max(c30, z); c31 = f32x4.max(c31, z);
    }
    const o = out + <usize>d * 4;
    if (rows == 4 && d + 8 <= D) {
      v128.store(o, c00); v128.store(o, c01, 16);
      v128.store(o + ldo, c10); v128.store(o + ldo, c11, 16);
      v128.store(o + 2 * ldo, c20); v128.store(o + 2 * ldo, c21, 16);
      v128.store(o + 3 * ldo, c30); v128.store(o + 3 * ldo, c31, 16);
      continue;
    }
    v128.store(tmp, c00); v128.store(tmp, c01, 16);
    v128.store(tmp, c10, 32); v128.store(tmp, c11, 48);
    v128.store(tmp, c20, 64); v128.store(tmp, c21, 80);
    v128.store(tmp, c30, 96); v128.store(tmp, c31, 112);
    const cols = min(8, D - d);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) store<f32>(o + <usize>r * ldo + <usize>c * 4, load<f32>(tmp + <usize>(r * 8 + c) * 4));
    }
  }
}

/** [Σ a, Σ b, Σ c, Σ d] over the lanes of each. */
// @ts-ignore: decorator
@inline function sum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = f32x4.add(v128.shuffle<f32>(a, b, 0, 4, 1, 5), v128.shuffle<f32>(a, b, 2, 6, 3, 7));
  const cd = f32x4.add(v128.shuffle<f32>(c, d, 0, 4, 1, 5), v128.shuffle<f32>(c, d, 2, 6, 3, 7));
  return f32x4.add(v128.shuffle<f32>(ab, cd, 0, 1, 4, 5), v128.shuffle<f32>(ab, cd, 2, 3, 6, 7));
}

/**
 * Few destination channels (D < 8, S a multiple of 4): 4 pixels × destination channels d0 and d1 as dot products
 * over (ky, j), vectorised along j. w0, w1: the packed rows of d0 and d1 (dot layout), bias0 and bias1 theirs.
 */
function convDotMicro(a: usize, pixB: usize, rowB: usize, k: i32, kS: i32, w0: usize, w1: usize, bias0: f32, bias1: f32, out: usize, ldo: usize, rows: i32, relu: bool): void {
  let a00 = f32x4.splat(0), a01 = f32x4.splat(0);
  let a10 = f32x4.splat(0), a11 = f32x4.splat(0);
  let a20 = f32x4.splat(0), a21 = f32x4.splat(0);
  let a30 = f32x4.splat(0), a31 = f32x4.splat(0);
  const o1: usize = rows > 1 ? pixB : 0;
  const o2: usize = rows > 2 ? 2 * pixB : 0;
  const o3: usize = rows > 3 ? 3 * pixB : 0;
  for (let ky = 0; ky < k; ky++) {
    let p0 = a + <usize>ky * rowB;
    let p1 = p0 + o1, p2 = p0 + o2, p3 = p0 + o3;
    const end = w0 + <usize>kS * 4;
    for (; w0 < end; w0 += 16, w1 += 16) {
      const u = v128.load(w0), v = v128.load(w1);
      let x = v128.load(p0); a00 = madd(x, u, a00); a01 = madd(x, v, a01);
      x = v128.load(p1); a10 = madd(x, u, a10); a11 = madd(x, v, a11);
      x = v128.load(p2); a20 = madd(x, u, a20); a21 = madd(x, v, a21);
      x = v128.load(p3); a30 = madd(x, u, a30); a31 = madd(x, v, a31);
      p0 += 16; p1 += 16; p2 += 16; p3 += 16;
    }
  }
  let s0 = f32x4.add(sum4(a00, a10, a20, a30), f32x4.splat(bias0));
  let s1 = f32x4.add(sum4(a01, a11, a21, a31), f32x4.splat(bias1));
  if (relu) {
    s0 = f32x4.max(s0, f32x4.splat(0));
    s1 = f32x4.max(s1, f32x4.splat(0));
  }
  store<f32>(out, f32x4.extract_lane(s0, 0));
  store<f32>(out, f32x4.extract_lane(s1, 0), 4);
  if (rows > 1) {
    out += ldo;
    store<f32>(out, f32x4.extract_lane(s0, 1));
    store<f32>(out, f32x4.extract_lane(s1, 1), 4);
  }
  if (rows > 2) {
    out += ldo;
    store<f32>(out, f32x4.extract_lane(s0, 2));
    store<f32>(out, f32x4.extract_lane(s1, 2), 4);
  }
  if (rows > 3) {
    out += ldo;
    store<f32>(out, f32x4.extract_lane(s0, 3));
    store<f32>(out, f32x4.extract_lane(s1, 3), 4);
  }
}

/** convDotMicro for one destination channel (row w, bias `bias`), two steps of j at a time. */
function convDotMicro1(a: usize, pixB: usize, rowB: usize, k: i32, kS: i32, w: usize, bias: f32, out: usize, ldo: usize, rows: i32, relu: bool): void {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let e0 = f32x4.splat(0), e1 = f32x4.splat(0), e2 = f32x4.splat(0), e3 = f32x4.splat(0);
  const o1: usize = rows > 1 ? pixB : 0;
  const o2: usize = rows > 2 ? 2 * pixB : 0;
  const o3: usize = rows > 3 ? 3 * pixB : 0;
  for (let ky = 0; ky < k; ky++) {
    let p0 = a + <usize>ky * rowB;
    let p1 = p0 + o1, p2 = p0 + o2, p3 = p0 + o3;
    const end = w + <usize>kS * 4;
    for (; w + 32 <= end; w += 32) {
      const u = v128.load(w), v = v128.load(w, 16);
      a0 = madd(v128.load(p0), u, a0); e0 = madd(v128.load(p0, 16), v, e0);
      a1 = madd(v128.load(p1), u, a1); e1 = madd(v128.load(p1, 16), v, e1);
      a2 = madd(v128.load(p2), u, a2); e2 = madd(v128.load(p2, 16), v, e2);
      a3 = madd(v128.load(p3), u, a3); e3 = madd(v128.load(p3, 16), v, e3);
      p0 += 32; p1 += 32; p2 += 32; p3 += 32;
    }
    if (w < end) {
      const u = v128.load(w);
      a0 = madd(v128.load(p0), u, a0);
      a1 = madd(v128.load(p1), u, a1);
      a2 = madd(v128.load(p2), u, a2);
      a3 = madd(v128.load(p3), u, a3);
      w += 16;
    }
  }
  let s = f32x4.add(sum4(f32x4.add(a0, e0), f32x4.add(a1, e1), f32x4.add(a2, e2), f32x4.add(a3, e3)), f32x4.splat(bias));
  if (relu) s = f32x4.max(s, f32x4.splat(0));
  store<f32>(out, f32x4.extract_lane(s, 0));
  if (rows > 1) store<f32>(out + ldo, f32x4.extract_lane(s, 1));
  if (rows > 2) store<f32>(out + 2 * ldo, f32x4.extract_lane(s, 2));
  if (rows > 3) store<f32>(out + 3 * ldo, f32x4.extract_lane(s, 3));
}

/**
 * The convolution (S → D channels; see convPack) over global rows [g0, g1) of an n-image batch (row g = image
 * g / H, y = g mod H): dst = conv(src) + bias, then ReLU when relu ≠ 0. wp: weights packed by convPack with the
 * same `dot`; bias: its packed bias. `band` is this thread's scratch: 128 bytes, then room for bandRows + 2·pad
 * padded rows (the band; k = 1 reads src directly).
 */
export function convForward(src: usize, dst: usize, wp: usize, bias: usize, H: i32, W: i32, S: i32, D: i32, k: i32, relu: i32, dot: i32, g0: i32, g1: i32, band: usize, bandRows: i32): void {
  const pad = (k - 1) >> 1;
  const pixB = <usize>S * 4;
  const rowB = <usize>(W + 2 * pad) * pixB;
  const kS = k * S;
  const ldo = <usize>D * 4;
  const tmp = band;
  const buf = band + 128;
  const rowsBytes = <usize>(k * kS) * 4;
  let g = g0;
  while (g < g1) {
    const img = g / H;
    const y0 = g - img * H;
    const y1 = min(H, min(y0 + (g1 - g), y0 + bandRows));
    const imgSrc = src + <usize>img * <usize>H * <usize>W * pixB;
    let base: usize;
    if (k == 1) base = imgSrc + <usize>y0 * rowB;
    else {
      padBand(imgSrc, buf, H, W, S, pad, pad, y0 - pad, y1 + pad);
      base = buf;
    }
    for (let y = y0; y < y1; y++) {
      const inRow = base + <usize>(y - y0) * rowB;
      const outRow = dst + (<usize>img * <usize>H + <usize>y) * <usize>W * ldo;
      if (dot) {
        for (let x = 0; x < W; x += 4) {
          const rows = min(4, W - x);
          const o = outRow + <usize>x * ldo;
          let d = 0;
          for (; d + 2 <= D; d += 2) {
            convDotMicro(inRow + <usize>x * pixB, pixB, rowB, k, kS, wp + <usize>d * rowsBytes, wp + <usize>(d + 1) * rowsBytes,
              load<f32>(bias + <usize>d * 4), load<f32>(bias + <usize>d * 4, 4), o + <usize>d * 4, ldo, rows, relu != 0);
          }
          if (d < D) {
            convDotMicro1(inRow + <usize>x * pixB, pixB, rowB, k, kS, wp + <usize>d * rowsBytes, load<f32>(bias + <usize>d * 4), o + <usize>d * 4, ldo, rows, relu != 0);
          }
        }
      } else {
        for (let x = 0; x < W; x += 4) {
          convMicro(inRow + <usize>x * pixB, pixB, rowB, k, kS, wp, bias, D, outRow + <usize>x * ldo, ldo, min(4, W - x), relu != 0, tmp);
        }
      }
    }
    g += y1 - y0;
  }
}

/**
 * Weight-gradient tile: out[r, c] += Σ over ny rows × nx pixels of a_r(p) · b(p)[c], r < rows, skip ≤ c < 8, where
 * a_r(p) is the float at pa + o_r (o = 0, 4, 8, 12 when contig) and b(p) the 8 floats at pb; pa and pb advance by
 * aSX and bSX per pixel, by aSY and bSY per row.
 */
function weightsTile(a: usize, o1: usize, o2: usize, o3: usize, contig: bool, aSX: usize, aSY: usize, b: usize, bSX: usize, bSY: usize, nx: i32, ny: i32, out: usize, ldo: usize, rows: i32, skip: i32, tmp: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  const span = <usize>nx * bSX;
  for (let y = 0; y < ny; y++) {
    let pa = a + <usize>y * aSY;
    let pb = b + <usize>y * bSY;
    const end = pb + span;
    if (contig) {
      for (; pb < end; pa += aSX, pb += bSX) {
        const b0 = v128.load(pb), b1 = v128.load(pb, 16);
        let x = v128.load32_splat(pa); c00 = madd(x, b0, c00); c01 = madd(x, b1, c01);
        x = v128.load32_splat(pa, 4); c10 = madd(x, b0, c10); c11 = madd(x, b1, c11);
        x = v128.load32_splat(pa, 8); c20 = madd(x, b0, c20); c21 = madd(x, b1, c21);
        x = v128.load32_splat(pa, 12); c30 = madd(x, b0, c30); c31 = madd(x, b1, c31);
      }
    } else {
      for (; pb < end; pa += aSX, pb += bSX) {
        const b0 = v128.load(pb), b1 = v128.load(pb, 16);
        let x = v128.load32_splat(pa); c00 = madd(x, b0, c00); c01 = madd(x, b1, c01);
        x = v128.load32_splat(pa + o1); c10 = madd(x, b0, c10); c11 = madd(x, b1, c11);
        x = v128.load32_splat(pa + o2); c20 = madd(x, b0, c20); c21 = madd(x, b1, c21);
        x = v128.load32_splat(pa + o3); c30 = madd(x, b0, c30); c31 = madd(x, b1, c31);
      }
    }
  }
  if (rows == 4 && skip == 0) {
    v128.store(out, f32x4.add(v128.load(out), c00)); v128.store(out, f32x4.add(v128.load(out, 16), c01), 16); out += ldo;
    v128.store(out, f32x4.add(v128.load(out), c10)); v128.store(out, f32x4.add(v128.load(out, 16), c11), 16); out += ldo;
    v128.store(out, f32x4.add(v128.load(out), c20)); v128.store(out, f32x4.add(v128.load(out, 16), c21), 16); out += ldo;
    v128.store(out, f32x4.add(v128.load(out), c30)); v128.store(out, f32x4.add(v128.load(out, 16), c31), 16);
    return;
  }
  v128.store(tmp, c00); v128.store(tmp, c01, 16);
  v128.store(tmp, c10, 32); v128.store(tmp, c11, 48);
  v128.store(tmp, c20, 64); v128.store(tmp, c21, 80);
  v128.store(tmp, c30, 96); v128.store(tmp, c31, 112);
  for (let r = 0; r < rows; r++) {
    for (let c = skip; c < 8; c++) {
      const p = out + <usize>r * ldo + <usize>c * 4;
      store<f32>(p, load<f32>(p) + load<f32>(tmp + <usize>(r * 8 + c) * 4));
    }
  }
}

/**
 * This thread's part of the weight gradient over global rows [g0, g1): part (overwritten) = Σ over those output
 * pixels of dy ⊗ input windows, x [n·H·W, C], dy [n·H·W, D], K = k·k·C window values in (ky, kx, c) order.
 * orient 0: part [K, D], tiles of 4 window values (broadcast) × 8 output channels (needs D ≥ 8);
 * orient 1: part [D, K], tiles of 4 output channels (broadcast) × 8 window values of one kernel row (needs k·C ≥ 8);
 * orient 2: plain loops (both too narrow for a tile).
 * A last partial tile is shifted back to end at the edge, and only its new columns are added. The band is padded
 * like convForward's; tiles run over sub-bands of subRows rows, which stay in L1 across all tiles.
 */
export function convWeights(x: usize, dy: usize, part: usize, H: i32, W: i32, C: i32, D: i32, k: i32, orient: i32, g0: i32, g1: i32, band: usize, bandRows: i32, subRows: i32): void {
  const pad = (k - 1) >> 1;
  const pixB = <usize>C * 4;
  const rowB = <usize>(W + 2 * pad) * pixB;
  const kC = k * C;
  const K = k * kC;
  const dyPix = <usize>D * 4;
  const dyRow = <usize>W * dyPix;
  const tmp = band;
  const buf = band + 128;
  memory.fill(part, 0, <usize>K * <usize>D * 4);
  let g = g0;
  while (g < g1) {
    const img = g / H;
    const y0 = g - img * H;
    const y1 = min(H, min(y0 + (g1 - g), y0 + bandRows));
    const imgSrc = x + <usize>img * <usize>H * <usize>W * pixB;
    let base: usize;
    if (k == 1) base = imgSrc + <usize>y0 * rowB;
    else {
      padBand(imgSrc, buf, H, W, C, pad, pad, y0 - pad, y1 + pad);
      base = buf;
    }
    for (let ys = y0; ys < y1; ys += subRows) {
      const ny = min(subRows, y1 - ys);
      const aRow = base + <usize>(ys - y0) * rowB; // window origin of output pixel (ys, 0)
      const dRow = dy + (<usize>img * <usize>H + <usize>ys) * dyRow;
      if (orient == 0) {
        for (let r0 = 0; r0 < K; r0 += 4) {
          const rows = min(4, K - r0);
          const ky0 = r0 / kC;
          const j0 = r0 - ky0 * kC;
          const a = aRow + <usize>ky0 * rowB + <usize>j0 * 4;
          let o1: usize = 0, o2: usize = 0, o3: usize = 0;
          const contig = rows == 4 && j0 + 4 <= kC;
          if (!contig) {
            const i1 = min(r0 + 1, K - 1), i2 = min(r0 + 2, K - 1), i3 = min(r0 + 3, K - 1);
            o1 = <usize>(i1 / kC) * rowB + <usize>(i1 % kC) * 4 - <usize>ky0 * rowB - <usize>j0 * 4;
            o2 = <usize>(i2 / kC) * rowB + <usize>(i2 % kC) * 4 - <usize>ky0 * rowB - <usize>j0 * 4;
            o3 = <usize>(i3 / kC) * rowB + <usize>(i3 % kC) * 4 - <usize>ky0 * rowB - <usize>j0 * 4;
          }
          for (let c0 = 0; c0 < D; c0 += 8) {
            const cs = min(c0, D - 8);
            weightsTile(a, o1, o2, o3, contig, pixB, rowB, dRow + <usize>cs * 4, dyPix, dyRow, W, ny,
              part + <usize>(r0 * D + cs) * 4, dyPix, rows, c0 - cs, tmp);
          }
        }
      } else if (orient == 1) {
        for (let r0 = 0; r0 < D; r0 += 4) {
          const rows = min(4, D - r0);
          const o1: usize = <usize>(min(r0 + 1, D - 1) - r0) * 4;
          const o2: usize = <usize>(min(r0 + 2, D - 1) - r0) * 4;
          const o3: usize = <usize>(min(r0 + 3, D - 1) - r0) * 4;
          for (let ky = 0; ky < k; ky++) {
            for (let j = 0; j < kC; j += 8) {
              const js = min(j, kC - 8);
              weightsTile(dRow + <usize>r0 * 4, o1, o2, o3, rows == 4, dyPix, dyRow, aRow + <usize>ky * rowB + <usize>js * 4, pixB, rowB, W, ny,
                part + <usize>(r0 * K + ky * kC + js) * 4, <usize>K * 4, rows, j - js, tmp);
            }
          }
        }
      } else {
        for (let yy = 0; yy < ny; yy++) {
          for (let xx = 0; xx < W; xx++) {
            const win = aRow + <usize>yy * rowB + <usize>xx * pixB;
            const g = dRow + <usize>yy * dyRow + <usize>xx * dyPix;
            for (let d = 0; d < D; d++) {
              const gd = load<f32>(g + <usize>d * 4);
              const o = part + <usize>(d * K) * 4;
              for (let ky = 0; ky < k; ky++) {
                for (let j = 0; j < kC; j++) {
                  const p = o + <usize>(ky * kC + j) * 4;
                  store<f32>(p, load<f32>(p) + gd * load<f32>(win + <usize>ky * rowB + <usize>j * 4));
                }
              }
            }
          }
        }
      }
    }
    g += y1 - y0;
  }
}

/**
 * dW [outC=D, C, k, k] = Σ of `count` parts (each `stride` bytes apart) written by convWeights with `orient`
 * (orient 0: [K, D]; else [D, K]; K in (ky, kx, c) order).
 */
export function convWeightsReduce(parts: usize, count: i32, stride: usize, dW: usize, C: i32, D: i32, k: i32, orient: i32): void {
  const kk = k * k;
  const K = kk * C;
  for (let d = 0; d < D; d++) {
    for (let c = 0; c < C; c++) {
      for (let t = 0; t < kk; t++) {
        const i = t * C + c;
        const o = <usize>(orient == 0 ? i * D + d : d * K + i) * 4;
        let s: f32 = 0;
        for (let p = 0; p < count; p++) s += load<f32>(parts + <usize>p * stride + o);
        store<f32>(dW + <usize>((d * C + c) * kk + t) * 4, s);
      }
    }
  }
}

// ---- Winograd F(2×2, 3×3) (Lavin & Gray 2016) for 3×3 convolutions with S and D multiples of 4, at least 8 ----
//
// Output tile 2×2 from input tile 4×4: Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A, with
//   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1],  G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1],  Aᵀ = [1 1 1 0; 0 1 −1 −1],
// a cross-correlation like conv2d's. Over channels it is 16 matrix products, one per position ξν of the 4×4 tile:
// M[ξν][t, d] = Σ_s V[ξν][t, s] · U[ξν][s, d] (t a tile), 16 multiply-adds per 4 outputs instead of 36. The weight
// gradient is the adjoint: dU[ξν][s, d] = Σ_t V[ξν][t, s] · (A dY_t Aᵀ)[ξν][d], dW = Gᵀ dU G.
// Tiles of a band are numbered along rows (t → tile row t / TW, column t mod TW, TW = ⌈W/2⌉) and processed in blocks
// of T; the band holds the padded rows 2·ty0 − 1 … 2·ty1 of the image, columns −1 … 2·TW.
// The 16 slices of V, M and U are not a multiple of 4 KiB apart (winoStride): at 4 KiB the transforms' 16 accesses
// per tile fall into one L1 set (measured: the 32-channel forward at 47 GFLOP/s instead of 57).

/**
 * Bytes between the ξν slices of a matrix of `floats` floats: rounded up to 64 bytes, and moved by 64·(2 + odd)
 * when that close to a multiple of 4 KiB (`odd` differs per matrix, so that V, M and U do not meet either).
 */
// @ts-ignore: decorator
@inline function winoStride(floats: i32, odd: i32): usize {
  let b = <usize>((floats + 15) & ~15) * 4;
  if ((b & 4095) < 64 * <usize>(2 + odd) || (b & 4095) > 4096 - 64 * <usize>(2 + odd)) b += 64 * <usize>(2 + odd);
  return b;
}

/** Tap i (ky·3 + kx) of a 3×3 kernel at base, or of the flipped kernel (8 − i) when back ≠ 0. */
// @ts-ignore: decorator
@inline function winoTap(base: usize, back: i32, i: i32): f64 {
  return <f64>load<f32>(base + <usize>(back ? 8 - i : i) * 4);
}

/**
 * U[ξν][p, s, c] = (G · Wd[8p + c, s] · Gᵀ)[ξ, ν] (0 past D) in panels of 8 destination channels for winoGemm,
 * Wd as in convPack (back ≠ 0: backward-data's), ξν slices winoStride(8·⌈D/8⌉·S, 0) bytes apart; the
 * bias (or zeros) at biasDst as in convPack.
 */
export function winoPack(W: usize, bias: usize, dst: usize, biasDst: usize, inC: i32, outC: i32, back: i32): void {
  const S = back ? outC : inC;
  const D = back ? inC : outC;
  const panels = (D + 7) >> 3;
  const xsU = winoStride(panels * 8 * S, 0);
  for (let d = 0; d < panels * 8; d++) {
    for (let s = 0; s < S; s++) {
      // g = Wd[d, s] (3×3), Gg = G·g (4×3), U = Gg·Gᵀ (4×4), in f64.
      let g0: f64 = 0, g1: f64 = 0, g2: f64 = 0, g3: f64 = 0, g4: f64 = 0, g5: f64 = 0, g6: f64 = 0, g7: f64 = 0, g8: f64 = 0;
      if (d < D) {
        const base = back ? W + <usize>((s * inC + d) * 9) * 4 : W + <usize>((d * inC + s) * 9) * 4;
        g0 = winoTap(base, back, 0); g1 = winoTap(base, back, 1); g2 = winoTap(base, back, 2);
        g3 = winoTap(base, back, 3); g4 = winoTap(base, back, 4); g5 = winoTap(base, back, 5);
        g6 = winoTap(base, back, 6); g7 = winoTap(base, back, 7); g8 = winoTap(base, back, 8);
      }
      for (let xi = 0; xi < 4; xi++) {
        // row xi of G·g
        let a: f64, b: f64, c: f64;
        if (xi == 0) { a = g0; b = g1; c = g2; }
        else if (xi == 3) { a = g6; b = g7; c = g8; }
        else {
          const sign: f64 = xi == 1 ? 1 : -1;
          a = 0.5 * (g0 + sign * g3 + g6); b = 0.5 * (g1 + sign * g4 + g7); c = 0.5 * (g2 + sign * g5 + g8);
        }
        const u0 = a, u1 = 0.5 * (a + b + c), u2 = 0.5 * (a - b + c), u3 = c;
        for (let nu = 0; nu < 4; nu++) {
          const v = nu == 0 ? u0 : nu == 1 ? u1 : nu == 2 ? u2 : u3;
          const o = (((d >> 3) * S + s) << 3) + (d & 7);
          store<f32>(dst + <usize>(xi * 4 + nu) * xsU + <usize>o * 4, <f32>v);
        }
      }
    }
    store<f32>(biasDst + <usize>d * 4, bias && d < D ? load<f32>(bias + <usize>d * 4) : 0);
  }
}

/**
 * V[ξν][t, s] = (Bᵀ d B)[ξ, ν] for tiles t0 … t0 + tb − 1 of the band (Wb columns of S channels; d the tile's 4×4
 * input), 4 channels at a time; t counted from t0, the ξν slices xs bytes apart.
 */
function winoInput(band: usize, Wb: i32, S: i32, TW: i32, t0: i32, tb: i32, xs: usize, v: usize): void {
  const cs = <usize>S * 4;
  const rs = <usize>Wb * cs;
  for (let i = 0; i < tb; i++) {
    const t = t0 + i;
    const ty = t / TW, tx = t - ty * TW;
    const src = band + <usize>(2 * ty) * rs + <usize>(2 * tx) * cs;
    for (let sg = 0; sg < S; sg += 4) {
      const o = v + (<usize>i * <usize>S + <usize>sg) * 4;
      const p = src + <usize>sg * 4;
      for (let xi = 0; xi < 4; xi++) {
        // Row xi of Bᵀ d: d0 − d2, d1 + d2, d2 − d1, d1 − d3 (rows of d), column by column.
        const ra = p + <usize>(xi == 0 ? 0 : xi == 2 ? 2 : 1) * rs;
        const rb = p + <usize>(xi == 0 ? 2 : xi == 1 ? 2 : xi == 2 ? 1 : 3) * rs;
        let r0: v128, r1: v128, r2: v128, r3: v128;
        if (xi == 1) {
          r0 = f32x4.add(v128.load(ra), v128.load(rb));
          r1 = f32x4.add(v128.load(ra + cs), v128.load(rb + cs));
          r2 = f32x4.add(v128.load(ra + 2 * cs), v128.load(rb + 2 * cs));
          r3 = f32x4.add(v128.load(ra + 3 * cs), v128.load(rb + 3 * cs));
        } else {
          r0 = f32x4.sub(v128.load(ra), v128.load(rb));
          r1 = f32x4.sub(v128.load(ra + cs), v128.load(rb + cs));
          r2 = f32x4.sub(v128.load(ra + 2 * cs), v128.load(rb + 2 * cs));
          r3 = f32x4.sub(v128.load(ra + 3 * cs), v128.load(rb + 3 * cs));
        }
        // (·) B along the row: r0 − r2, r1 + r2, r2 − r1, r1 − r3.
        const row = o + <usize>(xi * 4) * xs;
        v128.store(row, f32x4.sub(r0, r2));
        v128.store(row + xs, f32x4.add(r1, r2));
        v128.store(row + 2 * xs, f32x4.sub(r2, r1));
        v128.store(row + 3 * xs, f32x4.sub(r1, r3));
      }
    }
  }
}

/**
 * One of Winograd's 16 products for 4 tiles: out[i, d] = Σ_s a(i)[s] · up[d / 8, s, d mod 8] for i < rows, d < D,
 * a(i) = a + i·pixB (tiles past rows read tile 0), up in panels of 8 channels (zero past D); 4 × 8 register tiles.
 */
function winoGemm(a: usize, pixB: usize, S: i32, up: usize, D: i32, out: usize, ldo: usize, rows: i32, tmp: usize): void {
  const o1: usize = rows > 1 ? pixB : 0;
  const o2: usize = rows > 2 ? 2 * pixB : 0;
  const o3: usize = rows > 3 ? 3 * pixB : 0;
  for (let d = 0; d < D; d += 8) {
    let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
    let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
    let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
    let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
    let p0 = a, p1 = a + o1, p2 = a + o2, p3 = a + o3;
    const end = a + <usize>S * 4;
    for (; p0 < end; p0 += 4, p1 += 4, p2 += 4, p3 += 4, up += 32) {
      const b0 = v128.load(up), b1 = v128.load(up, 16);
      let x = v128.load32_splat(p0); c00 = madd(x, b0, c00); c01 = madd(x, b1, c01);
      x = v128.load32_splat(p1); c10 = madd(x, b0, c10); c11 = madd(x, b1, c11);
      x = v128.load32_splat(p2); c20 = madd(x, b0, c20); c21 = madd(x, b1, c21);
      x = v128.load32_splat(p3); c30 = madd(x, b0, c30); c31 = madd(x, b1, c31);
    }
    const o = out + <usize>d * 4;
    if (rows == 4 && d + 8 <= D) {
      v128.store(o, c00); v128.store(o, c01, 16);
      v128.store(o + ldo, c10); v128.store(o + ldo, c11, 16);
      v128.store(o + 2 * ldo, c20); v128.store(o + 2 * ldo, c21, 16);
      v128.store(o + 3 * ldo, c30); v128.store(o + 3 * ldo, c31, 16);
      continue;
    }
    v128.store(tmp, c00); v128.store(tmp, c01, 16);
    v128.store(tmp, c10, 32); v128.store(tmp, c11, 48);
    v128.store(tmp, c20, 64); v128.store(tmp, c21, 80);
    v128.store(tmp, c30, 96); v128.store(tmp, c31, 112);
    const cols = min(8, D - d);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) store<f32>(o + <usize>r * ldo + <usize>c * 4, load<f32>(tmp + <usize>(r * 8 + c) * 4));
    }
  }
}

/**
 * Forward (or backward-data) of a 3×3 convolution S → D by Winograd F(2×2, 3×3) over global tile rows [g0, g1)
 * (tile row g = image g / TH, rows 2·(g mod TH) and the next; TH = ⌈H/2⌉): dst = conv(src) + bias, ReLU when relu.
 * up, bias: from winoPack. Scratch at `band`: 128 bytes, V (16·T·S floats), M (16·T·D), then the band
 * ((2·bandTiles + 2) rows × (2·TW + 2) × S).
 */
export function winoForward(src: usize, dst: usize, up: usize, bias: usize, H: i32, W: i32, S: i32, D: i32, relu: i32, g0: i32, g1: i32, band: usize, bandTiles: i32, T: i32): void {
  const TH = (H + 1) >> 1, TW = (W + 1) >> 1;
  const Wb = 2 * TW + 2;
  const pixB = <usize>S * 4;
  const ldo = <usize>D * 4;
  const panels = (D + 7) >> 3;
  const xsV = winoStride(T * S, 1), xsM = winoStride(T * D, 2), xsU = winoStride(panels * 8 * S, 0);
  const tmp = band;
  const v = band + 128;
  const m = v + 16 * xsV;
  const buf = m + 16 * xsM;
  const zero = f32x4.splat(0);
  let g = g0;
  while (g < g1) {
    const img = g / TH;
    const ty0 = g - img * TH;
    const ty1 = min(TH, min(ty0 + (g1 - g), ty0 + bandTiles));
    const imgSrc = src + <usize>img * <usize>H * <usize>W * pixB;
    padBand(imgSrc, buf, H, W, S, 1, Wb - 1 - W, 2 * ty0 - 1, 2 * ty1 + 1);
    const tiles = (ty1 - ty0) * TW;
    for (let t0 = 0; t0 < tiles; t0 += T) {
      const tb = min(T, tiles - t0);
      winoInput(buf, Wb, S, TW, t0, tb, xsV, v);
      for (let k = 0; k < 16; k++) {
        const vk = v + <usize>k * xsV, uk = up + <usize>k * xsU, mk = m + <usize>k * xsM;
        for (let q = 0; q < tb; q += 4) {
          winoGemm(vk + <usize>(q * S) * 4, pixB, S, uk, D, mk + <usize>(q * D) * 4, ldo, min(4, tb - q), tmp);
        }
      }
      // Y = Aᵀ M A per tile, 4 channels at a time: rows m0 + m1 + m2 and m1 − m2 − m3, then the same along columns.
      for (let i = 0; i < tb; i++) {
        const t = t0 + i;
        const tyr = t / TW, tx = t - tyr * TW;
        const y = 2 * (ty0 + tyr), x = 2 * tx;
        const two = y + 1 < H, right = x + 1 < W;
        const out = dst + ((<usize>img * <usize>H + <usize>y) * <usize>W + <usize>x) * ldo;
        for (let c = 0; c < D; c += 4) {
          const mp = m + (<usize>i * <usize>D + <usize>c) * 4;
          const bv = v128.load(bias + <usize>c * 4);
          let s0: v128, s1: v128, s2: v128, s3: v128, d0: v128, d1: v128, d2: v128, d3: v128;
          {
            const a0 = v128.load(mp), a1 = v128.load(mp + xsM), a2 = v128.load(mp + 2 * xsM), a3 = v128.load(mp + 3 * xsM);
            const b0 = v128.load(mp + 4 * xsM), b1 = v128.load(mp + 5 * xsM), b2 = v128.load(mp + 6 * xsM), b3 = v128.load(mp + 7 * xsM);
            const e0 = v128.load(mp + 8 * xsM), e1 = v128.load(mp + 9 * xsM), e2 = v128.load(mp + 10 * xsM), e3 = v128.load(mp + 11 * xsM);
            s0 = f32x4.add(f32x4.add(a0, b0), e0); s1 = f32x4.add(f32x4.add(a1, b1), e1);
            s2 = f32x4.add(f32x4.add(a2, b2), e2); s3 = f32x4.add(f32x4.add(a3, b3), e3);
            d0 = f32x4.sub(b0, e0); d1 = f32x4.sub(b1, e1); d2 = f32x4.sub(b2, e2); d3 = f32x4.sub(b3, e3);
            d0 = f32x4.sub(d0, v128.load(mp + 12 * xsM)); d1 = f32x4.sub(d1, v128.load(mp + 13 * xsM));
            d2 = f32x4.sub(d2, v128.load(mp + 14 * xsM)); d3 = f32x4.sub(d3, v128.load(mp + 15 * xsM));
          }
          let y00 = f32x4.add(f32x4.add(f32x4.add(s0, s1), s2), bv);
          let y01 = f32x4.add(f32x4.sub(f32x4.sub(s1, s2), s3), bv);
          let y10 = f32x4.add(f32x4.add(f32x4.add(d0, d1), d2), bv);
          let y11 = f32x4.add(f32x4.sub(f32x4.sub(d1, d2), d3), bv);
          if (relu) {
            y00 = f32x4.max(y00, zero); y01 = f32x4.max(y01, zero);
            y10 = f32x4.max(y10, zero); y11 = f32x4.max(y11, zero);
          }
          const o = out + <usize>c * 4;
          v128.store(o, y00);
          if (right) v128.store(o + ldo, y01);
          if (two) {
            const o2 = o + <usize>W * ldo;
            v128.store(o2, y10);
            if (right) v128.store(o2 + ldo, y11);
          }
        }
      }
    }
    g += ty1 - ty0;
  }
}

/**
 * One of Winograd's 16 weight-gradient products, for 4 input channels: out[r, d] += Σ_{i < tb} a[i·aStride + r] ·
 * z[i·zStride + d], r < 4, d < D (D ≥ 8; the last panel of 8 is shifted back to end at D and adds only its new
 * columns).
 */
function winoWeightsGemm(a: usize, aStride: usize, z: usize, zStride: usize, tb: i32, D: i32, out: usize, ldo: usize, tmp: usize): void {
  for (let d0 = 0; d0 < D; d0 += 8) {
    const d = min(d0, D - 8);
    let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
    let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
    let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
    let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
    let pa = a, pz = z + <usize>d * 4;
    const end = pz + <usize>tb * zStride;
    for (; pz < end; pa += aStride, pz += zStride) {
      const b0 = v128.load(pz), b1 = v128.load(pz, 16);
      let x = v128.load32_splat(pa); c00 = madd(x, b0, c00); c01 = madd(x, b1, c01);
      x = v128.load32_splat(pa, 4); c10 = madd(x, b0, c10); c11 = madd(x, b1, c11);
      x = v128.load32_splat(pa, 8); c20 = madd(x, b0, c20); c21 = madd(x, b1, c21);
      x = v128.load32_splat(pa, 12); c30 = madd(x, b0, c30); c31 = madd(x, b1, c31);
    }
    let o = out + <usize>d * 4;
    if (d == d0) {
      v128.store(o, f32x4.add(v128.load(o), c00)); v128.store(o, f32x4.add(v128.load(o, 16), c01), 16); o += ldo;
      v128.store(o, f32x4.add(v128.load(o), c10)); v128.store(o, f32x4.add(v128.load(o, 16), c11), 16); o += ldo;
      v128.store(o, f32x4.add(v128.load(o), c20)); v128.store(o, f32x4.add(v128.load(o, 16), c21), 16); o += ldo;
      v128.store(o, f32x4.add(v128.load(o), c30)); v128.store(o, f32x4.add(v128.load(o, 16), c31), 16);
      continue;
    }
    v128.store(tmp, c00); v128.store(tmp, c01, 16);
    v128.store(tmp, c10, 32); v128.store(tmp, c11, 48);
    v128.store(tmp, c20, 64); v128.store(tmp, c21, 80);
    v128.store(tmp, c30, 96); v128.store(tmp, c31, 112);
    for (let r = 0; r < 4; r++) {
      for (let c = d0 - d; c < 8; c++) {
        const p = o + <usize>r * ldo + <usize>c * 4;
        store<f32>(p, load<f32>(p) + load<f32>(tmp + <usize>(r * 8 + c) * 4));
      }
    }
  }
}

/**
 * This thread's part of the weight gradient of a 3×3 convolution C → D by Winograd (see above), over global tile
 * rows [g0, g1): part (overwritten) = dU [16][C, D]. Scratch at `band`: 128 bytes, V (16·T·C floats), Ŷ (16·T·D),
 * the band.
 */
export function winoWeights(x: usize, dy: usize, part: usize, H: i32, W: i32, C: i32, D: i32, g0: i32, g1: i32, band: usize, bandTiles: i32, T: i32): void {
  const TH = (H + 1) >> 1, TW = (W + 1) >> 1;
  const Wb = 2 * TW + 2;
  const pixB = <usize>C * 4;
  const dyPix = <usize>D * 4;
  const xsV = winoStride(T * C, 1), xsZ = winoStride(T * D, 2);
  const tmp = band;
  const v = band + 128;
  const z = v + 16 * xsV;
  const buf = z + 16 * xsZ;
  const zero = f32x4.splat(0);
  memory.fill(part, 0, <usize>(16 * C * D) * 4);
  let g = g0;
  while (g < g1) {
    const img = g / TH;
    const ty0 = g - img * TH;
    const ty1 = min(TH, min(ty0 + (g1 - g), ty0 + bandTiles));
    const imgSrc = x + <usize>img * <usize>H * <usize>W * pixB;
    padBand(imgSrc, buf, H, W, C, 1, Wb - 1 - W, 2 * ty0 - 1, 2 * ty1 + 1);
    const tiles = (ty1 - ty0) * TW;
    for (let t0 = 0; t0 < tiles; t0 += T) {
      const tb = min(T, tiles - t0);
      winoInput(buf, Wb, C, TW, t0, tb, xsV, v);
      // Ŷ = A dY Aᵀ per tile (dY 2×2, 0 outside the image), 4 channels at a time.
      for (let i = 0; i < tb; i++) {
        const t = t0 + i;
        const tyr = t / TW, tx = t - tyr * TW;
        const y = 2 * (ty0 + tyr), xx = 2 * tx;
        const two = y + 1 < H, right = xx + 1 < W;
        const src = dy + ((<usize>img * <usize>H + <usize>y) * <usize>W + <usize>xx) * dyPix;
        for (let c = 0; c < D; c += 4) {
          const p = src + <usize>c * 4;
          const q00 = v128.load(p);
          const q01 = right ? v128.load(p + dyPix) : zero;
          const q10 = two ? v128.load(p + <usize>W * dyPix) : zero;
          const q11 = two && right ? v128.load(p + <usize>W * dyPix + dyPix) : zero;
          // rows of A dY: [q0], [q0 + q1], [q0 − q1], [−q1] (q = the two dY rows), then the same along columns.
          const o = z + (<usize>i * <usize>D + <usize>c) * 4;
          for (let xi = 0; xi < 4; xi++) {
            let a: v128, b: v128;
            if (xi == 0) { a = q00; b = q01; }
            else if (xi == 1) { a = f32x4.add(q00, q10); b = f32x4.add(q01, q11); }
            else if (xi == 2) { a = f32x4.sub(q00, q10); b = f32x4.sub(q01, q11); }
            else { a = f32x4.neg(q10); b = f32x4.neg(q11); }
            const row = o + <usize>(xi * 4) * xsZ;
            v128.store(row, a);
            v128.store(row + xsZ, f32x4.add(a, b));
            v128.store(row + 2 * xsZ, f32x4.sub(a, b));
            v128.store(row + 3 * xsZ, f32x4.neg(b));
          }
        }
      }
      // dU[ξν][s, d] += Σ_t V[ξν][t, s] · Ŷ[ξν][t, d]: 4 input channels (broadcast) × 8 output channels a tile.
      for (let k = 0; k < 16; k++) {
        const vk = v + <usize>k * xsV, zk = z + <usize>k * xsZ, pk = part + <usize>(k * C * D) * 4;
        for (let s = 0; s < C; s += 4) {
          winoWeightsGemm(vk + <usize>s * 4, pixB, zk, dyPix, tb, D, pk + <usize>(s * D) * 4, dyPix, tmp);
        }
      }
    }
    g += ty1 - ty0;
  }
}

/** dW [D, C, 3, 3] = Gᵀ (Σ of `count` parts dU [16][C, D], `stride` bytes apart) G. */
export function winoWeightsReduce(parts: usize, count: i32, stride: usize, dW: usize, C: i32, D: i32): void {
  for (let s = 0; s < C; s++) {
    for (let d = 0; d < D; d++) {
      // u[ξ][ν], summed over the parts (f64)
      let w00: f64 = 0, w01: f64 = 0, w02: f64 = 0, w10: f64 = 0, w11: f64 = 0, w12: f64 = 0, w20: f64 = 0, w21: f64 = 0, w22: f64 = 0;
      for (let xi = 0; xi < 4; xi++) {
        // Gᵀ's column xi: row xi of G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]
        const ga: f64 = xi == 0 ? 1 : xi == 3 ? 0 : 0.5;
        const gb: f64 = xi == 1 ? 0.5 : xi == 2 ? -0.5 : 0;
        const gc: f64 = xi == 3 ? 1 : xi == 0 ? 0 : 0.5;
        for (let nu = 0; nu < 4; nu++) {
          let u: f64 = 0;
          const o = <usize>(((xi * 4 + nu) * C + s) * D + d) * 4;
          for (let p = 0; p < count; p++) u += <f64>load<f32>(parts + <usize>p * stride + o);
          const ha: f64 = nu == 0 ? 1 : nu == 3 ? 0 : 0.5;
          const hb: f64 = nu == 1 ? 0.5 : nu == 2 ? -0.5 : 0;
          const hc: f64 = nu == 3 ? 1 : nu == 0 ? 0 : 0.5;
          w00 += ga * u * ha; w01 += ga * u * hb; w02 += ga * u * hc;
          w10 += gb * u * ha; w11 += gb * u * hb; w12 += gb * u * hc;
          w20 += gc * u * ha; w21 += gc * u * hb; w22 += gc * u * hc;
        }
      }
      const o = dW + <usize>((d * C + s) * 9) * 4;
      store<f32>(o, <f32>w00); store<f32>(o, <f32>w01, 4); store<f32>(o, <f32>w02, 8);
      store<f32>(o, <f32>w10, 12); store<f32>(o, <f32>w11, 16); store<f32>(o, <f32>w12, 20);
      store<f32>(o, <f32>w20, 24); store<f32>(o, <f32>w21, 28); store<f32>(o, <f32>w22, 32);
    }
  }
}
