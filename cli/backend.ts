// Choosing a compute backend by name.
import type { Backend } from '../src/core/Backend.js';
import { createRefBackend } from '../src/core/createRefBackend.js';
import { NiceFlowError } from '../src/core/NiceFlowError.js';

/** Backend names the CLI accepts. */
export const BACKEND_NAMES = ['auto', 'ref'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

/** Creates the named backend; `auto` takes the fastest available. */
export async function selectBackend(name: string): Promise<Backend> {
  if (name === 'ref' || name === 'auto') return createRefBackend();
  throw new NiceFlowError(`unknown backend "${name}" (use ${BACKEND_NAMES.join(', ')})`);
}
