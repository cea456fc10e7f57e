import type { Backend } from '../core/Backend.js';
import { NiceFlowError } from '../core/NiceFlowError.js';
import { createWasmBackend, type SpawnWorker, type WasmBackendOptions, type WorkerInit } from '../core/wasm/createWasmBackend.js';

// The wasm backend in a browser: kernel threads are dedicated Workers started from a Blob URL, so the bundle needs
// no separate worker file and no path resolution. The core (createWasmBackend) is platform-neutral; this file only
// supplies the workers and checks the two things a page gets wrong: shared memory needs cross-origin isolation,
// and the caller blocks in Atomics.wait, which a page's main thread is not allowed to do.

// The few browser APIs used here, declared locally: the project compiles against lib ES2022 only, without "DOM"
// or "WebWorker", so that Node- or DOM-only APIs cannot slip into platform-neutral code. Reading them from
// globalThis keeps Node's same-named globals (@types/node) out of the picture.
interface BrowserWorker {
  postMessage(message: unknown): void;
  terminate(): void;
  onmessage: ((event: { data: unknown }) => void) | null;
  onerror: ((event: { message?: string }) => void) | null;
}
interface BrowserGlobals {
  Worker: new (url: string, options?: { name?: string }) => BrowserWorker;
  Blob: new (parts: string[], options?: { type?: string }) => object;
  URL: { createObjectURL(blob: object): string; revokeObjectURL(url: string): void };
  navigator?: { hardwareConcurrency?: number };
  crossOriginIsolated?: boolean;
  document?: unknown;
}
const web = globalThis as unknown as BrowserGlobals;

/** What a kernel worker sends back once its script runs and it has its `init`, just before it starts waiting. */
const READY = 'nice-flow:ready';

/** Starts a dedicated Worker that runs `(source)(init)`; `onReady` hears when it has started, `onFail` when it could not. */
function startWorker(source: string, init: WorkerInit, onReady?: () => void, onFail?: (why: string) => void): { terminate(): void } {
  // The worker answers its first message (init) and then blocks in Atomics.wait for good, so it handles no other.
  const code = `self.onmessage = function (event) { self.onmessage = null; self.postMessage(${JSON.stringify(READY)}); (${source})(event.data); };`;
  const url = web.URL.createObjectURL(new web.Blob([code], { type: 'text/javascript' }));
  let revoked = false;
  const revoke = (): void => {
    if (!revoked) web.URL.revokeObjectURL(url);
    revoked = true;
  };
  const worker = new web.Worker(url, { name: `nice-flow wasm kernel ${init.index}` });
  worker.onmessage = (event) => {
    if (event.data !== READY) return;
    revoke();
    onReady?.();
  };
  worker.onerror = (event) => {
    revoke();
    onFail?.(event.message || 'the worker script failed to load or threw');
  };
  // A WebAssembly.Module and a shared WebAssembly.Memory are structured-cloneable: the worker gets the same
  // compiled code and the same memory, not copies.
  worker.postMessage(init);
  return {
    terminate: () => {
      worker.terminate();
      revoke();
    },
  };
}

/**
 * Starts one kernel worker as a browser dedicated Worker from a Blob URL, posting it `init` (the module and the
 * shared memory). Prefer `createWasmBackendBrowser`: with `createWasmBackend({ spawnWorker: spawnBrowserWorker })`
 * the caller must let its event loop run until the workers have started before the first large job, because a
 * browser does not start a Worker while the thread that created it is blocked (in Atomics.wait, here).
 */
export const spawnBrowserWorker: SpawnWorker = (source, init) => startWorker(source, init);

/** How long createWasmBackendBrowser waits for its workers to start before giving up. */
const START_TIMEOUT_MS = 30_000;

/**
 * The wasm backend in a browser, with kernel threads as Web Workers. `threads` (all threads, the caller included)
 * defaults to `navigator.hardwareConcurrency`; relaxed SIMD is used when the engine accepts it.
 *
 * Needs a cross-origin isolated page (served with `Cross-Origin-Opener-Policy: same-origin` and
 * `Cross-Origin-Embedder-Policy: require-corp`), since the backend's memory is shared. With more than one thread
 * it must be called in a Worker: the caller waits for its workers with Atomics.wait, which the page's main
 * thread may not do. Both are reported as a NiceFlowError.
 */
export async function createWasmBackendBrowser(options: WasmBackendOptions = {}): Promise<Backend> {
  // Only an explicit false is refused: where the flag is missing (not a browser, or one older than it) the engine's
  // own error about shared memory, if any, is the better report.
  if (web.crossOriginIsolated === false) {
    throw new NiceFlowError(
      'the wasm backend needs shared memory, which browsers allow only on cross-origin isolated pages: serve the page with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp',
    );
  }
  const requested = options.threads ?? web.navigator?.hardwareConcurrency ?? 1;
  const threads = Number.isFinite(requested) ? Math.max(1, Math.floor(requested)) : 1;
  if (threads > 1 && typeof web.document !== 'undefined') {
    throw new NiceFlowError(
      `the wasm backend with ${threads} threads cannot run on a page's main thread, where Atomics.wait is not allowed: create it inside a Worker, or pass threads: 1`,
    );
  }
  // A browser starts a Worker only once the creating thread returns to its event loop: a parallel job posted right
  // after createWasmBackend resolves would leave the caller in Atomics.wait until the core's 30 s timeout
  // (seen in Chromium 156, also after one setTimeout(0)). So resolve only once every worker has reported in; a
  // caller-supplied `spawnWorker` gets no such wait.
  const started: Array<Promise<void>> = [];
  const spawnWorker: SpawnWorker = options.spawnWorker ?? ((source, init) => {
    let handle: { terminate(): void } | undefined;
    started.push(new Promise<void>((resolve, reject) => {
      handle = startWorker(source, init, resolve, (why) => reject(new Error(`wasm backend: kernel worker ${init.index} did not start (${why})`)));
    }));
    return handle!;
  });
  const backend = await createWasmBackend({ ...options, threads, spawnWorker });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`wasm backend: kernel workers did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
  });
  try {
    await Promise.race([Promise.all(started), timeout]);
  } catch (e) {
    backend.dispose();
    throw e;
  } finally {
    clearTimeout(timer);
  }
  return backend;
}
