// Interpolate: decode points on the straight line between the latent codes of two images (test digits, samples or
// drawings): a strip, and a slider through the line.
import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { client, datasetFor, editorImage, isCancel, manifest, messageOf, model, modelVersion, noDatasetMessage } from '../store.js';
import { readUrlState, writeUrlState } from '../urlState.js';
import { ImageGrid, Message, Panel } from './common.js';

/** The link's test images, read once when the page opens. */
const linked = readUrlState();

/** Points decoded on the line: the slider steps through all of them, the strip shows every STRIDE-th. */
const POINTS = 41;
const STRIDE = 5;

interface End {
  image: Float32Array;
  label: string;
}

export function InterpolatePanel(): JSX.Element {
  const m = model.value;
  const [a, setA] = useState<End | null>(null);
  const [b, setB] = useState<End | null>(null);
  const [line, setLine] = useState<Float32Array | null>(null);
  const [t, setT] = useState(20);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // The test image numbers as typed (kept on every keystroke, so a re-render never undoes typing); read when used.
  const [index, setIndex] = useState({ a: String(linked.a ?? 0), b: String(linked.b ?? 1) });
  const indexRef = useRef(index);
  const testIndex = (which: 'a' | 'b'): number => {
    const text = indexRef.current[which];
    const v = Number(text);
    if (text.trim() === '' || !Number.isSafeInteger(v) || v < 0 || v > 9999) throw new Error(`a test image is a number from 0 to 9999, got "${text}"`);
    return v;
  };

  // A new model (or a new epoch of the run) decodes the line again, at once.
  useEffect(() => {
    setLine(null);
    const keepA = m && a && a.image.length === m.dim;
    const keepB = m && b && b.image.length === m.dim;
    if (!keepA) setA(null);
    if (!keepB) setB(null);
    if (m && (keepA || datasetFor(m)) && (keepB || datasetFor(m))) void run(keepA ? a : null, keepB ? b : null);
  }, [modelVersion.value]);

  const testImage = async (end: 'a' | 'b', i: number): Promise<End> => {
    if (!manifest.value.datasets.length) throw new Error('this host offers no data set to take test images from');
    const ds = datasetFor(m);
    if (!ds) throw new Error(m ? noDatasetMessage(m) : 'no model yet');
    writeUrlState({ [end]: i });
    const r = await client.run('test-images', { dataset: ds.name, indices: [i] });
    if (m && r.images.length !== m.dim) throw new Error(`${ds.label} images are ${r.shape.join('×')}, the model's ${m.shape.join('×')}`);
    return { image: r.images, label: `test ${i}` };
  };

  const set = async (which: 'a' | 'b', how: 'test' | 'editor'): Promise<void> => {
    setError(null);
    try {
      let end: End;
      if (how === 'test') end = await testImage(which, testIndex(which));
      else {
        const e = editorImage.value;
        if (!e) throw new Error('nothing sent to the editor yet: click a sample, or use “To latents” under the drawing');
        end = { image: e.image, label: e.label };
      }
      (which === 'a' ? setA : setB)(end);
      setLine(null);
    } catch (e) {
      setError(messageOf(e));
    }
  };

  // The newest decode wins: an older one (a model change, a click before) that finishes later is dropped.
  const ticket = useRef(0);
  const run = async (fromA = a, fromB = b): Promise<void> => {
    const mine = ++ticket.current;
    setError(null);
    setBusy(true);
    try {
      const ea = fromA ?? (await testImage('a', testIndex('a')));
      const eb = fromB ?? (await testImage('b', testIndex('b')));
      if (mine !== ticket.current) return;
      if (!fromA) setA(ea);
      if (!fromB) setB(eb);
      const r = await client.run('interpolate', { a: ea.image, b: eb.image, steps: POINTS });
      if (mine !== ticket.current) return;
      setLine(r.images);
      if (r.warning) setError(r.warning);
    } catch (e) {
      if (mine === ticket.current && !isCancel(e)) setError(messageOf(e));
    } finally {
      if (mine === ticket.current) setBusy(false);
    }
  };

  const D = m?.dim ?? 1;
  const shape = m?.shape ?? [1, 28, 28];
  const strip = line ? (() => {
    const out = new Float32Array(((POINTS - 1) / STRIDE + 1) * D);
    for (let k = 0; k * STRIDE < POINTS; k++) out.set(line.subarray(k * STRIDE * D, (k * STRIDE + 1) * D), k * D);
    return out;
  })() : null;
  const at = line ? line.slice(t * D, (t + 1) * D) : null;

  const endControls = (which: 'a' | 'b', end: End | null): JSX.Element => (
    <div class="end">
      <ImageGrid images={end?.image ?? null} count={1} shape={shape} cols={1} scale={2} pad={0} />
      <div class="end-controls">
        <strong>{which.toUpperCase()}</strong> <span class="hint">{end?.label ?? '–'}</span>
        <div class="row">
          <input
            type="number" min="0" max="9999" class="num" value={index[which]} aria-label={`test image for ${which}`} data-testid={`interp-${which}-index`}
            onInput={(e) => {
              indexRef.current = { ...indexRef.current, [which]: e.currentTarget.value };
              setIndex(indexRef.current);
            }}
          />
          <button type="button" class="small" disabled={!m} onClick={() => void set(which, 'test')} data-testid={`interp-${which}-test`}>Test image</button>
          <button type="button" class="small" disabled={!m} onClick={() => void set(which, 'editor')} data-testid={`interp-${which}-editor`} title="the last sample clicked, or the drawing sent with “To latents”">Editor image</button>
        </div>
      </div>
    </div>
  );

  return (
    <Panel title="Interpolate" subtitle="x(t) = f⁻¹((1 − t)·f(A) + t·f(B))">
      <div class="ends">
        {endControls('a', a)}
        {endControls('b', b)}
      </div>
      <div class="controls">
        <button type="button" class="primary" data-testid="interpolate-button" disabled={busy || !m} onClick={() => void run()}>
          {busy ? 'Decoding…' : 'Interpolate'}
        </button>
      </div>
      <Message text={error} />
      <div class="canvas-box">
        <ImageGrid images={strip} count={(POINTS - 1) / STRIDE + 1} shape={shape} cols={9} scale={2} testid="interpolate-strip" />
      </div>
      <div class="scrub">
        <ImageGrid images={at} count={1} shape={shape} cols={1} scale={3} pad={0} testid="interpolate-point" />
        <label class="slider grow">
          <span>t = <strong class="mono">{(t / (POINTS - 1)).toFixed(3)}</strong></span>
          <input type="range" min="0" max={POINTS - 1} step="1" value={t} disabled={!line} data-testid="interpolate-t" onInput={(e) => setT(Number(e.currentTarget.value))} />
        </label>
      </div>
    </Panel>
  );
}
