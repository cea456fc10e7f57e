import { NiceFlowError } from '../core/NiceFlowError.js';
import type { EpochLogEntry, RunStorage } from '../train/RunStorage.js';

// A training run's storage in the browser's IndexedDB: what the CLI writes to checkpoint.safetensors,
// model.safetensors and log.jsonl, kept under one key prefix of one object store, so a page that is reloaded (or
// closed and opened again) finds the run where its last checkpoint left it and continues it with
// readRunCheckpoint + TrainingRun.resume, as `nice-flow train --resume` does. Every write is one IndexedDB
// transaction: a page closed in the middle of one leaves the previous value, never half of the new one. Weight files
// are stored in chunks (browsers cap one stored value: Chromium at ~127 MiB, less than the paper's MNIST checkpoint).

// The few IndexedDB APIs used here, declared locally: the project compiles against lib ES2022 without "DOM"
// (see createWasmBackendBrowser.ts), so they are read from globalThis.
interface IdbRequest<T> {
  result: T;
  error: { name?: string; message?: string } | null;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}
interface IdbOpenRequest extends IdbRequest<IdbDatabase> {
  onupgradeneeded: (() => void) | null;
  onblocked: (() => void) | null;
}
interface IdbStore {
  get(key: string): IdbRequest<unknown>;
  put(value: unknown, key: string): IdbRequest<unknown>;
  delete(key: string | IdbKeyRange): IdbRequest<undefined>;
}
type IdbKeyRange = object;
interface IdbKeyRangeStatic {
  bound(lower: string, upper: string): IdbKeyRange;
}
interface IdbTransaction {
  objectStore(name: string): IdbStore;
  oncomplete: (() => void) | null;
  onerror: ((event: { target?: { error?: { name?: string; message?: string } | null } | null }) => void) | null;
  onabort: (() => void) | null;
  error: { name?: string; message?: string } | null;
}
interface IdbDatabase {
  objectStoreNames: { contains(name: string): boolean };
  createObjectStore(name: string): unknown;
  transaction(store: string, mode: 'readonly' | 'readwrite'): IdbTransaction;
  close(): void;
}
interface IdbFactory {
  open(name: string, version?: number): IdbOpenRequest;
}

const STORE = 'runs';
/** Bytes per stored chunk of a weight file: well below every browser's cap on one value. */
const CHUNK = 32 * 1024 * 1024;

/** Where a value is in the run: the checkpoint, the best model, the log, and the front end's own notes. */
type Part = 'checkpoint' | 'model' | 'log' | 'info';

/** A stored weight file or checkpoint with the step and epoch it was saved at. */
export interface StoredBytes {
  bytes: Uint8Array;
  step: number;
  epoch: number;
}

/** What is stored under a weight file's key; its bytes are under `${key}/0` … `${key}/${chunks − 1}`. */
interface BytesRecord {
  length: number;
  chunks: number;
  step: number;
  epoch: number;
}

const describe = (e: { name?: string; message?: string } | null | undefined): string =>
  (e?.message || e?.name || 'unknown error').replace(/\s+/g, ' ').trim();

/**
 * A {@link RunStorage} in IndexedDB, for a run trained in a browser page or Worker. Open it with
 * {@link IndexedDbRunStorage.open}; `runKey` names the run, so one database can hold several.
 */
export class IndexedDbRunStorage implements RunStorage {
  private constructor(
    private readonly db: IdbDatabase,
    /** The run's name: keys are `${runKey}/checkpoint`, `/model`, `/log` and `/info`. */
    readonly runKey: string,
    private readonly chunkBytes: number,
  ) {}

  /**
   * Opens (creating when new) the database `database` and the run `runKey` in it. `chunkBytes` is the size of the
   * pieces weight files are stored in (default 32 MiB).
   */
  static async open(database = 'nice-flow', runKey = 'run', options: { chunkBytes?: number } = {}): Promise<IndexedDbRunStorage> {
    const chunkBytes = options.chunkBytes ?? CHUNK;
    if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1) throw new NiceFlowError(`chunkBytes must be a whole number ≥ 1, got ${chunkBytes}`);
    const factory = (globalThis as unknown as { indexedDB?: IdbFactory }).indexedDB;
    if (!factory) throw new NiceFlowError('this browser offers no IndexedDB (a private window may turn it off): a run cannot be kept across page loads');
    const db = await new Promise<IdbDatabase>((resolve, reject) => {
      let request: IdbOpenRequest;
      try {
        request = factory.open(database, 1);
      } catch (e) {
        reject(new NiceFlowError(`IndexedDB "${database}" cannot be opened: ${describe(e as Error)}`));
        return;
      }
      request.onupgradeneeded = () => {
        if (!request.result.objectStoreNames.contains(STORE)) request.result.createObjectStore(STORE);
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(new NiceFlowError(`IndexedDB "${database}" cannot be opened: ${describe(request.error)}`));
      request.onblocked = () => reject(new NiceFlowError(`IndexedDB "${database}" is blocked by another tab that holds an older version open: close it and reload`));
    });
    return new IndexedDbRunStorage(db, runKey, chunkBytes);
  }

  private key(part: Part): string {
    return `${this.runKey}/${part}`;
  }

  /** Runs `body` in one transaction on the store and resolves when it has committed. */
  private transact<T>(mode: 'readonly' | 'readwrite', body: (store: IdbStore) => IdbRequest<T> | void): Promise<T | undefined> {
    return new Promise<T | undefined>((resolve, reject) => {
      let tx: IdbTransaction;
      try {
        tx = this.db.transaction(STORE, mode);
      } catch (e) {
        reject(new NiceFlowError(`IndexedDB: ${describe(e as Error)}`));
        return;
      }
      let request: IdbRequest<T> | void;
      const fail = (error: { name?: string; message?: string } | null | undefined): void => {
        const why = describe(error);
        reject(new NiceFlowError(/quota/i.test(`${error?.name} ${why}`) ? `the browser refused to store the run (storage quota): ${why}` : `IndexedDB: ${why}`));
      };
      tx.oncomplete = () => resolve(request ? request.result : undefined);
      // A failed request names its error before the transaction aborts (whose own error may then be missing).
      tx.onerror = (event) => fail(event?.target?.error ?? tx.error);
      tx.onabort = () => fail(tx.error);
      try {
        request = body(tx.objectStore(STORE));
      } catch (e) {
        reject(new NiceFlowError(`IndexedDB: ${describe(e as Error)}`));
      }
    });
  }

  /** All keys that start with `prefix`. */
  private static range(prefix: string): IdbKeyRange {
    const ranges = (globalThis as unknown as { IDBKeyRange: IdbKeyRangeStatic }).IDBKeyRange;
    return ranges.bound(prefix, `${prefix}\uffff`);
  }

  private async put(part: Part, value: unknown): Promise<void> {
    await this.transact('readwrite', (s) => s.put(value, this.key(part)));
  }

  private async get<T>(part: Part): Promise<T | null> {
    const v = await this.transact<unknown>('readonly', (s) => s.get(this.key(part)));
    return (v ?? null) as T | null;
  }

  /** Replaces a weight file in one transaction: its old chunks go, the new ones and their record come. */
  private async putBytes(part: 'checkpoint' | 'model', bytes: Uint8Array, at: { step: number; epoch: number }): Promise<void> {
    const key = this.key(part);
    const size = this.chunkBytes;
    const chunks = Math.ceil(bytes.length / size);
    await this.transact('readwrite', (s) => {
      s.delete(IndexedDbRunStorage.range(`${key}/`));
      // slice, not subarray: a view would be stored with its whole buffer.
      for (let i = 0; i < chunks; i++) s.put(bytes.slice(i * size, Math.min(bytes.length, (i + 1) * size)), `${key}/${i}`);
      s.put({ length: bytes.length, chunks, step: at.step, epoch: at.epoch } satisfies BytesRecord, key);
    });
  }

  /** A weight file as stored by putBytes, read in one transaction; null when there is none. */
  private getBytes(part: 'checkpoint' | 'model'): Promise<StoredBytes | null> {
    const key = this.key(part);
    return new Promise<StoredBytes | null>((resolve, reject) => {
      let out: StoredBytes | null = null;
      let broken = false;
      this.transact('readonly', (s) => {
        const r = s.get(key);
        r.onsuccess = () => {
          const rec = r.result as BytesRecord | undefined;
          if (!rec) return;
          const bytes = new Uint8Array(rec.length);
          if (rec.chunks === 0) out = { bytes, step: rec.step, epoch: rec.epoch };
          let at = 0;
          for (let i = 0; i < rec.chunks; i++) {
            const c = s.get(`${key}/${i}`);
            c.onsuccess = () => {
              const chunk = c.result as Uint8Array | undefined;
              if (!(chunk instanceof Uint8Array) || at + chunk.length > rec.length) {
                broken = true;
                return;
              }
              bytes.set(chunk, at);
              at += chunk.length;
              if (i === rec.chunks - 1) {
                if (at !== rec.length) broken = true;
                else out = { bytes, step: rec.step, epoch: rec.epoch };
              }
            };
          }
        };
      }).then(() => {
        if (broken) reject(new NiceFlowError(`IndexedDB: the stored ${part} is incomplete`));
        else resolve(out);
      }, reject);
    });
  }

  async saveCheckpoint(bytes: Uint8Array, at: { step: number; epoch: number }): Promise<void> {
    await this.putBytes('checkpoint', bytes, at);
  }

  async saveModel(bytes: Uint8Array, at: { step: number; epoch: number }): Promise<void> {
    await this.putBytes('model', bytes, at);
  }

  /** Appends to the log in one read-modify-write transaction. */
  async appendLog(entry: EpochLogEntry): Promise<void> {
    const key = this.key('log');
    await this.transact('readwrite', (s) => {
      const r = s.get(key);
      r.onsuccess = () => {
        const log = Array.isArray(r.result) ? (r.result as EpochLogEntry[]) : [];
        s.put([...log, entry], key);
      };
    });
  }

  /** Drops log lines past `step` in one read-modify-write transaction (see RunStorage.trimLog). */
  async trimLog(step: number): Promise<number> {
    const key = this.key('log');
    let dropped = 0;
    await this.transact('readwrite', (s) => {
      const r = s.get(key);
      r.onsuccess = () => {
        const log = Array.isArray(r.result) ? (r.result as EpochLogEntry[]) : [];
        const kept = log.filter((e) => !(e.step > step));
        dropped = log.length - kept.length;
        if (dropped > 0) s.put(kept, key);
      };
    });
    return dropped;
  }

  /** The newest checkpoint, or null when the run has none. */
  loadCheckpoint(): Promise<StoredBytes | null> {
    return this.getBytes('checkpoint');
  }

  /** The best model by validation so far, or null before the first validation. */
  loadModel(): Promise<StoredBytes | null> {
    return this.getBytes('model');
  }

  /** The log lines, one per epoch (empty for a new run). */
  async loadLog(): Promise<EpochLogEntry[]> {
    return (await this.get<EpochLogEntry[]>('log')) ?? [];
  }

  /** The front end's own notes on the run (its settings, whether it was running), a structured-cloneable value. */
  saveInfo(info: unknown): Promise<void> {
    return this.put('info', info);
  }

  loadInfo<T>(): Promise<T | null> {
    return this.get<T>('info');
  }

  /** Deletes everything of the run (checkpoint, model, log, notes) in one transaction. */
  async clear(): Promise<void> {
    await this.transact('readwrite', (s) => s.delete(IndexedDbRunStorage.range(`${this.runKey}/`)));
  }

  /** Closes the database connection. */
  close(): void {
    this.db.close();
  }
}
