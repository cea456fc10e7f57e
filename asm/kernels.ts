// WebAssembly SIMD kernels (AssemblyScript) behind src/core/wasm/createWasmBackend.ts. All pointers are byte
// offsets into the shared memory; matrices are row-major float32. Formulas are those of src/core/refKernels.ts.
//
// gemm follows the GotoBLAS scheme: blocks of op(B) (KC×NC) and op(A) (MC×KC) are packed into panels of 8 columns
// and 4 rows, so that the 4×8 register-blocked micro-kernel reads both operands contiguously whatever the
// transposes; with relaxed SIMD the multiply-add is one fused instruction.

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
