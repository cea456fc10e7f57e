// The playground's training curve: mean log-likelihood against steps, with the true value where it is known.
import { ACCENT, MUTED } from './draw.js';

/** Mean log-likelihood against steps: the batches' (smoothed, light), the held-out points' (dark), the truth (dashed). */
export function drawCurve(ctx: CanvasRenderingContext2D, w: number, h: number, train: Float64Array, held: Float64Array, truth: number | null): void {
  ctx.clearRect(0, 0, w, h);
  const L = 46;
  const R = 8;
  const T = 10;
  const B = 22;
  let maxStep = 1;
  let lo = Infinity;
  let hi = -Infinity;
  const scan = (a: Float64Array): void => {
    for (let i = 0; i < a.length; i += 2) {
      maxStep = Math.max(maxStep, a[i]);
      if (Number.isFinite(a[i + 1])) {
        lo = Math.min(lo, a[i + 1]);
        hi = Math.max(hi, a[i + 1]);
      }
    }
  };
  scan(train);
  scan(held);
  if (truth !== null) {
    lo = Math.min(lo, truth);
    hi = Math.max(hi, truth);
  }
  if (!Number.isFinite(lo)) {
    lo = -4;
    hi = 0;
  }
  // Keep the interesting end in view: at most 3 nats below the best value.
  lo = Math.max(lo, hi - 3);
  const pad = Math.max(0.05, (hi - lo) * 0.08);
  lo -= pad;
  hi += pad;
  const X = (s: number): number => L + ((w - L - R) * s) / maxStep;
  const Y = (v: number): number => T + ((hi - v) / (hi - lo)) * (h - T - B);
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(L, T, w - L - R, h - T - B);
  ctx.strokeStyle = '#e2e8f0';
  ctx.strokeRect(L + 0.5, T + 0.5, w - L - R - 1, h - T - B - 1);
  ctx.font = '10px system-ui, sans-serif';
  ctx.fillStyle = MUTED;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  const ticks = niceTicks(lo, hi, 4);
  for (const t of ticks) {
    ctx.fillText(t.toFixed(Math.max(0, -Math.floor(Math.log10(ticks[1] - ticks[0] || 1)))), L - 4, Y(t));
    ctx.strokeStyle = '#f1f5f9';
    ctx.beginPath();
    ctx.moveTo(L, Y(t));
    ctx.lineTo(w - R, Y(t));
    ctx.stroke();
  }
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  ctx.fillText(`step (0 … ${Math.round(maxStep).toLocaleString('en-US')})`, L + (w - L - R) / 2, h - B + 6);
  ctx.save();
  ctx.beginPath();
  ctx.rect(L, T, w - L - R, h - T - B);
  ctx.clip();
  if (truth !== null) {
    ctx.strokeStyle = '#b91c1c';
    ctx.setLineDash([5, 4]);
    ctx.beginPath();
    ctx.moveTo(L, Y(truth));
    ctx.lineTo(w - R, Y(truth));
    ctx.stroke();
    ctx.setLineDash([]);
  }
  const line = (a: Float64Array, color: string, width: number): void => {
    ctx.strokeStyle = color;
    ctx.lineWidth = width;
    ctx.beginPath();
    let started = false;
    for (let i = 0; i < a.length; i += 2) {
      if (!Number.isFinite(a[i + 1])) continue;
      if (!started) ctx.moveTo(X(a[i]), Y(a[i + 1]));
      else ctx.lineTo(X(a[i]), Y(a[i + 1]));
      started = true;
    }
    ctx.stroke();
  };
  line(train, 'rgba(79, 70, 229, 0.35)', 1);
  line(held, ACCENT, 2);
  ctx.restore();
  ctx.lineWidth = 1;
  ctx.textAlign = 'left';
}

function niceTicks(lo: number, hi: number, count: number): number[] {
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi; t += step) out.push(Math.abs(t) < step * 1e-9 ? 0 : t);
  return out;
}
