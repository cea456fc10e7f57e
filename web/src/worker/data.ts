// Data sets in the Worker: IDX image files fetched from the host (gzipped or not), parsed once and kept for the
// Worker's lifetime; splits by the library's rule (splitDataset: the last 10,000 training images validate).
import { gunzip, GUNZIP_MAX_BYTES, imageDatasetFromDims, isGzip, NiceFlowError, parseIdx, splitDataset, type ImageDataset, type Split } from '../../../src/index.js';
import type { DatasetEntry } from '../protocol.js';
import { readBody, type OnBytes } from '../readBody.js';

/** Images held out from the end of the training file for validation: the CLI's default. */
export const VALID_SIZE = 10000;

const message = (e: unknown): string => String((e as Error)?.message ?? e).replace(/\s+/g, ' ').trim();

async function fetchBytes(url: string, what: string, onBytes?: OnBytes): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new NiceFlowError(`${what}: cannot fetch ${url} (${message(e)})`);
  }
  if (!res.ok) throw new NiceFlowError(`${what}: ${url} answered ${res.status} ${res.statusText}`.trim());
  // The same cap as the library's gunzip: a data file beyond it could not be unpacked either.
  try {
    return await readBody(res, what, { maxBytes: GUNZIP_MAX_BYTES, tooLarge: 'too large a data file for the page' }, onBytes);
  } catch (e) {
    throw new NiceFlowError(message(e));
  }
}

/** The library's gunzip (a hard cap on the output, so a gzip bomb stops with an error), its message naming the file. */
function unzip(bytes: Uint8Array, what: string): Uint8Array {
  try {
    return gunzip(bytes);
  } catch (e) {
    throw new NiceFlowError(`${what}: ${message(e)}`);
  }
}

const files = new Map<string, Promise<ImageDataset>>();

/** The images of one IDX file at `url`, fetched and parsed once (a failed load is tried again next time). */
export function loadImageFile(url: string, what: string, onBytes?: OnBytes): Promise<ImageDataset> {
  let p = files.get(url);
  if (!p) {
    p = (async () => {
      let bytes = await fetchBytes(url, what, onBytes);
      if (isGzip(bytes)) bytes = unzip(bytes, what);
      const idx = parseIdx(bytes, what);
      return imageDatasetFromDims(idx.data, idx.dims, what);
    })();
    files.set(url, p);
    p.catch(() => files.delete(url));
  }
  return p;
}

/** A split of a data set the host offers: train and valid from its training file, test from its test file. */
export async function loadSplit(entry: DatasetEntry, split: Split, options: { limit?: number } = {}, onBytes?: OnBytes): Promise<ImageDataset> {
  const file = await loadImageFile(split === 'test' ? entry.test : entry.train, `${entry.label} ${split === 'test' ? 'test' : 'training'} images`, onBytes);
  return splitDataset(file, split, { validSize: VALID_SIZE, limit: options.limit }, entry.label);
}
