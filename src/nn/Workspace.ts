import type { Backend } from '../core/Backend.js';
import type { FloatArray } from '../core/FloatArray.js';

/**
 * A buffer of `width` values per example that grows with the batch and is reused across calls, so a training step
 * allocates nothing once the largest batch has been seen.
 */
export class Workspace {
  private buf: FloatArray;
  private capacity = 0;

  constructor(
    private readonly backend: Backend,
    readonly width: number,
  ) {
    this.buf = backend.alloc(0);
  }

  /** A view of `n * width` values (contents unspecified). Valid until a call with a larger n. */
  get(n: number): FloatArray {
    if (n > this.capacity) {
      this.capacity = n;
      this.buf = this.backend.alloc(n * this.width);
    }
    return this.buf.subarray(0, n * this.width);
  }
}
