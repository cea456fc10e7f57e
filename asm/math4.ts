// Four-lane elementary functions for the kernels: exp, log1p and tanh in float32 (Cephes-style polynomials; no
// lookup tables, which would be a data segment that each worker's instantiation rewrites).
import { madd } from './simd';


// exp(x) for x ≤ 0, four lanes: Cephes expf (range reduction by ln 2 in two parts, degree-5 polynomial, scaling
// by 2^k through the exponent bits). Inputs below −87 are clamped there (e^−87 ≈ 1.6e−38, the smallest normal),
// which is exact to f32 for what it feeds (log1p of it, and 1 ± it).
// @ts-ignore: decorator
@inline export function expNonPositive(x: v128): v128 {
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
@inline export function log1pUnit(e: v128): v128 {
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

// tanh(u), four lanes (Cephes tanhf): for |u| ≤ 0.625 the odd polynomial u + u³·P(u²) (relative accuracy near 0,
// where 1 − e^(−2|u|) would cancel); above, sign(u)·(1 − q)/(1 + q) with q = e^(−2|u|) < 0.29.
// @ts-ignore: decorator
@inline export function tanh4(u: v128): v128 {
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
@inline export function exp4(x: v128): v128 {
  const en = expNonPositive(f32x4.neg(f32x4.abs(x)));
  return v128.bitselect(f32x4.div(f32x4.splat(1), en), en, f32x4.gt(x, f32x4.splat(0)));
}
