// Painting images (rows of C×H×W values in [0, 1]) onto canvases at their own resolution; CSS scales them up with
// `image-rendering: pixelated`.

export type Shape = [number, number, number];

export interface GridLayout {
  cols: number;
  rows: number;
  pad: number;
  cellW: number;
  cellH: number;
}

export function gridLayout(count: number, shape: Shape, cols: number, pad = 1): GridLayout {
  const c = Math.max(1, Math.min(cols, count));
  return { cols: c, rows: Math.ceil(count / c), pad, cellW: shape[2] + pad, cellH: shape[1] + pad };
}

export interface PaintOptions {
  pad?: number;
  /** Cell to outline (a selected sample). */
  highlight?: number | null;
  /** [H·W] 1 = tinted (unknown pixels on the drawing). */
  tint?: Uint8Array | null;
}

const BACKGROUND = [226, 230, 238];
const HIGHLIGHT = [79, 70, 229];
const TINT = [249, 115, 22];

/** Paints `count` images in a grid of `cols` columns; the canvas takes the grid's size in pixels. */
export function paintGrid(canvas: HTMLCanvasElement, images: Float32Array, count: number, shape: Shape, cols: number, options: PaintOptions = {}): GridLayout {
  const pad = options.pad ?? 1;
  const L = gridLayout(count, shape, cols, pad);
  const [C, H, W] = shape;
  const width = L.cols * L.cellW + pad;
  const height = L.rows * L.cellH + pad;
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
  const ctx = canvas.getContext('2d');
  if (!ctx) return L;
  const img = ctx.createImageData(width, height);
  const px = img.data;
  for (let i = 0; i < px.length; i += 4) {
    px[i] = BACKGROUND[0];
    px[i + 1] = BACKGROUND[1];
    px[i + 2] = BACKGROUND[2];
    px[i + 3] = 255;
  }
  const D = C * H * W;
  const P = H * W;
  for (let k = 0; k < count; k++) {
    const ox = pad + (k % L.cols) * L.cellW;
    const oy = pad + Math.floor(k / L.cols) * L.cellH;
    if (options.highlight === k && pad > 0) {
      for (let y = oy - 1; y <= oy + H; y++) {
        for (let x = ox - 1; x <= ox + W; x++) {
          if (x < 0 || y < 0 || x >= width || y >= height) continue;
          if (y === oy - 1 || y === oy + H || x === ox - 1 || x === ox + W) {
            const o = 4 * (y * width + x);
            px[o] = HIGHLIGHT[0];
            px[o + 1] = HIGHLIGHT[1];
            px[o + 2] = HIGHLIGHT[2];
          }
        }
      }
    }
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const p = y * W + x;
        const o = 4 * ((oy + y) * width + ox + x);
        const at = (c: number): number => Math.round(255 * Math.max(0, Math.min(1, images[k * D + c * P + p] || 0)));
        let r: number, g: number, b: number;
        if (C >= 3) {
          r = at(0);
          g = at(1);
          b = at(2);
        } else {
          r = g = b = at(0);
        }
        if (options.tint && options.tint[p] === 1) {
          r = Math.round(0.45 * r + 0.55 * TINT[0]);
          g = Math.round(0.45 * g + 0.55 * TINT[1]);
          b = Math.round(0.45 * b + 0.55 * TINT[2]);
        }
        px[o] = r;
        px[o + 1] = g;
        px[o + 2] = b;
      }
    }
  }
  ctx.putImageData(img, 0, 0);
  return L;
}

/** The grid cell under a pointer event, or null between cells. */
export function cellAt(canvas: HTMLCanvasElement, layout: GridLayout, count: number, e: { clientX: number; clientY: number }): number | null {
  const rect = canvas.getBoundingClientRect();
  const x = ((e.clientX - rect.left) / rect.width) * canvas.width - layout.pad;
  const y = ((e.clientY - rect.top) / rect.height) * canvas.height - layout.pad;
  if (x < 0 || y < 0) return null;
  const col = Math.floor(x / layout.cellW);
  const row = Math.floor(y / layout.cellH);
  if (col >= layout.cols) return null;
  const k = row * layout.cols + col;
  return k < count ? k : null;
}
