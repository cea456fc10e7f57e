// Small building blocks shared by the panels.
import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { cellAt, paintGrid, type GridLayout, type PaintOptions, type Shape } from './images.js';

export function Panel(props: { title: string; subtitle?: string; class?: string; children: ComponentChildren; testid?: string; actions?: ComponentChildren }): JSX.Element {
  return (
    <section class={`panel ${props.class ?? ''}`} data-testid={props.testid}>
      <header class="panel-head">
        <div>
          <h2>{props.title}</h2>
          {props.subtitle && <p class="subtitle">{props.subtitle}</p>}
        </div>
        {props.actions && <div class="panel-actions">{props.actions}</div>}
      </header>
      {props.children}
    </section>
  );
}

/** A one-line message in the page (an error, or a hint); nothing when empty. */
export function Message(props: { text: string | null | undefined; level?: 'error' | 'info' | 'warning'; testid?: string }): JSX.Element | null {
  if (!props.text) return null;
  return (
    <p class={`message ${props.level ?? 'error'}`} role={props.level === 'info' ? 'status' : 'alert'} data-testid={props.testid}>
      {props.text}
    </p>
  );
}

/** A progress bar; `total` null shows an indeterminate one. `onCancel` adds a cancel button. */
export function ProgressBar(props: { done: number; total: number | null; label: string; onCancel?: () => void; testid?: string }): JSX.Element {
  const pct = props.total ? Math.min(100, (100 * props.done) / props.total) : null;
  return (
    <div class="progress" data-testid={props.testid}>
      <div class={`bar ${pct === null ? 'indeterminate' : ''}`}>
        <div class="fill" style={{ width: pct === null ? '30%' : `${pct}%` }} />
      </div>
      <span class="progress-label">{props.label}{pct !== null ? ` · ${Math.floor(pct)}%` : ''}</span>
      {props.onCancel && (
        <button class="small ghost" type="button" onClick={props.onCancel} data-testid={props.testid ? `${props.testid}-cancel` : undefined}>
          Cancel
        </button>
      )}
    </div>
  );
}

/** Images in a grid on a canvas, scaled up `scale`× with crisp pixels; `onPick` hears clicks on a cell. */
export function ImageGrid(props: {
  images: Float32Array | null;
  count: number;
  shape: Shape;
  cols: number;
  scale: number;
  testid?: string;
  pad?: number;
  highlight?: number | null;
  tint?: Uint8Array | null;
  onPick?: (index: number) => void;
  title?: string;
  class?: string;
}): JSX.Element {
  const ref = useRef<HTMLCanvasElement>(null);
  const layout = useRef<GridLayout | null>(null);
  const pad = props.pad ?? 1;
  const empty = !props.images;
  useEffect(() => {
    const canvas = ref.current;
    if (!canvas) return;
    if (!props.images) {
      // Nothing yet: an empty canvas of the grid's size (the CSS shows a placeholder).
      canvas.getContext('2d')?.clearRect(0, 0, canvas.width, canvas.height);
      layout.current = null;
      return;
    }
    layout.current = paintGrid(canvas, props.images, props.count, props.shape, props.cols, { pad, highlight: props.highlight, tint: props.tint } satisfies PaintOptions);
  }, [props.images, props.count, props.shape[0], props.shape[1], props.shape[2], props.cols, props.highlight, props.tint, pad]);
  const cols = Math.max(1, Math.min(props.cols, props.count));
  const rows = Math.ceil(props.count / cols);
  const width = (cols * (props.shape[2] + pad) + pad) * props.scale;
  const height = (rows * (props.shape[1] + pad) + pad) * props.scale;
  return (
    <canvas
      ref={ref}
      class={`pixels ${empty ? 'empty' : ''} ${props.onPick ? 'pickable' : ''} ${props.class ?? ''}`}
      style={{ width: `${width}px`, maxWidth: '100%', aspectRatio: `${width} / ${height}`, height: 'auto' }}
      data-testid={props.testid}
      data-filled={empty ? 'false' : 'true'}
      title={props.title}
      onClick={(e) => {
        if (!props.onPick || !ref.current || !layout.current || empty) return;
        const k = cellAt(ref.current, layout.current, props.count, e);
        if (k !== null) props.onPick(k);
      }}
    />
  );
}

/** A uPlot chart that follows its container's width; `data` changes are drawn with setData. */
export function Chart(props: { options: Omit<uPlot.Options, 'width'>; data: uPlot.AlignedData; testid?: string }): JSX.Element {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    const el = box.current!;
    const u = new uPlot({ ...props.options, width: Math.max(200, el.clientWidth) } as uPlot.Options, props.data, el);
    plot.current = u;
    const ro = new ResizeObserver(() => {
      const w = Math.max(200, el.clientWidth);
      if (Math.abs(w - u.width) > 1) u.setSize({ width: w, height: props.options.height });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [props.options]);
  useEffect(() => {
    plot.current?.setData(props.data);
  }, [props.data]);
  return <div class="chart" ref={box} data-testid={props.testid} />;
}

export const fmt = (v: number | null | undefined, digits = 1): string =>
  v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
