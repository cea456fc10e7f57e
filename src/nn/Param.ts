import type { Backend } from '../core/Backend.js';
import type { FloatArray } from '../core/FloatArray.js';

/** A named trainable tensor and its gradient, both resident on the backend. */
export interface Param {
  /** Weight-file name, e.g. `couplings.0.layers.2.weight`. */
  name: string;
  /** Shape in PyTorch's convention (`[out, in]` for a dense weight). */
  shape: number[];
  data: FloatArray;
  grad: FloatArray;
}

/** Allocates a zero parameter of the given shape on the backend. */
export function createParam(backend: Backend, name: string, shape: number[]): Param {
  const size = shape.reduce((a, b) => a * b, 1);
  return { name, shape, data: backend.alloc(size), grad: backend.alloc(size) };
}
