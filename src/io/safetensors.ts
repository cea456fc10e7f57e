import { NiceFlowError } from '../core/NiceFlowError.js';

// safetensors: 8-byte little-endian header length N, N bytes of JSON header, then raw little-endian tensor data.
// Header entries: name → {dtype, shape, data_offsets: [begin, end]} relative to the data section, plus an optional
// "__metadata__" object of string → string.

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

/** Serialises float32 tensors (in sorted name order) and string metadata. */
export function writeSafetensors(tensors: Record<string, TensorF32>, metadata: Record<string, string> = {}): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors[name];
    if (t.data.length !== numel(t.shape)) {
      throw new NiceFlowError(`tensor "${name}": ${t.data.length} values do not fill shape [${t.shape.join(', ')}]`);
    }
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * t.data.length] };
    offset += 4 * t.data.length;
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
  for (const name of names) {
    const d = tensors[name].data;
    for (let i = 0; i < d.length; i++, pos += 4) view.setFloat32(pos, d[i], true);
  }
  return out;
}

/**
 * Parses a safetensors file holding float32 tensors. Every structural problem is a NiceFlowError naming it:
 * truncated or oversized header, bad JSON, malformed entries, dtypes other than F32, offsets past the end or
 * overlapping, sizes that disagree with shapes.
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
  const entries: Array<{ name: string; shape: number[]; begin: number; end: number }> = [];
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
    if (e.dtype !== 'F32') {
      const dtype = /^[A-Za-z0-9_]{1,16}$/.test(e.dtype) ? e.dtype : quote(e.dtype);
      throw new NiceFlowError(`tensor ${quote(name)} has dtype ${dtype}; only F32 is supported`);
    }
    const shape = e.shape as unknown[];
    const offs = e.data_offsets as unknown[];
    if (!shape.every((v) => Number.isSafeInteger(v) && (v as number) >= 0)) throw new NiceFlowError(`tensor ${quote(name)} has an invalid shape`);
    if (offs.length !== 2 || !offs.every((v) => Number.isSafeInteger(v) && (v as number) >= 0) || (offs[0] as number) > (offs[1] as number)) {
      throw new NiceFlowError(`tensor ${quote(name)} has invalid data_offsets`);
    }
    const [begin, end] = offs as [number, number];
    if (end > dataLen) throw new NiceFlowError(`tensor ${quote(name)} runs past the end of the file (offset ${end} > ${dataLen} data bytes; truncated?)`);
    if (end - begin !== 4 * numel(shape as number[])) {
      throw new NiceFlowError(`tensor ${quote(name)}: ${end - begin} bytes do not match shape [${shape.join(', ')}] of F32`);
    }
    entries.push({ name, shape: shape as number[], begin, end });
  }
  entries.sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < entries.length; i++) {
    if (entries[i].begin < entries[i - 1].end) throw new NiceFlowError(`tensors ${quote(entries[i - 1].name)} and ${quote(entries[i].name)} overlap in the file`);
  }
  const tensors: Record<string, TensorF32> = {};
  for (const { name, shape, begin, end } of entries) {
    const data = new Float32Array((end - begin) / 4);
    const at = dataStart + begin;
    for (let i = 0; i < data.length; i++) data[i] = view.getFloat32(at + 4 * i, true);
    setOwn(tensors, name, { shape, data });
  }
  return { tensors, metadata };
}
