// Half-precision weight files: the float16 conversions (every half bit pattern; float→half rounding against a float64
// reference), F16 and BF16 tensors in safetensors files, models saved with float16 parameters, and
// scripts/to-float16.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createRefBackend } from '../src/core/createRefBackend.js';
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { Rng } from '../src/core/Rng.js';
import { fitZca } from '../src/data/fitWhitening.js';
import { Whitening } from '../src/flows/Whitening.js';
import { bfloat16BitsToFloat32, float16BitsToFloat32, float16BitsToFloat32Bits, float32ToFloat16Bits, roundToFloat16 } from '../src/io/float16.js';
import { readSafetensors, writeSafetensors } from '../src/io/safetensors.js';
import { deserializeModel, serializeModel, WHITENING_LOGDET } from '../src/model/modelFile.js';
import type { NiceConfig } from '../src/model/NiceConfig.js';
import { NiceModel } from '../src/model/NiceModel.js';
import { root } from './cliRun.js';
import { randn } from './helpers.js';
import { MULTI_SCALE_CASE, stepCaseModel } from './stepCases.js';

const dir = mkdtempSync(join(tmpdir(), 'nice-flow-f16-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const fromBits = (b: number): number => ((u32[0] = b), f32[0]);
const bitsOf = (x: number): number => ((f32[0] = x), u32[0]);

/** Throws a one-line NiceFlowError matching `pattern`. */
const throwsOneLine = (f: () => unknown, pattern: RegExp): void => {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof NiceFlowError, `a NiceFlowError, not ${String(e)}`);
    assert.match(e.message, pattern);
    assert.doesNotMatch(e.message, /\n/);
    return true;
  });
};

/** The value of half bits `h` from the definition, in float64. */
function halfValueReference(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 31;
  const m = h & 1023;
  if (e === 31) return m ? NaN : s * Infinity;
  return e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
}

/**
 * The half bits nearest to the float32 value `x`, ties to even, by float64 arithmetic (no bit tricks): the quantum at
 * |x| is 2^-24 below 2^-14 and 2^(e−10) above 2^e; magnitudes ≥ 65520 (halfway to 2^16) overflow to Infinity.
 */
function halfBitsReference(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= 65520) return sign | 0x7c00;
  let e = -14;
  if (a >= 2 ** -14) {
    e = Math.floor(Math.log2(a));
    while (2 ** e > a) e--;
    while (2 ** (e + 1) <= a) e++;
  }
  const q = 2 ** (e - 10);
  const n = a / q; // exact: a has 24 significant bits, q is a power of two
  const fl = Math.floor(n);
  const r = n - fl;
  const k = r > 0.5 || (r === 0.5 && fl % 2 === 1) ? fl + 1 : fl; // multiples of q: k ≤ 2048
  const v = k * q;
  // Encode v (it may have carried into the next binade).
  if (v < 2 ** -14) return sign | (v / 2 ** -24);
  let ev = Math.floor(Math.log2(v));
  while (2 ** ev > v) ev--;
  while (2 ** (ev + 1) <= v) ev++;
  return sign | ((ev + 15) << 10) | ((v / 2 ** ev - 1) * 1024);
}

describe('float16 conversions', () => {
  it('all 65,536 half bit patterns: exact values, and half → float → half is the identity (NaN stays NaN)', () => {
    let nans = 0;
    for (let h = 0; h < 0x10000; h++) {
      const v = float16BitsToFloat32(h);
      const ref = halfValueReference(h);
      if (Number.isNaN(ref)) {
        nans++;
        assert.ok(Number.isNaN(v), `0x${h.toString(16)} decodes to NaN`);
        const back = float32ToFloat16Bits(v);
        assert.ok((back & 0x7c00) === 0x7c00 && (back & 0x3ff) !== 0, `0x${h.toString(16)}: NaN stays NaN`);
        // The bit-level decoding keeps the payload, and encoding that keeps the top mantissa bits (quieted).
        assert.equal(float32ToFloat16Bits(fromBits(float16BitsToFloat32Bits(h))) | 0x200, h | 0x200, `0x${h.toString(16)}: payload`);
        continue;
      }
      assert.ok(Object.is(v, ref), `0x${h.toString(16)} decodes to ${v}, expected ${ref}`);
      assert.equal(bitsOf(v), float16BitsToFloat32Bits(h), `0x${h.toString(16)}: float32 bits`);
      assert.equal(float32ToFloat16Bits(v), h, `0x${h.toString(16)} round trip`);
    }
    assert.equal(nans, 2 * 1023);
  });

  it('rounds float32 to half to nearest, ties to even, against a float64 reference', () => {
    const check = (x: number): void => {
      const want = halfBitsReference(x);
      const got = float32ToFloat16Bits(x);
      if (Number.isNaN(x)) assert.ok((got & 0x7c00) === 0x7c00 && (got & 0x3ff) !== 0, 'NaN → NaN');
      else assert.equal(got, want, `${x} (bits 0x${bitsOf(x).toString(16)}): got 0x${got.toString(16)}, expected 0x${want.toString(16)}`);
    };
    // Edges.
    const edges = [
      0, -0, 1, -1, 65504, -65504, 65519, 65519.99609375, 65520, -65520, 65536, 1e6, 3e38, Infinity, -Infinity, NaN,
      2 ** -24, -(2 ** -24), 2 ** -25, 2 ** -26, 3 * 2 ** -26, 1.5 * 2 ** -24, 2.5 * 2 ** -24, 2 ** -14, 2 ** -14 - 2 ** -25,
      2 ** -14 - 2 ** -24, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 - 2 ** -12, 2048 + 1, 2048 + 3, 1e-8, 1e-45, -1e-45, 0.1, 1 / 3,
    ];
    for (const x of edges) check(Math.fround(x));
    // Named results.
    assert.equal(float32ToFloat16Bits(65504), 0x7bff, 'largest finite');
    assert.equal(float32ToFloat16Bits(65519), 0x7bff, 'below the overflow threshold rounds to 65504');
    assert.equal(float32ToFloat16Bits(65520), 0x7c00, 'the halfway point to 2^16 overflows (ties to even)');
    assert.equal(float32ToFloat16Bits(-1e6), 0xfc00, 'overflow to -Infinity');
    assert.equal(float32ToFloat16Bits(2 ** -24), 0x0001, 'smallest subnormal');
    assert.equal(float32ToFloat16Bits(2 ** -25), 0x0000, 'half the smallest subnormal ties to 0');
    assert.equal(float32ToFloat16Bits(Math.fround(2 ** -25 * (1 + 2 ** -23))), 0x0001, 'just above it rounds up');
    assert.equal(float32ToFloat16Bits(3 * 2 ** -25), 0x0002, '1.5 subnormal quanta tie to 2');
    assert.equal(float32ToFloat16Bits(-(2 ** -26)), 0x8000, 'tiny negatives round to -0');
    assert.equal(float32ToFloat16Bits(1 + 2 ** -11), 0x3c00, '1 + half an ulp ties down to 1 (even)');
    assert.equal(float32ToFloat16Bits(1 + 3 * 2 ** -11), 0x3c02, '1 + 1.5 ulp ties up to 1 + 2 ulp (even)');
    // Every halfway point between consecutive finite halves, and the float32 values just either side of it.
    for (let h = 0; h < 0x7bff; h++) {
      const lo = halfValueReference(h), hi = halfValueReference(h + 1);
      const mid = (lo + hi) / 2;
      assert.equal(Math.fround(mid), mid);
      const b = bitsOf(mid);
      for (const x of [mid, fromBits(b - 1), fromBits(b + 1), -mid]) check(x);
      assert.equal(float32ToFloat16Bits(mid), (h & 1) === 0 ? h : h + 1, `tie between 0x${h.toString(16)} and 0x${(h + 1).toString(16)}`);
    }
    // Random float32 bit patterns: all of them, and ones with exponents in and around half's range.
    const rng = new Rng(11);
    for (let i = 0; i < 100_000; i++) {
      const any = Math.floor(rng.uniform() * 2 ** 32);
      check(fromBits(any));
      const exponent = 95 + Math.floor(rng.uniform() * 50); // 2^-32 … 2^17
      check(fromBits(((any & 0x807fffff) | (exponent << 23)) >>> 0));
    }
  });

  it('bfloat16 is the upper half of a float32', () => {
    assert.equal(bfloat16BitsToFloat32(0x3f80), 1);
    assert.equal(bfloat16BitsToFloat32(0xc020), -2.5);
    assert.ok(Object.is(bfloat16BitsToFloat32(0x8000), -0));
    assert.equal(bfloat16BitsToFloat32(0x7f80), Infinity);
    assert.ok(Number.isNaN(bfloat16BitsToFloat32(0x7fc0)));
    assert.equal(bfloat16BitsToFloat32(0x0001), fromBits(0x10000));
    assert.equal(roundToFloat16(0.1), 0.0999755859375);
  });
});

/** A safetensors file assembled by hand: header JSON and data bytes, as another program would write it. */
function rawSafetensors(header: unknown, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const u16bytes = (...v: number[]): number[] => v.flatMap((h) => [h & 0xff, h >> 8]);

describe('safetensors F16 and BF16', () => {
  it('reads F16 and BF16 tensors (hand-built, unaligned, beside F32) as float32', () => {
    const half = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x3555]; // 1, -2, 65504, 2^-24, -0, 0.333251953125
    const bf = [0x3f80, 0xc020, 0x4049, 0x7f80]; // 1, -2.5, 3.140625, Infinity
    const f = new Uint8Array(Float32Array.of(0.1).buffer);
    const header = {
      __metadata__: { note: 'hand-built' },
      h: { dtype: 'F16', shape: [2, 3], data_offsets: [0, 12] },
      b: { dtype: 'BF16', shape: [4], data_offsets: [12, 20] },
      f: { dtype: 'F32', shape: [1], data_offsets: [21, 25] }, // one byte of padding before: unaligned
    };
    const bytes = rawSafetensors(header, Uint8Array.from([...u16bytes(...half), ...u16bytes(...bf), 0, ...f]));
    const { tensors, metadata } = readSafetensors(bytes);
    assert.deepEqual(metadata, { note: 'hand-built' });
    assert.deepEqual(tensors.h.shape, [2, 3]);
    assert.ok(tensors.h.data instanceof Float32Array && tensors.b.data instanceof Float32Array);
    assert.deepEqual(Array.from(tensors.h.data), [1, -2, 65504, 2 ** -24, -0, 0.333251953125]);
    assert.ok(Object.is(tensors.h.data[4], -0));
    assert.deepEqual(Array.from(tensors.b.data), [1, -2.5, 3.140625, Infinity]);
    assert.equal(tensors.f.data[0], Math.fround(0.1));
  });

  it('refuses truncated F16 data, sizes that do not match, and other dtypes, in one line', () => {
    const data = Uint8Array.from(u16bytes(0x3c00, 0x3c00, 0x3c00, 0x3c00));
    throwsOneLine(() => readSafetensors(rawSafetensors({ t: { dtype: 'F16', shape: [6], data_offsets: [0, 12] } }, data)), /"t" runs past the end.*truncated/);
    throwsOneLine(() => readSafetensors(rawSafetensors({ t: { dtype: 'F16', shape: [3], data_offsets: [0, 8] } }, data)), /"t": 8 bytes do not match shape \[3\] of F16/);
    throwsOneLine(() => readSafetensors(rawSafetensors({ t: { dtype: 'BF16', shape: [2], data_offsets: [0, 8] } }, data)), /8 bytes do not match shape \[2\] of BF16/);
    // F32's size for what is declared F16 (the dtype edited, the offsets not).
    throwsOneLine(() => readSafetensors(rawSafetensors({ t: { dtype: 'F16', shape: [2], data_offsets: [0, 8] } }, data)), /do not match shape \[2\] of F16/);
    throwsOneLine(() => readSafetensors(rawSafetensors({ t: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } }, data)), /dtype F64; only F32, F16 and BF16 are supported/);
    throwsOneLine(() => readSafetensors(rawSafetensors({ t: { dtype: 'F\n16', shape: [1], data_offsets: [0, 2] } }, data)), /dtype "F\\n16"/);
  });

  it('writes F16 rounded to nearest even, per file or per tensor', () => {
    const a = Float32Array.from([0.1, -1 / 3, 65504, 65519, 2 ** -25, 3 * 2 ** -25, 1e-9, -0, 1 + 2 ** -11]);
    const b = Float32Array.from([0.1, 2.5]);
    const bytes = writeSafetensors({ a: { shape: [3, 3], data: a }, b: { shape: [2], data: b } }, { k: 'v' }, { dtype: 'F16' });
    const f32bytes = writeSafetensors({ a: { shape: [3, 3], data: a }, b: { shape: [2], data: b } }, { k: 'v' });
    assert.ok(bytes.length < f32bytes.length && f32bytes.length - bytes.length >= 2 * 11 - 8);
    const { tensors, metadata } = readSafetensors(bytes);
    assert.deepEqual(metadata, { k: 'v' });
    assert.deepEqual(tensors.a.shape, [3, 3]);
    assert.deepEqual(Array.from(tensors.a.data), [0.0999755859375, -0.333251953125, 65504, 65504, 0, 2 ** -23, 0, -0, 1]);
    assert.deepEqual(Array.from(tensors.b.data), Array.from(b, roundToFloat16));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true))))) as Record<string, { dtype: string }>;
    assert.equal(header.a.dtype, 'F16');
    const mixed = readSafetensors(writeSafetensors({ a: { shape: [3, 3], data: a }, b: { shape: [2], data: b } }, {}, { dtype: (n) => (n === 'a' ? 'F16' : 'F32') }));
    assert.deepEqual(mixed.tensors.a.data, tensors.a.data);
    assert.deepEqual(mixed.tensors.b.data, b);
  });

  it('refuses to write a value beyond half range, infinite or NaN as F16, naming tensor, index and value', () => {
    const write = (v: number) => () => writeSafetensors({ 'couplings.0.layers.1.weight': { shape: [2], data: Float32Array.of(1, v) } }, {}, { dtype: 'F16' });
    throwsOneLine(write(70000), /"couplings\.0\.layers\.1\.weight" holds 70000, beyond float16's range.* at index 1/);
    throwsOneLine(write(65520), /holds 65520, beyond/);
    throwsOneLine(write(-Infinity), /holds -Infinity, beyond/);
    throwsOneLine(write(NaN), /"couplings\.0\.layers\.1\.weight" holds NaN at index 1/);
    write(65519)(); // rounds to 65504: written
  });
});

const config: NiceConfig = { dim: 8, couplings: 3, hidden: 5, depth: 2, prior: 'logistic', partition: 'alternate', coupling: 'affine' };
const x = Float32Array.from(randn(6 * 8, 77, 0.5));

/** Header dtypes of a safetensors file by tensor name. */
function dtypes(bytes: Uint8Array): Record<string, string> {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const h = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, { dtype?: string }>;
  return Object.fromEntries(Object.entries(h).filter(([k]) => k !== '__metadata__').map(([k, v]) => [k, v.dtype!]));
}

function assertRoundedLoad(model: NiceModel, back: NiceModel): void {
  for (const p of model.params) {
    const q = back.paramMap().get(p.name)!;
    assert.deepEqual(Array.from(q.data), Array.from(p.data, roundToFloat16), `${p.name}: the float32 values rounded to half`);
  }
  for (const b of model.buffers) assert.deepEqual(Array.from(back.bufferMap().get(b.name)!.data), Array.from(b.data), `${b.name} kept exactly`);
}

describe('models saved with float16 parameters', () => {
  const model = (): NiceModel => {
    const m = new NiceModel(createRefBackend(), config);
    m.init(new Rng(1));
    for (const [k, p] of m.params.entries()) p.data.set(randn(p.data.length, 10 + k, 0.3));
    return m;
  };

  it('reloads to the float32 parameters rounded to half, about half the size, with close log-likelihoods', () => {
    const m = model();
    const f32 = serializeModel(m, { note: 'x' });
    const f16 = serializeModel(m, { note: 'x' }, { float16: true });
    assert.ok(Object.values(dtypes(f16)).every((d) => d === 'F16'));
    const values = m.params.reduce((s, p) => s + p.data.length, 0);
    assert.equal(f32.length - f16.length >= 2 * values - 16, true, `${f16.length} bytes vs ${f32.length}`);
    const back = deserializeModel(f16, createRefBackend());
    assert.deepEqual(back.config, m.config);
    assert.equal(readSafetensors(f16).metadata.note, 'x');
    assertRoundedLoad(m, back);
    // Half keeps ~3 decimal digits: the log-likelihoods move a little, not a lot.
    const lp = m.logProb(x, 6), lp16 = back.logProb(x, 6);
    let moved = 0;
    for (let i = 0; i < 6; i++) {
      assert.ok(Math.abs(lp16[i] - lp[i]) < 0.02 * (1 + Math.abs(lp[i])), `row ${i}: ${lp16[i]} vs ${lp[i]}`);
      moved = Math.max(moved, Math.abs(lp16[i] - lp[i]));
    }
    assert.ok(moved > 0, 'the weights were rounded');
    // Saving the reloaded model as F16 again changes nothing.
    assert.deepEqual(serializeModel(back, { note: 'x' }, { float16: true }), f16);
  });

  it('keeps fixed buffers (ActNorm flag, 1×1 convolution permutation) F32 in a multi-scale flow', () => {
    const m = stepCaseModel(createRefBackend(), MULTI_SCALE_CASE, 3, 0.1);
    const f16 = serializeModel(m, {}, { float16: true });
    const kinds = dtypes(f16);
    const params = new Set(m.params.map((p) => p.name));
    assert.ok(m.buffers.length > 0);
    for (const [name, d] of Object.entries(kinds)) assert.equal(d, params.has(name) ? 'F16' : 'F32', name);
    const back = deserializeModel(f16, createRefBackend());
    assertRoundedLoad(m, back);
    const xs = Float32Array.from(randn(3 * m.dim, 5, 0.1), (v) => 0.5 + v);
    const lp = m.logProb(xs, 3), lp16 = back.logProb(xs, 3);
    for (let i = 0; i < 3; i++) assert.ok(Math.abs(lp16[i] - lp[i]) < 0.02 * (1 + Math.abs(lp[i])), `row ${i}: ${lp16[i]} vs ${lp[i]}`);
  });

  it('keeps the whitening layer (mean, matrix, inverse, log-det) F32, exactly', () => {
    const D = 8;
    const wconfig: NiceConfig = { ...config, whiten: 'zca', range: [-1, 1] };
    const m = new NiceModel(createRefBackend(), wconfig);
    m.init(new Rng(4));
    const A = randn(D * D, 9, 2);
    const z = randn(200 * D, 8);
    const data = new Float64Array(200 * D);
    for (let r = 0; r < 200; r++) for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) data[r * D + i] += A[i * D + j] * z[r * D + j];
    const fit = fitZca(data, 200, D);
    m.setWhitening(new Whitening(m.backend, D, fit.mean, fit.matrix, fit.inverse, fit.logDet));
    const f16 = serializeModel(m, {}, { float16: true });
    const kinds = dtypes(f16);
    for (const name of ['whitening.mean', 'whitening.matrix', 'whitening.inverse', WHITENING_LOGDET]) assert.equal(kinds[name], 'F32', name);
    const back = deserializeModel(f16, createRefBackend());
    assert.equal(back.whitening!.logDet, Math.fround(m.whitening!.logDet));
    assertRoundedLoad(m, back);
  });

  it('refuses a parameter beyond half range, naming it', () => {
    const m = model();
    m.params[2].data[3] = 1e5;
    throwsOneLine(() => serializeModel(m, {}, { float16: true }), new RegExp(`"${m.params[2].name.replace(/\./g, '\\.')}" holds 100000, beyond float16's range`));
  });

  it('scripts/to-float16.ts rewrites a model file with F16 weights, keeping its metadata', () => {
    const m = model();
    const inPath = join(dir, 'in.safetensors'), outPath = join(dir, 'out.safetensors');
    const original = serializeModel(m, { step: '12', note: 'kept' });
    writeFileSync(inPath, original);
    const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(root, 'scripts/to-float16.ts'), ...args], { cwd: root, encoding: 'utf8' });
    const r = run(inPath, outPath);
    assert.equal(r.status, 0, r.stderr);
    const out = new Uint8Array(readFileSync(outPath));
    assert.match(r.stdout, new RegExp(`${original.length} bytes[\\s\\S]*${out.length} bytes`));
    assert.deepEqual(out, serializeModel(m, { step: '12', note: 'kept' }, { float16: true }));
    assert.deepEqual(readSafetensors(out).metadata, readSafetensors(original).metadata);
    // Bad input: one line on stderr, non-zero exit.
    for (const [args, code, pattern] of [
      [[join(dir, 'missing.safetensors'), outPath], 1, /cannot read .*missing\.safetensors: ENOENT/],
      [[join(dir, 'junk'), outPath], 1, /junk: .*not a safetensors file|junk: .*truncated/],
      [[inPath], 2, /usage/],
    ] as const) {
      if (args[0].endsWith('junk')) writeFileSync(args[0], 'junk');
      const b = run(...args);
      assert.equal(b.status, code, b.stderr);
      assert.match(b.stderr, pattern);
      assert.equal(b.stderr.trim().split('\n').length, 1, b.stderr);
    }
    // A weight beyond half's range: refused, named.
    const big = model();
    big.params[0].data[0] = -7e4;
    writeFileSync(inPath, serializeModel(big));
    const b = run(inPath, outPath);
    assert.equal(b.status, 1);
    assert.match(b.stderr, /^to-float16: .*in\.safetensors: tensor "couplings\.0\.layers\.0\.weight" holds -70000, beyond float16's range/);
  });
});
