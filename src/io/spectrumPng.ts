import { encode } from 'fast-png';

/**
 * A line chart PNG of positive values in the given order, on a log10 y axis: white background, gray axes with a
 * tick per decade, the curve in black. Drawn pixel by pixel so that no plotting library is needed.
 */
export function spectrumPng(values: ArrayLike<number>, width = 640, height = 320): Uint8Array {
  const img = new Uint8Array(width * height).fill(255);
  const left = 40, right = 10, top = 10, bottom = 20;
  const plotW = width - left - right, plotH = height - top - bottom;
  const logs = Array.from(values, (v) => Math.log10(Math.max(v, 1e-30)));
  const lo = Math.floor(Math.min(...logs));
  let hi = Math.ceil(Math.max(...logs));
  if (hi === lo) hi = lo + 1;
  const set = (x: number, y: number, v: number): void => {
    if (x >= 0 && x < width && y >= 0 && y < height) img[Math.round(y) * width + Math.round(x)] = v;
  };
  const yOf = (l: number): number => top + plotH - ((l - lo) / (hi - lo)) * plotH;
  for (let y = top; y <= top + plotH; y++) set(left, y, 128);
  for (let x = left; x <= left + plotW; x++) set(x, top + plotH, 128);
  for (let d = lo; d <= hi; d++) for (let x = left - 6; x < left; x++) set(x, yOf(d), 128);
  let px = -1, py = -1;
  for (let i = 0; i < logs.length; i++) {
    const x = left + (logs.length === 1 ? 0 : (i / (logs.length - 1)) * plotW);
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
