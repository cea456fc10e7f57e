// Element-wise kernels of the dense and convolutional layers and of Adam (formulas in src/core/refKernels.ts).

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
