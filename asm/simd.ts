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
