// Sample: a grid of x = f⁻¹(T·h), h ~ prior, with a temperature and a seed; click one to send it to the editors.
import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { client, isCancel, messageOf, model, modelVersion, sendToEditor } from '../store.js';
import { readUrlState, writeUrlState } from '../urlState.js';
import { Message, Panel, ImageGrid } from './common.js';

const COUNT = 64;
const COLUMNS = 8;

/** The link's seed, temperature and class, read once when the page opens. */
const linked = readUrlState();

export function SamplePanel(): JSX.Element {
  const [temperature, setTemperature] = useState(linked.t ?? 0.8);
  /** A class-conditional model's class to draw; null: one row per class. */
  const [label, setLabel] = useState<number | null>(linked.label ?? null);
  const [seed, setSeed] = useState(linked.seed ?? 1);
  const [seedText, setSeedText] = useState(String(linked.seed ?? 1));
  const [images, setImages] = useState<Float32Array | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [warning, setWarning] = useState<string | null>(null);
  const [picked, setPicked] = useState<number | null>(null);
  const [ms, setMs] = useState<number | null>(null);
  const m = model.value;
  const latest = useRef(0);

  const classes = m?.config.classes ?? 0;
  // A class-conditional model without a chosen class: one row of COLUMNS samples per class.
  const count = classes && label === null ? COLUMNS * classes : COUNT;

  const sample = async (t = temperature, s = seed, l = label): Promise<void> => {
    if (!model.value) return;
    const K = model.value.config.classes ?? 0;
    const n = K && l === null ? COLUMNS * K : COUNT;
    const ticket = ++latest.current;
    setBusy(true);
    setError(null);
    writeUrlState({ seed: s, t, label: K && l !== null ? l : undefined });
    const t0 = performance.now();
    try {
      const r = await client.run('sample', { n, temperature: t, seed: s, ...(K && l !== null ? { label: l } : {}) });
      if (ticket !== latest.current) return;
      setImages(r.images);
      setWarning(r.warning ?? null);
      setPicked(null);
      setMs(performance.now() - t0);
      document.body.dataset.samples = String(ticket);
    } catch (e) {
      if (ticket === latest.current && !isCancel(e)) setError(messageOf(e));
    } finally {
      if (ticket === latest.current) setBusy(false);
    }
  };

  // A new model (or a new epoch of the one being trained) gets a fresh grid at once, of every class for a new
  // class-conditional model.
  useEffect(() => {
    if (m) {
      const l = label !== null && label < (m.config.classes ?? 0) ? label : null;
      setLabel(l);
      void sample(temperature, seed, l);
    } else setImages(null);
  }, [modelVersion.value]);

  const shape = m?.shape ?? [1, 28, 28];
  return (
    <Panel title="Sample" subtitle="x = f⁻¹(T·h) with h drawn from the prior">
      <div class="controls">
        <label class="slider">
          <span>Temperature <strong class="mono">{temperature.toFixed(2)}</strong></span>
          <input
            type="range" min="0" max="1.5" step="0.05" value={temperature} data-testid="temperature"
            onInput={(e) => setTemperature(Number(e.currentTarget.value))}
            onChange={(e) => void sample(Number(e.currentTarget.value), seed)}
          />
        </label>
        <label class="inline">
          Seed
          <input
            type="number" min="0" step="1" value={seedText} class="num" data-testid="sample-seed"
            onInput={(e) => setSeedText(e.currentTarget.value)}
            onChange={(e) => {
              const text = e.currentTarget.value;
              const v = Number(text);
              if (text.trim() === '' || !Number.isSafeInteger(v) || v < 0) {
                setError(`the seed must be a whole number ≥ 0, got "${text}"`);
                return;
              }
              setSeed(v);
              void sample(temperature, v);
            }}
          />
        </label>
        {classes > 0 && (
          <label class="inline">
            Class
            <select
              data-testid="sample-label" value={label === null ? 'all' : String(label)}
              onChange={(e) => {
                const v = e.currentTarget.value === 'all' ? null : Number(e.currentTarget.value);
                setLabel(v);
                void sample(temperature, seed, v);
              }}
            >
              <option value="all">every class (a row each)</option>
              {Array.from({ length: classes }, (_, k) => <option value={String(k)}>{k}</option>)}
            </select>
          </label>
        )}
        <button
          type="button" class="primary" data-testid="sample-button" disabled={busy || !m}
          onClick={() => {
            const s = seed + 1;
            setSeed(s);
            setSeedText(String(s));
            void sample(temperature, s);
          }}
        >
          {busy ? 'Sampling…' : 'New samples'}
        </button>
      </div>
      <Message text={error} />
      <Message text={warning} level="warning" />
      <div class="canvas-box">
        <ImageGrid
          images={images} count={images && m ? Math.min(count, images.length / m.dim) : count} shape={shape} cols={COLUMNS} scale={2} testid="sample-grid" highlight={picked}
          title="click a sample to send it to the editors"
          onPick={(k) => {
            if (!images || !m) return;
            setPicked(k);
            sendToEditor(images.slice(k * m.dim, (k + 1) * m.dim), `sample ${k + 1} (T ${temperature.toFixed(2)}, seed ${seed})`);
          }}
        />
      </div>
      <p class="hint">
        {m ? <>Click a sample to send it to <em>Draw &amp; complete</em> and <em>Edit latents</em>. T = 0 decodes the prior's mode.{ms !== null && <> Last grid: {Math.round(ms)} ms.</>}</> : 'Load or train a model to sample from it.'}
      </p>
    </Panel>
  );
}
