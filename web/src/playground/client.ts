// The playground page's state and its Worker: the settings (mirrored in the address), the drawn points, the latest
// frame (kept outside the signals: canvases draw it in requestAnimationFrame), and the numbers the page shows as text.
import { signal } from '@preact/signals';
import { type Frame, type FromWorker, type PgSettings, type ToWorker } from './protocol.js';
import { readUrl, writeUrl } from './url.js';

const initial = readUrl();
export const settings = signal<PgSettings>(initial.settings);
/** The drawn points [n, 2], data coordinates. */
export const drawn = signal<Float32Array>(initial.drawn ?? new Float32Array(0));
export const message = signal<{ level: 'info' | 'error'; text: string; id: number } | null>(null);
export const backend = signal<{ name: string; isolated: boolean } | null>(null);
export const crashed = signal<string | null>(null);

/** The numbers shown as text, updated from each frame (the frame's own fields, and a few derived from it). */
export interface Stats extends Pick<Frame, 'step' | 'running' | 'stepsPerSecond' | 'trainOnlyStepsPerSecond' | 'trainShare' | 'viewMs' | 'trainLogLik' | 'heldOut' | 'trueLogLik' | 'layerNames' | 'layerLogDet' | 'hover' | 'seq'> {
  stageNames: string[];
  inverseNames: string[];
  /** Which model the numbers are of (the frame's epoch): a new one (reset, new settings, an import) counts up. */
  model: number;
  /** Training points shown (the first ones). */
  shown: number;
}
export const stats = signal<Stats | null>(null);
/** View redraws per second (the page's requestAnimationFrame loop, counting frames that drew something new). */
export const fps = signal(0);
/** Milliseconds the page spends drawing one frame of the views (a moving average). */
export const drawMs = signal(0);

/** The latest frame; `densityFrame` keeps the last density grid (frames without one keep showing it). */
export const latest: { frame: Frame | null; density: Frame['density'] } = { frame: null, density: null };

let messageId = 0;
export function notify(level: 'info' | 'error', text: string): void {
  message.value = { level, text, id: ++messageId };
}

let worker: Worker | null = null;
const send = (m: ToWorker, transfer: Transferable[] = []): void => worker?.postMessage(m, transfer);

function download(name: string, bytes: Uint8Array): void {
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function onMessage(m: FromWorker): void {
  switch (m.type) {
    case 'ready':
      backend.value = { name: m.backend, isolated: m.isolated };
      configure();
      return;
    case 'frame': {
      const f = m.frame;
      if (latest.frame && latest.frame.epoch !== f.epoch) latest.density = null;
      latest.frame = f;
      if (f.density) latest.density = f.density;
      const old = stats.value;
      stats.value = {
        step: f.step, running: f.running, stepsPerSecond: f.stepsPerSecond, trainOnlyStepsPerSecond: f.trainOnlyStepsPerSecond,
        trainShare: f.trainShare, viewMs: f.viewMs,
        trainLogLik: f.trainLogLik, heldOut: f.heldOut, trueLogLik: f.trueLogLik, layerNames: f.layerNames, layerLogDet: f.layerLogDet,
        // Arrays the views are keyed on keep their identity while unchanged (no re-render of the canvases).
        stageNames: old && same(old.stageNames, f.stages.map((s) => s.name)) ? old.stageNames : f.stages.map((s) => s.name),
        inverseNames: old && same(old.inverseNames, f.inverse.map((s) => s.name)) ? old.inverseNames : f.inverse.map((s) => s.name),
        hover: f.hover, seq: f.seq, model: f.epoch, shown: f.data.length / 2,
      };
      return;
    }
    case 'message':
      notify(m.level, m.text);
      return;
    case 'file':
      download(m.name, m.bytes);
      return;
    case 'imported':
      settings.value = m.settings;
      writeUrl(m.settings, drawn.value);
      return;
  }
}

const same = (a: string[], b: string[]): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

export function start(): void {
  worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'nice-flow playground' });
  worker.onmessage = (e: MessageEvent<FromWorker>) => onMessage(e.data);
  worker.onerror = (e) => {
    e.preventDefault();
    crashed.value = `the playground's worker stopped (${e.message || 'it failed to load'}): reload the page`;
  };
  send({ type: 'init' });
  writeUrl(settings.value, drawn.value);
}

/** Sends the settings (and the drawn points for drawn data) to the Worker and the address. */
export function configure(): void {
  message.value = null;
  const s = settings.value;
  writeUrl(s, drawn.value);
  // Too few drawn points: the Worker says so in one line and shows nothing until there are enough (MIN_DRAWN).
  const pts = s.data === 'drawn' ? drawn.value.slice() : null;
  send({ type: 'configure', settings: s, drawn: pts }, pts ? [pts.buffer] : []);
}

export function update(patch: Partial<PgSettings>): void {
  settings.value = { ...settings.value, ...patch };
  configure();
}

export const play = (): void => send({ type: 'play' });
export const pause = (): void => send({ type: 'pause' });
export const step = (count: number): void => send({ type: 'step', count });
export const reset = (): void => send({ type: 'reset' });
export const exportModel = (): void => send({ type: 'export' });
export const exportPoints = (): void => send({ type: 'export-points' });

let hoverPending: [number, number] | null | undefined;
let hoverQueued = false;
/** The hovered point (data coordinates), sent at most once per animation frame. */
export function setHover(p: [number, number] | null): void {
  hoverPending = p;
  if (hoverQueued) return;
  hoverQueued = true;
  requestAnimationFrame(() => {
    hoverQueued = false;
    if (hoverPending !== undefined) send({ type: 'hover', point: hoverPending });
    hoverPending = undefined;
  });
}

export async function importFile(file: File): Promise<void> {
  message.value = null;
  const bytes = new Uint8Array(await file.arrayBuffer());
  send({ type: 'import', bytes, name: file.name }, [bytes.buffer]);
}
