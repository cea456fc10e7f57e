import type { Backend } from './Backend.js';
import { NiceFlowError } from './NiceFlowError.js';

/** Bytes as people read them: binary units (the wasm limit is exactly 4 GiB), three significant digits at most. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return String(bytes);
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  if (u === 0) return `${Math.round(v)} bytes`;
  const text = v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  return `${text.replace(/\.0+$|(\.\d*?)0+$/, '$1')} ${units[u]}`;
}

/** A count as people read it: 346M, 1.2k. */
export function formatCount(n: number): string {
  if (n >= 1e9) return `${+(n / 1e9).toPrecision(3)}G`;
  if (n >= 1e6) return `${+(n / 1e6).toPrecision(3)}M`;
  if (n >= 1e3) return `${+(n / 1e3).toPrecision(3)}k`;
  return String(n);
}

/**
 * What to use instead when a backend cannot hold something: the wasm backend is capped at 4 GiB (wasm32), the
 * others only by the machine.
 */
export function memoryAdvice(backend: Pick<Backend, 'name'>): string {
  return backend.name === 'wasm'
    ? 'use --backend blas (OpenBLAS, which keeps larger arrays on the JavaScript heap) or ref'
    : 'use a smaller model (fewer or narrower layers) or a machine with more memory';
}

/**
 * Checks up front that `backend` can hold `bytesNeeded` (what a model will allocate on it), so that a model too
 * large for a backend fails at once with one line, not after minutes of work or with an engine's internal error.
 * `what` says what the bytes are, e.g. "weights, gradients, Adam moments: 346M parameters". Compares with the
 * backend's capacity (`maxBytes`), not with what is free at the moment.
 */
export function checkMemory(backend: Pick<Backend, 'name' | 'maxBytes'>, bytesNeeded: number, what: string): void {
  if (bytesNeeded <= backend.maxBytes) return;
  throw new NiceFlowError(
    `this model needs ${formatBytes(bytesNeeded)} (${what}) but the ${backend.name} backend holds at most ${formatBytes(backend.maxBytes)}; ${memoryAdvice(backend)}`,
  );
}

/**
 * A zero-filled typed array on the JavaScript heap for a backend named `backendName`; when the engine refuses it
 * (too long, or no memory left), a NiceFlowError saying how much was asked for instead of the engine's RangeError.
 */
export function heapArray(length: number, dtype: 'float32' | 'float64', backendName: string): Float32Array | Float64Array {
  try {
    return dtype === 'float64' ? new Float64Array(length) : new Float32Array(length);
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    const bytes = length * (dtype === 'float64' ? 8 : 4);
    throw new NiceFlowError(`the ${backendName} backend could not allocate ${formatBytes(bytes)} (${e.message}); ${memoryAdvice({ name: backendName })}`);
  }
}
