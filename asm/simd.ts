// SIMD helpers shared by the kernels (AssemblyScript, inlined where used): the multiply-add (fused with relaxed
// SIMD), lane sums, and loads/stores of up to four lanes at given or contiguous positions.

// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** [Σ a, Σ b, Σ c, Σ d] over the lanes of each. */
// @ts-ignore: decorator
@inline export function sum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = f32x4.add(v128.shuffle<f32>(a, b, 0, 4, 1, 5), v128.shuffle<f32>(a, b, 2, 6, 3, 7));
  const cd = f32x4.add(v128.shuffle<f32>(c, d, 0, 4, 1, 5), v128.shuffle<f32>(c, d, 2, 6, 3, 7));
  return f32x4.add(v128.shuffle<f32>(ab, cd, 0, 1, 4, 5), v128.shuffle<f32>(ab, cd, 2, 3, 6, 7));
}

// Four lanes of a row at the updated coordinates idx[j..j+cnt) (cnt ≤ 4; the other lanes 0).
// @ts-ignore: decorator
@inline export function gather4(row: usize, idx: usize, cnt: i32): v128 {
  let v = f32x4.splat(0);
  v = f32x4.replace_lane(v, 0, load<f32>(row + (<usize>load<i32>(idx) << 2)));
  if (cnt > 1) v = f32x4.replace_lane(v, 1, load<f32>(row + (<usize>load<i32>(idx, 4) << 2)));
  if (cnt > 2) v = f32x4.replace_lane(v, 2, load<f32>(row + (<usize>load<i32>(idx, 8) << 2)));
  if (cnt > 3) v = f32x4.replace_lane(v, 3, load<f32>(row + (<usize>load<i32>(idx, 12) << 2)));
  return v;
}

// Stores the first cnt lanes of v at row[idx[j..j+cnt)].
// @ts-ignore: decorator
@inline export function scatter4(v: v128, row: usize, idx: usize, cnt: i32): void {
  store<f32>(row + (<usize>load<i32>(idx) << 2), f32x4.extract_lane(v, 0));
  if (cnt > 1) store<f32>(row + (<usize>load<i32>(idx, 4) << 2), f32x4.extract_lane(v, 1));
  if (cnt > 2) store<f32>(row + (<usize>load<i32>(idx, 8) << 2), f32x4.extract_lane(v, 2));
  if (cnt > 3) store<f32>(row + (<usize>load<i32>(idx, 12) << 2), f32x4.extract_lane(v, 3));
}

// Stores the first cnt lanes of v contiguously at p.
// @ts-ignore: decorator
@inline export function storeN(p: usize, v: v128, cnt: i32): void {
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
@inline export function loadN(p: usize, cnt: i32): v128 {
  if (cnt == 4) return v128.load(p);
  let v = f32x4.splat(0);
  v = f32x4.replace_lane(v, 0, load<f32>(p));
  if (cnt > 1) v = f32x4.replace_lane(v, 1, load<f32>(p + 4));
  if (cnt > 2) v = f32x4.replace_lane(v, 2, load<f32>(p + 8));
  return v;
}

/**
 * Writes a 4×8 register tile (row r in cr0, cr1: columns 0–3 and 4–7) to out, rows ldo bytes apart: rows [0, rows)
 * and columns [col0, col1), added to what is there when `accumulate`. A whole tile goes straight from the
 * registers; a partial one through `tmp` (128 bytes of scratch).
 */
// @ts-ignore: decorator
@inline export function storeTile(
  out: usize, ldo: usize, rows: i32, col0: i32, col1: i32, accumulate: bool,
  c00: v128, c01: v128, c10: v128, c11: v128, c20: v128, c21: v128, c30: v128, c31: v128, tmp: usize,
): void {
  if (rows == 4 && col0 == 0 && col1 == 8) {
    if (accumulate) {
      c00 = f32x4.add(v128.load(out), c00); c01 = f32x4.add(v128.load(out, 16), c01);
      c10 = f32x4.add(v128.load(out + ldo), c10); c11 = f32x4.add(v128.load(out + ldo, 16), c11);
      c20 = f32x4.add(v128.load(out + 2 * ldo), c20); c21 = f32x4.add(v128.load(out + 2 * ldo, 16), c21);
      c30 = f32x4.add(v128.load(out + 3 * ldo), c30); c31 = f32x4.add(v128.load(out + 3 * ldo, 16), c31);
    }
    v128.store(out, c00); v128.store(out, c01, 16);
    v128.store(out + ldo, c10); v128.store(out + ldo, c11, 16);
    v128.store(out + 2 * ldo, c20); v128.store(out + 2 * ldo, c21, 16);
    v128.store(out + 3 * ldo, c30); v128.store(out + 3 * ldo, c31, 16);
    return;
  }
  v128.store(tmp, c00); v128.store(tmp, c01, 16);
  v128.store(tmp, c10, 32); v128.store(tmp, c11, 48);
  v128.store(tmp, c20, 64); v128.store(tmp, c21, 80);
  v128.store(tmp, c30, 96); v128.store(tmp, c31, 112);
  for (let r = 0; r < rows; r++) {
    for (let c = col0; c < col1; c++) {
      const p = out + <usize>r * ldo + <usize>c * 4;
      const v = load<f32>(tmp + <usize>(r * 8 + c) * 4);
      store<f32>(p, accumulate ? load<f32>(p) + v : v);
    }
  }
}
