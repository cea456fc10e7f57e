// Seeded mutation fuzzing of every file reader: safetensors (raw, model files, checkpoints), .npy, PNG (one image and
// a folder), IDX (plain and gzipped), gzip itself and CIFAR-10. Each reader gets a few hundred mutants of valid files
// built here: bit flips, byte overwrites, truncations, appended, inserted and deleted bytes, and edits of the
// header fields a reader trusts (sizes, shapes, offsets, dtypes, counts, the JSON config). Every case must either load
// to something valid (shapes consistent with the data, finite weights) or throw the project's one-line
// NiceFlowError: never another error type, and never more than MEMORY_LIMIT of buffers for these few-KB inputs.
// The same seed gives the same cases on every run; a failure names its case so it can be reproduced, and with
// FUZZ_DUMP=dir the failing inputs are written there.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { encode as encodePng } from 'fast-png';
import { readInput } from '../cli/fsio.js';
import type { Backend } from '../src/core/Backend.js';
import { createRefBackend } from '../src/core/createRefBackend.js';
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { Rng } from '../src/core/Rng.js';
import { CIFAR10_RECORD_BYTES, parseCifar10 } from '../src/data/cifar10.js';
import { fitZca } from '../src/data/fitWhitening.js';
import { imageDatasetFromArray } from '../src/data/imageArray.js';
import type { ImageDataset } from '../src/data/ImageDataset.js';
import { imageDatasetFromDims } from '../src/data/ImageDataset.js';
import { imagesFromPngs } from '../src/data/imageFolder.js';
import { parseIdx } from '../src/data/idx.js';
import { Whitening } from '../src/flows/Whitening.js';
import { gunzip } from '../src/io/gunzip.js';
import { readNpyF32, readNpyU8, writeNpyF32 } from '../src/io/npy.js';
import { decodePngImage, imageGridPng } from '../src/io/pngGrid.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { deserializeModel, serializeModel } from '../src/model/modelFile.js';
import { type NiceConfig, validateConfig } from '../src/model/NiceConfig.js';
import { NiceModel } from '../src/model/NiceModel.js';
import { deserializeCheckpoint, serializeCheckpoint } from '../src/train/checkpoint.js';
import { Trainer } from '../src/train/Trainer.js';

/** Mutants per reader. */
const CASES = 400;
/** Buffers one case may allocate: the inputs are a few KB, so anything near this is trusting a claimed size. */
const MEMORY_LIMIT = 64 * 1024 * 1024;
/** The gzip output cap in these tests (the seeds inflate to a few KB). */
const GZIP_CAP = 1024 * 1024;
/** A hang guard for each reader's cases, not a speed requirement (each runs in well under a second). */
const TIMEOUT = 120_000;

// ---- seeded randomness (self-contained: the cases must not change when the library's Rng does) ----

class Prng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** splitmix32 */
  u32(): number {
    this.s = (this.s + 0x9e3779b9) >>> 0;
    let z = this.s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : Math.floor((this.u32() / 4294967296) * n);
  }
  chance(p: number): boolean {
    return this.u32() / 4294967296 < p;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)];
  }
  bytes(n: number): Uint8Array {
    return Uint8Array.from({ length: n }, () => this.u32() & 0xff);
  }
}

// ---- byte helpers ----

const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);
const fromAscii = (b: Uint8Array): string => new TextDecoder().decode(b);
const hex = (v: number): string => `0x${v.toString(16)}`;
const prod = (a: readonly number[]): number => a.reduce((x, y) => x * y, 1);
const put = (o: object, key: string, value: unknown): void => {
  // An own property even for "__proto__", as JSON.parse makes it.
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
};

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// ---- the harness ----

interface Mutant {
  bytes: Uint8Array;
  how: string;
}

interface Tally {
  cases: number;
  accepted: number;
  refused: number;
  failures: string[];
}

/**
 * Bytes handed out by the model readers' backend ({@link countingBackend}). Array buffers that a garbage collection
 * frees before a case ends would hide a large allocation from `process.memoryUsage()`; this count cannot.
 */
let backendBytes = 0;
function countingBackend(): Backend {
  const backend = createRefBackend();
  return {
    ...backend,
    alloc: (n) => {
      const a = backend.alloc(n);
      backendBytes += a.byteLength;
      return a;
    },
  };
}

const DUMP = process.env.FUZZ_DUMP;
const TRACE = process.env.FUZZ_TRACE !== undefined;

interface FuzzSpec<T> {
  reader: string;
  seed: number;
  cases: number;
  /** Cases run first, as regression cases for bugs found (they count in `cases`). */
  fixed?: Mutant[];
  mutate: (r: Prng, i: number) => Mutant;
  load: (bytes: Uint8Array) => T;
  /** Throws (an assertion) unless a loaded result is valid. */
  check: (result: T) => void;
}

/**
 * Runs the fixed cases, then random mutants, through `load` and `check`: a case passes when load+check succeed
 * (accepted) or load throws a one-line NiceFlowError (refused). Anything else, or more than MEMORY_LIMIT of new
 * buffers, is a failure.
 */
function fuzz<T>(t: TestContext, spec: FuzzSpec<T>): void {
  const { reader, cases, fixed = [], mutate, load, check } = spec;
  const r = new Prng(spec.seed);
  const tally: Tally = { cases: 0, accepted: 0, refused: 0, failures: [] };
  for (let i = 0; i < cases; i++) {
    const m = i < fixed.length ? fixed[i] : mutate(r, i);
    if (TRACE) process.stderr.write(`${reader} case ${i}: ${m.how}\n`);
    const before = process.memoryUsage().arrayBuffers;
    const backendBefore = backendBytes;
    let refused = false;
    let failure: string | null = null;
    try {
      check(load(m.bytes));
    } catch (e) {
      if (e instanceof NiceFlowError && e.message.length > 0 && !/[\r\n]/.test(e.message)) refused = true;
      // An assertion's first line says what is wrong; the rest is a diff.
      else failure = e instanceof Error ? `${e.constructor.name}: ${e instanceof assert.AssertionError ? e.message.split('\n')[0] : e.message}` : `threw ${String(e)}`;
    }
    const grown = Math.max(process.memoryUsage().arrayBuffers - before, backendBytes - backendBefore);
    if (grown > MEMORY_LIMIT) failure = `${failure ? `${failure}; ` : ''}allocated ${Math.round(grown / 2 ** 20)} MB for a ${m.bytes.length}-byte input`;
    tally.cases++;
    if (!failure) {
      if (refused) tally.refused++;
      else tally.accepted++;
    } else {
      tally.failures.push(`case ${i} (${m.how.replace(/\r?\n/g, '\\n')}, ${m.bytes.length} bytes): ${failure.replace(/\s+/g, ' ').slice(0, 300)}`);
      if (DUMP) {
        mkdirSync(DUMP, { recursive: true });
        writeFileSync(join(DUMP, `${reader.replace(/\W+/g, '_')}-${i}.bin`), m.bytes);
      }
    }
  }
  t.diagnostic(`${reader}: ${tally.cases} cases, ${tally.accepted} accepted, ${tally.refused} refused, ${tally.failures.length} failed`);
  assert.ok(tally.failures.length === 0, `${reader}: ${tally.failures.length} of ${tally.cases} cases failed:\n${tally.failures.slice(0, 12).join('\n')}`);
}

// ---- generic mutations ----

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff, 0x20, 0x22, 0x2c, 0x7b, 0x7d];
const INTERESTING_U32 = [0, 1, 2, 0x7f, 0xff, 0x7fff, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

/** One random byte-level mutation; positions fall in the first `hot` bytes (the header) about half the time. */
function mutateBytes(r: Prng, src: Uint8Array, hot: number): Mutant {
  const b = Uint8Array.from(src);
  const pos = (): number => (hot > 0 && r.chance(0.5) ? r.int(Math.min(hot, b.length)) : r.int(b.length));
  switch (r.int(8)) {
    case 0: {
      const flips: string[] = [];
      for (let k = 1 + r.int(4); k > 0; k--) {
        const p = pos();
        const bit = r.int(8);
        b[p] ^= 1 << bit;
        flips.push(`${p}.${bit}`);
      }
      return { bytes: b, how: `flip bits ${flips.join(' ')}` };
    }
    case 1: {
      const sets: string[] = [];
      for (let k = 1 + r.int(4); k > 0; k--) {
        const p = pos();
        b[p] = r.chance(0.5) ? r.pick(INTERESTING_BYTES) : r.u32() & 0xff;
        sets.push(`[${p}]=${hex(b[p])}`);
      }
      return { bytes: b, how: `set bytes ${sets.join(' ')}` };
    }
    case 2: {
      const p = Math.min(pos(), Math.max(0, b.length - 4));
      const v = r.chance(0.7) ? r.pick(INTERESTING_U32) : r.u32();
      const le = r.chance(0.5);
      if (b.length >= 4) new DataView(b.buffer).setUint32(p, v, le);
      return { bytes: b, how: `write u32 ${hex(v)} ${le ? 'LE' : 'BE'} at ${p}` };
    }
    case 3: {
      const at = r.chance(0.5) ? r.int(Math.min(hot, src.length) + 1) : r.int(src.length + 1);
      return { bytes: b.slice(0, at), how: `truncate to ${at}` };
    }
    case 4: {
      const n = 1 + r.int(r.chance(0.5) ? 8 : 200);
      const tail = r.chance(0.3) ? new Uint8Array(n) : r.chance(0.5) ? src.slice(0, n) : r.bytes(n);
      return { bytes: concat(b, tail), how: `append ${n} bytes` };
    }
    case 5: {
      const p = pos();
      const n = 1 + r.int(16);
      return { bytes: concat(b.subarray(0, p), b.subarray(p + n)), how: `delete ${n} bytes at ${p}` };
    }
    case 6: {
      const p = pos();
      const n = 1 + r.int(16);
      return { bytes: concat(b.subarray(0, p), r.bytes(n), b.subarray(p)), how: `insert ${n} bytes at ${p}` };
    }
    default: {
      const p = pos();
      const n = 1 + r.int(64);
      return { bytes: concat(b.subarray(0, p + n), b.subarray(p)), how: `repeat ${n} bytes at ${p}` };
    }
  }
}

// ---- validity checks ----

const isCount = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;

function checkDataset(ds: ImageDataset): void {
  assert.ok(isCount(ds.count) && isCount(ds.dim), `count ${ds.count}, dim ${ds.dim}`);
  assert.ok(ds.shape.length === 3 && ds.shape.every((v) => Number.isSafeInteger(v) && v >= 1), `shape [${ds.shape}]`);
  assert.equal(prod(ds.shape), ds.dim, 'C·H·W = dim');
  assert.ok(ds.pixels instanceof Uint8Array, 'pixels are bytes');
  assert.equal(ds.pixels.length, ds.count * ds.dim, 'pixels = count·dim');
  if (ds.labels) assert.equal(ds.labels.length, ds.count, 'one label per image');
}

function checkFinite(what: string, data: ArrayLike<number>): void {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) assert.fail(`${what}[${i}] is ${data[i]}`);
}

// ---- safetensors: raw files, model files, checkpoints ----

const MODEL_CONFIG: NiceConfig = { dim: 8, couplings: 3, hidden: 5, depth: 2, prior: 'logistic', partition: 'alternate', coupling: 'additive' };
const CONV_CONFIG: NiceConfig = { dim: 16, couplings: 2, hidden: 2, depth: 1, prior: 'gaussian', partition: 'checkerboard', coupling: 'affine', shape: [1, 4, 4], network: 'conv', range: [-1, 1], whiten: 'zca' };
const CKPT_CONFIG: NiceConfig = { dim: 2, couplings: 2, hidden: 4, depth: 1, prior: 'gaussian', partition: 'alternate', coupling: 'additive' };

function ring(count: number): ImageDataset {
  const pixels = new Uint8Array(count * 2);
  for (let i = 0; i < count; i++) {
    pixels[2 * i] = Math.round(128 + 80 * Math.cos(i));
    pixels[2 * i + 1] = Math.round(128 + 80 * Math.sin(i));
  }
  return { pixels, count, dim: 2, shape: [1, 1, 2] };
}
const RING = ring(100);

function modelSeeds(): Uint8Array[] {
  const plain = new NiceModel(createRefBackend(), MODEL_CONFIG);
  plain.init(new Rng(1));
  const conv = new NiceModel(createRefBackend(), CONV_CONFIG);
  conv.init(new Rng(2));
  const rows = Float32Array.from({ length: 40 * 16 }, (_, i) => Math.sin(i * 0.37) + 0.1 * Math.cos(i * 1.3));
  const fit = fitZca(rows, 40, 16, 0.1);
  conv.setWhitening(new Whitening(createRefBackend(), 16, fit.mean, fit.matrix, fit.inverse, fit.logDet));
  return [serializeModel(plain, { note: 'fuzz' }), serializeModel(conv)];
}

function checkpointSeed(): Uint8Array {
  const model = new NiceModel(createRefBackend(), CKPT_CONFIG);
  model.init(new Rng(3));
  const trainer = new Trainer(model, RING, { batchSize: 30, seed: 4 });
  for (let i = 0; i < 4; i++) trainer.trainStep(); // 3 batches per epoch: into the second epoch
  return serializeCheckpoint(trainer, { note: 'fuzz' });
}

interface StParts {
  header: Record<string, unknown>;
  data: Uint8Array;
}
function splitSt(b: Uint8Array): StParts {
  const n = Number(new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(0, true));
  return { header: JSON.parse(fromAscii(b.subarray(8, 8 + n))), data: b.subarray(8 + n) };
}
function joinSt(text: string, data: Uint8Array, length?: bigint): Uint8Array {
  const json = ascii(text);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, length ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}
/** A fixed case: the safetensors file `src` with its header edited by `edit`. */
function editSt(src: Uint8Array, how: string, edit: (header: Record<string, unknown>, meta: Record<string, string>) => void): Mutant {
  const { header, data } = splitSt(src);
  const h = structuredClone(header);
  const meta = (h.__metadata__ ?? {}) as Record<string, string>;
  edit(h, meta);
  if (Object.keys(meta).length > 0) h.__metadata__ = meta;
  return { bytes: joinSt(JSON.stringify(h), data), how };
}
const editConfig = (src: Uint8Array, edits: Record<string, unknown>): Mutant =>
  editSt(src, `fixed: config ${JSON.stringify(edits)}`, (_, meta) => {
    meta.config = JSON.stringify({ ...JSON.parse(meta.config), ...edits });
  });
const renameTensor = (src: Uint8Array, from: string, to: string): Mutant =>
  editSt(src, `fixed: rename "${from}" to ${JSON.stringify(to)}`, (h) => {
    const e = h[from];
    delete h[from];
    put(h, to, e);
  });

const stHeaderEnd = (b: Uint8Array): number => 8 + Number(new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(0, true));

// Any value for any field (sizes in the config take only CONFIG_VALUES' numbers and WILD_NOT_NUMBERS).
const WILD = [0, -1, -0.5, 0.5, 1.5, 2 ** 31, 2 ** 32 + 4, 2 ** 53, 2 ** 53 + 2, 2 ** 64, 1e308, -1e308, null, true, 'x', '8', [], {}];
const WILD_NOT_NUMBERS = [-0.5, 0.5, null, true, 'x', '8', [], {}];
const CONFIG_VALUES: Record<string, unknown[]> = {
  // Absurd sizes too (configs are bounded, and a model file's config is compared with the tensors present before
  // the model is built): before that, dim ≥ 2^31 or couplings or depth ≥ 10^5 exhausted memory or the stack, and
  // hidden ≥ 10^9 reserved ~50 GB.
  dim: [0, 1, 2, 7, 9, 16, 1e6, 2 ** 31, 2 ** 53, 1e308, -8, 8.5, '8', null],
  couplings: [0, 1, 2, 4, 100, 1e5, 1e6, 1e308, -1, 1.5, '3', null],
  hidden: [0, 1, 6, 5000, 1e9, 2 ** 31, -5, 5.5, '5', null],
  depth: [0, 1, 3, 1000, 1e5, 1e6, -1, 2.5, null],
  prior: ['gaussian', 'logistic', 'laplace', '', 5, null],
  partition: ['halves', 'checkerboard', 'channels', 'alternate', 'x', null],
  coupling: ['affine', 'multiplicative', 'additive', 'x', 5],
  shape: [[1, 2, 4], [2, 2, 2], [1, 1, 8], [8], [1, 4, 4], [1, 2, 5], [0, 2, 4], [-1, -2, 4], [1.5, 2, 4], [1, 1e9, 1e9], 'x', null],
  network: ['conv', 'mlp', 'x', null],
  range: [[0, 1], [1, 0], [-1, 1], [0, 1e308], [-1e308, 1e308], [0, 0], [0], [0, 1, 2], 'x', null],
  whiten: ['zca', 'none', 'x', null, true],
  extra: [1, 'x'],
};
const TRAINER_VALUES: Record<string, unknown[]> = {
  step: [-1, 0, 1, 3, 5, 1.5, 1e300, 2 ** 53, '4', null],
  epoch: [-1, 0, 2, 1.5, 1e300, '1', null],
  batchInEpoch: [-1, 0, 2, 3, 4, 1e9, 0.5, '1', null],
  rng: [null, {}, 5, { s: [0, 0, 0, 0], spare: null }, { s: [1, 2, 3] }, { s: [-1, 2, 3, 4] }, { s: [1.5, 2, 3, 4] }, { s: [2 ** 32, 1, 1, 1] }, { s: ['1', 2, 3, 4] }, { s: [1, 2, 3, 4], spare: 'x' }, { s: [1, 2, 3, 4], spare: 1e308 }, { s: [1, 2, 3, 4], spare: 0.5 }],
};
const FLOATS = [NaN, Infinity, -Infinity, 3.4e38, -3.4e38, 1e-45, -0, 1e30];
const NUMBER_TEXT = ['1e999', '-0', '1e3', '00', '0.0', '-1', '4294967296', '9007199254740993', '1' + '0'.repeat(400), 'NaN', '0x10', '1.', '.5'];

function editJsonField(r: Prng, text: string | undefined, values: Record<string, unknown[]>, wild: unknown[]): { text: string; how: string } {
  let obj: unknown;
  try {
    obj = JSON.parse(text ?? 'null');
  } catch {
    obj = null;
  }
  if (typeof obj !== 'object' || obj === null || r.chance(0.15)) {
    const broken = r.pick(['', '{', 'null', '[]', '1', '"x"', (text ?? '').slice(0, r.int((text ?? '').length)), `${text}}`, '{"a":']);
    return { text: broken, how: `text ${JSON.stringify(broken.slice(0, 40))}` };
  }
  const o = obj as Record<string, unknown>;
  const key = r.pick(Object.keys(values));
  if (r.chance(0.15)) {
    delete o[key];
    return { text: JSON.stringify(o), how: `delete "${key}"` };
  }
  const v = r.chance(0.8) ? r.pick(values[key]) : r.pick(wild);
  o[key] = v;
  return { text: JSON.stringify(o), how: `"${key}" = ${JSON.stringify(v)}` };
}

/**
 * A structured edit of a safetensors file's header or tensor data (or a byte-level mutation, 35% of the time);
 * `metadataBias` is the share of the structured edits that go to the JSON config, trainer state and run record.
 */
function mutateSafetensors(r: Prng, src: Uint8Array, metadataBias = 0): Mutant {
  if (r.chance(0.35)) return mutateBytes(r, src, stHeaderEnd(src));
  const { header, data } = splitSt(src);
  const h = structuredClone(header);
  let d = Uint8Array.from(data);
  const names = Object.keys(h).filter((n) => n !== '__metadata__');
  const name = r.pick(names);
  const entry = h[name] as { dtype: string; shape: number[]; data_offsets: [number, number] };
  const [b, e] = entry.data_offsets;
  const meta = (h.__metadata__ ?? {}) as Record<string, string>;
  let text: string | undefined;
  let length: bigint | undefined;
  let how: string;
  switch (r.chance(metadataBias) ? 8 : r.int(13)) {
    case 0: {
      const other = (h[r.pick(names)] as typeof entry).data_offsets;
      const v = r.pick<unknown>([
        [0, 2 ** 53], [b, e + 4], [b - 4, e - 4], [e, b], [-4, e], [b + 0.5, e + 0.5], [b, 2 ** 64], [b], [b, e, 0], null,
        [String(b), String(e)], [0, 0], [...other], [b + 4, e + 4], [b, e - 4], [1e308, 1e308], [b + 1, e + 1], [d.length, d.length + e - b],
      ]);
      (entry as Record<string, unknown>).data_offsets = v;
      how = `"${name}".data_offsets = ${JSON.stringify(v)}`;
      break;
    }
    case 1: {
      const s = entry.shape;
      const v = r.pick<unknown>([
        [], [0], [-1], [1.5], [2 ** 53], [2 ** 31, 2 ** 31], [1e308], [String(s[0])], null, {}, 'x', [[s[0]]], [...s, 1], [...s, 0], s.slice(1),
        [s[0] + 1, ...s.slice(1)], [prod(s)], [...s].reverse(), [2 ** 32 + s[0]], [-s[0], -1], [2 ** 26, 2 ** 26, 0], [0, 2 ** 53 - 1],
      ]);
      (entry as Record<string, unknown>).shape = v;
      how = `"${name}".shape = ${JSON.stringify(v)}`;
      break;
    }
    case 2: {
      const v = r.pick<unknown>(['F16', 'F64', 'BF16', 'I32', 'U8', 'BOOL', 'f32', 'F32 ', '', 5, null, ['F32'], 'F\n32']);
      (entry as Record<string, unknown>).dtype = v;
      how = `"${name}".dtype = ${JSON.stringify(v)}`;
      break;
    }
    case 3: {
      const field = r.pick(['dtype', 'shape', 'data_offsets']);
      if (r.chance(0.5)) delete (entry as Record<string, unknown>)[field];
      else h[name] = r.pick([null, 5, 'x', [], {}, { dtype: 'F32' }]);
      how = `"${name}" loses ${field} or is replaced`;
      break;
    }
    case 4: {
      const to = r.pick(['__proto__', 'constructor', 'toString', 'hasOwnProperty', '', 'train.order', r.pick(names), 'x'.repeat(300), '\u0000', 'scaling.scale ', 'a\nb', 'c\r\nd']);
      delete h[name];
      put(h, to, entry);
      how = `rename "${name}" to ${JSON.stringify(to.slice(0, 20))}`;
      break;
    }
    case 5: {
      const k = r.pick([0, 1, 3, 1000]);
      const at = r.pick([0, b, e, d.length, d.length - 4, 2 ** 40]);
      put(h, r.pick(['extra', '__proto__', 'train.extra', 'whitening.mean', 'line\nbreak']), { dtype: 'F32', shape: [k], data_offsets: [at, at + 4 * k] });
      how = `add a tensor of ${k} values at ${at}`;
      break;
    }
    case 6: {
      delete h[name];
      how = `drop "${name}" from the header`;
      break;
    }
    case 7: {
      if (r.chance(0.3)) {
        h.__metadata__ = r.pick([null, 5, 'x', [], {}, { config: 5 }]);
        how = `__metadata__ = ${JSON.stringify(h.__metadata__)}`;
      } else {
        const key = r.pick([...Object.keys(meta), '__proto__', 'constructor', 'line\nbreak']);
        const v = r.pick([5, null, {}, [], true, '', 'x']);
        if (r.chance(0.3)) delete meta[key];
        else put(meta, key, v);
        h.__metadata__ = meta;
        how = `__metadata__.${key} = ${JSON.stringify(v)} or deleted`;
      }
      break;
    }
    case 8:
    case 9: {
      const key = meta.trainer !== undefined && r.chance(0.5) ? (r.chance(0.8) ? 'trainer' : 'run') : 'config';
      const edit = key === 'run' ? ((text) => ({ text, how: JSON.stringify(text) }))(r.pick(['', 'null', '{', '[]', '"x"', '{"a":1}', '5'])) : key === 'config' ? editJsonField(r, meta[key], CONFIG_VALUES, WILD_NOT_NUMBERS) : editJsonField(r, meta[key], TRAINER_VALUES, WILD);
      meta[key] = edit.text;
      h.__metadata__ = meta;
      how = `${key}: ${edit.how}`;
      break;
    }
    case 10: {
      const v = r.pick(FLOATS);
      const count = (e - b) / 4;
      const i = r.int(count);
      const isOrder = name === 'train.order';
      const value = isOrder ? r.pick([-1, count, 0.5, NaN, new DataView(d.buffer).getFloat32(b + 4 * ((i + 1) % count), true), 1e9]) : v;
      if (count > 0) new DataView(d.buffer).setFloat32(b + 4 * i, value, true);
      how = `"${name}"[${i}] = ${value}`;
      break;
    }
    case 11: {
      text = JSON.stringify(h);
      if (r.chance(0.1)) {
        // Arrays nested 100,000 deep where a shape or offsets belong.
        const deep = `${'['.repeat(100_000)}4${']'.repeat(100_000)}`;
        const field = r.pick(['shape', 'data_offsets']);
        text = text.replace(new RegExp(`"${field}":\\[[^\\]]*\\]`), `"${field}":${deep}`);
        how = `${field} nested 100000 deep`;
        break;
      }
      const numbers = [...text.matchAll(/-?\d+(\.\d+)?(e[+-]?\d+)?/g)];
      const m = r.pick(numbers);
      const v = r.pick(NUMBER_TEXT);
      text = text.slice(0, m.index) + v + text.slice(m.index! + m[0].length);
      how = `number ${m[0]} at ${m.index} becomes ${v.slice(0, 20)}`;
      break;
    }
    default: {
      text = JSON.stringify(h);
      const n = BigInt(ascii(text).length);
      length = r.pick([0n, 1n, n - 1n, n + 1n, n - 8n, n + 8n, BigInt(src.length), 2n ** 32n + n, 2n ** 63n, 100n * 1024n * 1024n + 1n, 2n ** 64n - 1n]);
      how = `header length ${length} for a ${n}-byte header`;
      break;
    }
  }
  if (r.chance(0.1)) d = d.subarray(0, r.int(d.length));
  return { bytes: joinSt(text ?? JSON.stringify(h), d, length), how };
}

function checkSafetensors(res: ReturnType<typeof readSafetensors>): void {
  const { tensors, metadata } = res;
  assert.equal(Object.getPrototypeOf(tensors), Object.prototype, 'tensors is a plain object (a "__proto__" tensor must not replace its prototype)');
  assert.equal(Object.getPrototypeOf(metadata), Object.prototype, 'metadata is a plain object');
  for (const [name, t] of Object.entries(tensors)) {
    assert.ok(Array.isArray(t.shape) && t.shape.every(isCount), `"${name}" shape [${t.shape}]`);
    assert.ok(t.data instanceof Float32Array, `"${name}" data are float32`);
    assert.equal(t.data.length, prod(t.shape), `"${name}" values fill its shape`);
  }
  for (const [k, v] of Object.entries(metadata)) assert.equal(typeof v, 'string', `metadata "${k}" is a string`);
}

function checkModel(model: NiceModel): void {
  validateConfig(model.config);
  const range = model.range;
  assert.ok(Number.isFinite(range[1] - range[0]) && range[0] < range[1], `data range [${range}] has a finite, positive width`);
  for (const p of model.params) {
    assert.equal(p.data.length, prod(p.shape), `${p.name} fills its shape`);
    checkFinite(p.name, p.data);
  }
  const w = model.whitening;
  if (w) {
    for (const t of w.tensors()) checkFinite(t.name, t.data);
    assert.ok(Number.isFinite(w.logDet), 'whitening log-det is finite');
  }
}

// ---- .npy ----

/** A .npy file (version 1.0) with this header dict text and data, padded as NumPy pads. */
function npy(dict: string, data: Uint8Array): Uint8Array {
  const total = Math.ceil((10 + dict.length + 1) / 64) * 64;
  const header = dict.padEnd(total - 11, ' ') + '\n';
  const out = new Uint8Array(total + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(ascii(header), 10);
  out.set(data, total);
  return out;
}
const npyDict = (descr: string, shape: number[]): string => `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;

function splitNpy(b: Uint8Array): { text: string; data: Uint8Array } {
  const n = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint16(8, true);
  return { text: fromAscii(b.subarray(10, 10 + n)), data: b.subarray(10 + n) };
}

const NPY_SHAPES = [
  '()', '(0,)', '(-1,)', '(1.5,)', '(4294967296, 4294967296)', '(9007199254740993,)', '(1e3,)', '(0x10,)', '(3,,4)', '(3 4)', '(,)', '(3,4',
  '[3, 4]', '(3L, 4L)', '(12,)', '(2, 6)', '(13,)', '(11,)', '(2, 2, 3)', '(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 12)', '(0, 1000000000000)',
  '(1000000000000, 0)', '(-0,)', '( 12 , )', '(+12,)', '(12 ,)', '(2, 3, 4)', '(4, 3, 2)', '(2, 3, 2, 2)', '(2, 2, 2, 3)', '(1, 24)', '(24, 1)',
  '(3, 4, 2)', '(2, 12)', '(65536, 65536, 65536, 65536)', '(0, 0, 0)', '(2, 0, 3)', '(1, 2, 3, 4, 5)', '(True,)', '(None,)',
];
const NPY_DESCRS = ['<f\n4', '<f2', '>f4', '<i4', '|b1', '|u1', '<u1', '>u1', '<f8', '<f4', '', "'", 'O', '<c8', '|V4', '<U1', '|i1'];

function mutateNpy(r: Prng, src: Uint8Array): Mutant {
  if (r.chance(0.4)) return mutateBytes(r, src, 10 + new DataView(src.buffer, src.byteOffset).getUint16(8, true));
  const { text, data } = splitNpy(src);
  let dict = text.trimEnd();
  let d = data;
  let how: string;
  switch (r.int(8)) {
    case 0:
    case 1: {
      const s = r.pick(NPY_SHAPES);
      dict = dict.replace(/'shape':\s*\([^)]*\)/, `'shape': ${s}`);
      how = `shape ${s}`;
      break;
    }
    case 2: {
      const v = r.pick(NPY_DESCRS);
      dict = dict.replace(/'descr':\s*'[^']*'/, `'descr': '${v}'`);
      how = `descr ${v}`;
      break;
    }
    case 3: {
      const v = r.pick(['True', 'Flase', '1', 'None', 'False']);
      dict = dict.replace(/'fortran_order':\s*\w+/, `'fortran_order': ${v}`);
      how = `fortran_order ${v}`;
      break;
    }
    case 4: {
      const v = r.pick(["'descr': '<f4', ", "'shape': (1,), ", "'foo': 1, ", "'descr': '|u1', 'descr': '<f8', ", ''])
      dict = dict.replace('{', `{${v}`).replace(r.pick(["'fortran_order': False, ", "'descr'", '}', '']), '');
      how = `keys edited (${v.trim() || 'one removed'})`;
      break;
    }
    case 5: {
      dict = r.pick(['', '{}', '[]', 'garbage', "{'descr': '<f4'}", `${dict}\u00e9`, dict.replace(/ /g, ''), `\u0000${dict}`, dict.replace(/'/g, '"')]);
      how = `dict ${JSON.stringify(dict.slice(0, 30))}`;
      break;
    }
    case 6: {
      const k = r.pick([1, 3, 4, 7, 8, 64]);
      d = r.chance(0.5) ? d.subarray(0, Math.max(0, d.length - k)) : concat(d, new Uint8Array(k));
      how = `data ${d.length - data.length} bytes`;
      break;
    }
    default: {
      const out = npy(dict, d);
      const version = r.pick([0, 2, 3, 4, 255]);
      const len = r.pick([0, 1, out.length, 0xffff, -1]);
      out[6] = version;
      if (len >= 0) new DataView(out.buffer).setUint16(8, len, true);
      return { bytes: out, how: `version ${version}, header length ${len}` };
    }
  }
  return { bytes: npy(dict, d), how };
}

function checkNpy(res: { data: ArrayLike<number>; shape: number[] }): void {
  assert.ok(res.shape.every(isCount), `shape [${res.shape}]`);
  assert.equal(res.data.length, prod(res.shape), 'values fill the shape');
}

// ---- PNG ----

function pngChunks(b: Uint8Array): Array<{ type: string; data: Uint8Array }> {
  const out = [];
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let at = 8; at + 12 <= b.length; ) {
    const len = view.getUint32(at);
    out.push({ type: fromAscii(b.subarray(at + 4, at + 8)), data: b.slice(at + 8, at + 8 + len) });
    at += 12 + len;
  }
  return out;
}
function pngChunk(type: string, data: Uint8Array, crcOk = true): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(ascii(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crcOk ? crc32(out.subarray(4, 8 + data.length)) : 0);
  return out;
}
const PNG_SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
const buildPng = (chunks: Array<{ type: string; data: Uint8Array }>): Uint8Array => concat(PNG_SIGNATURE, ...chunks.map((c) => pngChunk(c.type, c.data)));

function pngSeeds(): Uint8Array[] {
  const gray = imageGridPng(Float32Array.from({ length: 24 }, (_, i) => i / 23), 2, { channels: 1, height: 3, width: 4 }, { padding: 0 });
  const rgb = imageGridPng(Float32Array.from({ length: 36 }, (_, i) => (i % 7) / 6), 1, { channels: 3, height: 3, width: 4 }, { padding: 0 });
  const deep = encodePng({ width: 3, height: 2, depth: 16, channels: 1, data: Uint16Array.of(0, 1000, 65535, 30000, 2, 7) });
  const rgba = encodePng({ width: 2, height: 2, depth: 8, channels: 4, data: Uint8Array.from({ length: 16 }, (_, i) => i * 16) });
  const grayAlpha = encodePng({ width: 2, height: 3, depth: 8, channels: 2, data: Uint8Array.from({ length: 12 }, (_, i) => 255 - i * 20) });
  return [gray, rgb, deep, rgba, grayAlpha];
}

let bombCache: { raw: Uint8Array; size: number } | null = null;
/** Raw deflate data of 200 MB of zeros (~870 KB), built once. */
function deflateBomb(): { raw: Uint8Array; size: number } {
  const size = 200 * 1000 * 1000;
  bombCache ??= { raw: deflateRawSync(Buffer.alloc(size), { level: 1 }), size };
  return bombCache;
}

function mutatePng(r: Prng, src: Uint8Array): Mutant {
  if (r.chance(0.4)) return mutateBytes(r, src, 33);
  const chunks = pngChunks(src);
  const ihdr = chunks.find((c) => c.type === 'IHDR')!;
  const idat = chunks.find((c) => c.type === 'IDAT')!;
  const W = new DataView(ihdr.data.buffer).getUint32(0);
  const H = new DataView(ihdr.data.buffer).getUint32(4);
  let how: string;
  switch (r.int(9)) {
    case 0: {
      const field = r.pick([0, 4]);
      const v = r.pick([0, 1, W - 1, W + 1, 2 * W, H + 1, 0x7fffffff, 0x80000000, 0xffffffff, 65536, 100000, 30000]);
      new DataView(ihdr.data.buffer).setUint32(field, v);
      how = `IHDR ${field ? 'height' : 'width'} = ${v}`;
      break;
    }
    case 1: {
      const field = r.pick([8, 9, 10, 11, 12]);
      const v = field === 8 ? r.pick([0, 1, 2, 3, 4, 8, 16, 32, 255]) : field === 9 ? r.pick([0, 1, 2, 3, 4, 5, 6, 7, 255]) : r.pick([1, 2, 255]);
      ihdr.data[field] = v;
      how = `IHDR byte ${field} = ${v}`;
      break;
    }
    case 2: {
      const type = r.pick(['IHDR', 'IDAT', 'IEND', 'PLTE']);
      const i = chunks.findIndex((c) => c.type === type);
      if (i >= 0) chunks.splice(i, 1);
      how = `drop ${type}`;
      break;
    }
    case 3: {
      const i = r.int(chunks.length);
      chunks.splice(i, 0, { type: chunks[i].type, data: chunks[i].data });
      how = `repeat ${chunks[i].type}`;
      break;
    }
    case 4: {
      const n = r.pick([0, 1, 2, 16, 256, 257]);
      const type = r.pick(['PLTE', 'tRNS', 'abCD', 'tEXt', 'IDAT']);
      chunks.splice(1, 0, { type, data: type === 'PLTE' ? r.bytes(3 * n) : r.bytes(n) });
      how = `insert ${type} of ${type === 'PLTE' ? 3 * n : n} bytes`;
      break;
    }
    case 5: {
      // Scanlines of the wrong size or with bad filter bytes, compressed correctly.
      const rowBytes = Math.ceil((W * (idat.data.length > 0 ? 4 : 1) * 16) / 8) + 1;
      const n = r.pick([0, 1, H * rowBytes - 1, H * rowBytes + 5, 3 * H * rowBytes]);
      const raw = r.bytes(n);
      if (r.chance(0.5)) for (let y = 0; y < n; y += rowBytes) raw[y] = r.pick([0, 1, 2, 3, 4, 5, 255]);
      idat.data = deflateSync(raw);
      how = `IDAT of ${n} random bytes`;
      break;
    }
    case 6: {
      // A zlib bomb: 200 MB of zeros for a few-pixel image.
      const { raw, size } = deflateBomb();
      const adler = (((size % 65521) << 16) | 1) >>> 0;
      const z = new Uint8Array(raw.length + 6);
      z.set([0x78, 0x01]);
      z.set(raw, 2);
      new DataView(z.buffer).setUint32(raw.length + 2, adler);
      idat.data = z;
      how = 'IDAT inflating to 200 MB';
      break;
    }
    case 7: {
      const type = r.pick(chunks.map((c) => c.type));
      const c = chunks.find((x) => x.type === type)!;
      const at = chunks.indexOf(c);
      const before = concat(PNG_SIGNATURE, ...chunks.slice(0, at).map((x) => pngChunk(x.type, x.data)));
      const mine = pngChunk(c.type, c.data);
      const len = r.pick([0, c.data.length - 1, c.data.length + 1, 0x7fffffff, 0xffffffff]);
      new DataView(mine.buffer).setUint32(0, len);
      return { bytes: concat(before, mine, ...chunks.slice(at + 1).map((x) => pngChunk(x.type, x.data))), how: `${type} length field ${len}` };
    }
    default: {
      const z = idat.data;
      idat.data = r.chance(0.5) ? z.subarray(0, r.int(z.length)) : concat(z, r.bytes(1 + r.int(8)));
      how = `IDAT cut or extended to ${idat.data.length}`;
      break;
    }
  }
  return { bytes: buildPng(chunks), how };
}

function checkPng(img: ReturnType<typeof decodePngImage>): void {
  const { channels: C, height: H, width: W, data } = img;
  assert.ok((C === 1 || C === 3) && Number.isSafeInteger(H) && H >= 1 && Number.isSafeInteger(W) && W >= 1, `${C}×${H}×${W}`);
  assert.equal(data.length, C * H * W, 'values fill C×H×W');
  for (let i = 0; i < data.length; i++) if (!(data[i] >= 0 && data[i] <= 1)) assert.fail(`value ${i} is ${data[i]}, not in [0, 1]`);
  const alpha = (img as { alpha?: Float32Array }).alpha;
  if (alpha) {
    assert.equal(alpha.length, H * W, 'one alpha per pixel');
    for (let i = 0; i < alpha.length; i++) if (!(alpha[i] >= 0 && alpha[i] <= 1)) assert.fail(`alpha ${i} is ${alpha[i]}`);
  }
}

// ---- IDX, gzip, CIFAR-10 ----

function idx(dims: number[], fill: (i: number) => number): Uint8Array {
  const n = prod(dims);
  const out = new Uint8Array(4 + 4 * dims.length + n);
  const view = new DataView(out.buffer);
  out.set([0, 0, 8, dims.length]);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  for (let i = 0; i < n; i++) out[4 + 4 * dims.length + i] = fill(i);
  return out;
}
const IDX_SEEDS = [idx([3, 4, 5], (i) => (i * 37) & 255), idx([7], (i) => i), idx([2, 3, 2, 2], (i) => 255 - i), idx([2, 6], (i) => i * 20)];

function mutateIdx(r: Prng, src: Uint8Array): Mutant {
  const ndim = src[3];
  if (r.chance(0.5)) return mutateBytes(r, src, 4 + 4 * ndim);
  const b = Uint8Array.from(src);
  const view = new DataView(b.buffer);
  if (r.chance(0.1) && ndim >= 2) {
    // Images of zero pixels need no data, so the count could claim anything.
    const k = 1 + r.int(ndim - 1);
    view.setUint32(4 + 4 * k, 0);
    const count = r.pick([0, 1, 1000, 0xffffffff]);
    view.setUint32(4, count);
    return { bytes: b.slice(0, 4 + 4 * ndim), how: `dim ${k} = 0, count ${count}, no data` };
  }
  if (r.chance(0.6)) {
    const k = r.int(ndim);
    const d = view.getUint32(4 + 4 * k);
    const v = r.pick([0, 1, d - 1, d + 1, 2 * d, 0x7fffffff, 0x80000000, 0xffffffff, 65536, 2 ** 24]);
    view.setUint32(4 + 4 * k, v >>> 0);
    return { bytes: b, how: `dim ${k} = ${v >>> 0}` };
  }
  const field = r.pick([0, 1, 2, 3]);
  const v = field === 3 ? r.pick([0, 1, 2, 3, 4, 5, 255]) : field === 2 ? r.pick([0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e, 0]) : r.pick([1, 0x1f, 0x8b]);
  b[field] = v;
  return { bytes: b, how: `magic byte ${field} = ${hex(v)}` };
}

function loadIdx(bytes: Uint8Array): { dims: number[]; data: Uint8Array; ds?: ImageDataset } {
  const a = parseIdx(bytes, 'f');
  return a.dims.length >= 2 ? { ...a, ds: imageDatasetFromDims(a.data, a.dims, 'f') } : a;
}
function checkIdx(res: ReturnType<typeof loadIdx>): void {
  assert.ok(res.dims.every(isCount), `dims [${res.dims}]`);
  assert.equal(res.data.length, prod(res.dims), 'data fill the dims');
  if (res.ds) checkDataset(res.ds);
}

/** gzip with the given header flags and extra fields, around raw deflate data of `payload`. */
function gzipWith(payload: Uint8Array, opts: { name?: string; extra?: Uint8Array; comment?: string; hcrc?: boolean } = {}): Uint8Array {
  const raw = deflateRawSync(payload);
  const flg = (opts.hcrc ? 2 : 0) | (opts.extra ? 4 : 0) | (opts.name !== undefined ? 8 : 0) | (opts.comment !== undefined ? 16 : 0);
  const parts: Uint8Array[] = [Uint8Array.of(0x1f, 0x8b, 8, flg, 0, 0, 0, 0, 0, 3)];
  if (opts.extra) parts.push(Uint8Array.of(opts.extra.length & 255, opts.extra.length >> 8), opts.extra);
  if (opts.name !== undefined) parts.push(ascii(opts.name), Uint8Array.of(0));
  if (opts.comment !== undefined) parts.push(ascii(opts.comment), Uint8Array.of(0));
  if (opts.hcrc) {
    const c = crc32(concat(...parts));
    parts.push(Uint8Array.of(c & 255, (c >> 8) & 255));
  }
  const trailer = new Uint8Array(8);
  new DataView(trailer.buffer).setUint32(0, crc32(payload), true);
  new DataView(trailer.buffer).setUint32(4, payload.length, true);
  return concat(...parts, raw, trailer);
}

const GZIP_SEEDS = [
  gzipSync(IDX_SEEDS[0]),
  gzipWith(IDX_SEEDS[2], { name: 'images-idx4-ubyte', comment: 'x', hcrc: true }),
  gzipWith(IDX_SEEDS[0], { extra: Uint8Array.of(65, 66, 2, 0, 1, 2) }),
  concat(gzipSync(IDX_SEEDS[3].subarray(0, 9)), gzipSync(IDX_SEEDS[3].subarray(9))), // two members
];

function mutateGzip(r: Prng, src: Uint8Array, i: number): Mutant {
  if (r.chance(0.45)) return mutateBytes(r, src, 24);
  const b = Uint8Array.from(src);
  const view = new DataView(b.buffer);
  switch (r.int(6)) {
    case 0: {
      const v = r.pick([0, 1, 2, 4, 8, 16, 31, 0xe0, 0xff]);
      b[3] = v;
      return { bytes: b, how: `FLG = ${hex(v)}` };
    }
    case 1: {
      const v = r.pick([0, 7, 9, 255]);
      b[2] = v;
      return { bytes: b, how: `CM = ${v}` };
    }
    case 2: {
      const at = r.pick([b.length - 4, b.length - 8]);
      const v = r.pick([0, 1, 0x7fffffff, 0xffffffff, view.getUint32(at, true) + 1, view.getUint32(at, true) - 1]);
      view.setUint32(at, v >>> 0, true);
      return { bytes: b, how: `trailer ${at === b.length - 4 ? 'ISIZE' : 'CRC'} = ${v >>> 0}` };
    }
    case 3: {
      const tail = r.pick([src, src.subarray(0, 10), src.subarray(0, 20), r.bytes(12), Uint8Array.of(0x1f, 0x8b, 8), new Uint8Array(4)]);
      return { bytes: concat(b, tail), how: `append ${tail.length} bytes (a member or garbage)` };
    }
    case 4: {
      const xlen = r.pick([0, 1, 100, 0xffff]);
      return { bytes: gzipWith(IDX_SEEDS[i % 2], { extra: r.bytes(Math.min(xlen, 5)) }).map((v, k) => (k === 10 ? xlen & 255 : k === 11 ? xlen >> 8 : v)), how: `FEXTRA length ${xlen}` };
    }
    default: {
      // Valid gzip of a mutated IDX file: the errors must come from the IDX reader behind gunzip.
      const inner = mutateIdx(r, r.pick(IDX_SEEDS));
      return { bytes: gzipSync(inner.bytes), how: `gzip of IDX mutant (${inner.how})` };
    }
  }
}

function cifar(labels: number[]): Uint8Array {
  const R = CIFAR10_RECORD_BYTES;
  const out = new Uint8Array(labels.length * R);
  labels.forEach((l, k) => {
    out[k * R] = l;
    for (let i = 1; i < R; i++) out[k * R + i] = (i * 13 + k) & 255;
  });
  return out;
}

function mutateCifar(r: Prng, src: Uint8Array): Mutant {
  if (r.chance(0.5)) return mutateBytes(r, src, 1);
  const R = CIFAR10_RECORD_BYTES;
  const b = Uint8Array.from(src);
  switch (r.int(3)) {
    case 0: {
      const k = r.int(b.length / R);
      b[k * R] = r.pick([9, 10, 11, 99, 255]);
      return { bytes: b, how: `record ${k} label ${b[k * R]}` };
    }
    case 1: {
      const n = r.int(b.length / R + 1) * R + r.pick([-1, 0, 1, 2]);
      return { bytes: b.slice(0, Math.max(0, n)), how: `cut to ${Math.max(0, n)}` };
    }
    default: {
      const n = r.pick([1, R - 1, R, R + 1, 2 * R]);
      return { bytes: concat(b, r.bytes(n)), how: `append ${n} bytes` };
    }
  }
}

// ---- the readers ----

describe('fuzz: every reader either loads valid data or throws a one-line NiceFlowError', () => {
  const models = modelSeeds();
  const checkpoint = checkpointSeed();

  it('safetensors (readSafetensors)', { timeout: TIMEOUT }, (t) => {
    const seeds = [...models, checkpoint];
    fuzz(t, {
      reader: 'safetensors', seed: 1, cases: CASES,
      fixed: [
        renameTensor(models[0], 'scaling.scale', '__proto__'),
        editSt(models[0], 'fixed: dtype "F\\n32"', (h) => void ((h['scaling.scale'] as { dtype: string }).dtype = 'F\n32')),
        editSt(models[0], 'fixed: metadata "a\\nb" = 5', (_, meta) => put(meta, 'a\nb', 5)),
      ],
      mutate: (r) => mutateSafetensors(r, r.pick(seeds)),
      load: readSafetensors,
      check: checkSafetensors,
    });
  });

  // Fails today in model/NiceConfig code (see the fixed cases); the owner is fixing it.
  it('model files (deserializeModel)', { timeout: TIMEOUT }, (t) => {
    fuzz(t, {
      reader: 'model file', seed: 2, cases: CASES,
      fixed: [
        editConfig(models[0], { range: [-1e308, 1e308] }),
        editConfig(models[0], { hidden: 5000 }),
        editSt(models[0], 'fixed: extra tensor "line\\nbreak"', (h) => {
          const end = splitSt(models[0]).data.length;
          put(h, 'line\nbreak', { dtype: 'F32', shape: [0], data_offsets: [end, end] });
        }),
      ],
      mutate: (r) => mutateSafetensors(r, r.pick(models), 0.3),
      load: (b) => deserializeModel(b, countingBackend()),
      check: checkModel,
    });
  });

  // Fails today in checkpoint/model code (see the fixed cases); the owner is fixing it.
  it('checkpoints (deserializeCheckpoint, restore, one step)', { timeout: TIMEOUT }, (t) => {
    fuzz(t, {
      reader: 'checkpoint', seed: 3, cases: CASES,
      fixed: [
        renameTensor(checkpoint, 'train.adam.m.scaling.scale', 'a\nb'),
        editConfig(checkpoint, { hidden: 5000, depth: 2 }),
      ],
      mutate: (r) => mutateSafetensors(r, checkpoint, 0.3),
      load: (b) => {
        const loaded = deserializeCheckpoint(b, countingBackend());
        const trainer = new Trainer(loaded.model, RING, { batchSize: 30, seed: 9 });
        loaded.restore(trainer);
        return { trainer, ll: trainer.trainStep() };
      },
      check: ({ trainer, ll }) => {
        assert.ok(Number.isFinite(ll), `first step's log-likelihood ${ll}`);
        checkModel(trainer.model);
        for (const k of ['step', 'epoch', 'batchInEpoch'] as const) assert.ok(isCount(trainer[k]), `${k} ${trainer[k]}`);
        const order = [...trainer.order].sort((a, b) => a - b);
        assert.ok(order.every((v, i) => v === i), 'the image order is a permutation');
        trainer.adam.m.forEach((m, i) => checkFinite(`adam.m[${i}]`, m));
        trainer.adam.v.forEach((v, i) => {
          checkFinite(`adam.v[${i}]`, v);
          for (const x of v) assert.ok(x >= 0, `adam.v[${i}] holds ${x}`);
        });
      },
    });
  });

  it('.npy float (readNpyF32)', { timeout: TIMEOUT }, (t) => {
    const f64 = new Uint8Array(48);
    for (let i = 0; i < 6; i++) new DataView(f64.buffer).setFloat64(8 * i, i / 3 - 1, true);
    const seeds = [
      writeNpyF32(Float32Array.from({ length: 12 }, (_, i) => i / 7 - 0.5), [3, 4]),
      npy(npyDict('<f8', [2, 3]), f64),
      npy(npyDict('|u1', [6]), Uint8Array.of(0, 1, 2, 128, 254, 255)),
      writeNpyF32(Float32Array.of(1.5), [1]),
    ];
    // NaN and infinity are values a .npy may hold: the CLI refuses them where they would do harm (readRows).
    fuzz(t, {
      reader: '.npy float', seed: 4, cases: CASES,
      fixed: [
        { bytes: npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-0,), }", new Uint8Array(0)), how: 'fixed: shape (-0,)' },
        { bytes: npy("{'descr': '<f\n4', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(4)), how: 'fixed: descr "<f\\n4"' },
      ],
      mutate: (r) => mutateNpy(r, r.pick(seeds)),
      load: readNpyF32,
      check: checkNpy,
    });
  });

  it('.npy images (readNpyU8, imageDatasetFromArray)', { timeout: TIMEOUT }, (t) => {
    const seeds = [
      npy(npyDict('|u1', [2, 3, 4]), Uint8Array.from({ length: 24 }, (_, i) => i * 10)),
      npy(npyDict('|u1', [2, 2, 2, 3]), Uint8Array.from({ length: 24 }, (_, i) => 255 - i)),
      npy(npyDict('|u1', [2, 3, 2, 2]), Uint8Array.from({ length: 24 }, (_, i) => i)),
    ];
    fuzz(t, {
      reader: '.npy images', seed: 5, cases: CASES,
      mutate: (r) => mutateNpy(r, r.pick(seeds)),
      load: (b) => {
        const a = readNpyU8(b, 'f.npy');
        return { a, ds: imageDatasetFromArray(a.data, a.shape, 'f.npy') };
      },
      check: ({ a, ds }) => {
        checkNpy(a);
        checkDataset(ds);
      },
    });
  });

  it('image arrays of any claimed shape (imageDatasetFromArray)', { timeout: TIMEOUT }, (t) => {
    // The shape comes from a file; the data may be shorter or longer than it claims.
    const SIZES = [0, 1, 2, 3, 4, 6, 24, 2 ** 31, 2 ** 32, 2 ** 53, -1, 1.5, NaN];
    fuzz(t, {
      reader: 'image arrays', seed: 6, cases: CASES,
      fixed: [
        { bytes: encodeShapeCase([2, 3, 4], new Uint8Array(10)), how: 'fixed: shape [2, 3, 4], 10 bytes' },
        { bytes: encodeShapeCase([2 ** 32, 2, 1, 3], new Uint8Array(20)), how: 'fixed: shape [2^32, 2, 1, 3], 20 bytes' },
        { bytes: encodeShapeCase([1.5, 3, 3, 4], new Uint8Array(54)), how: 'fixed: shape [1.5, 3, 3, 4], 54 bytes' },
      ],
      mutate: (r) => {
        const shape = Array.from({ length: r.pick([2, 3, 4, 4, 5]) }, () => (r.chance(0.7) ? r.pick([1, 2, 3, 4]) : r.pick(SIZES)));
        const n = r.chance(0.5) ? Math.min(4096, Math.max(0, prod(shape) || 0)) : r.int(64);
        return { bytes: encodeShapeCase(shape, r.bytes(n)), how: `shape [${shape}], ${n} bytes` };
      },
      load: decodeShapeCase,
      check: checkDataset,
    });
  });

  it('PNG images (decodePngImage)', { timeout: TIMEOUT }, (t) => {
    const seeds = pngSeeds();
    fuzz(t, { reader: 'PNG', seed: 7, cases: CASES, mutate: (r) => mutatePng(r, r.pick(seeds)), load: (b) => decodePngImage(b), check: checkPng });
  });

  it('PNG folders (imagesFromPngs)', { timeout: TIMEOUT }, (t) => {
    const seeds = pngSeeds();
    fuzz(t, {
      reader: 'PNG folder', seed: 8, cases: CASES / 2,
      mutate: (r) => mutatePng(r, seeds[r.pick([0, 0, 1])]),
      load: (b) => imagesFromPngs([{ name: 'a.png', bytes: seeds[0] }, { name: 'b.png', bytes: b }, { name: 'c.png', bytes: () => seeds[0] }], 'dir'),
      check: (ds) => {
        checkDataset(ds);
        assert.equal(ds.count, 3, 'three images');
      },
    });
  });

  it('IDX (parseIdx, imageDatasetFromDims)', { timeout: TIMEOUT }, (t) => {
    fuzz(t, {
      reader: 'IDX', seed: 9, cases: CASES,
      fixed: [{ bytes: idx([0xffffffff, 0, 5], () => 0), how: 'fixed: dims [2^32 - 1, 0, 5], no data' }],
      mutate: (r) => mutateIdx(r, r.pick(IDX_SEEDS)),
      load: loadIdx,
      check: checkIdx,
    });
  });

  it('gzipped IDX (gunzip, parseIdx)', { timeout: TIMEOUT }, (t) => {
    for (const g of GZIP_SEEDS) assert.ok(gunzip(g, GZIP_CAP).length > 0, 'the seeds are valid');
    fuzz(t, { reader: 'gzipped IDX', seed: 10, cases: CASES, mutate: (r, i) => mutateGzip(r, r.pick(GZIP_SEEDS), i), load: (b) => loadIdx(gunzip(b, GZIP_CAP)), check: checkIdx });
  });

  it('CIFAR-10 (parseCifar10)', { timeout: TIMEOUT }, (t) => {
    const seeds = [cifar([3, 0, 9]), cifar([7])];
    fuzz(t, {
      reader: 'CIFAR-10', seed: 11, cases: CASES,
      mutate: (r) => mutateCifar(r, r.pick(seeds)),
      load: (b) => parseCifar10(b, 'f.bin'),
      check: (ds) => {
        checkDataset(ds);
        assert.ok(ds.labels!.every((l) => l <= 9), 'labels 0..9');
      },
    });
  });

  it('gunzip agrees with zlib on valid data: one member or several, stored or compressed, up to the cap exactly', () => {
    const r = new Prng(12);
    for (const n of [0, 1, 1000, 70_000, 300_000]) {
      const data = r.chance(0.5) ? r.bytes(n) : Uint8Array.from({ length: n }, (_, i) => (i * i) >> 9);
      for (const level of [0, 6, 9]) {
        const one = gzipSync(data, { level });
        assert.deepEqual(gunzip(one, n), data, `${n} bytes, level ${level}`);
        const three = concat(one, gzipSync(data.subarray(0, n >> 1), { level }), one);
        assert.deepEqual(gunzip(three), concat(data, data.subarray(0, n >> 1), data), `three members of ${n} bytes`);
        if (n > 0) assert.throws(() => gunzip(one, n - 1), (e: unknown) => e instanceof NiceFlowError && /more than/.test(e.message), `${n} bytes, cap ${n - 1}`);
      }
    }
  });

  it('gzip bombs stop at the cap without allocating the output', { timeout: TIMEOUT }, () => {
    const { raw, size } = deflateBomb();
    const trailer = new Uint8Array(8);
    new DataView(trailer.buffer).setUint32(4, size, true); // CRC left 0: the cap must stop it before the check
    const member = concat(Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3), raw, trailer);
    for (const [what, bomb] of [['one member', member], ['four members', concat(member, member, member, member)]] as const) {
      const cap = 16 * 1024 * 1024;
      const before = process.memoryUsage().arrayBuffers;
    const backendBefore = backendBytes;
      assert.throws(() => gunzip(bomb, cap), (e: unknown) => e instanceof NiceFlowError && /more than 16777216 bytes/.test(e.message) && !e.message.includes('\n'), what);
      const grown = Math.max(process.memoryUsage().arrayBuffers - before, backendBytes - backendBefore);
      assert.ok(grown < 4 * cap, `${what}: ${Math.round(grown / 2 ** 20)} MB allocated for a ${cap / 2 ** 20} MB cap`);
    }
    // Through the CLI's file reader, with the file named.
    const dir = mkdtempSync(join(tmpdir(), 'nice-fuzz-'));
    try {
      const path = join(dir, 'bomb-idx3-ubyte.gz');
      writeFileSync(path, member);
      assert.throws(() => readInput(path, 'IDX file', 1024 * 1024), (e: unknown) => e instanceof NiceFlowError && e.message.startsWith(`IDX file ${path}: gzip data inflates to more than 1048576 bytes`));
      const cut = join(dir, 'cut.gz');
      writeFileSync(cut, GZIP_SEEDS[0].subarray(0, 30));
      assert.throws(() => readInput(cut, 'IDX file'), (e: unknown) => e instanceof NiceFlowError && e.message.startsWith(`IDX file ${cut}: corrupt or truncated gzip data`));
      const ok = join(dir, 'ok.gz');
      writeFileSync(ok, GZIP_SEEDS[3]);
      assert.deepEqual(readInput(ok, 'IDX file'), IDX_SEEDS[3]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** An "image arrays" case as bytes: the rank, the shape as float64s, then the data. */
function encodeShapeCase(shape: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + 8 * shape.length + data.length);
  out[0] = shape.length;
  shape.forEach((v, k) => new DataView(out.buffer).setFloat64(1 + 8 * k, v, true));
  out.set(data, 1 + 8 * shape.length);
  return out;
}
function decodeShapeCase(bytes: Uint8Array): ImageDataset {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape = Array.from({ length: bytes[0] }, (_, k) => view.getFloat64(1 + 8 * k, true));
  return imageDatasetFromArray(bytes.subarray(1 + 8 * shape.length), shape, 'f.npy');
}
