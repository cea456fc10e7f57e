import type { Backend } from '../core/Backend.js';
import { createRefBackend } from '../core/createRefBackend.js';
import { NiceFlowError } from '../core/NiceFlowError.js';
import { blasAvailable, createBlasBackend } from './createBlasBackend.js';
import { createWasmBackendNode } from './createWasmBackendNode.js';

/** Backend names accepted by `selectBackend` and the CLI's `--backend`. */
export const BACKEND_NAMES = ['auto', 'blas', 'wasm', 'ref'] as const;

/**
 * Creates the named backend. `auto` takes the fastest one available here: blas when OpenBLAS loads, else wasm
 * (SIMD, all cores). Naming an unavailable backend is an error that says what to install.
 */
export async function selectBackend(name: string, options: { threads?: number } = {}): Promise<Backend> {
  switch (name) {
    case 'auto':
      return blasAvailable() ? createBlasBackend(options) : createWasmBackendNode(options);
    case 'blas':
      return createBlasBackend(options);
    case 'wasm':
      return createWasmBackendNode(options);
    case 'ref':
      return createRefBackend();
    default:
      throw new NiceFlowError(`unknown backend "${name}" (use ${BACKEND_NAMES.join(', ')})`);
  }
}
