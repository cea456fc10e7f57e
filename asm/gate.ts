// The gate of the gated residual blocks (src/nn/GatedConvNet.ts; formulas in src/core/refKernels.ts, gateForwardRef
// and gateBackwardRef): w [rows, 2F] = [a | g] per pixel row, h [rows, F]; and their residual path's masked ReLU
// copy and add (reluMaskAddRef).
import { expNonPositive } from './math4';

// σ(g) = 1/(1 + e^−g) for g ≥ 0, e^g/(1 + e^g) below, four lanes (no overflow on either side).
// @ts-ignore: decorator
@inline function sigmoid4(g: v128): v128 {
  const en = expNonPositive(f32x4.neg(f32x4.abs(g)));
  const inv = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), en));
  return v128.bitselect(inv, f32x4.mul(en, inv), f32x4.ge(g, f32x4.splat(0)));
}

// σ(g) of one value (the tail of a row), by the four-lane form (Mathf.exp would bring a data segment).
// @ts-ignore: decorator
@inline function sigmoid1(g: f32): f32 {
  return f32x4.extract_lane(sigmoid4(f32x4.splat(g)), 0);
}

/** Rows [r0, r1): h[r, c] += a·σ(g); with save ≠ 0, σ(g) replaces g in w. */
export function gateForward(w: usize, h: usize, F: i32, save: i32, r0: i32, r1: i32): void {
  const vecEnd = F & ~3;
  for (let r = r0; r < r1; r++) {
    const wa = w + <usize>(2 * r * F) * 4;
    const wg = wa + <usize>F * 4;
    const hr = h + <usize>(r * F) * 4;
    for (let c = 0; c < vecEnd; c += 4) {
      const o = <usize>c * 4;
      const s = sigmoid4(v128.load(wg + o));
      if (save) v128.store(wg + o, s);
      v128.store(hr + o, f32x4.add(v128.load(hr + o), f32x4.mul(v128.load(wa + o), s)));
    }
    for (let c = vecEnd; c < F; c++) {
      const o = <usize>c * 4;
      const s = sigmoid1(load<f32>(wg + o));
      if (save) store<f32>(wg + o, s);
      store<f32>(hr + o, load<f32>(hr + o) + load<f32>(wa + o) * s);
    }
  }
}

/** Rows [r0, r1), with w = [a | σ(g)] as a saving gateForward left it: dw = [dh·s | dh·a·s(1 − s)]. */
export function gateBackward(w: usize, dh: usize, dw: usize, F: i32, r0: i32, r1: i32): void {
  const one = f32x4.splat(1);
  const vecEnd = F & ~3;
  for (let r = r0; r < r1; r++) {
    const wa = w + <usize>(2 * r * F) * 4;
    const ws = wa + <usize>F * 4;
    const da = dw + <usize>(2 * r * F) * 4;
    const dg = da + <usize>F * 4;
    const dr = dh + <usize>(r * F) * 4;
    for (let c = 0; c < vecEnd; c += 4) {
      const o = <usize>c * 4;
      const s = v128.load(ws + o), d = v128.load(dr + o);
      const ds = f32x4.mul(d, s);
      v128.store(da + o, ds);
      v128.store(dg + o, f32x4.mul(f32x4.mul(ds, v128.load(wa + o)), f32x4.sub(one, s)));
    }
    for (let c = vecEnd; c < F; c++) {
      const o = <usize>c * 4;
      const s = load<f32>(ws + o), d = load<f32>(dr + o);
      store<f32>(da + o, d * s);
      store<f32>(dg + o, d * s * load<f32>(wa + o) * (<f32>1 - s));
    }
  }
}

/**
 * dst[i] = (accumulate ? dst[i] : 0) + (mask[i] > 0 ? src[i] : 0) for i in [i0, i1): ReLU(h) as a copy (src = mask =
 * h), or a ReLU's backward added to a running gradient (src = dy, mask = the ReLU's output).
 */
export function reluMaskAdd(src: usize, mask: usize, dst: usize, accumulate: i32, i0: i32, i1: i32): void {
  const zero = f32x4.splat(0);
  let i = i0;
  for (; i + 4 <= i1; i += 4) {
    const o = <usize>i * 4;
    const v = v128.and(v128.load(src + o), f32x4.gt(v128.load(mask + o), zero));
    v128.store(dst + o, accumulate ? f32x4.add(v128.load(dst + o), v) : v);
  }
  for (; i < i1; i++) {
    const o = <usize>i * 4;
    const v: f32 = load<f32>(mask + o) > 0 ? load<f32>(src + o) : 0;
    store<f32>(dst + o, accumulate ? load<f32>(dst + o) + v : v);
  }
}
