// Draw and complete: a 28×28 drawing (pen, eraser), the unknown pixels (a brush or a mask of the paper's inpainting
// experiments), inpainting (the library's default: Adam on the unknown pixels from the model's mode) animated step
// by step, and a live log-likelihood meter.
import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { INPAINT_DEFAULT_STEPS, makeMask, MASK_NAMES } from '../../../src/index.js';
import { client, datasetFor, editorImage, isCancel, manifest, messageOf, model, modelVersion, noDatasetMessage, sendToEditor } from '../store.js';
import type { CallResult } from '../protocol.js';
import { ImageGrid, Message, Panel, ProgressBar, fmt } from './common.js';
import { paintGrid } from './images.js';

type Tool = 'pen' | 'eraser' | 'unknown' | 'known';

const TOOLS: Array<{ id: Tool; label: string; title: string }> = [
  { id: 'pen', label: 'Pen', title: 'draw white strokes' },
  { id: 'eraser', label: 'Eraser', title: 'erase strokes' },
  { id: 'unknown', label: 'Mark unknown', title: 'paint the pixels the model should fill in' },
  { id: 'known', label: 'Unmark', title: 'make pixels known again' },
];

const MASK_LABELS: Record<string, string> = {
  'top-half': 'top half', 'bottom-half': 'bottom half', 'left-half': 'left half', 'right-half': 'right half', even: 'even pixels', odd: 'odd pixels',
  'middle-rows': 'middle rows', 'middle-cols': 'middle columns', 'random-75': 'random 75 %', 'random-90': 'random 90 %',
};

interface InpaintView {
  status: 'idle' | 'running' | 'done' | 'failed' | 'cancelled';
  step: number;
  image: Float32Array | null;
  ll?: number;
  before?: number;
  after?: number;
  message?: string;
}

export function DrawPanel(): JSX.Element {
  const m = model.value;
  const H = m?.shape[1] ?? 28;
  const W = m?.shape[2] ?? 28;
  const gray = !m || m.shape[0] === 1;
  const P = H * W;
  const drawing = useRef<Float32Array>(new Float32Array(P));
  const mask = useRef<Uint8Array>(new Uint8Array(P));
  const canvas = useRef<HTMLCanvasElement>(null);
  const [tool, setTool] = useState<Tool>('pen');
  const [preset, setPreset] = useState('none');
  const [source, setSource] = useState('an empty canvas');
  const [ll, setLL] = useState<CallResult<'loglik'> | null>(null);
  const [llError, setLLError] = useState<string | null>(null);
  const [inp, setInp] = useState<InpaintView>({ status: 'idle', step: 0, image: null });
  const [message, setMessage] = useState<string | null>(null);
  const [hidden, setHidden] = useState(0);
  /** A class-conditional model: the class to complete towards and to read the drawing as (null: its likeliest). */
  const [target, setTarget] = useState<number | null>(null);
  const [restyled, setRestyled] = useState<CallResult<'restyle'> | null>(null);
  const [restyleError, setRestyleError] = useState<string | null>(null);
  const classes = m?.config.classes ?? 0;
  // Another model: its classes are its own.
  useEffect(() => {
    setTarget(null);
    setRestyled(null);
    setRestyleError(null);
  }, [modelVersion.value]);
  const running = useRef<{ cancel(): void } | null>(null);
  const llFlight = useRef({ busy: false, again: false });
  const stroke = useRef<{ x: number; y: number } | null>(null);

  const repaint = (): void => {
    if (canvas.current) paintGrid(canvas.current, drawing.current, 1, [1, H, W], 1, { pad: 0, tint: mask.current });
    let n = 0;
    for (const v of mask.current) n += v;
    setHidden(n);
  };

  const measure = (): void => {
    if (!model.value) return;
    const f = llFlight.current;
    if (f.busy) {
      f.again = true;
      return;
    }
    f.busy = true;
    client
      .run('loglik', { image: drawing.current.slice() })
      .then((r) => {
        setLL(r);
        setLLError(null);
      })
      .catch((e) => {
        if (!isCancel(e)) setLLError(messageOf(e));
      })
      .finally(() => {
        f.busy = false;
        if (f.again) {
          f.again = false;
          measure();
        }
      });
  };

  // A model of another image size starts a new canvas.
  useEffect(() => {
    if (drawing.current.length !== P) {
      drawing.current = new Float32Array(P);
      mask.current = new Uint8Array(P);
      setPreset('none');
    }
    repaint();
    setLL(null);
    measure();
  }, [m, P]);

  // An image sent to the editor becomes the drawing (the unknown pixels stay as they are).
  const sent = editorImage.value;
  useEffect(() => {
    if (!sent || !m || sent.image.length !== P || !gray) return;
    drawing.current = sent.image.slice();
    setSource(sent.label);
    repaint();
    measure();
  }, [sent?.version]);

  const applyPreset = (name: string): void => {
    setPreset(name);
    setMessage(null);
    if (name === 'none') mask.current.fill(0);
    else if (name !== 'custom') mask.current = makeMask(name, H, W, 0);
    repaint();
  };

  const stamp = (x: number, y: number): void => {
    const r = tool === 'pen' ? 1.35 : tool === 'eraser' ? 2.1 : 1.6;
    const d = drawing.current;
    const k = mask.current;
    for (let py = Math.max(0, Math.floor(y - r - 1)); py <= Math.min(H - 1, Math.ceil(y + r)); py++) {
      for (let px = Math.max(0, Math.floor(x - r - 1)); px <= Math.min(W - 1, Math.ceil(x + r)); px++) {
        const dist = Math.hypot(px + 0.5 - x, py + 0.5 - y);
        const a = Math.max(0, Math.min(1, (r - dist) / 0.8));
        const p = py * W + px;
        if (tool === 'pen') d[p] = Math.max(d[p], a);
        else if (tool === 'eraser') d[p] = Math.min(d[p], 1 - a);
        else if (dist < r) k[p] = tool === 'unknown' ? 1 : 0;
      }
    }
  };

  const at = (e: PointerEvent): { x: number; y: number } => {
    const rect = canvas.current!.getBoundingClientRect();
    return { x: ((e.clientX - rect.left) / rect.width) * W, y: ((e.clientY - rect.top) / rect.height) * H };
  };

  const strokeTo = (p: { x: number; y: number }): void => {
    const from = stroke.current ?? p;
    const n = Math.max(1, Math.ceil(Math.hypot(p.x - from.x, p.y - from.y) / 0.3));
    for (let i = 1; i <= n; i++) stamp(from.x + ((p.x - from.x) * i) / n, from.y + ((p.y - from.y) * i) / n);
    stroke.current = p;
    if (tool === 'unknown' || tool === 'known') setPreset('custom');
    repaint();
    if (tool === 'pen' || tool === 'eraser') measure();
  };

  const complete = async (): Promise<void> => {
    setMessage(null);
    const call = client.call('inpaint', { image: drawing.current.slice(), mask: mask.current.slice(), seed: 0, ...(classes && target !== null ? { label: target } : {}) }, {
      onProgress: (p) => setInp((v) => ({ ...v, status: 'running', step: p.done, image: p.image ?? v.image, ll: p.value })),
    });
    running.current = call;
    setInp({ status: 'running', step: 0, image: null });
    try {
      const r = await call.promise;
      setInp({ status: 'done', step: r.steps, image: r.image, before: r.before, after: r.after });
    } catch (e) {
      setInp((v) => ({ ...v, status: isCancel(e) ? 'cancelled' : 'failed', message: messageOf(e) }));
    } finally {
      running.current = null;
    }
  };

  const testDigit = async (): Promise<void> => {
    const ds = datasetFor(m);
    if (!ds) {
      setMessage(!manifest.value.datasets.length ? 'this host offers no data set to take a test image from' : m ? noDatasetMessage(m) : 'no model yet');
      return;
    }
    const i = Math.floor(Math.random() * 10000);
    try {
      const r = await client.run('test-images', { dataset: ds.name, indices: [i] });
      if (r.images.length !== P) throw new Error(`${ds.label} images are ${r.shape.join('×')}, the model's ${H}×${W}`);
      drawing.current = r.images;
      setSource(`${ds.label} test image ${i}`);
      repaint();
      measure();
    } catch (e) {
      setMessage(messageOf(e));
    }
  };

  const writeAsEvery = async (): Promise<void> => {
    setRestyleError(null);
    try {
      const r = await client.run('restyle', { image: drawing.current.slice(), ...(target !== null ? { label: target } : {}) });
      setRestyled(r);
    } catch (e) {
      if (!isCancel(e)) setRestyleError(messageOf(e));
    }
  };

  const busy = inp.status === 'running';
  return (
    <Panel title="Draw & complete" subtitle="Mark what is unknown; the model fills it in (NICE §5.2)">
      {!gray && <Message text={`drawing needs a gray-scale model; this one's images are ${m?.shape.join('×')}`} level="info" testid="draw-gray-only" />}
      <div class="toolbar" role="toolbar">
        {TOOLS.map((t) => (
          <button key={t.id} type="button" class={`small ${tool === t.id ? 'on' : ''} ${t.id === 'unknown' ? 'unknown-tool' : ''}`} title={t.title} data-testid={`tool-${t.id}`} onClick={() => setTool(t.id)}>
            {t.label}
          </button>
        ))}
        <select value={preset} aria-label="unknown pixels" data-testid="mask-select" onChange={(e) => applyPreset(e.currentTarget.value)}>
          <option value="none">unknown: none</option>
          <option value="custom" disabled>unknown: painted</option>
          {MASK_NAMES.map((n) => <option key={n} value={n}>unknown: {MASK_LABELS[n] ?? n}</option>)}
        </select>
      </div>
      <div class="draw-row">
        <figure style={{ width: '210px' }}>
          <canvas
            ref={canvas}
            class={`pixels draw ${tool}`}
            width={W}
            height={H}
            style={{ width: '210px', height: '210px' }}
            data-testid="draw-canvas"
            onPointerDown={(e) => {
              if (!gray) return;
              e.currentTarget.setPointerCapture(e.pointerId);
              stroke.current = null;
              strokeTo(at(e));
            }}
            onPointerMove={(e) => {
              if (stroke.current && e.buttons) strokeTo(at(e));
            }}
            onPointerUp={() => {
              stroke.current = null;
              measure();
            }}
          />
          <figcaption data-testid="draw-source">
            {source} · <span class="unknown-key" /> {hidden} unknown
          </figcaption>
        </figure>
        <figure style={{ width: '168px' }}>
          <ImageGrid images={inp.image} count={1} shape={[1, H, W]} cols={1} scale={6} pad={0} testid="inpaint-result" />
          <figcaption>completion</figcaption>
        </figure>
      </div>
      <div class="controls">
        <button type="button" class="small" onClick={() => void testDigit()} data-testid="draw-test-digit" disabled={!m || !gray}>Test image</button>
        <button type="button" class="small" data-testid="draw-clear" onClick={() => { drawing.current.fill(0); setSource('an empty canvas'); repaint(); measure(); }}>Clear</button>
        <button type="button" class="small" onClick={() => sendToEditor(drawing.current.slice(), 'the drawing')} disabled={!m || !gray} data-testid="draw-to-latent">To latents</button>
        <span class="spacer" />
        {busy ? (
          <button type="button" class="ghost" onClick={() => running.current?.cancel()} data-testid="inpaint-cancel">Cancel</button>
        ) : null}
        <button type="button" class="primary" data-testid="inpaint-button" disabled={busy || !m || !gray} onClick={() => void complete()}>
          {busy ? 'Completing…' : 'Complete'}
        </button>
        {inp.status === 'done' && inp.image && (
          <button type="button" class="small" data-testid="inpaint-keep" onClick={() => {
            drawing.current = inp.image!.slice();
            applyPreset('none');
            setSource('the completion');
            measure();
          }}>Keep</button>
        )}
      </div>
      <p data-testid="inpaint-status" class={`status ${inp.status === 'failed' ? 'error-text' : ''}`}>
        {inp.status === 'idle' && 'Mark what is unknown, then Complete.'}
        {inp.status === 'running' && `completing: step ${inp.step}${inp.ll !== undefined ? ` · log p ${fmt(inp.ll, 0)} nats` : ''}`}
        {inp.status === 'done' && `done: ${inp.step} steps, log p ${fmt(inp.before, 0)} → ${fmt(inp.after, 0)} nats`}
        {(inp.status === 'failed' || inp.status === 'cancelled') && inp.message}
      </p>
      {classes > 0 && (
        <div class="controls">
          <label class="inline">
            Class
            <select
              data-testid="draw-label" value={target === null ? 'auto' : String(target)}
              onChange={(e) => setTarget(e.currentTarget.value === 'auto' ? null : Number(e.currentTarget.value))}
            >
              <option value="auto">the one it looks like</option>
              {Array.from({ length: classes }, (_, k) => <option value={String(k)}>{k}</option>)}
            </select>
          </label>
          <button type="button" class="small" data-testid="restyle-button" disabled={!m || !gray} onClick={() => void writeAsEvery()}>
            Write it as 0…{classes - 1}
          </button>
        </div>
      )}
      {classes > 0 && restyled && (
        <div class="canvas-box">
          <ImageGrid images={restyled.images} count={classes + 1} shape={[1, H, W]} cols={classes + 1} scale={1} testid="restyle-grid" />
          <p class="hint">The drawing read as a {restyled.label}, then its code written as each class.</p>
        </div>
      )}
      <Message text={restyleError} />
      {busy && <ProgressBar done={inp.step} total={INPAINT_DEFAULT_STEPS} label="gradient ascent on log p" />}
      <Message text={message} />
      <div class="meter" aria-live="polite">
        <span class="meter-label">log p(drawing)</span>
        <span data-testid="loglik" class="mono">
          {ll
            ? Number.isFinite(ll.logLikelihood)
              ? `${fmt(ll.logLikelihood, 1)} nats · ${fmt(ll.bitsPerDim, 3)} bits/dim`
              : `${ll.logLikelihood} nats: the model gives this image no finite density`
            : m ? '…' : 'no model'}
        </span>
      </div>
      {ll?.classes && (
        <div class="meter" aria-live="polite" data-testid="class-probabilities">
          <span class="meter-label">what the model thinks it is</span>
          <span class="mono">
            {ll.classes
              .map((p, k) => ({ p, k }))
              .sort((a, b) => b.p - a.p)
              .slice(0, 3)
              .map(({ p, k }) => `${k}: ${(100 * p).toFixed(p > 0.995 || p < 0.005 ? 0 : 1)}%`)
              .join(' · ')}
          </span>
        </div>
      )}
      <Message text={llError} />
      <p class="hint">
        A likelihood says how probable this exact image is under the model, not how digit-like it looks: an empty canvas scores higher than most real digits.
      </p>
    </Panel>
  );
}
