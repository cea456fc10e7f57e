// The studio's compute Worker: every model, data set and training run lives here, never on the page's thread.
// Requests and answers are web/src/protocol.ts. All model work goes through the library's public API
// (src/index.ts, src/browser/index.ts); these files only wire it to messages:
//   runtime.ts    messages to the page, yielding to the event loop, cancelling
//   models.ts     backends and models: the loaded file's and the training run's, each on its own backend, so
//                 replacing one disposes its memory (a long-lived page stays flat)
//   training.ts   the training run (IndexedDB, pause/resume/discard, restored on reload)
//   modelJobs.ts  evaluate, sample, inpaint, interpolate, encode, decode, …
//   modelViews.ts the model's description and images between display space and the data range
//
// Long jobs (evaluation, inpainting, training) yield to the event loop between steps, so cancels, pauses and quick
// requests (a sample, the log-likelihood of a drawing) are answered in between.
import { NiceFlowError } from '../../../src/index.js';
import type { CallArgs, CallResult, CallType, Response } from '../protocol.js';
import { modelJobs } from './modelJobs.js';
import { activeSlot, loadModelFile, startBackends, useModel } from './models.js';
import { Cancelled, cancels, oneLine, post, scope } from './runtime.js';
import { restoreRun, trainDiscard, trainModelBytes, trainPause, trainResume, trainStart, trainState } from './training.js';

type Handler<K extends CallType> = (args: CallArgs<K>, id: number) => Promise<CallResult<K>>;

const handlers: { [K in CallType]: Handler<K> } = {
  async init(args) {
    const backend = await startBackends(args.manifest, args.threads);
    void restoreRun();
    return { backend, train: trainState() };
  },
  'load-model': (args) => loadModelFile(args.bytes, args.name),
  'use-model': async (args) => useModel(args.source),
  ...modelJobs,
  'train-start': (args) => trainStart(args.settings),
  'train-pause': () => trainPause(),
  'train-resume': () => trainResume(),
  'train-discard': () => trainDiscard(),
  'train-model-bytes': () => trainModelBytes(),
  memory: async () => activeSlot()?.backend.memoryUsage() ?? null,
};

/** The typed arrays of a result, to transfer instead of copying (every result array is freshly made). */
function transfers(result: unknown): Transferable[] {
  const out: Transferable[] = [];
  if (result && typeof result === 'object') {
    for (const v of Object.values(result)) {
      if (ArrayBuffer.isView(v) && v.buffer instanceof ArrayBuffer && v.byteLength === v.buffer.byteLength) out.push(v.buffer);
    }
  }
  return out;
}

async function handle<K extends CallType>(request: { type: K; id: number } & CallArgs<K>): Promise<void> {
  const { id, type } = request;
  try {
    const result = await (handlers[type] as Handler<K>)(request, id);
    post({ type: 'done', id, call: type, result } as Response, transfers(result));
  } catch (e) {
    const cancelled = e instanceof Cancelled;
    const message = cancelled ? e.message : e instanceof NiceFlowError ? oneLine(e) : `internal error: ${oneLine(e)}`;
    if (!cancelled && !(e instanceof NiceFlowError)) console.warn('nice-flow studio worker:', e);
    post({ type: 'failed', id, message, cancelled });
  } finally {
    cancels.delete(id);
  }
}

scope.onmessage = (event) => {
  const request = event.data;
  if (request.type === 'cancel') {
    cancels.set(request.target, 'cancelled');
    return;
  }
  void handle(request);
};
