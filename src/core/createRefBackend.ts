import type { Backend } from './Backend.js';
import type { DType } from './FloatArray.js';
import { adamRef, addBiasRef, colSumRef, gatherRef, gemmRef, im2colRef, logisticPriorRef, reluBackwardColSumRef, reluBackwardRef, scatterAddRef } from './refKernels.js';

/**
 * The reference backend: plain TypeScript, float32 by default. `dtype: 'float64'` gives a double-precision
 * model, used by the tests to check gradients against finite differences.
 */
export function createRefBackend(options: { dtype?: DType } = {}): Backend {
  const dtype = options.dtype ?? 'float32';
  return {
    name: 'ref',
    threads: 1,
    dtype,
    alloc: (n) => (dtype === 'float64' ? new Float64Array(n) : new Float32Array(n)),
    gemm: gemmRef,
    addBias: addBiasRef,
    reluBackward: reluBackwardRef,
    reluBackwardColSum: reluBackwardColSumRef,
    colSum: colSumRef,
    adam: adamRef,
    gather: gatherRef,
    scatterAdd: scatterAddRef,
    logisticPrior: logisticPriorRef,
    im2col: im2colRef,
    dispose: () => {},
  };
}
