// Reading a download in the page or a Worker: in chunks, with progress, a size limit checked as the bytes arrive,
// and a check that all the bytes the server announced came (a connection cut midway is an error, not a short file).

export type OnBytes = (received: number, total: number | null) => void | Promise<void>;

const oneLine = (e: unknown): string => String((e as Error)?.message ?? e).replace(/\s+/g, ' ').trim();

/**
 * The body of `res`, named `what` in its one-line errors: over `limit.maxBytes` (announced or received) is refused
 * with `limit.tooLarge`; a broken or truncated download is refused too.
 */
export async function readBody(res: Response, what: string, limit: { maxBytes: number; tooLarge: string }, onBytes?: OnBytes): Promise<Uint8Array<ArrayBuffer>> {
  const header = res.headers.get('content-length');
  const length = Number(header);
  // With a content encoding the header counts the compressed bytes, not the ones read here.
  const total = header !== null && Number.isSafeInteger(length) && !res.headers.get('content-encoding') ? length : null;
  const size = (bytes: number): string => (bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MB`);
  if (total !== null && total > limit.maxBytes) throw new Error(`${what} is ${size(total)}: ${limit.tooLarge}`);
  if (!res.body) return new Uint8Array(await res.arrayBuffer());
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let received = 0;
  for (;;) {
    let part: ReadableStreamReadResult<Uint8Array>;
    try {
      part = await reader.read();
    } catch (e) {
      throw new Error(`${what}: the download broke off after ${received.toLocaleString('en-US')} bytes (${oneLine(e)})`);
    }
    if (part.done) break;
    received += part.value.length;
    if (received > limit.maxBytes) {
      void reader.cancel();
      throw new Error(`${what} is over ${size(limit.maxBytes)}: ${limit.tooLarge}`);
    }
    chunks.push(part.value);
    await onBytes?.(received, total === null ? null : Math.max(total, received));
  }
  if (total !== null && received !== total) throw new Error(`${what}: the download is truncated (${received.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} bytes)`);
  const out = new Uint8Array(received);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
