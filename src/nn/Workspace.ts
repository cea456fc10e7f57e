import type { Backend } from '../core/Backend.js';
import type { FloatArray } from '../core/FloatArray.js';

/**
 * A buffer of `width` values per example that grows with the batch and is reused across calls, so a training step
 * allocates nothing once the largest batch has been seen, and any number of calls with batches no larger leaves the
 * backend's memory as it was. When it grows, the smaller buffer goes back to the backend (`Backend.free`).
 */
export class Workspace {
  private buf: FloatArray;
  private capacity = 0;

  constructor(
    private readonly backend: Backend,
    readonly width: number,
  ) {
    this.buf = this.empty();
  }

  /** A zero-length array of the backend's type that is not the backend's (freeing it does nothing). */
  private empty(): FloatArray {
    return this.backend.dtype === 'float64' ? new Float64Array(0) : new Float32Array(0);
  }

  /**
   * A view of `n * width` values (contents unspecified). Valid until a call with a larger n (which frees the old
   * buffer) or `dispose`.
   */
  get(n: number): FloatArray {
    if (n > this.capacity) {
      // Free first: the allocator may then grow the block in place (when it was the last one) instead of leaving a
      // gap. Empty in between, so that a failed alloc (out of memory) leaves nothing to free twice.
      this.backend.free(this.buf);
      this.buf = this.empty();
      this.capacity = 0;
      if (n * this.width > 0) this.buf = this.backend.alloc(n * this.width);
      this.capacity = n;
    }
    return this.buf.subarray(0, n * this.width);
  }

  /** Gives the buffer back to the backend; the workspace then starts empty again (the next `get` allocates). */
  dispose(): void {
    this.backend.free(this.buf);
    this.buf = this.empty();
    this.capacity = 0;
  }
}
