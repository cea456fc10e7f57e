// The exponential-scale coupling laws (affine, multiplicative) on the updated coordinates of a batch of rows.
import { exp4, tanh4 } from './math4';
import { gather4, loadN, scatter4, storeN } from './simd';

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
