const PAGE = 65536;
const ALIGN = 64;

/**
 * The wasm backend's allocator over one WebAssembly.Memory: 64-byte-aligned blocks, a best-fit free list kept sorted
 * by offset and coalesced, and a bump pointer (`top`) that gets the highest free block back. Its state depends only
 * on which blocks are live, so freeing what a call allocated restores it exactly. Memory at or above `clean` has never
 * been handed out and is still zero (as grown); below it, a zeroed block is zero-filled. The memory grows by half its
 * size at least, never past `maxPages`. Offsets are plain numbers (no 32-bit bit tricks), valid up to 4 GiB.
 */
export class WasmAllocator {
  /** Bytes in live blocks. */
  inUse = 0;
  /** End of the highest block handed out. */
  top: number;
  private clean: number;
  private readonly live = new Map<number, number>();
  private readonly freeStart: number[] = [];
  private readonly freeSize: number[] = [];

  constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly maxPages: number,
    start = 1024,
  ) {
    this.top = start;
    this.clean = start;
  }

  /** The most it can ever hold, in bytes. */
  get limit(): number {
    return this.maxPages * PAGE;
  }

  /** A request's size as blocks take it. */
  static roundUp(bytes: number): number {
    return Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
  }

  private growTo(end: number): boolean {
    const memory = this.memory;
    const current = memory.buffer.byteLength / PAGE;
    const needPages = Math.ceil(end / PAGE) - current;
    if (needPages <= 0) return true;
    if (current + needPages > this.maxPages) return false;
    // Grow by half the current size at least (fewer, larger steps), never past the limit.
    const grow = Math.min(this.maxPages - current, Math.max(needPages, Math.ceil(current / 2)));
    try {
      memory.grow(grow);
    } catch {
      try {
        memory.grow(needPages); // the engine refused the larger step; the smallest that will do
      } catch {
        return false;
      }
    }
    return true;
  }

  private removeFree(i: number): void {
    this.freeStart.splice(i, 1);
    this.freeSize.splice(i, 1);
  }

  /** Offset of a new block of at least `bytes` (zero-filled when `zero`), or -1 when the memory cannot hold it. */
  reserve(bytes: number, zero: boolean): number {
    const { freeStart, freeSize } = this;
    const size = WasmAllocator.roundUp(bytes);
    let best = -1;
    for (let i = 0; i < freeSize.length; i++) {
      if (freeSize[i] >= size && (best < 0 || freeSize[i] < freeSize[best])) best = i;
    }
    let ptr: number;
    if (best >= 0) {
      ptr = freeStart[best];
      if (freeSize[best] === size) this.removeFree(best);
      else {
        freeStart[best] += size;
        freeSize[best] -= size;
      }
    } else {
      // From the bump pointer (no free block ends at `top`: release gives the highest one back to it).
      ptr = this.top;
      if (ptr + size > this.limit || !this.growTo(ptr + size)) return -1;
      this.top = ptr + size;
    }
    if (zero && ptr < this.clean) new Uint8Array(this.memory.buffer, ptr, Math.min(size, this.clean - ptr)).fill(0);
    if (ptr + size > this.clean) this.clean = ptr + size;
    this.live.set(ptr, size);
    this.inUse += size;
    return ptr;
  }

  /** Frees the block at `ptr`; a pointer that is not a live block's start is a bug of the caller's. */
  release(ptr: number): void {
    const { freeStart, freeSize } = this;
    const size = this.live.get(ptr);
    if (size === undefined) throw new Error(`wasm backend: free of an array that is not a live allocation (offset ${ptr}): freed twice, or a subarray`);
    this.live.delete(ptr);
    this.inUse -= size;
    // Insert in offset order, then merge with the neighbours it touches.
    let i = 0;
    while (i < freeStart.length && freeStart[i] < ptr) i++;
    freeStart.splice(i, 0, ptr);
    freeSize.splice(i, 0, size);
    if (i + 1 < freeStart.length && ptr + freeSize[i] === freeStart[i + 1]) {
      freeSize[i] += freeSize[i + 1];
      this.removeFree(i + 1);
    }
    if (i > 0 && freeStart[i - 1] + freeSize[i - 1] === freeStart[i]) {
      freeSize[i - 1] += freeSize[i];
      this.removeFree(i);
      i--;
    }
    // The highest block goes back to the bump pointer.
    if (freeStart[i] + freeSize[i] === this.top) {
      this.top = freeStart[i];
      this.removeFree(i);
    }
  }
}
