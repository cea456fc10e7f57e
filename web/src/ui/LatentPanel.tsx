// Edit latents: h = f(x) of the editor's image, sliders for the latent dimensions with the largest scale exp(−s)
// (the paper's spectrum, charted), and x = f⁻¹(h) decoded again as a slider moves.
import type { JSX } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type uPlot from 'uplot';
import { client, editorImage, isCancel, messageOf, model, modelVersion } from '../store.js';
import { Chart, ImageGrid, Message, Panel, fmt } from './common.js';

export function LatentPanel(): JSX.Element {
  const m = model.value;
  const [code, setCode] = useState<Float32Array | null>(null);
  const [base, setBase] = useState<Float32Array | null>(null);
  const [image, setImage] = useState<Float32Array | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [, rerender] = useState(0);
  const edited = useRef<Float32Array | null>(null);
  const flight = useRef({ busy: false, again: false });
  const sent = editorImage.value;
  /** A class-conditional model's class to decode as (the encoded image's likeliest at first); a ref for decode. */
  const [label, setLabelState] = useState(0);
  const labelRef = useRef(0);
  const setLabel = (k: number): void => {
    labelRef.current = k;
    setLabelState(k);
  };
  const classes = m?.config.classes ?? 0;

  const decode = (): void => {
    const f = flight.current;
    if (!edited.current) return;
    if (f.busy) {
      f.again = true;
      return;
    }
    f.busy = true;
    client
      .run('decode', { code: edited.current.slice(), ...(model.value?.config.classes ? { label: labelRef.current } : {}) })
      .then((r) => {
        setImage(r.image);
        setError(r.warning ?? null);
        document.body.dataset.latentDecodes = String(Number(document.body.dataset.latentDecodes ?? 0) + 1);
      })
      .catch((e) => {
        if (!isCancel(e)) setError(messageOf(e));
      })
      .finally(() => {
        f.busy = false;
        if (f.again) {
          f.again = false;
          decode();
        }
      });
  };

  const encode = async (img: Float32Array): Promise<void> => {
    try {
      const r = await client.run('encode', { image: img });
      if (r.label !== undefined) setLabel(r.label);
      setBase(img);
      setCode(r.code);
      edited.current = r.code.slice();
      setImage(null);
      decode();
    } catch (e) {
      setError(messageOf(e));
    }
  };

  useEffect(() => {
    if (!m) {
      setCode(null);
      return;
    }
    if (sent && sent.image.length === m.dim) void encode(sent.image);
    else if (base && base.length === m.dim) void encode(base);
    else {
      // Nothing sent yet: start from the prior's mode, x = f⁻¹(0).
      const zero = new Float32Array(m.dim);
      if (labelRef.current >= (m.config.classes ?? 0)) setLabel(0);
      setCode(zero);
      edited.current = zero.slice();
      setBase(null);
      decode();
    }
  }, [sent?.version, modelVersion.value]);

  const spectrum = m?.spectrum;
  const chartData = useMemo<uPlot.AlignedData>(() => {
    if (!spectrum) return [[], [], []];
    const xs = spectrum.map((_, i) => i + 1);
    return [xs, spectrum, spectrum.map((v, i) => (i < (m?.topDims.length ?? 0) ? v : null))];
  }, [spectrum]);
  const chartOptions = useMemo<Omit<uPlot.Options, 'width'>>(() => ({
    height: 150,
    legend: { show: false },
    cursor: { show: false },
    scales: { x: { time: false }, y: { distr: 3 } },
    axes: [
      { label: 'latent dimension, by scale', labelSize: 18, size: 32, font: '11px system-ui', labelFont: '11px system-ui', stroke: '#64748b' },
      { label: 'exp(−s)', labelSize: 18, size: 48, font: '11px system-ui', labelFont: '11px system-ui', stroke: '#64748b' },
    ],
    series: [{}, { stroke: '#4f46e5', width: 1.5, points: { show: false } }, { stroke: 'transparent', points: { show: true, size: 6, fill: '#f97316', stroke: '#f97316' } }],
  }), []);

  const dims = m?.topDims ?? [];
  const range = m?.latentRange ?? 5;
  const shape = m?.shape ?? [1, 28, 28];
  return (
    <Panel title="Edit latents" subtitle={m && m.spectrum.length === 0 ? 'Move latents of the deepest level and decode' : 'Move the latent dimensions the model scales the most'}>
      <div class="latent">
        <div class="latent-images">
          <figure>
            <ImageGrid images={base} count={1} shape={shape} cols={1} scale={3} pad={0} />
            <figcaption>{base ? (sent?.label ?? 'image') : 'prior mode'}</figcaption>
          </figure>
          <figure>
            <ImageGrid images={image} count={1} shape={shape} cols={1} scale={5} pad={0} testid="latent-image" />
            <figcaption>decoded</figcaption>
          </figure>
        </div>
        <div class="sliders">
          {dims.map((d, k) => {
            const v = edited.current?.[d] ?? 0;
            const lim = Math.max(range, Math.ceil(Math.abs(code?.[d] ?? 0)));
            return (
              <label key={d} class="latent-slider">
                <span class="mono dim">h[{d}]</span>
                <input
                  type="range" min={-lim} max={lim} step="0.05" value={v} disabled={!m || !code} data-testid={`latent-slider-${k}`}
                  title={m?.spectrum.length ? `scale exp(−s) = ${fmt(m.spectrum[k], 3)}` : `latent ${d} of the deepest level`}
                  onInput={(e) => {
                    if (!edited.current) return;
                    edited.current[d] = Number(e.currentTarget.value);
                    rerender((n) => n + 1);
                    decode();
                  }}
                />
                <span class="mono val">{(Math.abs(v) < 0.005 ? 0 : v).toFixed(2)}</span>
              </label>
            );
          })}
          {classes > 0 && (
            <label class="inline">
              Decode as class
              <select
                data-testid="latent-label" value={String(label)}
                title="a class-conditional model: the same latent code decoded under another class keeps the style and changes the class"
                onChange={(e) => {
                  setLabel(Number(e.currentTarget.value));
                  decode();
                }}
              >
                {Array.from({ length: classes }, (_, k) => <option key={k} value={String(k)}>{k}</option>)}
              </select>
            </label>
          )}
          <div class="row">
            <button type="button" class="small" disabled={!code} data-testid="latent-reset" onClick={() => {
              if (!code) return;
              edited.current = code.slice();
              rerender((n) => n + 1);
              decode();
            }}>Reset</button>
            <span class="hint">
              {m?.spectrum.length
                ? `Scales exp(−s): the largest ${dims.length} of ${m.dim} are marked on the spectrum.`
                : `This flow ends without a scaling per latent: the sliders move the first ${dims.length} latents of its deepest level.`}
            </span>
          </div>
        </div>
      </div>
      <Message text={error} />
      {m && m.spectrum.length > 0 && <Chart options={chartOptions} data={chartData} testid="spectrum-chart" />}
    </Panel>
  );
}
