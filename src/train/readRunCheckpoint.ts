import type { Backend } from '../core/Backend.js';
import { deserializeCheckpoint, type LoadedCheckpoint } from './checkpoint.js';
import { parseRunRecord, type RunRecord } from './RunRecord.js';

/** The run record of a checkpoint, and what else it holds, checked before anything is built on it. */
export interface RunCheckpoint extends LoadedCheckpoint {
  record: RunRecord;
}

/** Reads a checkpoint for resuming: model, optimiser state and the validated run record. */
export function readRunCheckpoint(bytes: Uint8Array, backend: Backend, what = 'checkpoint'): RunCheckpoint {
  const loaded = deserializeCheckpoint(bytes, backend, what);
  return { ...loaded, record: parseRunRecord(loaded.run, what) };
}
