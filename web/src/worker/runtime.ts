// The studio worker's runtime: messages to the page, yielding to the event loop, and cancelling requests.
import type { Request, Response } from '../protocol.js';

interface WorkerScope {
  postMessage(message: Response, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<Request>) => void) | null;
  crossOriginIsolated: boolean;
  navigator: Navigator;
}
export const scope = self as unknown as WorkerScope;

export const post = (message: Response, transfer: Transferable[] = []): void => scope.postMessage(message, transfer);
export const oneLine = (e: unknown): string => String((e as Error)?.message ?? e).replace(/\s+/g, ' ').trim();

// ---- yielding and cancelling ------------------------------------------------------------------------------------

export { yieldNow } from '../yieldNow.js';

export class Cancelled extends Error {}
/** Requests asked to stop, with the reason given to the page. */
export const cancels = new Map<number, string>();
export function checkCancel(id: number): void {
  const why = cancels.get(id);
  if (why !== undefined) throw new Cancelled(why);
}

/** A progress message for request `id` (an image in `extra` is transferred, not copied). */
export function progress(id: number, done: number, total: number | null, label: string, extra: { image?: Float32Array; value?: number } = {}): void {
  post({ type: 'progress', id, done, total, label, ...extra }, extra.image ? [extra.image.buffer as ArrayBuffer] : []);
}

