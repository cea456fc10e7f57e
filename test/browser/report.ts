// What the in-browser fixtures send back to test/browser.test.ts.

/**
 * The direct convolutions the worker checks, [n, H, W, inC, outC, k]: the 32 → 32 layer of the conv models
 * (Winograd, split over the 2 threads), a Winograd one of odd height and width, the first layer's shape (its input
 * gradient has 1 channel), a 1×1 layer to 2 channels, and a 5×5 one on a single image (split inside it).
 */
export const CONV_SHAPES: ReadonlyArray<readonly [number, number, number, number, number, number]> = [
  [2, 28, 28, 32, 32, 3], [3, 9, 11, 8, 12, 3], [3, 7, 5, 1, 32, 3], [2, 9, 7, 32, 2, 1], [1, 17, 13, 8, 32, 5],
];

/** One kernel check: the largest |actual − expected| / (1 + |expected|) (NaN when any value is NaN). */
export interface CaseError {
  name: string;
  /** Inner dimension of a gemm, or the length of a convolution's sums (the tolerance grows with √K); 0 for Adam. */
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
