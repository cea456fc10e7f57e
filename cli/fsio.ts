// File-system helpers: every failure becomes a one-line NiceFlowError naming the file.
import { closeSync, fstatSync, fsyncSync, mkdirSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { GUNZIP_MAX_BYTES, gunzip, isGzip } from '../src/io/gunzip.js';

function describe(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT': return 'no such file or directory';
    case 'EACCES': case 'EPERM': return 'permission denied';
    case 'EISDIR': return 'is a directory';
    case 'ENOSPC': return 'disk full';
    case 'EDQUOT': return 'disk quota exceeded';
    case 'EROFS': return 'read-only file system';
    default: return (e as Error).message;
  }
}

/**
 * Reads a whole file; gzip content (by magic bytes) is decompressed, to at most `maxGunzipBytes` (default 1 GiB,
 * {@link GUNZIP_MAX_BYTES}): a corrupt file or a gzip bomb is refused when its output passes that, before it is
 * allocated.
 */
export function readInput(path: string, what = 'file', maxGunzipBytes = GUNZIP_MAX_BYTES): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = readWhole(path, what);
  } catch (e) {
    if (e instanceof NiceFlowError) throw e;
    throw new NiceFlowError(`cannot read ${what} ${path}: ${describe(e)}`);
  }
  if (isGzip(bytes)) {
    try {
      bytes = gunzip(bytes, maxGunzipBytes);
    } catch (e) {
      throw new NiceFlowError(`${what} ${path}: ${(e as Error).message}`);
    }
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The most one read or write call moves (Node refuses single calls of 2 GiB or more). */
const IO_CHUNK = 1 << 30;

/**
 * A whole file in one array, read in chunks: readFileSync stops at 2 GiB, and a large model's checkpoint is bigger.
 * A typed array holds at most 2^32 − 1 bytes, so larger files get a one-line error.
 */
function readWhole(path: string, what: string): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size > 2 ** 32 - 1) throw new NiceFlowError(`${what} ${path} is ${(size / 2 ** 30).toFixed(1)} GiB; files of 4 GiB or more cannot be read yet`);
    const out = new Uint8Array(size);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, out, off, Math.min(IO_CHUNK, size - off), off);
      if (n === 0) break;
      off += n;
    }
    return off === size ? out : out.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a file (as readInput) and parses it; a parser's error that does not name the file gets its name in front, so
 * the one-line message always says which file is wrong ("mask m.png: not a PNG file").
 */
export function parseInput<T>(path: string, what: string, parse: (bytes: Uint8Array) => T): T {
  const bytes = readInput(path, what);
  try {
    return parse(bytes);
  } catch (e) {
    if (e instanceof NiceFlowError && !e.message.includes(path)) throw new NiceFlowError(`${what} ${path}: ${e.message}`);
    throw e;
  }
}

/**
 * Writes a file atomically: a temporary file beside it, flushed to disk, then renamed over the target, so a crash
 * or a full disk never leaves a half-written file in its place (the previous version stays).
 */
export function writeAtomic(path: string, data: Uint8Array | string, what = 'file'): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    mkdirSync(dirname(path), { recursive: true });
    const fd = openSync(tmp, 'w');
    try {
      const bytes = typeof data === 'string' ? Buffer.from(data) : data;
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, Math.min(IO_CHUNK, bytes.length - off));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new NiceFlowError(`cannot write ${what} ${path}: ${describe(e)}`);
  }
}

/** Appends text to a file (the JSON-lines log). */
export function appendLine(path: string, line: string): void {
  try {
    mkdirSync(dirname(path), { recursive: true });
    const fd = openSync(path, 'a');
    try {
      writeSync(fd, line + '\n');
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    throw new NiceFlowError(`cannot write log ${path}: ${describe(e)}`);
  }
}
