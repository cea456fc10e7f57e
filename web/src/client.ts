// The page's side of the Worker protocol (web/src/protocol.ts): typed calls that resolve with their result or
// reject with the Worker's one-line message, progress callbacks, cancelling, and the Worker's events.
import type { CallArgs, CallResult, CallType, Progress, Request, Response } from './protocol.js';

/** A call's failure: `cancelled` when the page cancelled it (or the Worker dropped it). */
export class CallError extends Error {
  constructor(message: string, readonly cancelled: boolean) {
    super(message);
  }
}

export type WorkerEvent = Exclude<Response, { type: 'done' } | { type: 'failed' } | Progress>;

export interface Call<T> {
  id: number;
  promise: Promise<T>;
  cancel(): void;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: CallError): void;
  onProgress?: (p: Progress) => void;
}

export class ComputeClient {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private dead: string | null = null;

  constructor(onEvent: (event: WorkerEvent) => void, onCrash: (message: string) => void) {
    this.worker = new Worker(new URL('./worker/worker.ts', import.meta.url), { type: 'module', name: 'nice-flow studio compute' });
    this.worker.onmessage = (e: MessageEvent<Response>) => {
      const m = e.data;
      if (m.type === 'done' || m.type === 'failed' || m.type === 'progress') {
        const p = this.pending.get(m.id);
        if (!p) return;
        if (m.type === 'progress') p.onProgress?.(m);
        else {
          this.pending.delete(m.id);
          if (m.type === 'done') p.resolve(m.result);
          else p.reject(new CallError(m.message, m.cancelled));
        }
        return;
      }
      onEvent(m);
    };
    const crash = (message: string): void => {
      this.dead = `the compute worker stopped (${message}): reload the page`;
      for (const p of this.pending.values()) p.reject(new CallError(this.dead, false));
      this.pending.clear();
      onCrash(this.dead);
    };
    this.worker.onerror = (e) => {
      e.preventDefault();
      crash(e.message || 'it failed to load');
    };
    this.worker.onmessageerror = () => crash('a message could not be read');
  }

  call<K extends CallType>(type: K, args: CallArgs<K>, options: { onProgress?: (p: Progress) => void; transfer?: Transferable[] } = {}): Call<CallResult<K>> {
    const id = this.nextId++;
    const promise = new Promise<CallResult<K>>((resolve, reject) => {
      if (this.dead) {
        reject(new CallError(this.dead, false));
        return;
      }
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, onProgress: options.onProgress });
      this.worker.postMessage({ type, id, ...args } as Request, options.transfer ?? []);
    });
    return { id, promise, cancel: () => this.worker.postMessage({ type: 'cancel', target: id } satisfies Request) };
  }

  /** Shorthand: the result's promise. */
  run<K extends CallType>(type: K, args: CallArgs<K>, onProgress?: (p: Progress) => void): Promise<CallResult<K>> {
    return this.call(type, args, { onProgress }).promise;
  }
}
