import type { Backend } from './Backend.js';
import { heapArray } from './checkMemory.js';
import type { DType } from './FloatArray.js';
import { adamRef, addBiasRef, colSumRef, gateBackwardRef, gateForwardRef, gatherRef, gemmRef, reluMaskAddRef, im2colRef, logisticPriorRef, reluBackwardColSumRef, reluBackwardRef, scaleShiftForwardRef, scaleShiftInverseRef, scatterAddRef } from './refKernels.js';

/**
 * The reference backend: plain TypeScript, float32 by default. `dtype: 'float64'` gives a double-precision
 * model, used by the tests to check gradients against finite differences. Its arrays are ordinary typed arrays on
 * the JavaScript heap: `free` leaves them to the garbage collector, and only the machine limits their size.
 */
export function createRefBackend(options: { dtype?: DType } = {}): Backend {
  const dtype = options.dtype ?? 'float32';
  return {
    name: 'ref',
    threads: 1,
    dtype,
    maxBytes: Infinity,
    alloc: (n) => heapArray(n, dtype, 'ref'),
    free: () => {},
    memoryUsage: () => ({ inUse: 0, reserved: 0 }),
    gemm: gemmRef,
    addBias: addBiasRef,
    reluBackward: reluBackwardRef,
    reluBackwardColSum: reluBackwardColSumRef,
    colSum: colSumRef,
    adam: adamRef,
    gather: gatherRef,
    scatterAdd: scatterAddRef,
    logisticPrior: logisticPriorRef,
    scaleShiftForward: scaleShiftForwardRef,
    scaleShiftInverse: scaleShiftInverseRef,
    gateForward: gateForwardRef,
    gateBackward: gateBackwardRef,
    reluMaskAdd: reluMaskAddRef,
    im2col: im2colRef,
    dispose: () => {},
  };
}
