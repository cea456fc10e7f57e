// ---- Direct convolution (src/core/wasm/createWasmConv.ts says why and how it is used) ----
//
// A stride-1, 'same'-padded k×k convolution from an NHWC source of S channels to an NHWC destination of D channels,
// with weights Wd[d, s, ky, kx]: forward is (S, D) = (inC, outC), Wd = W; backward-data is the same convolution
// run on dy with (S, D) = (outC, inC) and Wd[ci, co, ky, kx] = W[co, ci, k−1−ky, k−1−kx] (flipped, transposed).
// Rows of an image are copied once into a zero-padded band ((rows + 2·pad) × (W + 2·pad) × S, a thread's scratch),
// so that the k taps of a kernel row at output pixel x are k·S contiguous floats of the band row: the reduction
// runs over (ky, j) with j = kx·S + s, reading the band directly (no column buffer, no packing of the input).
import { padBand } from './band';
import { madd, storeTile, sum4 } from './simd';


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
    storeTile(out + <usize>d * 4, ldo, rows, 0, min(8, D - d), false, c00, c01, c10, c11, c20, c21, c30, c31, tmp);
  }
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
  storeTile(out, ldo, rows, skip, 8, true, c00, c01, c10, c11, c20, c21, c30, c31, tmp);
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

