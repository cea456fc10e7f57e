import { NiceFlowError } from '../core/NiceFlowError.js';

/** An unsigned-byte IDX array (the MNIST file format): dimensions and the data, row-major. */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/**
 * Parses an IDX file of unsigned bytes: magic 0x0000 08 NN (NN = number of dimensions), NN big-endian u32
 * dimensions, then the data, which must be exactly as long as the dimensions say. Only the first dimension (the
 * item count) may be 0. `what` names the file in errors. The data is a view into `bytes`.
 */
export function parseIdx(bytes: Uint8Array, what = 'IDX file'): IdxArray {
  if (bytes.length < 4) throw new NiceFlowError(`${what}: too short to be an IDX file (${bytes.length} bytes)`);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) throw new NiceFlowError(`${what}: wrong magic number (file is gzipped? decompress it first)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  const ndim = bytes[3];
  if (bytes[0] !== 0 || bytes[1] !== 0 || ndim < 1 || ndim > 4) {
    throw new NiceFlowError(`${what}: wrong magic number 0x${magic.toString(16).padStart(8, '0')} (not an IDX file)`);
  }
  if (bytes[2] !== 0x08) throw new NiceFlowError(`${what}: element type 0x${bytes[2].toString(16)} is not unsigned byte (0x08)`);
  const headerLen = 4 + 4 * ndim;
  if (bytes.length < headerLen) throw new NiceFlowError(`${what}: truncated header`);
  const dims: number[] = [];
  for (let i = 0; i < ndim; i++) dims.push(view.getUint32(4 + 4 * i, false));
  // A zero size after the first would make the item count a claim no byte of the file can confirm.
  const zero = dims.indexOf(0, 1);
  if (zero > 0) throw new NiceFlowError(`${what}: dimension ${zero + 1} of [${dims.join(', ')}] is 0 (items of no bytes)`);
  const expected = dims.reduce((a, b) => a * b, 1);
  const found = bytes.length - headerLen;
  if (found < expected) {
    throw new NiceFlowError(`${what}: truncated: expected ${Number.isSafeInteger(expected) ? expected : `[${dims.join(' × ')}]`} bytes of data, found ${found}`);
  }
  if (found > expected) throw new NiceFlowError(`${what}: has ${found - expected} extra bytes after the data`);
  return { dims, data: bytes.subarray(headerLen, headerLen + expected) };
}
