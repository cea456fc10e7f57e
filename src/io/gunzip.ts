import { Gunzip } from 'fflate';
import { NiceFlowError } from '../core/NiceFlowError.js';
import { crc32 } from './crc32.js';

// gzip decoding in pure JavaScript (fflate), so it runs in a browser as well as in Node, with a hard limit on the
// output: a gzip "bomb" of a few hundred KB can claim gigabytes, and decompression stops with an error as soon as
// the output passes the limit, without allocating it. Every member's CRC-32 and length are checked, as zlib does.

/**
 * The default limit on gunzip's output: 1 GiB. The largest gzipped data sets read here are far below it (MNIST's and
 * Fashion-MNIST's training images are 47 MB, a CIFAR-10 batch 30 MB, EMNIST ByClass's training images 546 MB), and
 * a bomb stops at it instead of exhausting memory.
 */
export const GUNZIP_MAX_BYTES = 1024 * 1024 * 1024;

/** Input fed to the inflater per step. Deflate expands at most ~1032:1, so one step yields at most ~17 MB. */
const CHUNK = 16 * 1024;
const MAX_RATIO = 1032;

/** Whether `bytes` start with the gzip magic number 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

const oneLine = (s: string): string => s.replace(/\s+/g, ' ').trim();

/**
 * Decompresses gzip data (one member or several concatenated, as `cat a.gz b.gz` makes). Throws a one-line
 * NiceFlowError for anything else: not gzip, corrupt or truncated data, a CRC-32 or length mismatch, bytes after the
 * last member, or output beyond `maxBytes` (checked while decompressing, so a bomb never gets allocated).
 */
export function gunzip(bytes: Uint8Array, maxBytes: number = GUNZIP_MAX_BYTES): Uint8Array {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new NiceFlowError(`gunzip: the output limit must be a whole number of bytes, got ${maxBytes}`);
  if (!isGzip(bytes)) throw new NiceFlowError('not gzip data (bad magic number)');
  const len = bytes.length;
  if (len < 18) throw new NiceFlowError(`corrupt or truncated gzip data (only ${len} bytes)`);
  // Start from the size the (last) member's trailer claims when the input could really inflate to it; otherwise
  // guess, and grow by doubling. Never beyond the limit.
  const claimed = new DataView(bytes.buffer, bytes.byteOffset, len).getUint32(len - 4, true);
  const bound = Math.min(maxBytes, MAX_RATIO * len);
  let out = new Uint8Array(claimed <= bound ? claimed : Math.min(bound, 4 * len));
  let total = 0;
  const members = [{ inStart: 0, outStart: 0 }];
  const inflater = new Gunzip((chunk) => {
    if (chunk.length === 0) return;
    if (chunk.length > maxBytes - total) {
      throw new NiceFlowError(`gzip data inflates to more than ${maxBytes} bytes, the limit (a corrupt file or a gzip bomb?)`);
    }
    if (total + chunk.length > out.length) {
      const grown = new Uint8Array(Math.min(maxBytes, Math.max(2 * out.length, total + chunk.length)));
      grown.set(out.subarray(0, total));
      out = grown;
    }
    out.set(chunk, total);
    total += chunk.length;
  });
  inflater.onmember = (offset) => members.push({ inStart: offset, outStart: total });
  try {
    for (let at = 0; at < len; at += CHUNK) {
      const end = Math.min(len, at + CHUNK);
      inflater.push(bytes.subarray(at, end), end === len);
    }
  } catch (e) {
    if (e instanceof NiceFlowError) throw e;
    throw new NiceFlowError(`corrupt or truncated gzip data (${oneLine(String((e as Error)?.message ?? e))})`);
  }
  // Each member ends with CRC-32 and length mod 2^32 of its data; the last one ends the input.
  for (let k = 0; k < members.length; k++) {
    const trailer = k + 1 < members.length ? members[k + 1].inStart : len;
    const outEnd = k + 1 < members.length ? members[k + 1].outStart : total;
    const { inStart, outStart } = members[k];
    if (trailer - 8 < inStart + 10) throw new NiceFlowError('corrupt or truncated gzip data (member too short)');
    const view = new DataView(bytes.buffer, bytes.byteOffset + trailer - 8, 8);
    const crc = view.getUint32(0, true);
    const size = view.getUint32(4, true);
    if (size !== (outEnd - outStart) % 2 ** 32 || crc !== crc32(out, outStart, outEnd)) {
      throw new NiceFlowError(
        members.length > 1
          ? `corrupt or truncated gzip data (member ${k + 1} of ${members.length} fails its CRC-32 or length check, or bytes follow the last member)`
          : 'corrupt or truncated gzip data (CRC-32 or length check failed, or bytes follow the data)',
      );
    }
  }
  if (total === out.length) return out;
  // Don't keep a doubled buffer's unused half alive with the data.
  return total >= 0.75 * out.length ? out.subarray(0, total) : out.slice(0, total);
}
