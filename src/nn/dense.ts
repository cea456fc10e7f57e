import type { Backend } from '../core/Backend.js';
import type { FloatArray } from '../core/FloatArray.js';

// A dense layer in torch.nn.Linear's layout: W [out, in], b [out], y = x Wᵀ + b (optionally followed by ReLU).
//
// Derivatives (written once here; backends only multiply and add), for a batch x [n, in], y [n, out]:
//   dL/dx = dL/dy · W              (gemm, no transposes: [n,out]·[out,in])
//   dL/dW = (dL/dy)ᵀ · x           (gemm, A transposed: [out,n]·[n,in])
//   dL/db = Σ_rows dL/dy           (column sums)
// With ReLU, dL/dy is first masked by y > 0 (y is the ReLU's output, so no pre-activation needs keeping).

/** Forward: x [n, inF] → y [n, outF]; `relu` fuses the activation with the bias add. */
export function denseForward(
  backend: Backend,
  x: FloatArray,
  W: FloatArray,
  b: FloatArray,
  y: FloatArray,
  n: number,
  inF: number,
  outF: number,
  relu: boolean,
): void {
  backend.gemm(false, true, n, outF, inF, x, W, y, false);
  backend.addBias(y, b, n, outF, relu);
}

/**
 * Backward, given dy [n, outF] already masked for the ReLU if there was one.
 * Writes dW [outF, inF] and db [outF] when `gW` is given, and dx [n, inF] when `dx` is given.
 */
export function denseBackward(
  backend: Backend,
  x: FloatArray,
  W: FloatArray,
  dy: FloatArray,
  n: number,
  inF: number,
  outF: number,
  gW: FloatArray | null,
  gb: FloatArray | null,
  dx: FloatArray | null,
): void {
  if (gW) backend.gemm(true, false, outF, inF, n, dy, x, gW, false);
  if (gb) backend.colSum(dy, n, outF, gb, false);
  if (dx) backend.gemm(false, false, n, inF, outF, dy, W, dx, false);
}
