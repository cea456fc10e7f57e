import { NiceFlowError } from '../core/NiceFlowError.js';
import { float16BitsToFloat32Bits, float32ToFloat16Bits, isFloat16Finite } from './float16.js';

// safetensors: 8-byte little-endian header length N, N bytes of JSON header, then raw little-endian tensor data.
// Header entries: name → {dtype, shape, data_offsets: [begin, end]} relative to the data section, plus an optional
// "__metadata__" object of string → string. Read: F32, F16 (IEEE half) and BF16 (bfloat16), all converted to float32;
// written: F32, or F16 on request (round to nearest even; a value half cannot hold is refused).

/** A float32 tensor by shape. */
export interface TensorF32 {
  shape: number[];
  data: Float32Array;
}

const MAX_HEADER = 100 * 1024 * 1024;

const numel = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/** A name from a file as it goes into a one-line message: quoted, control characters escaped, at most 100 characters. */
function quote(name: string): string {
  return JSON.stringify(name.length > 100 ? `${name.slice(0, 100)}…` : name);
}

/**
 * Sets an own, enumerable property: a name from a file ("__proto__" included) must become a key like any other, not
 * replace the record's prototype or vanish.
 */
function setOwn<T>(record: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A dtype a tensor may be written as: `F32` (exact) or `F16` (IEEE half, rounded to nearest even). */
export type SafetensorsWriteDtype = 'F32' | 'F16';

/** Dtypes {@link readSafetensors} accepts, each converted to float32 on read. */
export const SAFETENSORS_READ_DTYPES = ['F32', 'F16', 'BF16'] as const;

/** Options of {@link writeSafetensors}. */
export interface WriteSafetensorsOptions {
  /**
   * The stored dtype: one for every tensor, or a function of the tensor's name choosing per tensor; `F32` by default.
   * `F16` halves the size; a value beyond half's range (magnitude ≥ 65520, which would round to infinity) or a NaN
   * is refused with a NiceFlowError naming the tensor, the index and the value.
   */
  dtype?: SafetensorsWriteDtype | ((name: string) => SafetensorsWriteDtype);
}

const BYTES: Record<SafetensorsWriteDtype, number> = { F32: 4, F16: 2 };

type ReadDtype = (typeof SAFETENSORS_READ_DTYPES)[number];
const READ_BYTES: Record<ReadDtype, number> = { F32: 4, F16: 2, BF16: 2 };

/** Whether this host stores numbers little-endian (the byte order of safetensors files). */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Serialises float32 tensors (in sorted name order) and string metadata, as F32 or, with `options.dtype`, F16.
 * Throws a NiceFlowError when a tensor's values do not fill its shape, or an F16 tensor holds a NaN or a value
 * half cannot represent.
 */
export function writeSafetensors(tensors: Record<string, TensorF32>, metadata: Record<string, string> = {}, options: WriteSafetensorsOptions = {}): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  const choose = options.dtype ?? 'F32';
  const dtypes: SafetensorsWriteDtype[] = [];
  let offset = 0;
  for (const name of names) {
    const t = tensors[name];
    if (t.data.length !== numel(t.shape)) {
      throw new NiceFlowError(`tensor "${name}": ${t.data.length} values do not fill shape [${t.shape.join(', ')}]`);
    }
    const dtype = typeof choose === 'function' ? choose(name) : choose;
    if (dtype !== 'F32' && dtype !== 'F16') throw new NiceFlowError(`tensor ${quote(name)}: cannot write dtype ${quote(String(dtype))}; only F32 and F16`);
    dtypes.push(dtype);
    const size = BYTES[dtype] * t.data.length;
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let pos = 8 + json.length;
  names.forEach((name, k) => {
    const d = tensors[name].data;
    if (dtypes[k] === 'F32') {
      // The file is little-endian, as every host that runs this is: the values' bytes go in as they are (a plain
      // copy, ~10× faster than a DataView per value; it matters for a 230 MB checkpoint saved while training).
      if (LITTLE_ENDIAN) out.set(new Uint8Array(d.buffer, d.byteOffset, d.length * 4), pos);
      else for (let i = 0; i < d.length; i++) view.setFloat32(pos + 4 * i, d[i], true);
      pos += d.length * 4;
      return;
    }
    for (let i = 0; i < d.length; i++, pos += 2) {
      const h = float32ToFloat16Bits(d[i]);
      if (!isFloat16Finite(h)) {
        const why = Number.isNaN(d[i]) ? 'NaN' : `${d[i]}, beyond float16's range (largest finite 65504)`;
        throw new NiceFlowError(`tensor ${quote(name)} holds ${why} at index ${i}; it cannot be written as F16 (keep it F32)`);
      }
      view.setUint16(pos, h, true);
    }
  });
  return out;
}

/**
 * Parses a safetensors file holding F32, F16 or BF16 tensors, returning every tensor as float32 (F16 and BF16 values
 * convert exactly). Every structural problem is a NiceFlowError naming it: truncated or oversized header, bad JSON,
 * malformed entries, other dtypes, offsets past the end or overlapping, sizes that disagree with shapes.
 */
export function readSafetensors(bytes: Uint8Array): { tensors: Record<string, TensorF32>; metadata: Record<string, string> } {
  if (bytes.length < 8) throw new NiceFlowError(`not a safetensors file: only ${bytes.length} bytes (truncated)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = view.getBigUint64(0, true);
  if (headerLen > BigInt(MAX_HEADER)) throw new NiceFlowError(`safetensors header length ${headerLen} is oversized (not a safetensors file?)`);
  const n = Number(headerLen);
  if (8 + n > bytes.length) {
    throw new NiceFlowError(`safetensors file truncated: header needs ${n} bytes, file has ${bytes.length - 8} after the length`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch {
    throw new NiceFlowError('safetensors header is not valid JSON (not a safetensors file?)');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new NiceFlowError('safetensors header is not a JSON object');
  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: Array<{ name: string; dtype: ReadDtype; shape: number[]; begin: number; end: number }> = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new NiceFlowError('safetensors __metadata__ is not an object');
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== 'string') throw new NiceFlowError(`safetensors __metadata__ value ${quote(k)} is not a string`);
        setOwn(metadata, k, v);
      }
      continue;
    }
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null || typeof e.dtype !== 'string' || !Array.isArray(e.shape) || !Array.isArray(e.data_offsets)) {
      throw new NiceFlowError(`safetensors entry ${quote(name)} is malformed (needs dtype, shape, data_offsets)`);
    }
    if (!Object.hasOwn(READ_BYTES, e.dtype)) {
      const dtype = /^[A-Za-z0-9_]{1,16}$/.test(e.dtype) ? e.dtype : quote(e.dtype);
      throw new NiceFlowError(`tensor ${quote(name)} has dtype ${dtype}; only F32, F16 and BF16 are supported`);
    }
    const dtype = e.dtype as ReadDtype;
    const size = READ_BYTES[dtype];
    const shape = e.shape as unknown[];
    const offs = e.data_offsets as unknown[];
    if (!shape.every((v) => Number.isSafeInteger(v) && (v as number) >= 0)) throw new NiceFlowError(`tensor ${quote(name)} has an invalid shape`);
    if (offs.length !== 2 || !offs.every((v) => Number.isSafeInteger(v) && (v as number) >= 0) || (offs[0] as number) > (offs[1] as number)) {
      throw new NiceFlowError(`tensor ${quote(name)} has invalid data_offsets`);
    }
    const [begin, end] = offs as [number, number];
    if (end > dataLen) throw new NiceFlowError(`tensor ${quote(name)} runs past the end of the file (offset ${end} > ${dataLen} data bytes; truncated?)`);
    if (end - begin !== size * numel(shape as number[])) {
      throw new NiceFlowError(`tensor ${quote(name)}: ${end - begin} bytes do not match shape [${shape.join(', ')}] of ${dtype}`);
    }
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }
  entries.sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < entries.length; i++) {
    if (entries[i].begin < entries[i - 1].end) throw new NiceFlowError(`tensors ${quote(entries[i - 1].name)} and ${quote(entries[i].name)} overlap in the file`);
  }
  const tensors: Record<string, TensorF32> = {};
  for (const { name, dtype, shape, begin, end } of entries) {
    const data = new Float32Array((end - begin) / READ_BYTES[dtype]);
    const at = dataStart + begin;
    if (dtype === 'F32') {
      for (let i = 0; i < data.length; i++) data[i] = view.getFloat32(at + 4 * i, true);
    } else {
      // Bit patterns straight into the float32 array's words: exact, NaN payloads included.
      const bits = new Uint32Array(data.buffer);
      if (dtype === 'F16') for (let i = 0; i < data.length; i++) bits[i] = float16BitsToFloat32Bits(view.getUint16(at + 2 * i, true));
      else for (let i = 0; i < data.length; i++) bits[i] = view.getUint16(at + 2 * i, true) << 16;
    }
    setOwn(tensors, name, { shape, data });
  }
  return { tensors, metadata };
}
