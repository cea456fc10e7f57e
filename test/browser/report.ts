// What the in-browser fixtures send back to test/browser.test.ts.

/** One kernel check: the largest |actual − expected| / (1 + |expected|) (NaN when any value is NaN). */
export interface CaseError {
  name: string;
  /** Inner dimension of a gemm (its tolerance grows with √K); 0 for Adam. */
  K: number;
  error: number;
}

export interface WorkerReport {
  crossOriginIsolated: boolean;
  /** Whether the engine accepted the relaxed-SIMD kernels (then createWasmBackend uses them). */
  relaxedSimd: boolean;
  /** 1 + the kernel workers the backend started. */
  threads: number;
  /** Kernel workers stopped by dispose(). */
  workersTerminated: number;
  cases: CaseError[];
  /** Two Trainer steps of a small NiceModel on wasm against the ref backend, same seeds. */
  training: { lossError: number; paramError: number; paramCount: number };
  milliseconds: number;
}

/** What the page reports for a createWasmBackendBrowser call on its main thread. */
export interface MainThreadResult {
  /** The error's name and message, or null when the backend was created. */
  error: { name: string; message: string } | null;
  /** With a backend: the scaled error of a small gemm against the reference. */
  gemmError?: number;
}
