import { encode } from 'fast-png';
import { CHAR_H, CHAR_W, drawText } from './pixelFont.js';


/**
 * A line chart PNG (8-bit gray) of positive values in the given order, on a log10 y axis: white background, gray
 * axes with a labelled tick per decade ("1e-2"), the first and last index labelled on the x axis, the curve in
 * black. Meant for the sorted exp(−s) of the scaling layer (the paper's spectrum, §5.1). Drawn pixel by pixel.
 */
export function spectrumPng(values: ArrayLike<number>, width = 640, height = 320): Uint8Array {
  const img = new Uint8Array(width * height).fill(255);
  const left = 48, right = 12, top = 10, bottom = 24;
  const plotW = width - left - right, plotH = height - top - bottom;
  const logs = Array.from(values, (v) => Math.log10(Math.max(v, 1e-30)));
  const lo = Math.floor(Math.min(...logs));
  let hi = Math.ceil(Math.max(...logs));
  if (hi === lo) hi = lo + 1;
  const set = (x: number, y: number, v: number): void => {
    const xi = Math.round(x), yi = Math.round(y);
    if (xi >= 0 && xi < width && yi >= 0 && yi < height) img[yi * width + xi] = v;
  };
  const text = (label: string, x: number, y: number): void => drawText(img, width, height, label, x, y);
  const yOf = (l: number): number => top + plotH - ((l - lo) / (hi - lo)) * plotH;
  const xOf = (i: number): number => left + (logs.length === 1 ? 0 : (i / (logs.length - 1)) * plotW);
  for (let y = top; y <= top + plotH; y++) set(left, y, 128);
  for (let x = left; x <= left + plotW; x++) set(x, top + plotH, 128);
  // One labelled tick per decade; with many decades, every k-th so labels never overlap.
  const every = Math.max(1, Math.ceil((hi - lo) / Math.max(1, Math.floor(plotH / (CHAR_H + 6)))));
  for (let d = lo; d <= hi; d++) {
    for (let x = left - 4; x < left; x++) set(x, yOf(d), 128);
    if ((d - lo) % every === 0) {
      const label = `1e${d}`;
      text(label, left - 6 - label.length * CHAR_W, yOf(d) - CHAR_H / 2);
    }
  }
  const last = String(logs.length);
  for (const [i, label] of [[0, '1'], [logs.length - 1, last]] as const) {
    for (let y = top + plotH; y < top + plotH + 4; y++) set(xOf(i), y, 128);
    text(label, Math.min(width - label.length * CHAR_W, xOf(i) - (label.length * CHAR_W) / 2), top + plotH + 8);
  }
  let px = -1, py = -1;
  for (let i = 0; i < logs.length; i++) {
    const x = xOf(i);
    const y = yOf(logs[i]);
    if (px >= 0) {
      const steps = Math.max(1, Math.ceil(Math.max(Math.abs(x - px), Math.abs(y - py))));
      for (let s = 0; s <= steps; s++) set(px + ((x - px) * s) / steps, py + ((y - py) * s) / steps, 0);
    } else set(x, y, 0);
    px = x;
    py = y;
  }
  return encode({ width, height, data: img, channels: 1, depth: 8 });
}
