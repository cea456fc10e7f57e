// Blocked matrix multiply for the wasm backend (AssemblyScript; pointers are byte offsets into the shared memory,
// matrices row-major float32; formulas in src/core/refKernels.ts).
//
// gemm follows the GotoBLAS scheme: blocks of op(B) (KC×NC) and op(A) (MC×KC) are packed into panels of 8 columns
// and 4 rows, so that the 4×8 register-blocked micro-kernel reads both operands contiguously whatever the
// transposes; with relaxed SIMD the multiply-add is one fused instruction. The convolutions (conv.ts, winograd.ts)
// use register tiles of the same 4×8 shape.

const MR: i32 = 4;
const NR: i32 = 8;
const KC: i32 = 256;
const MC: i32 = 64;
const NC: i32 = 512;

/** Bytes of scratch one thread needs for gemm: packed A block, packed B block, an edge tile. */
export const SCRATCH_BYTES: i32 = (MC * KC + KC * NC + MR * NR) * 4;

import { madd, storeTile } from './simd';

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
  storeTile(c, <usize>ldc * 4, rows, 0, cols, !overwrite, c00, c01, c10, c11, c20, c21, c30, c31, tmp);
}

/** Up to this many columns of C, gemm skips the packing (see gemmSkinny). */
const SKINNY_N: i32 = 2;

/**
 * gemm for C with one or two columns (a coupling network's output layer in 2-D, its gradient to a one-value input):
 * packing op(A) into panels and padding op(B) to 8 columns would cost more than the product, so each column of C is
 * computed directly. Column j of op(B) goes to `scratch` (contiguous), then either C[i, j] = dot(A row i, that column)
 * (A not transposed: rows contiguous) or C[:, j] = Σ_k A row k · op(B)[k, j] (A transposed: A's rows are op(A)'s
 * columns, contiguous in i), accumulated in `scratch` after the column (gemm uses it when both fit in the scratch).
 */
function gemmSkinny(transA: bool, transB: bool, M: i32, N: i32, K: i32, a: usize, b: usize, c: usize, accumulate: bool, m0: i32, m1: i32, n0: i32, n1: i32, scratch: usize): void {
  const col = scratch;
  const acc = scratch + (<usize>((K + 3) & ~3)) * 4;
  for (let j = n0; j < n1; j++) {
    // op(B)[:, j]: row j of B when transposed ([N, K]), else column j of B ([K, N]).
    for (let k = 0; k < K; k++) store<f32>(col + <usize>k * 4, transB ? load<f32>(b + <usize>(j * K + k) * 4) : load<f32>(b + <usize>(k * N + j) * 4));
    if (!transA) {
      const K4 = K & ~3;
      for (let i = m0; i < m1; i++) {
        const row = a + <usize>(i * K) * 4;
        let s0 = f32x4.splat(0), s1 = f32x4.splat(0);
        let k = 0;
        for (; k + 8 <= K4; k += 8) {
          s0 = madd(v128.load(row + <usize>k * 4), v128.load(col + <usize>k * 4), s0);
          s1 = madd(v128.load(row + <usize>k * 4, 16), v128.load(col + <usize>k * 4, 16), s1);
        }
        for (; k < K4; k += 4) s0 = madd(v128.load(row + <usize>k * 4), v128.load(col + <usize>k * 4), s0);
        const v = f32x4.add(s0, s1);
        let sum = f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
        for (; k < K; k++) sum += load<f32>(row + <usize>k * 4) * load<f32>(col + <usize>k * 4);
        const cp = c + <usize>(i * N + j) * 4;
        store<f32>(cp, accumulate ? load<f32>(cp) + sum : sum);
      }
    } else {
      // op(A)[i, k] = A[k, i]: C[m0:m1, j] = Σ_k op(B)[k, j] · A[k, m0:m1].
      const mc = m1 - m0;
      const M4 = mc & ~3;
      for (let i = 0; i < mc; i++) store<f32>(acc + <usize>i * 4, 0);
      for (let k = 0; k < K; k++) {
        const bkj = load<f32>(col + <usize>k * 4);
        const w = f32x4.splat(bkj);
        const row = a + <usize>(k * M + m0) * 4;
        let i = 0;
        for (; i < M4; i += 4) v128.store(acc + <usize>i * 4, madd(v128.load(row + <usize>i * 4), w, v128.load(acc + <usize>i * 4)));
        for (; i < mc; i++) store<f32>(acc + <usize>i * 4, load<f32>(acc + <usize>i * 4) + load<f32>(row + <usize>i * 4) * bkj);
      }
      for (let i = 0; i < mc; i++) {
        const cp = c + <usize>((m0 + i) * N + j) * 4;
        const v = load<f32>(acc + <usize>i * 4);
        store<f32>(cp, accumulate ? load<f32>(cp) + v : v);
      }
    }
  }
}

/**
 * The block rows [m0, m1) × columns [n0, n1) of C[M,N] (+)= op(A)[M,K]·op(B)[K,N] (see Backend.gemm). K must be ≥ 1.
 * `scratch` holds SCRATCH_BYTES for this thread. Threads split C by rows or by columns: by columns, each packs only
 * its own part of op(B) (the larger operand when N > M, as in a batch-200 forward pass).
 */
export function gemm(transA: i32, transB: i32, M: i32, N: i32, K: i32, a: usize, b: usize, c: usize, accumulate: i32, m0: i32, m1: i32, n0: i32, n1: i32, scratch: usize): void {
  if (n1 - n0 <= SKINNY_N && ((K + 3) & ~3) + (m1 - m0) <= SCRATCH_BYTES / 4) {
    gemmSkinny(transA != 0, transB != 0, M, N, K, a, b, c, accumulate != 0, m0, m1, n0, n1, scratch);
    return;
  }
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
