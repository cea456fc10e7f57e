// The flow playground's page: the controls (data, model, training, files) and the views, which draw the Worker's
// latest frame in a requestAnimationFrame loop.
import type { JSX } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { getToyDataset } from '../../../src/toy/getToyDataset.js';
import {
  backend,
  configure,
  drawMs,
  crashed,
  drawn,
  exportModel,
  exportPoints,
  fps,
  importFile,
  latest,
  message,
  pause,
  play,
  reset,
  setHover,
  settings,
  stats,
  step,
  update,
} from './client.js';
import { ACCENT, colorByStart, drawScatter, drawStage, fitCanvas, pathAt, SAMPLE, STRIP, unproject, type Coloring, type View } from './draw.js';
import { drawCurve } from './drawCurve.js';
import { DensityImage } from './DensityImage.js';
import { MIN_DRAWN, PG_DATASETS, type Box, type Frame, type PgDataName } from './protocol.js';
import { CHOICES, MAX_LINK_POINTS } from './url.js';

const DATA_LABELS: Record<PgDataName, string> = {
  moons: 'Two moons', rings: 'Concentric rings', '8gaussians': '8 Gaussians', checkerboard: 'Checkerboard', spiral: 'Two spirals',
  pinwheel: 'Pinwheel', gaussian: 'Correlated Gaussian', drawn: 'Drawn with the mouse',
};

/** The true negative entropies E[log p] of the sets with a known density (docs/toy-data.md, "True negative entropies"). */
const NEG_ENTROPY: Partial<Record<PgDataName, number>> = { '8gaussians': -1.69806, checkerboard: -2.07944, rings: -2.33539, gaussian: -2.32705 };

const fmt = (v: number | null | undefined, digits = 3): string => (v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits).replace('-', '−'));
const int = (v: number): string => Math.round(v).toLocaleString('en-US');

function Select<T extends string | number>(props: { testid: string; label: string; value: T; options: readonly T[]; labels?: (v: T) => string; onChange: (v: T) => void; title?: string }): JSX.Element {
  const { value, options } = props;
  return (
    <label class="pg-field" title={props.title}>
      <span>{props.label}</span>
      <select
        data-testid={props.testid}
        value={String(value)}
        onChange={(e) => {
          const raw = (e.currentTarget as HTMLSelectElement).value;
          const v = options.find((o) => String(o) === raw);
          if (v !== undefined) props.onChange(v);
        }}
      >
        {options.map((o) => (
          <option key={String(o)} value={String(o)}>
            {props.labels ? props.labels(o) : String(o)}
          </option>
        ))}
      </select>
    </label>
  );
}

// ---- controls ----------------------------------------------------------------------------------------------------

function DataControls(): JSX.Element {
  const s = settings.value;
  const toy = s.data === 'drawn' ? null : getToyDataset(s.data);
  const noise = toy?.defaultNoise ?? null;
  return (
    <section class="pg-card">
      <h2>Data</h2>
      <Select testid="pg-dataset" label="data set" value={s.data} options={PG_DATASETS} labels={(v) => DATA_LABELS[v]} onChange={(v) => update({ data: v, noise: null })} />
      {s.data !== 'drawn' && (
        <Select testid="pg-count" label="training points" value={s.count} options={CHOICES.count} labels={int} onChange={(v) => update({ count: v })} />
      )}
      {noise !== null && (
        <label class="pg-field">
          <span>noise σ = {(s.noise ?? noise).toFixed(2)}</span>
          <input
            type="range" min="0" max="0.6" step="0.01" data-testid="pg-noise" value={s.noise ?? noise}
            onChange={(e) => update({ noise: Number((e.currentTarget as HTMLInputElement).value) })}
          />
        </label>
      )}
      <label class="pg-field">
        <span>seed</span>
        <input
          type="number" min="0" step="1" data-testid="pg-seed" value={s.seed}
          onChange={(e) => {
            const v = Number((e.currentTarget as HTMLInputElement).value);
            if (Number.isSafeInteger(v) && v >= 0 && v < 2 ** 31) update({ seed: v });
          }}
        />
      </label>
      {s.data === 'drawn' && <DrawPad />}
      {toy && (
        <p class="pg-note">
          {toy.densityKnown
            ? `Its density is known: true negative entropy E log p = ${fmt(NEG_ENTROPY[s.data] ?? NaN, 4)} nats; the page compares the model with the true mean log p of its held-out points.`
            : 'No closed-form density: no true value to compare with.'}
        </p>
      )}
    </section>
  );
}

/** Draw points with the mouse (data coordinates [−4, 4]²); each stroke adds a little cloud along its way. */
function DrawPad(): JSX.Element {
  const ref = useRef<HTMLCanvasElement>(null);
  const SIZE = 236;
  const box: Box = [-4, -4, 4, 4];
  const view: View = { ox: 0, oy: 0, size: SIZE, box };
  const redraw = (pts: ArrayLike<number>): void => {
    const c = ref.current;
    if (!c) return;
    const ctx = fitCanvas(c, SIZE, SIZE);
    drawScatter(ctx, SIZE, box, pts instanceof Float32Array ? pts : Float32Array.from(pts), null, ACCENT, null);
  };
  useEffect(() => redraw(drawn.value), [drawn.value]);
  const stroke = useRef<{ pts: number[]; last: [number, number] | null; seed: number } | null>(null);
  const add = (e: PointerEvent): void => {
    const st = stroke.current;
    const c = ref.current;
    if (!st || !c) return;
    const r = c.getBoundingClientRect();
    const [x, y] = unproject(view, e.clientX - r.left, e.clientY - r.top);
    if (st.last && Math.hypot(x - st.last[0], y - st.last[1]) < 0.06) return;
    st.last = [x, y];
    // A small cloud: the point and two neighbours (a deterministic jitter, so a stroke is repeatable), on the
    // address's grid of 1/2048 (so a link carries exactly these points), at most MAX_LINK_POINTS in all.
    for (let k = 0; k < 3 && drawn.value.length + st.pts.length < 2 * MAX_LINK_POINTS; k++) {
      st.seed = (Math.imul(st.seed, 1103515245) + 12345) >>> 0;
      const a = (st.seed / 2 ** 32) * 2 * Math.PI;
      const d = k === 0 ? 0 : (0.08 * ((st.seed >>> 8) % 1000)) / 1000;
      st.pts.push(Math.round((x + d * Math.cos(a)) * 2048) / 2048, Math.round((y + d * Math.sin(a)) * 2048) / 2048);
    }
    redraw([...drawn.value, ...st.pts]);
  };
  const end = (): void => {
    const st = stroke.current;
    stroke.current = null;
    if (!st || st.pts.length === 0) return;
    const next = new Float32Array(drawn.value.length + st.pts.length);
    next.set(drawn.value);
    next.set(st.pts, drawn.value.length);
    drawn.value = next;
    configure();
  };
  const n = drawn.value.length / 2;
  return (
    <div class="pg-draw">
      <canvas
        ref={ref}
        data-testid="pg-draw"
        width={SIZE}
        height={SIZE}
        onPointerDown={(e) => {
          (e.currentTarget as HTMLCanvasElement).setPointerCapture(e.pointerId);
          stroke.current = { pts: [], last: null, seed: drawn.value.length + 1 };
          add(e as unknown as PointerEvent);
        }}
        onPointerMove={(e) => add(e as unknown as PointerEvent)}
        onPointerUp={end}
        onPointerCancel={end}
      />
      <div class="pg-row">
        <span class="pg-note" data-testid="pg-drawn-count">
          {n} point{n === 1 ? '' : 's'}{n < MIN_DRAWN ? ` (draw at least ${MIN_DRAWN})` : ''}
        </span>
        <button
          type="button" data-testid="pg-draw-clear" disabled={n === 0}
          onClick={() => {
            drawn.value = new Float32Array(0);
            configure();
          }}
        >
          Clear
        </button>
      </div>
    </div>
  );
}

function ModelControls(): JSX.Element {
  const s = settings.value;
  return (
    <section class="pg-card">
      <h2>Model</h2>
      <div class="pg-grid2">
        <Select testid="pg-couplings" label="couplings" value={s.couplings} options={CHOICES.couplings} onChange={(v) => update({ couplings: v })} />
        <Select testid="pg-law" label="law" value={s.law} options={['additive', 'affine'] as const} onChange={(v) => update({ law: v })} />
        <Select testid="pg-hidden" label="hidden width" value={s.hidden} options={CHOICES.hidden} onChange={(v) => update({ hidden: v })} />
        <Select testid="pg-depth" label="hidden layers" value={s.depth} options={CHOICES.depth} onChange={(v) => update({ depth: v })} />
        <Select testid="pg-prior" label="prior" value={s.prior} options={['gaussian', 'logistic'] as const} onChange={(v) => update({ prior: v })} />
        <Select testid="pg-lr" label="learning rate" value={s.lr} options={CHOICES.lr} onChange={(v) => update({ lr: v })} />
        <Select testid="pg-batch" label="batch size" value={s.batch} options={CHOICES.batch} onChange={(v) => update({ batch: v })} />
      </div>
      <p class="pg-note" data-testid="pg-law-note">
        {s.law === 'additive' ? (
          <>
            <b>Additive</b>: y₂ = x₂ + m(x₁). The Jacobian is triangular with ones on its diagonal, so its determinant is 1:
            a coupling only slides points along the moved axis and never changes an area. Only the final scaling changes
            volume, by the same factor e<sup>Σs</sup> everywhere, so the model&rsquo;s density is the prior&rsquo;s, moved
            around: it cannot squeeze mass into the dense parts of the data.
          </>
        ) : (
          <>
            <b>Affine</b>: y₂ = x₂ · e<sup>ℓ(x₁)</sup> + t(x₁), log|det| = ℓ(x₁) (bounded, ℓ = 2 tanh(a/2)). The scale
            depends on where the point is, so a coupling can stretch one region and compress another: mass concentrates
            where the data are.
          </>
        )}
      </p>
    </section>
  );
}

function TrainControls(): JSX.Element {
  const st = stats.value;
  const running = st?.running ?? false;
  const held = st?.heldOut ?? null;
  const truth = st?.trueLogLik ?? null;
  const gap = held && truth !== null ? truth - held.value : null;
  return (
    <section class="pg-card">
      <h2>Training</h2>
      <div class="pg-buttons">
        <button type="button" class="primary" data-testid="pg-play" disabled={running || !st} onClick={play}>▶ Play</button>
        <button type="button" data-testid="pg-pause" disabled={!running} onClick={pause}>❚❚ Pause</button>
        <button type="button" data-testid="pg-step" disabled={running || !st} onClick={() => step(1)} title="one training step">Step</button>
        <button type="button" data-testid="pg-reset" disabled={!st} onClick={reset} title="new weights from the seed">Reset</button>
      </div>
      <dl class="pg-stats">
        <dt>step</dt>
        <dd data-testid="pg-step-count" data-value={st?.step ?? 0}>{int(st?.step ?? 0)}</dd>
        <dt>steps / s</dt>
        <dd data-testid="pg-steps-per-second" data-value={st ? st.stepsPerSecond.toFixed(1) : ''} data-train-only={st ? st.trainOnlyStepsPerSecond.toFixed(1) : ''} title={st ? `${int(st.trainOnlyStepsPerSecond)} counting only the time in training steps` : ''}>
          {st && running ? int(st.stepsPerSecond) : '—'}
        </dd>
        <dt>views / s</dt>
        <dd
          data-testid="pg-fps" data-value={fps.value} data-draw-ms={drawMs.value.toFixed(2)} data-view-ms={st ? st.viewMs.toFixed(2) : ''} data-train-share={st ? st.trainShare.toFixed(3) : ''}
          title={st ? `drawing a frame takes ${drawMs.value.toFixed(1)} ms on the page and ${st.viewMs.toFixed(1)} ms in the Worker; training steps take ${Math.round(100 * st.trainShare)}% of the Worker's time` : ''}
        >
          {running ? fps.value : '—'}
        </dd>
        <dt title="mean log-likelihood of the held-out points under the model">held-out log p</dt>
        <dd data-testid="pg-loglik" data-value={held ? String(held.value) : ''} data-step={held ? held.step : ''} data-n={held ? held.n : ''} data-model={st?.model ?? ''}>
          {held ? `${fmt(held.value)} nats` : '—'}
        </dd>
        <dt title="mean true log-density of the same points (the negative entropy, up to sampling)">true log p</dt>
        <dd data-testid="pg-true-loglik" data-value={truth === null ? '' : String(truth)}>{truth === null ? 'unknown' : `${fmt(truth)} nats`}</dd>
        <dt>gap</dt>
        <dd data-testid="pg-gap" class={gap !== null && gap < 0.1 ? 'good' : ''}>{gap === null ? '—' : `${fmt(gap)} nats`}</dd>
      </dl>
      <p class="pg-note">
        Held-out: {settings.value.data === 'drawn' ? 'the drawn points themselves (there are no fresh ones)' : `${int(held?.n ?? 10_000)} fresh points`}; batch mean
        log-likelihood {fmt(st?.trainLogLik ?? null)} nats.
      </p>
    </section>
  );
}

function FileControls(): JSX.Element {
  const input = useRef<HTMLInputElement>(null);
  return (
    <section class="pg-card">
      <h2>Files</h2>
      <div class="pg-buttons">
        <button type="button" data-testid="pg-export" onClick={exportModel} title="the library's weight file (safetensors): nice-flow eval, sample, encode read it">Export model</button>
        <button type="button" data-testid="pg-export-points" onClick={exportPoints} title="the held-out points as a float32 .npy [N, 2]">Held-out .npy</button>
        <label class="pg-file">
          Import model
          <input
            ref={input} type="file" accept=".safetensors" data-testid="pg-import"
            onChange={(e) => {
              const f = (e.currentTarget as HTMLInputElement).files?.[0];
              if (f) void importFile(f);
              (e.currentTarget as HTMLInputElement).value = '';
            }}
          />
        </label>
      </div>
      <p class="pg-note">
        <code>nice-flow eval --model FILE.safetensors --data POINTS.npy --split test</code> gives the page&rsquo;s held-out number.
        The address holds the data, model and seed: a link reproduces this page.
      </p>
    </section>
  );
}

// ---- views ---------------------------------------------------------------------------------------------------------

const MAIN = 232;
const LAYER = 104;

function LogDetTable(): JSX.Element {
  const st = stats.value;
  const held = st?.heldOut;
  if (!st || !held) return <div class="pg-card pg-logdet" data-testid="pg-logdet" />;
  const rows = st.layerNames.map((name, k) => ({ name, value: held.logDet[k] ?? NaN }));
  const max = Math.max(0.5, Math.abs(held.prior), ...rows.map((r) => Math.abs(r.value)));
  const bar = (v: number): JSX.Element => (
    <span class="pg-bar">
      <span class={v < 0 ? 'neg' : 'pos'} style={{ width: `${Math.min(50, (50 * Math.abs(v)) / max)}%`, [v < 0 ? 'right' : 'left']: '50%' }} />
    </span>
  );
  return (
    <div class="pg-card pg-logdet" data-testid="pg-logdet">
      <h2>log p(x) = Σ log p<sub>H</sub>(h<sub>d</sub>) + Σ log|det|, averaged over the held-out points</h2>
      <table>
        <tbody>
          <tr>
            <td>Σ<sub>d</sub> log p<sub>H</sub>(h<sub>d</sub>) (prior)</td>
            <td class="num">{fmt(held.prior)}</td>
            <td>{bar(held.prior)}</td>
          </tr>
          {rows.map((r, k) => (
            <tr key={k} data-testid="pg-logdet-row">
              <td>{r.name}</td>
              <td class="num">{fmt(r.value)}</td>
              <td>{bar(r.value)}</td>
            </tr>
          ))}
          <tr class="total">
            <td>= mean log p(x)</td>
            <td class="num">{fmt(held.prior + rows.reduce((a, r) => a + r.value, 0))}</td>
            <td />
          </tr>
        </tbody>
      </table>
    </div>
  );
}

function HoverPanel(): JSX.Element {
  const st = stats.value;
  const h = st?.hover ?? null;
  if (!st || !h) {
    return (
      <div class="pg-card pg-hover" data-testid="pg-hover" data-active="false">
        <h2>A point&rsquo;s way through the flow</h2>
        <p class="pg-note">Hover over the density map or the data: the point is marked in every layer view and its log p(x) is split into the terms of NICE&rsquo;s eq. (2).</p>
      </div>
    );
  }
  const L = h.logDet.length;
  const h0 = [h.path[2 * L], h.path[2 * L + 1]];
  return (
    <div class="pg-card pg-hover" data-testid="pg-hover" data-active="true" data-total={String(h.total)} data-logprob={String(h.logProb)}>
      <h2>
        x = ({fmt(h.path[0], 2)}, {fmt(h.path[1], 2)}) → h = ({fmt(h0[0], 2)}, {fmt(h0[1], 2)})
      </h2>
      <table>
        <tbody>
          <tr>
            <td>log p<sub>H</sub>(h₁) + log p<sub>H</sub>(h₂)</td>
            <td class="num">{fmt(h.prior[0])} {h.prior[1] < 0 ? '−' : '+'} {fmt(Math.abs(h.prior[1]))}</td>
          </tr>
          {st.layerNames.map((name, k) => (
            <tr key={k}>
              <td>+ log|det| of {name}</td>
              <td class="num">{fmt(h.logDet[k])}</td>
            </tr>
          ))}
          <tr class="total">
            <td>= log p(x)</td>
            <td class="num" data-testid="pg-hover-total">{fmt(h.total)}</td>
          </tr>
        </tbody>
      </table>
      <p class="pg-note">The library&rsquo;s model.logProb of the same point: {fmt(h.logProb, 4)}.</p>
    </div>
  );
}

function Views(): JSX.Element {
  const st = stats.value;
  const refs = useRef<{ data: HTMLCanvasElement | null; samples: HTMLCanvasElement | null; density: HTMLCanvasElement | null; curve: HTMLCanvasElement | null; layers: HTMLDivElement | null; inverse: HTMLDivElement | null }>({
    data: null, samples: null, density: null, curve: null, layers: null, inverse: null,
  });
  const views = useRef<{ density: View | null; data: View | null }>({ density: null, data: null });
  /** A redraw is due (a new frame, or the layout changed). */
  const dirty = useRef(true);
  useEffect(() => {
    dirty.current = true;
  }, [st?.stageNames, st?.inverseNames]);
  useEffect(() => {
    let raf = 0;
    let lastSeq = -1;
    let epoch = -1;
    let colors: Coloring | null = null;
    let latentColors: Coloring | null = null;
    let densitySeen: Frame['density'] = null;
    const image = new DensityImage();
    let frames = 0;
    let drawAvg = 0;
    let t0 = performance.now();
    const drawAll = (f: Frame): void => {
      const r = refs.current;
      if (f.epoch !== epoch) {
        epoch = f.epoch;
        colors = f.data.length ? colorByStart(f.data, f.box) : null;
        latentColors = f.inverse.length ? colorByStart(f.inverse[0].points, f.inverse[0].box) : null;
      }
      const hover = f.hover;
      if (r.data) views.current.data = drawScatter(fitCanvas(r.data, MAIN, MAIN), MAIN, f.box, f.data, colors, ACCENT, pathAt(hover, 0));
      if (r.samples) drawScatter(fitCanvas(r.samples, MAIN, MAIN), MAIN, f.box, f.samples, null, SAMPLE, null);
      if (r.density) {
        const d = latest.density;
        if (d && d !== densitySeen) {
          image.update(d.g, d.logp, d.box);
          densitySeen = d;
        }
        views.current.density = image.draw(fitCanvas(r.density, MAIN, MAIN), MAIN, f.data, pathAt(hover, 0));
      }
      if (r.curve) drawCurve(fitCanvas(r.curve, MAIN + 60, MAIN), MAIN + 60, MAIN, f.curve, f.heldOutCurve, f.trueLogLik);
      const L = f.stages.length - 1;
      if (r.layers) {
        const canvases = r.layers.querySelectorAll('canvas');
        let c = 0;
        f.stages.forEach((stage, k) => {
          const canvas = canvases[k];
          if (!canvas) return;
          const ctx = fitCanvas(canvas, LAYER, LAYER + STRIP);
          const layerIsCoupling = k > 0 && f.layerNames[k - 1]?.startsWith('coupling');
          const shift = layerIsCoupling ? f.shifts[c++] : undefined;
          const note = k === 0 ? 'the data' : k === L ? `Σs = ${fmt(f.layerLogDet[k - 1], 2)}\nrings: prior 1, 2, 3σ` : undefined;
          drawStage(ctx, LAYER, stage, {
            colors, before: k > 0 ? f.stages[k - 1].points : undefined, shift, note, priorStd: k === L ? f.priorStd : undefined, hover: pathAt(hover, k),
          });
        });
      }
      if (r.inverse) {
        const canvases = r.inverse.querySelectorAll('canvas');
        f.inverse.forEach((stage, j) => {
          const canvas = canvases[j];
          if (!canvas) return;
          const ctx = fitCanvas(canvas, LAYER, LAYER + STRIP);
          const note = j === 0 ? `${f.prior} draws,\ncolour: position` : j === L ? 'the samples' : undefined;
          drawStage(ctx, LAYER, stage, {
            colors: latentColors, before: j > 0 ? f.inverse[j - 1].points : undefined, note: note ?? 'x₂ from y₂, m(y₁)', priorStd: j === 0 ? f.priorStd : undefined,
          });
        });
      }
    };
    const loop = (): void => {
      raf = requestAnimationFrame(loop);
      const f = latest.frame;
      if (f && (f.seq !== lastSeq || dirty.current)) {
        lastSeq = f.seq;
        dirty.current = false;
        const t = performance.now();
        drawAll(f);
        drawAvg = 0.9 * drawAvg + 0.1 * (performance.now() - t);
        frames++;
      }
      const now = performance.now();
      if (now - t0 >= 1000) {
        fps.value = Math.round((frames * 1000) / (now - t0));
        drawMs.value = drawAvg;
        frames = 0;
        t0 = now;
      }
    };
    raf = requestAnimationFrame(loop);
    return () => cancelAnimationFrame(raf);
  }, []);
  const onHover = (which: 'density' | 'data') => (e: MouseEvent) => {
    const v = views.current[which];
    if (!v) return;
    const rect = (e.currentTarget as HTMLCanvasElement).getBoundingClientRect();
    setHover(unproject(v, e.clientX - rect.left, e.clientY - rect.top));
  };
  const leave = (): void => setHover(null);
  const names = st?.stageNames ?? [];
  const inverseNames = st?.inverseNames ?? [];
  const logDet = st?.layerLogDet ?? [];
  return (
    <section class="pg-views">
      <div class="pg-row-views">
        <figure class="pg-card">
          <figcaption>Data <span class="pg-muted">({int(stats.value?.shown ?? 0)} shown, coloured by start)</span></figcaption>
          <canvas ref={(c) => { refs.current.data = c; }} data-testid="pg-data-view" onMouseMove={onHover('data')} onMouseLeave={leave} />
        </figure>
        <figure class="pg-card">
          <figcaption>Samples <span class="pg-muted">x = f⁻¹(h), h ~ prior</span></figcaption>
          <canvas ref={(c) => { refs.current.samples = c; }} data-testid="pg-samples" />
        </figure>
        <figure class="pg-card">
          <figcaption>Density p(x), exact <span class="pg-muted">(hover a point)</span></figcaption>
          <canvas ref={(c) => { refs.current.density = c; }} data-testid="pg-density" onMouseMove={onHover('density')} onMouseLeave={leave} />
        </figure>
        <figure class="pg-card">
          <figcaption>
            Mean log p <span class="pg-muted"><span class="sw held" />held-out<span class="sw batch" />batch<span class="sw truth" />true</span>
          </figcaption>
          <canvas ref={(c) => { refs.current.curve = c; }} data-testid="pg-curve" />
        </figure>
      </div>
      <div class="pg-card">
        <h2>Layer by layer: data → latent <span class="pg-muted">(each coupling moves one coordinate by m of the other; grey strokes: the moves; strip: m)</span></h2>
        <div class="pg-strip" ref={(d) => { refs.current.layers = d; }} data-testid="pg-layers">
          {names.map((name, k) => (
            <figure key={`${k}-${name}`} class="pg-layer">
              <figcaption title={name}>
                {name.split(' · ')[0]}
                <br />
                <span class="pg-muted">{k > 0 ? `log|det| ${fmt(logDet[k - 1], 2)}` : 'colour: start'}</span>
              </figcaption>
              <canvas data-testid="pg-layer-canvas" />
            </figure>
          ))}
        </div>
      </div>
      <div class="pg-card">
        <h2>The other way: prior → samples <span class="pg-muted">(each layer&rsquo;s inverse, last layer first)</span></h2>
        <div class="pg-strip" ref={(d) => { refs.current.inverse = d; }} data-testid="pg-inverse">
          {inverseNames.map((name, k) => (
            <figure key={`${k}-${name}`} class="pg-layer">
              <figcaption title={name}>{name.replace(/ · moves [xy]/, '')}</figcaption>
              <canvas />
            </figure>
          ))}
        </div>
      </div>
      <div class="pg-row-views">
        <LogDetTable />
        <HoverPanel />
      </div>
    </section>
  );
}

export function App(): JSX.Element {
  const b = backend.value;
  const m = message.value;
  return (
    <div class="app pg-app" data-ready={b ? 'true' : 'false'}>
      <header class="top">
        <div class="brand">
          <h1>
            nice-flow <span>playground</span>
          </h1>
          <p>NICE in two dimensions: watch couplings, alternation and the scaling turn data into a Gaussian, and back</p>
        </div>
        <nav class="pg-nav">
          {b && (
            <span class={`badge ${b.name === 'wasm' ? 'ok' : ''}`} data-testid="pg-backend" title={b.isolated ? 'cross-origin isolated' : 'not cross-origin isolated'}>
              {b.name === 'wasm' ? 'WebAssembly' : 'TypeScript'} backend
            </span>
          )}
          <a href="index.html" data-testid="pg-studio-link">Studio →</a>
        </nav>
      </header>
      {crashed.value && <p class="banner error">{crashed.value}</p>}
      <p class="pg-intro">
        A coupling layer keeps one coordinate and moves the other by a function of it: y₂ = x₂ + m(x₁), so it is
        invertible whatever m is, and its Jacobian determinant is 1. Layers alternate which coordinate moves. A final
        scaling h = e<sup>s</sup> ⊙ z gives the model its volume change Σ s. Then log p(x) = Σ<sub>d</sub> log p<sub>H</sub>(h<sub>d</sub>) + Σ log|det|
        exactly (NICE, eq. 2): every view below is computed, not approximated.
      </p>
      <div class="pg-main">
        <aside class="pg-controls">
          <DataControls />
          <ModelControls />
          <TrainControls />
          <FileControls />
          <p class={`pg-message ${m?.level ?? ''}`} data-testid="pg-message" data-level={m?.level ?? ''} aria-live="polite">
            {m?.text ?? ''}
          </p>
        </aside>
        <Views />
      </div>
      <footer>
        The model is the library&rsquo;s NiceModel with dim 2, trained by its Trainer in a Web Worker. <a href="https://arxiv.org/abs/1410.8516">The NICE paper</a>.
      </footer>
    </div>
  );
}

