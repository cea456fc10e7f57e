// IEEE 754 binary16 ("half", safetensors dtype F16) and bfloat16 (BF16) conversions, by bit manipulation on the
// float32 encoding (no tables). Half: 1 sign bit, 5 exponent bits (bias 15), 10 mantissa bits; largest finite 65504,
// smallest normal 2^-14, smallest subnormal 2^-24. bfloat16 is the upper half of a float32.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The largest finite half value, 65504 = (2 − 2^-10)·2^15. */
export const FLOAT16_MAX = 65504;

/**
 * The binary16 bit pattern (0 … 0xffff) nearest to `x`, rounding to nearest with ties to even, as IEEE 754 and
 * numpy's `astype(float16)` do. `x` is first rounded to float32 (`Math.fround`): the function converts float32
 * values, and a float64 argument gets the float32-then-half result. Subnormals, ±0, ±Infinity and NaN map exactly
 * (a NaN keeps its sign and the top mantissa bits, and is quiet). Magnitudes from 65520 (halfway between 65504 and
 * 2^16) up round to ±Infinity (0x7c00 / 0xfc00): callers that must not store an infinity check for it
 * ({@link isFloat16Finite}).
 */
export function float32ToFloat16Bits(x: number): number {
  f32[0] = x;
  const f = u32[0];
  const sign = (f >>> 16) & 0x8000;
  const abs = f & 0x7fffffff;
  if (abs >= 0x477ff000) {
    // NaN: quiet, top mantissa bits kept; Inf, and finite values from 65520 up: Inf.
    if (abs > 0x7f800000) return sign | 0x7e00 | ((abs >>> 13) & 0x3ff);
    return sign | 0x7c00;
  }
  if (abs >= 0x38800000) {
    // Normal half: rebias the exponent (127 → 15), keep 10 mantissa bits, round on the 13 dropped ones. A carry out of
    // the mantissa increments the exponent, which is the right result (and cannot reach Inf below 0x477ff000).
    const h = (abs - 0x38000000) >>> 13;
    const rest = abs & 0x1fff;
    return sign | (rest > 0x1000 || (rest === 0x1000 && (h & 1) !== 0) ? h + 1 : h);
  }
  // Subnormal half (or zero): value = m·2^(e−150) with the implicit bit, half units are 2^-24, so h = m >> (126 − e).
  const e = abs >>> 23;
  const shift = 126 - e; // ≥ 14 here
  if (shift > 24) return sign; // below 2^-25 (half the smallest subnormal): rounds to ±0
  const m = (abs & 0x7fffff) | 0x800000;
  const h = m >>> shift;
  const rest = m & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  return sign | (rest > halfway || (rest === halfway && (h & 1) !== 0) ? h + 1 : h);
}

/** The float32 bit pattern of the half with bits `h` (exact: every half value is a float32 value). */
export function float16BitsToFloat32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = h & 0x7c00;
  const mant = h & 0x3ff;
  if (exp === 0x7c00) return (sign | 0x7f800000 | (mant << 13)) >>> 0; // Inf, or NaN with its payload
  if (exp !== 0) return (sign | ((exp + 0x1c000) << 13) | (mant << 13)) >>> 0; // normal: exponent bias 15 → 127
  if (mant === 0) return sign >>> 0; // ±0
  // Subnormal half mant·2^-24: normalise into a float32 (all of them are float32 normals).
  const lead = 31 - Math.clz32(mant); // 0 … 9
  return (sign | ((lead + 103) << 23) | ((mant << (23 - lead)) & 0x7fffff)) >>> 0;
}

/** The value of the half with bits `h` (0 … 0xffff), exactly: subnormals, ±0, ±Infinity and NaN included. */
export function float16BitsToFloat32(h: number): number {
  u32[0] = float16BitsToFloat32Bits(h);
  return f32[0];
}

/** The value of the bfloat16 with bits `h` (0 … 0xffff): the float32 whose upper 16 bits they are. */
export function bfloat16BitsToFloat32(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0];
}

/** Whether half bits `h` encode a finite number (not ±Infinity or NaN). */
export function isFloat16Finite(h: number): boolean {
  return (h & 0x7c00) !== 0x7c00;
}

/** `x` rounded to the nearest half value (ties to even), as a number: `float16BitsToFloat32(float32ToFloat16Bits(x))`. */
export function roundToFloat16(x: number): number {
  return float16BitsToFloat32(float32ToFloat16Bits(x));
}
