// Canvas drawing for the playground's views (the density image: DensityImage.ts; the curve: drawCurve.ts).
// Everything here draws from a frame the Worker sent; nothing allocates
// per frame beyond small temporaries: the density image and its colour table are made once, and the points' colours
// are grouped into a few buckets (one fillStyle each) when the data change.
import { GRID_LINES, GRID_PER_LINE, type Box, type HoverView, type ShiftView, type StageView } from './protocol.js';

export const INK = '#0f172a';
export const MUTED = '#64748b';
export const ACCENT = '#4f46e5';
export const SAMPLE = '#ea580c';
const GRID = 'rgba(100, 116, 139, 0.35)';

/** Canvas size in CSS pixels, and its backing store at the device's pixel ratio. */
export function fitCanvas(canvas: HTMLCanvasElement, w: number, h: number): CanvasRenderingContext2D {
  const dpr = Math.min(2, window.devicePixelRatio || 1);
  const W = Math.round(w * dpr);
  const H = Math.round(h * dpr);
  if (canvas.width !== W || canvas.height !== H) {
    canvas.width = W;
    canvas.height = H;
    canvas.style.width = `${w}px`;
    canvas.style.height = `${h}px`;
  }
  const ctx = canvas.getContext('2d')!;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

/** Maps a box onto a square of side `size` at (ox, oy): data y up. */
export interface View {
  ox: number;
  oy: number;
  size: number;
  box: Box;
}
export const px = (v: View, x: number): number => v.ox + ((x - v.box[0]) / (v.box[2] - v.box[0])) * v.size;
export const py = (v: View, y: number): number => v.oy + ((v.box[3] - y) / (v.box[3] - v.box[1])) * v.size;
/** The data point under a canvas position. */
export const unproject = (v: View, cx: number, cy: number): [number, number] => [
  v.box[0] + ((cx - v.ox) / v.size) * (v.box[2] - v.box[0]),
  v.box[3] - ((cy - v.oy) / v.size) * (v.box[3] - v.box[1]),
];

// ---- colours by starting position -----------------------------------------------------------------------------

const HUES = 12;
/** Colour groups of the shown points: `order` lists point indices bucket by bucket, `starts[b]` where bucket b begins. */
export interface Coloring {
  order: Int32Array;
  starts: Int32Array;
  styles: string[];
}

/** Colours each point by where it starts: hue by its angle around the box's centre, lighter far out. */
export function colorByStart(points: Float32Array, box: Box): Coloring {
  const n = points.length >> 1;
  const cx = (box[0] + box[2]) / 2;
  const cy = (box[1] + box[3]) / 2;
  const half = (box[2] - box[0]) / 2;
  const bucket = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const dx = points[2 * i] - cx;
    const dy = points[2 * i + 1] - cy;
    const h = Math.floor(((Math.atan2(dy, dx) / (2 * Math.PI) + 1) % 1) * HUES) % HUES;
    const far = Math.hypot(dx, dy) > 0.45 * half ? 1 : 0;
    bucket[i] = h * 2 + far;
  }
  const B = HUES * 2;
  const counts = new Int32Array(B + 1);
  for (let i = 0; i < n; i++) counts[bucket[i] + 1]++;
  for (let b = 0; b < B; b++) counts[b + 1] += counts[b];
  const starts = counts.slice();
  const fill = counts.slice();
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[fill[bucket[i]]++] = i;
  const styles: string[] = [];
  for (let b = 0; b < B; b++) styles.push(`hsl(${Math.round(((b >> 1) * 360) / HUES)}, 75%, ${b & 1 ? 58 : 40}%)`);
  return { order, starts, styles };
}

// ---- scatter panels ---------------------------------------------------------------------------------------------

function frameBox(ctx: CanvasRenderingContext2D, v: View): void {
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(v.ox, v.oy, v.size, v.size);
  ctx.strokeStyle = '#e2e8f0';
  ctx.lineWidth = 1;
  ctx.strokeRect(v.ox + 0.5, v.oy + 0.5, v.size - 1, v.size - 1);
  // Axes through the origin where it is in view.
  ctx.strokeStyle = 'rgba(15, 23, 42, 0.12)';
  ctx.beginPath();
  if (v.box[0] < 0 && v.box[2] > 0) {
    ctx.moveTo(px(v, 0), v.oy);
    ctx.lineTo(px(v, 0), v.oy + v.size);
  }
  if (v.box[1] < 0 && v.box[3] > 0) {
    ctx.moveTo(v.ox, py(v, 0));
    ctx.lineTo(v.ox + v.size, py(v, 0));
  }
  ctx.stroke();
}

function drawGrid(ctx: CanvasRenderingContext2D, v: View, grid: Float32Array, lines: number, perLine: number): void {
  if (!grid.length) return;
  ctx.strokeStyle = GRID;
  ctx.lineWidth = 0.8;
  ctx.beginPath();
  for (let l = 0; l < lines; l++) {
    for (let j = 0; j < perLine; j++) {
      const i = (l * perLine + j) * 2;
      const x = px(v, grid[i]);
      const y = py(v, grid[i + 1]);
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
      if (j === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    }
  }
  ctx.stroke();
}

function drawColored(ctx: CanvasRenderingContext2D, v: View, points: Float32Array, colors: Coloring | null, fallback: string, r: number): void {
  const n = points.length >> 1;
  const d = 2 * r;
  if (!colors || colors.order.length !== n) {
    ctx.fillStyle = fallback;
    for (let i = 0; i < n; i++) ctx.fillRect(px(v, points[2 * i]) - r, py(v, points[2 * i + 1]) - r, d, d);
    return;
  }
  for (let b = 0; b < colors.styles.length; b++) {
    const s = colors.starts[b];
    const e = colors.starts[b + 1];
    if (s === e) continue;
    ctx.fillStyle = colors.styles[b];
    for (let k = s; k < e; k++) {
      const i = colors.order[k];
      ctx.fillRect(px(v, points[2 * i]) - r, py(v, points[2 * i + 1]) - r, d, d);
    }
  }
}

/** Prior contours: circles at 1, 2 and 3 standard deviations (Gaussian), or the logistic's level sets at the same log p drops. */
function drawPrior(ctx: CanvasRenderingContext2D, v: View, std: number): void {
  ctx.strokeStyle = 'rgba(79, 70, 229, 0.45)';
  ctx.setLineDash([4, 3]);
  ctx.lineWidth = 1;
  for (const k of [1, 2, 3]) {
    const r = (k * std * v.size) / (v.box[2] - v.box[0]);
    ctx.beginPath();
    ctx.arc(px(v, 0), py(v, 0), r, 0, 2 * Math.PI);
    ctx.stroke();
  }
  ctx.setLineDash([]);
}

export function marker(ctx: CanvasRenderingContext2D, x: number, y: number): void {
  ctx.lineWidth = 2.5;
  ctx.strokeStyle = '#ffffff';
  ctx.beginPath();
  ctx.arc(x, y, 6, 0, 2 * Math.PI);
  ctx.stroke();
  ctx.lineWidth = 1.5;
  ctx.strokeStyle = INK;
  ctx.stroke();
}

export interface StageOptions {
  colors: Coloring | null;
  /** The points before this layer (drawn as short moves to their new place). */
  before?: Float32Array;
  shift?: ShiftView;
  /** The latent panel: prior contours at these standard deviations. */
  priorStd?: number;
  /** The hovered point's position at this stage. */
  hover?: [number, number] | null;
  /** Text for the strip under the plot (stages without an m(x₁) curve). */
  note?: string;
  fallback?: string;
}

/** Height of the strip under each layer plot (m(x₁), or a note). */
export const STRIP = 44;

/** One layer view: the plane after this stage, its grid and points, the moves, and m(x₁) in the strip below. */
export function drawStage(ctx: CanvasRenderingContext2D, size: number, stage: StageView, o: StageOptions): View {
  ctx.clearRect(0, 0, size, size + STRIP);
  const v: View = { ox: 0, oy: 0, size, box: stage.box };
  frameBox(ctx, v);
  ctx.save();
  ctx.beginPath();
  ctx.rect(0, 0, size, size);
  ctx.clip();
  if (o.priorStd) drawPrior(ctx, v, o.priorStd);
  drawGrid(ctx, v, stage.grid, GRID_LINES * 2, GRID_PER_LINE);
  if (o.before && o.before.length === stage.points.length) {
    // Every fourth point's move: all along the moved coordinate for a coupling.
    ctx.strokeStyle = 'rgba(15, 23, 42, 0.28)';
    ctx.lineWidth = 0.8;
    ctx.beginPath();
    for (let i = 0; i < stage.points.length; i += 8) {
      ctx.moveTo(px(v, o.before[i]), py(v, o.before[i + 1]));
      ctx.lineTo(px(v, stage.points[i]), py(v, stage.points[i + 1]));
    }
    ctx.stroke();
  }
  drawColored(ctx, v, stage.points, o.colors, o.fallback ?? ACCENT, 1.3);
  if (o.hover) marker(ctx, px(v, o.hover[0]), py(v, o.hover[1]));
  ctx.restore();
  // The strip.
  const top = size + 2;
  const h = STRIP - 4;
  ctx.fillStyle = '#f8fafc';
  ctx.fillRect(0, top, size, h);
  if (o.shift) drawShift(ctx, o.shift, 0, top, size, h);
  else if (o.note) {
    ctx.fillStyle = MUTED;
    ctx.font = '11px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    const lines = o.note.split('\n');
    lines.forEach((line, i) => ctx.fillText(line, 4, top + h / 2 + (i - (lines.length - 1) / 2) * 13, size - 8));
  }
  return v;
}

/** m(x₁) against the kept coordinate: the shift t (accent) and, for affine couplings, the log-scale ℓ (orange, dashed). */
function drawShift(ctx: CanvasRenderingContext2D, s: ShiftView, x0: number, y0: number, w: number, h: number): void {
  const n = s.at.length;
  let lo = 0;
  let hi = 0;
  let anyScale = false;
  for (let i = 0; i < n; i++) {
    lo = Math.min(lo, s.shift[i], s.logScale[i]);
    hi = Math.max(hi, s.shift[i], s.logScale[i]);
    if (s.logScale[i] !== 0) anyScale = true;
  }
  const pad = (hi - lo) * 0.1 + 1e-6;
  lo -= pad;
  hi += pad;
  const X = (i: number): number => x0 + 4 + ((w - 8) * i) / (n - 1);
  const Y = (v: number): number => y0 + h - 3 - ((v - lo) / (hi - lo)) * (h - 6);
  ctx.strokeStyle = 'rgba(15, 23, 42, 0.2)';
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(x0, Y(0));
  ctx.lineTo(x0 + w, Y(0));
  ctx.stroke();
  const curve = (values: Float32Array, color: string, dash: number[]): void => {
    ctx.strokeStyle = color;
    ctx.setLineDash(dash);
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    for (let i = 0; i < n; i++) {
      if (i === 0) ctx.moveTo(X(i), Y(values[i]));
      else ctx.lineTo(X(i), Y(values[i]));
    }
    ctx.stroke();
    ctx.setLineDash([]);
  };
  if (anyScale) curve(s.logScale, SAMPLE, [3, 2]);
  curve(s.shift, ACCENT, []);
  const k = s.kept === 0 ? 'x' : 'y';
  ctx.font = '10px system-ui, sans-serif';
  ctx.textBaseline = 'top';
  ctx.fillStyle = ACCENT;
  ctx.fillText(`t(${k})`, x0 + 4, y0 + 2);
  if (anyScale) {
    ctx.fillStyle = SAMPLE;
    ctx.fillText(`ℓ(${k})`, x0 + 30, y0 + 2);
  }
  ctx.fillStyle = MUTED;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'bottom';
  ctx.fillText(`moves ${s.kept === 0 ? 'y' : 'x'}`, x0 + w - 4, y0 + h - 1);
  ctx.textAlign = 'left';
}

/** Data (colour by start) or samples in a square panel. */
export function drawScatter(ctx: CanvasRenderingContext2D, size: number, box: Box, points: Float32Array, colors: Coloring | null, fallback: string, hover: [number, number] | null): View {
  ctx.clearRect(0, 0, size, size);
  const v: View = { ox: 0, oy: 0, size, box };
  frameBox(ctx, v);
  ctx.save();
  ctx.beginPath();
  ctx.rect(0, 0, size, size);
  ctx.clip();
  drawColored(ctx, v, points, colors, fallback, 1.4);
  if (hover) marker(ctx, px(v, hover[0]), py(v, hover[1]));
  ctx.restore();
  return v;
}

/** The hovered point's position at stage k of a path [stages, 2]. */
export function pathAt(h: HoverView | null, k: number): [number, number] | null {
  if (!h || 2 * k + 1 >= h.path.length) return null;
  return [h.path[2 * k], h.path[2 * k + 1]];
}
