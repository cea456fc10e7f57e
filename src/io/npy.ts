import { NiceFlowError } from '../core/NiceFlowError.js';

// NumPy .npy: magic "\x93NUMPY", version, header length (u16 for 1.0, u32 for 2.0), a Python-literal dict header
// {'descr': '<f4', 'fortran_order': False, 'shape': (…), } padded with spaces and ending in '\n', then the data.

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];

/** A float32 .npy file (version 1.0, C order) of the given shape. */
export function writeNpyF32(data: Float32Array, shape: number[]): Uint8Array {
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const out = new Uint8Array(total + 4 * data.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  const view = new DataView(out.buffer);
  view.setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  for (let i = 0; i < data.length; i++) view.setFloat32(total + 4 * i, data[i], true);
  return out;
}

/** The parsed header of a .npy file: dtype string, shape, and where the data starts. */
interface NpyHeader {
  descr: string;
  shape: number[];
  count: number;
  dataStart: number;
}

/**
 * Parses the header dict as NumPy writes it (a Python literal): exactly the keys 'descr' (a string), 'fortran_order'
 * (True or False) and 'shape' (a tuple of non-negative integers), in any order, then only padding. Anything else is
 * "malformed" rather than guessed at.
 */
function parseHeaderDict(text: string, prefix: string): { descr: string; fortran: boolean; shape: number[] } {
  const malformed = (why: string): NiceFlowError => new NiceFlowError(`${prefix}.npy header is malformed (${why})`);
  let at = 0;
  const skip = (): void => {
    while (at < text.length && ' \t\r\n'.includes(text[at])) at++;
  };
  const eat = (c: string): boolean => {
    skip();
    if (text[at] !== c) return false;
    at++;
    return true;
  };
  const string = (): string => {
    skip();
    const q = text[at];
    if (q !== "'" && q !== '"') throw malformed('expected a quoted string');
    const close = text.indexOf(q, at + 1);
    if (close < 0) throw malformed('unterminated string');
    const v = text.slice(at + 1, close);
    // Plain printable ASCII only: dtype strings are short codes like '<f4', and the value goes into messages.
    if (!/^[\x20-\x7e]*$/.test(v) || v.includes('\\')) throw malformed('unexpected characters in a string');
    at = close + 1;
    return v;
  };
  // A bare word: True, False or a number (signs, points and exponents included, so that they can be named).
  const word = (): string => {
    skip();
    const m = /^[A-Za-z0-9_.+-]+/.exec(text.slice(at, at + 32));
    if (!m) throw malformed(`unexpected ${text[at] === undefined ? 'end' : JSON.stringify(text[at])} at ${at}`);
    at += m[0].length;
    return m[0];
  };
  if (!eat('{')) throw malformed('no dict');
  const seen = new Map<string, unknown>();
  while (!eat('}')) {
    const key = string();
    if (seen.has(key)) throw malformed(`key '${key}' appears twice`);
    if (!eat(':')) throw malformed('expected ":"');
    if (key === 'shape') {
      if (!eat('(')) throw malformed("'shape' is not a tuple");
      const shape: number[] = [];
      while (!eat(')')) {
        // Integers as Python writes them (an 'L' suffix in files from Python 2); no signs, fractions or exponents.
        const w = word();
        if (!/^\d+L?$/.test(w)) throw new NiceFlowError(`${prefix}.npy header has an invalid shape (${JSON.stringify(w)} is not a size)`);
        const v = Number(w.replace(/L$/, ''));
        if (!Number.isSafeInteger(v)) throw new NiceFlowError(`${prefix}.npy header has an invalid shape (size ${w} is too large)`);
        shape.push(v);
        if (!eat(',')) {
          if (!eat(')')) throw malformed("expected ',' or ')' in 'shape'");
          if (shape.length === 1) throw malformed("a 1-d 'shape' needs a trailing comma, as in (n,)");
          break;
        }
      }
      seen.set(key, shape);
    } else if (key === 'descr') {
      seen.set(key, string());
    } else if (key === 'fortran_order') {
      const w = word();
      if (w !== 'True' && w !== 'False') throw malformed(`'fortran_order' is ${JSON.stringify(w)}, not True or False`);
      seen.set(key, w === 'True');
    } else {
      throw malformed(`unexpected key ${JSON.stringify(key.slice(0, 40))}`);
    }
    if (!eat(',')) {
      if (!eat('}')) throw malformed("expected ',' or '}'");
      break;
    }
  }
  skip();
  if (at !== text.length) throw malformed('text after the dict');
  for (const key of ['descr', 'fortran_order', 'shape']) if (!seen.has(key)) throw malformed(`no '${key}'`);
  return { descr: seen.get('descr') as string, fortran: seen.get('fortran_order') as boolean, shape: seen.get('shape') as number[] };
}

/** ".npy file " when no prefix names the file ("x.npy: truncated", but ".npy file truncated"). */
function fileWord(prefix: string): string {
  return prefix ? '' : '.npy file ';
}

function parseNpyHeader(bytes: Uint8Array, prefix: string): NpyHeader {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new NiceFlowError(`${prefix}not a .npy file (bad magic)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new NiceFlowError(`${prefix}${fileWord(prefix)}truncated`);
    headerLen = view.getUint32(8, true);
    start = 12;
  } else throw new NiceFlowError(`${prefix}.npy version ${major} is not supported`);
  if (start + headerLen > bytes.length) throw new NiceFlowError(`${prefix}${fileWord(prefix)}truncated (header)`);
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLen));
  const { descr, fortran, shape } = parseHeaderDict(header, prefix);
  if (fortran) throw new NiceFlowError(`${prefix}${fileWord(prefix)}${prefix ? 'stored' : 'is'} in Fortran order; save it in C order`);
  let count = 1;
  for (const v of shape) count *= v;
  if (!Number.isSafeInteger(count)) throw new NiceFlowError(`${prefix}.npy header has an invalid shape ((${shape.join(', ')}) is too large)`);
  return { descr, shape, count, dataStart: start + headerLen };
}

function checkLength(bytes: Uint8Array, h: NpyHeader, size: number, prefix: string): void {
  if (h.count > (bytes.length - h.dataStart) / size) {
    throw new NiceFlowError(`${prefix}${fileWord(prefix)}truncated: expected ${h.count * size} bytes of data, found ${bytes.length - h.dataStart}`);
  }
}

/** The dtype string of a .npy (e.g. '<f4', '|u1'), from its header; a malformed header is a NiceFlowError. */
export function npyDtype(bytes: Uint8Array, what?: string): string {
  return parseNpyHeader(bytes, what ? `${what}: ` : '').descr;
}

/** True for the dtype strings of uint8 data ('|u1' as NumPy writes it; '<u1' and '>u1' too). */
export function isUint8Dtype(descr: string): boolean {
  return descr === '|u1' || descr === '<u1' || descr === '>u1';
}

/** The float width (4 or 8 bytes) and byte order of a float32 or float64 dtype string ('<f4', '>f8', …); null for any other. */
function floatDtype(descr: string): { size: 4 | 8; littleEndian: boolean } | null {
  const m = /^([<>])f([48])$/.exec(descr);
  return m ? { size: Number(m[2]) as 4 | 8, littleEndian: m[1] === '<' } : null;
}

/** True for the dtype strings of float32 or float64 data, either byte order ('<f4', '<f8' as NumPy writes them; '>f4', '>f8'). */
export function isFloatDtype(descr: string): boolean {
  return floatDtype(descr) !== null;
}

/**
 * Reads a .npy of float32 or float64 values (either byte order), C order, keeping their precision: a Float32Array
 * for float32, a Float64Array for float64 (copies, whatever the alignment of `bytes`). The header is checked as every
 * reader here checks it and the data must be all there; values are not judged (NaN stays NaN: the caller decides).
 * Any other dtype is an error naming it. `what` (e.g. the file name) starts every error message.
 */
export function readNpyFloat(bytes: Uint8Array, what?: string): { data: Float32Array | Float64Array; shape: number[] } {
  const prefix = what ? `${what}: ` : '';
  const h = parseNpyHeader(bytes, prefix);
  const f = floatDtype(h.descr);
  if (!f) throw new NiceFlowError(`${prefix}.npy dtype ${h.descr} is not float32 or float64`);
  checkLength(bytes, h, f.size, prefix);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { littleEndian } = f;
  if (f.size === 4) {
    const data = new Float32Array(h.count);
    for (let i = 0; i < h.count; i++) data[i] = view.getFloat32(h.dataStart + 4 * i, littleEndian);
    return { data, shape: h.shape };
  }
  const data = new Float64Array(h.count);
  for (let i = 0; i < h.count; i++) data[i] = view.getFloat64(h.dataStart + 8 * i, littleEndian);
  return { data, shape: h.shape };
}

/** Reads a .npy of '<f4', '<f8' or '|u1' values (converted to float32), C order. */
export function readNpyF32(bytes: Uint8Array): { data: Float32Array; shape: number[] } {
  const h = parseNpyHeader(bytes, '');
  const size = h.descr === '<f4' ? 4 : h.descr === '<f8' ? 8 : h.descr === '|u1' ? 1 : 0;
  if (size === 0) throw new NiceFlowError(`.npy dtype ${h.descr} is not supported (use float32, float64 or uint8)`);
  checkLength(bytes, h, size, '');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const data = new Float32Array(h.count);
  for (let i = 0; i < h.count; i++) {
    const at = h.dataStart + i * size;
    data[i] = size === 4 ? view.getFloat32(at, true) : size === 8 ? view.getFloat64(at, true) : bytes[at];
  }
  return { data, shape: h.shape };
}

/**
 * Reads a .npy of uint8 values ('|u1', as NumPy writes them; '<u1' and '>u1' too), C order: the raw bytes, for
 * 8-bit image data sets. Any other dtype is an error, since silently rounding floats would change the data.
 * `what` (e.g. the file name) starts every error message. The data is a view into `bytes`.
 */
export function readNpyU8(bytes: Uint8Array, what?: string): { data: Uint8Array; shape: number[] } {
  const prefix = what ? `${what}: ` : '';
  const h = parseNpyHeader(bytes, prefix);
  if (!isUint8Dtype(h.descr)) {
    throw new NiceFlowError(`${prefix}.npy dtype ${h.descr} is not uint8 (|u1): save the images as uint8 pixel values 0..255`);
  }
  checkLength(bytes, h, 1, prefix);
  return { data: bytes.subarray(h.dataStart, h.dataStart + h.count), shape: h.shape };
}
