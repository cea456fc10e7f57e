// The playground's density heat map: exact p(x) on the Worker's grid as an image (kept between frames, made again
// only when the grid size changes), with the data on top.
import type { Box } from './protocol.js';
import { marker, px, py, type View } from './draw.js';

/** A perceptual colour ramp (dark blue → purple → orange → pale yellow), 256 entries of r, g, b. */
const RAMP = ((): Uint8Array => {
  const stops: Array<[number, number, number, number]> = [
    [0, 13, 8, 35],
    [0.25, 72, 30, 112],
    [0.5, 170, 50, 120],
    [0.75, 245, 125, 60],
    [1, 252, 253, 191],
  ];
  const out = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const t = i / 255;
    let k = 0;
    while (k < stops.length - 2 && t > stops[k + 1][0]) k++;
    const [t0, r0, g0, b0] = stops[k];
    const [t1, r1, g1, b1] = stops[k + 1];
    const u = (t - t0) / (t1 - t0);
    out[3 * i] = Math.round(r0 + u * (r1 - r0));
    out[3 * i + 1] = Math.round(g0 + u * (g1 - g0));
    out[3 * i + 2] = Math.round(b0 + u * (b1 - b0));
  }
  return out;
})();

/** The density image: kept between frames (made again only when the grid size changes). */
export class DensityImage {
  private canvas: HTMLCanvasElement | null = null;
  private image: ImageData | null = null;
  box: Box = [-1, -1, 1, 1];
  /** The largest log p on the grid (the colour scale's top). */
  max = 0;

  /** Fills the image from log p on a g × g grid: colour by p / max p (a square root, so the tails show). */
  update(g: number, logp: Float32Array, box: Box): void {
    if (!this.canvas || this.canvas.width !== g) {
      this.canvas = document.createElement('canvas');
      this.canvas.width = g;
      this.canvas.height = g;
      this.image = this.canvas.getContext('2d')!.createImageData(g, g);
    }
    this.box = box;
    let max = -Infinity;
    for (let i = 0; i < g * g; i++) if (logp[i] > max) max = logp[i];
    this.max = max;
    const px = this.image!.data;
    for (let i = 0; i < g * g; i++) {
      const p = Number.isFinite(logp[i]) && Number.isFinite(max) ? Math.exp((logp[i] - max) / 2) : 0;
      const c = Math.max(0, Math.min(255, Math.round(p * 255)));
      px[4 * i] = RAMP[3 * c];
      px[4 * i + 1] = RAMP[3 * c + 1];
      px[4 * i + 2] = RAMP[3 * c + 2];
      px[4 * i + 3] = 255;
    }
    this.canvas.getContext('2d')!.putImageData(this.image!, 0, 0);
  }

  draw(ctx: CanvasRenderingContext2D, size: number, data: Float32Array, hover: [number, number] | null): View {
    ctx.clearRect(0, 0, size, size);
    const v: View = { ox: 0, oy: 0, size, box: this.box };
    if (this.canvas) {
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(this.canvas, 0, 0, size, size);
    } else {
      ctx.fillStyle = '#0d0823';
      ctx.fillRect(0, 0, size, size);
    }
    ctx.fillStyle = 'rgba(255, 255, 255, 0.55)';
    const n = data.length >> 1;
    for (let i = 0; i < n; i++) ctx.fillRect(px(v, data[2 * i]) - 0.8, py(v, data[2 * i + 1]) - 0.8, 1.6, 1.6);
    if (hover) marker(ctx, px(v, hover[0]), py(v, hover[1]));
    return v;
  }
}
