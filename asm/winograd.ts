// ---- Winograd F(2×2, 3×3) (Lavin & Gray 2016) for 3×3 convolutions with S and D multiples of 4, at least 8 ----
//
// Output tile 2×2 from input tile 4×4: Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A, with
//   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1],  G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1],  Aᵀ = [1 1 1 0; 0 1 −1 −1],
// a cross-correlation like conv2d's. Over channels it is 16 matrix products, one per position ξν of the 4×4 tile:
// M[ξν][t, d] = Σ_s V[ξν][t, s] · U[ξν][s, d] (t a tile), 16 multiply-adds per 4 outputs instead of 36. The weight
// gradient is the adjoint: dU[ξν][s, d] = Σ_t V[ξν][t, s] · (A dY_t Aᵀ)[ξν][d], dW = Gᵀ dU G.
// Tiles of a band are numbered along rows (t → tile row t / TW, column t mod TW, TW = ⌈W/2⌉) and processed in blocks
// of T; the band holds the padded rows 2·ty0 − 1 … 2·ty1 of the image, columns −1 … 2·TW.
// The 16 slices of V, M and U are not a multiple of 4 KiB apart (winoStride): at 4 KiB the transforms' 16 accesses
// per tile fall into one L1 set (measured: the 32-channel forward at 47 GFLOP/s instead of 57).
import { padBand } from './band';
import { madd, storeTile } from './simd';


/**
 * Bytes between the ξν slices of a matrix of `floats` floats: rounded up to 64 bytes, and moved by 64·(2 + odd)
 * when that close to a multiple of 4 KiB (`odd` differs per matrix, so that V, M and U do not meet either).
 */
// @ts-ignore: decorator
@inline function winoStride(floats: i32, odd: i32): usize {
  let b = <usize>((floats + 15) & ~15) * 4;
  if ((b & 4095) < 64 * <usize>(2 + odd) || (b & 4095) > 4096 - 64 * <usize>(2 + odd)) b += 64 * <usize>(2 + odd);
  return b;
}

/** Tap i (ky·3 + kx) of a 3×3 kernel at base, or of the flipped kernel (8 − i) when back ≠ 0. */
// @ts-ignore: decorator
@inline function winoTap(base: usize, back: i32, i: i32): f64 {
  return <f64>load<f32>(base + <usize>(back ? 8 - i : i) * 4);
}

/**
 * U[ξν][p, s, c] = (G · Wd[8p + c, s] · Gᵀ)[ξ, ν] (0 past D) in panels of 8 destination channels for winoGemm,
 * Wd as in convPack (back ≠ 0: backward-data's), ξν slices winoStride(8·⌈D/8⌉·S, 0) bytes apart; the
 * bias (or zeros) at biasDst as in convPack.
 */
export function winoPack(W: usize, bias: usize, dst: usize, biasDst: usize, inC: i32, outC: i32, back: i32): void {
  const S = back ? outC : inC;
  const D = back ? inC : outC;
  const panels = (D + 7) >> 3;
  const xsU = winoStride(panels * 8 * S, 0);
  for (let d = 0; d < panels * 8; d++) {
    for (let s = 0; s < S; s++) {
      // g = Wd[d, s] (3×3), Gg = G·g (4×3), U = Gg·Gᵀ (4×4), in f64.
      let g0: f64 = 0, g1: f64 = 0, g2: f64 = 0, g3: f64 = 0, g4: f64 = 0, g5: f64 = 0, g6: f64 = 0, g7: f64 = 0, g8: f64 = 0;
      if (d < D) {
        const base = back ? W + <usize>((s * inC + d) * 9) * 4 : W + <usize>((d * inC + s) * 9) * 4;
        g0 = winoTap(base, back, 0); g1 = winoTap(base, back, 1); g2 = winoTap(base, back, 2);
        g3 = winoTap(base, back, 3); g4 = winoTap(base, back, 4); g5 = winoTap(base, back, 5);
        g6 = winoTap(base, back, 6); g7 = winoTap(base, back, 7); g8 = winoTap(base, back, 8);
      }
      for (let xi = 0; xi < 4; xi++) {
        // row xi of G·g
        let a: f64, b: f64, c: f64;
        if (xi == 0) { a = g0; b = g1; c = g2; }
        else if (xi == 3) { a = g6; b = g7; c = g8; }
        else {
          const sign: f64 = xi == 1 ? 1 : -1;
          a = 0.5 * (g0 + sign * g3 + g6); b = 0.5 * (g1 + sign * g4 + g7); c = 0.5 * (g2 + sign * g5 + g8);
        }
        const u0 = a, u1 = 0.5 * (a + b + c), u2 = 0.5 * (a - b + c), u3 = c;
        for (let nu = 0; nu < 4; nu++) {
          const v = nu == 0 ? u0 : nu == 1 ? u1 : nu == 2 ? u2 : u3;
          const o = (((d >> 3) * S + s) << 3) + (d & 7);
          store<f32>(dst + <usize>(xi * 4 + nu) * xsU + <usize>o * 4, <f32>v);
        }
      }
    }
    store<f32>(biasDst + <usize>d * 4, bias && d < D ? load<f32>(bias + <usize>d * 4) : 0);
  }
}

/**
 * V[ξν][t, s] = (Bᵀ d B)[ξ, ν] for tiles t0 … t0 + tb − 1 of the band (Wb columns of S channels; d the tile's 4×4
 * input), 4 channels at a time; t counted from t0, the ξν slices xs bytes apart.
 */
function winoInput(band: usize, Wb: i32, S: i32, TW: i32, t0: i32, tb: i32, xs: usize, v: usize): void {
  const cs = <usize>S * 4;
  const rs = <usize>Wb * cs;
  for (let i = 0; i < tb; i++) {
    const t = t0 + i;
    const ty = t / TW, tx = t - ty * TW;
    const src = band + <usize>(2 * ty) * rs + <usize>(2 * tx) * cs;
    for (let sg = 0; sg < S; sg += 4) {
      const o = v + (<usize>i * <usize>S + <usize>sg) * 4;
      const p = src + <usize>sg * 4;
      for (let xi = 0; xi < 4; xi++) {
        // Row xi of Bᵀ d: d0 − d2, d1 + d2, d2 − d1, d1 − d3 (rows of d), column by column.
        const ra = p + <usize>(xi == 0 ? 0 : xi == 2 ? 2 : 1) * rs;
        const rb = p + <usize>(xi == 0 ? 2 : xi == 1 ? 2 : xi == 2 ? 1 : 3) * rs;
        let r0: v128, r1: v128, r2: v128, r3: v128;
        if (xi == 1) {
          r0 = f32x4.add(v128.load(ra), v128.load(rb));
          r1 = f32x4.add(v128.load(ra + cs), v128.load(rb + cs));
          r2 = f32x4.add(v128.load(ra + 2 * cs), v128.load(rb + 2 * cs));
          r3 = f32x4.add(v128.load(ra + 3 * cs), v128.load(rb + 3 * cs));
        } else {
          r0 = f32x4.sub(v128.load(ra), v128.load(rb));
          r1 = f32x4.sub(v128.load(ra + cs), v128.load(rb + cs));
          r2 = f32x4.sub(v128.load(ra + 2 * cs), v128.load(rb + 2 * cs));
          r3 = f32x4.sub(v128.load(ra + 3 * cs), v128.load(rb + 3 * cs));
        }
        // (·) B along the row: r0 − r2, r1 + r2, r2 − r1, r1 − r3.
        const row = o + <usize>(xi * 4) * xs;
        v128.store(row, f32x4.sub(r0, r2));
        v128.store(row + xs, f32x4.add(r1, r2));
        v128.store(row + 2 * xs, f32x4.sub(r2, r1));
        v128.store(row + 3 * xs, f32x4.sub(r1, r3));
      }
    }
  }
}

/**
 * One of Winograd's 16 products for 4 tiles: out[i, d] = Σ_s a(i)[s] · up[d / 8, s, d mod 8] for i < rows, d < D,
 * a(i) = a + i·pixB (tiles past rows read tile 0), up in panels of 8 channels (zero past D); 4 × 8 register tiles.
 */
function winoGemm(a: usize, pixB: usize, S: i32, up: usize, D: i32, out: usize, ldo: usize, rows: i32, tmp: usize): void {
  const o1: usize = rows > 1 ? pixB : 0;
  const o2: usize = rows > 2 ? 2 * pixB : 0;
  const o3: usize = rows > 3 ? 3 * pixB : 0;
  for (let d = 0; d < D; d += 8) {
    let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
    let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
    let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
    let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
    let p0 = a, p1 = a + o1, p2 = a + o2, p3 = a + o3;
    const end = a + <usize>S * 4;
    for (; p0 < end; p0 += 4, p1 += 4, p2 += 4, p3 += 4, up += 32) {
      const b0 = v128.load(up), b1 = v128.load(up, 16);
      let x = v128.load32_splat(p0); c00 = madd(x, b0, c00); c01 = madd(x, b1, c01);
      x = v128.load32_splat(p1); c10 = madd(x, b0, c10); c11 = madd(x, b1, c11);
      x = v128.load32_splat(p2); c20 = madd(x, b0, c20); c21 = madd(x, b1, c21);
      x = v128.load32_splat(p3); c30 = madd(x, b0, c30); c31 = madd(x, b1, c31);
    }
    storeTile(out + <usize>d * 4, ldo, rows, 0, min(8, D - d), false, c00, c01, c10, c11, c20, c21, c30, c31, tmp);
  }
}

/**
 * Forward (or backward-data) of a 3×3 convolution S → D by Winograd F(2×2, 3×3) over global tile rows [g0, g1)
 * (tile row g = image g / TH, rows 2·(g mod TH) and the next; TH = ⌈H/2⌉): dst = conv(src) + bias, ReLU when relu.
 * up, bias: from winoPack. Scratch at `band`: 128 bytes, V (16·T·S floats), M (16·T·D), then the band
 * ((2·bandTiles + 2) rows × (2·TW + 2) × S).
 */
export function winoForward(src: usize, dst: usize, up: usize, bias: usize, H: i32, W: i32, S: i32, D: i32, relu: i32, g0: i32, g1: i32, band: usize, bandTiles: i32, T: i32): void {
  const TH = (H + 1) >> 1, TW = (W + 1) >> 1;
  const Wb = 2 * TW + 2;
  const pixB = <usize>S * 4;
  const ldo = <usize>D * 4;
  const panels = (D + 7) >> 3;
  const xsV = winoStride(T * S, 1), xsM = winoStride(T * D, 2), xsU = winoStride(panels * 8 * S, 0);
  const tmp = band;
  const v = band + 128;
  const m = v + 16 * xsV;
  const buf = m + 16 * xsM;
  const zero = f32x4.splat(0);
  let g = g0;
  while (g < g1) {
    const img = g / TH;
    const ty0 = g - img * TH;
    const ty1 = min(TH, min(ty0 + (g1 - g), ty0 + bandTiles));
    const imgSrc = src + <usize>img * <usize>H * <usize>W * pixB;
    padBand(imgSrc, buf, H, W, S, 1, Wb - 1 - W, 2 * ty0 - 1, 2 * ty1 + 1);
    const tiles = (ty1 - ty0) * TW;
    for (let t0 = 0; t0 < tiles; t0 += T) {
      const tb = min(T, tiles - t0);
      winoInput(buf, Wb, S, TW, t0, tb, xsV, v);
      for (let k = 0; k < 16; k++) {
        const vk = v + <usize>k * xsV, uk = up + <usize>k * xsU, mk = m + <usize>k * xsM;
        for (let q = 0; q < tb; q += 4) {
          winoGemm(vk + <usize>(q * S) * 4, pixB, S, uk, D, mk + <usize>(q * D) * 4, ldo, min(4, tb - q), tmp);
        }
      }
      // Y = Aᵀ M A per tile, 4 channels at a time: rows m0 + m1 + m2 and m1 − m2 − m3, then the same along columns.
      for (let i = 0; i < tb; i++) {
        const t = t0 + i;
        const tyr = t / TW, tx = t - tyr * TW;
        const y = 2 * (ty0 + tyr), x = 2 * tx;
        const two = y + 1 < H, right = x + 1 < W;
        const out = dst + ((<usize>img * <usize>H + <usize>y) * <usize>W + <usize>x) * ldo;
        for (let c = 0; c < D; c += 4) {
          const mp = m + (<usize>i * <usize>D + <usize>c) * 4;
          const bv = v128.load(bias + <usize>c * 4);
          let s0: v128, s1: v128, s2: v128, s3: v128, d0: v128, d1: v128, d2: v128, d3: v128;
          {
            const a0 = v128.load(mp), a1 = v128.load(mp + xsM), a2 = v128.load(mp + 2 * xsM), a3 = v128.load(mp + 3 * xsM);
            const b0 = v128.load(mp + 4 * xsM), b1 = v128.load(mp + 5 * xsM), b2 = v128.load(mp + 6 * xsM), b3 = v128.load(mp + 7 * xsM);
            const e0 = v128.load(mp + 8 * xsM), e1 = v128.load(mp + 9 * xsM), e2 = v128.load(mp + 10 * xsM), e3 = v128.load(mp + 11 * xsM);
            s0 = f32x4.add(f32x4.add(a0, b0), e0); s1 = f32x4.add(f32x4.add(a1, b1), e1);
            s2 = f32x4.add(f32x4.add(a2, b2), e2); s3 = f32x4.add(f32x4.add(a3, b3), e3);
            d0 = f32x4.sub(b0, e0); d1 = f32x4.sub(b1, e1); d2 = f32x4.sub(b2, e2); d3 = f32x4.sub(b3, e3);
            d0 = f32x4.sub(d0, v128.load(mp + 12 * xsM)); d1 = f32x4.sub(d1, v128.load(mp + 13 * xsM));
            d2 = f32x4.sub(d2, v128.load(mp + 14 * xsM)); d3 = f32x4.sub(d3, v128.load(mp + 15 * xsM));
          }
          let y00 = f32x4.add(f32x4.add(f32x4.add(s0, s1), s2), bv);
          let y01 = f32x4.add(f32x4.sub(f32x4.sub(s1, s2), s3), bv);
          let y10 = f32x4.add(f32x4.add(f32x4.add(d0, d1), d2), bv);
          let y11 = f32x4.add(f32x4.sub(f32x4.sub(d1, d2), d3), bv);
          if (relu) {
            y00 = f32x4.max(y00, zero); y01 = f32x4.max(y01, zero);
            y10 = f32x4.max(y10, zero); y11 = f32x4.max(y11, zero);
          }
          const o = out + <usize>c * 4;
          v128.store(o, y00);
          if (right) v128.store(o + ldo, y01);
          if (two) {
            const o2 = o + <usize>W * ldo;
            v128.store(o2, y10);
            if (right) v128.store(o2 + ldo, y11);
          }
        }
      }
    }
    g += ty1 - ty0;
  }
}

/**
 * One of Winograd's 16 weight-gradient products, for 4 input channels: out[r, d] += Σ_{i < tb} a[i·aStride + r] ·
 * z[i·zStride + d], r < 4, d < D (D ≥ 8; the last panel of 8 is shifted back to end at D and adds only its new
 * columns).
 */
function winoWeightsGemm(a: usize, aStride: usize, z: usize, zStride: usize, tb: i32, D: i32, out: usize, ldo: usize, tmp: usize): void {
  for (let d0 = 0; d0 < D; d0 += 8) {
    const d = min(d0, D - 8);
    let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
    let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
    let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
    let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
    let pa = a, pz = z + <usize>d * 4;
    const end = pz + <usize>tb * zStride;
    for (; pz < end; pa += aStride, pz += zStride) {
      const b0 = v128.load(pz), b1 = v128.load(pz, 16);
      let x = v128.load32_splat(pa); c00 = madd(x, b0, c00); c01 = madd(x, b1, c01);
      x = v128.load32_splat(pa, 4); c10 = madd(x, b0, c10); c11 = madd(x, b1, c11);
      x = v128.load32_splat(pa, 8); c20 = madd(x, b0, c20); c21 = madd(x, b1, c21);
      x = v128.load32_splat(pa, 12); c30 = madd(x, b0, c30); c31 = madd(x, b1, c31);
    }
    storeTile(out + <usize>d * 4, ldo, 4, d0 - d, 8, true, c00, c01, c10, c11, c20, c21, c30, c31, tmp);
  }
}

/**
 * This thread's part of the weight gradient of a 3×3 convolution C → D by Winograd (see above), over global tile
 * rows [g0, g1): part (overwritten) = dU [16][C, D]. Scratch at `band`: 128 bytes, V (16·T·C floats), Ŷ (16·T·D),
 * the band.
 */
export function winoWeights(x: usize, dy: usize, part: usize, H: i32, W: i32, C: i32, D: i32, g0: i32, g1: i32, band: usize, bandTiles: i32, T: i32): void {
  const TH = (H + 1) >> 1, TW = (W + 1) >> 1;
  const Wb = 2 * TW + 2;
  const pixB = <usize>C * 4;
  const dyPix = <usize>D * 4;
  const xsV = winoStride(T * C, 1), xsZ = winoStride(T * D, 2);
  const tmp = band;
  const v = band + 128;
  const z = v + 16 * xsV;
  const buf = z + 16 * xsZ;
  const zero = f32x4.splat(0);
  memory.fill(part, 0, <usize>(16 * C * D) * 4);
  let g = g0;
  while (g < g1) {
    const img = g / TH;
    const ty0 = g - img * TH;
    const ty1 = min(TH, min(ty0 + (g1 - g), ty0 + bandTiles));
    const imgSrc = x + <usize>img * <usize>H * <usize>W * pixB;
    padBand(imgSrc, buf, H, W, C, 1, Wb - 1 - W, 2 * ty0 - 1, 2 * ty1 + 1);
    const tiles = (ty1 - ty0) * TW;
    for (let t0 = 0; t0 < tiles; t0 += T) {
      const tb = min(T, tiles - t0);
      winoInput(buf, Wb, C, TW, t0, tb, xsV, v);
      // Ŷ = A dY Aᵀ per tile (dY 2×2, 0 outside the image), 4 channels at a time.
      for (let i = 0; i < tb; i++) {
        const t = t0 + i;
        const tyr = t / TW, tx = t - tyr * TW;
        const y = 2 * (ty0 + tyr), xx = 2 * tx;
        const two = y + 1 < H, right = xx + 1 < W;
        const src = dy + ((<usize>img * <usize>H + <usize>y) * <usize>W + <usize>xx) * dyPix;
        for (let c = 0; c < D; c += 4) {
          const p = src + <usize>c * 4;
          const q00 = v128.load(p);
          const q01 = right ? v128.load(p + dyPix) : zero;
          const q10 = two ? v128.load(p + <usize>W * dyPix) : zero;
          const q11 = two && right ? v128.load(p + <usize>W * dyPix + dyPix) : zero;
          // rows of A dY: [q0], [q0 + q1], [q0 − q1], [−q1] (q = the two dY rows), then the same along columns.
          const o = z + (<usize>i * <usize>D + <usize>c) * 4;
          for (let xi = 0; xi < 4; xi++) {
            let a: v128, b: v128;
            if (xi == 0) { a = q00; b = q01; }
            else if (xi == 1) { a = f32x4.add(q00, q10); b = f32x4.add(q01, q11); }
            else if (xi == 2) { a = f32x4.sub(q00, q10); b = f32x4.sub(q01, q11); }
            else { a = f32x4.neg(q10); b = f32x4.neg(q11); }
            const row = o + <usize>(xi * 4) * xsZ;
            v128.store(row, a);
            v128.store(row + xsZ, f32x4.add(a, b));
            v128.store(row + 2 * xsZ, f32x4.sub(a, b));
            v128.store(row + 3 * xsZ, f32x4.neg(b));
          }
        }
      }
      // dU[ξν][s, d] += Σ_t V[ξν][t, s] · Ŷ[ξν][t, d]: 4 input channels (broadcast) × 8 output channels a tile.
      for (let k = 0; k < 16; k++) {
        const vk = v + <usize>k * xsV, zk = z + <usize>k * xsZ, pk = part + <usize>(k * C * D) * 4;
        for (let s = 0; s < C; s += 4) {
          winoWeightsGemm(vk + <usize>s * 4, pixB, zk, dyPix, tb, D, pk + <usize>(s * D) * 4, dyPix, tmp);
        }
      }
    }
    g += ty1 - ty0;
  }
}

/** dW [D, C, 3, 3] = Gᵀ (Σ of `count` parts dU [16][C, D], `stride` bytes apart) G. */
export function winoWeightsReduce(parts: usize, count: i32, stride: usize, dW: usize, C: i32, D: i32): void {
  for (let s = 0; s < C; s++) {
    for (let d = 0; d < D; d++) {
      // u[ξ][ν], summed over the parts (f64)
      let w00: f64 = 0, w01: f64 = 0, w02: f64 = 0, w10: f64 = 0, w11: f64 = 0, w12: f64 = 0, w20: f64 = 0, w21: f64 = 0, w22: f64 = 0;
      for (let xi = 0; xi < 4; xi++) {
        // Gᵀ's column xi: row xi of G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]
        const ga: f64 = xi == 0 ? 1 : xi == 3 ? 0 : 0.5;
        const gb: f64 = xi == 1 ? 0.5 : xi == 2 ? -0.5 : 0;
        const gc: f64 = xi == 3 ? 1 : xi == 0 ? 0 : 0.5;
        for (let nu = 0; nu < 4; nu++) {
          let u: f64 = 0;
          const o = <usize>(((xi * 4 + nu) * C + s) * D + d) * 4;
          for (let p = 0; p < count; p++) u += <f64>load<f32>(parts + <usize>p * stride + o);
          const ha: f64 = nu == 0 ? 1 : nu == 3 ? 0 : 0.5;
          const hb: f64 = nu == 1 ? 0.5 : nu == 2 ? -0.5 : 0;
          const hc: f64 = nu == 3 ? 1 : nu == 0 ? 0 : 0.5;
          w00 += ga * u * ha; w01 += ga * u * hb; w02 += ga * u * hc;
          w10 += gb * u * ha; w11 += gb * u * hb; w12 += gb * u * hc;
          w20 += gc * u * ha; w21 += gc * u * hb; w22 += gc * u * hc;
        }
      }
      const o = dW + <usize>((d * C + s) * 9) * 4;
      store<f32>(o, <f32>w00); store<f32>(o, <f32>w01, 4); store<f32>(o, <f32>w02, 8);
      store<f32>(o, <f32>w10, 12); store<f32>(o, <f32>w11, 16); store<f32>(o, <f32>w12, 20);
      store<f32>(o, <f32>w20, 24); store<f32>(o, <f32>w21, 28); store<f32>(o, <f32>w22, 32);
    }
  }
}
