// The standard logistic prior, four lanes at a time (formulas in src/priors/logisticPrior.ts).
import { expNonPositive, log1pUnit } from './math4';

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
