import { availableParallelism } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { createWasmBackend, type SpawnWorker, type WasmBackend, type WasmBackendOptions } from '../core/wasm/createWasmBackend.js';

let flagSet = false;

/** Starts a kernel worker with Node's worker_threads; unref'd so it never keeps the process alive. */
export const spawnNodeWorker: SpawnWorker = (source, init) => {
  const worker = new Worker(`const { workerData } = require('node:worker_threads'); ${source}(workerData);`, { eval: true, workerData: init });
  worker.unref();
  return { terminate: () => void worker.terminate() };
};

/**
 * The wasm backend in Node: relaxed SIMD enabled (Node 20 keeps it behind --experimental-wasm-relaxed-simd) and
 * worker threads; `threads` defaults to the number of cores.
 */
export async function createWasmBackendNode(options: WasmBackendOptions = {}): Promise<WasmBackend> {
  if (!flagSet && (options.relaxed ?? true)) {
    setFlagsFromString('--experimental-wasm-relaxed-simd');
    flagSet = true;
  }
  // An explicit `threads: undefined` (e.g. passed through by the blas backend) still means the default.
  const { threads = availableParallelism(), ...rest } = options;
  return createWasmBackend({ spawnWorker: spawnNodeWorker, ...rest, threads });
}
