// Runs on the test page's main thread (bundled by test/browser.test.ts): the user errors createWasmBackendBrowser
// gives there, and a Worker running test/browser/worker.ts. test/browser.test.ts calls these through
// globalThis.niceFlowTest.
import { createWasmBackendBrowser } from '../../src/browser/index.js';
import { gemmRef } from '../../src/core/refKernels.js';
import type { MainThreadResult, WorkerReport } from './report.js';

// Page globals, declared here because the project compiles without the DOM lib.
interface PageScope {
  Worker: new (url: string) => {
    onmessage: ((event: { data: WorkerReport | { error: string } }) => void) | null;
    onerror: ((event: { message: string }) => void) | null;
    terminate(): void;
  };
  niceFlowTest: unknown;
}
const scope = globalThis as unknown as PageScope;

/** createWasmBackendBrowser on the main thread; with a backend, checks one small gemm and disposes it. */
async function mainThread(threads: number): Promise<MainThreadResult> {
  try {
    const b = await createWasmBackendBrowser({ threads });
    const M = 5, N = 6, K = 7;
    const A = Float32Array.from({ length: M * K }, (_, i) => Math.sin(i));
    const B = Float32Array.from({ length: K * N }, (_, i) => Math.cos(i));
    const C = new Float32Array(M * N);
    const expected = new Float64Array(M * N);
    b.gemm(false, false, M, N, K, A, B, C, false);
    gemmRef(false, false, M, N, K, A, B, expected, false);
    b.dispose();
    return { error: null, gemmError: Math.max(...Array.from(C, (c, i) => Math.abs(c - expected[i]) / (1 + Math.abs(expected[i])))) };
  } catch (e) {
    return { error: e instanceof Error ? { name: e.name, message: e.message } : { name: 'non-Error', message: String(e) } };
  }
}

/** Starts worker.js (served beside this page) and resolves with its report. */
function inWorker(): Promise<WorkerReport> {
  return new Promise((resolve, reject) => {
    const w = new scope.Worker('worker.js');
    w.onmessage = (event) => {
      w.terminate();
      const data = event.data;
      if ('error' in data) reject(new Error(`in the worker: ${data.error}`));
      else resolve(data);
    };
    w.onerror = (event) => reject(new Error(`worker.js failed: ${event.message}`));
  });
}

scope.niceFlowTest = { mainThread, inWorker };
