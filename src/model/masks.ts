import { NiceFlowError } from '../core/NiceFlowError.js';
import { Rng } from '../core/Rng.js';

/** The masks of the paper's inpainting experiments (§5.2; the original scripts' list). */
export const MASK_NAMES = [
  'top-half', 'bottom-half', 'left-half', 'right-half', 'even', 'odd', 'middle-rows', 'middle-cols', 'random-75', 'random-90',
] as const;
/** The name of one of the paper's inpainting masks (MASK_NAMES). */
export type MaskName = (typeof MASK_NAMES)[number];

/**
 * A mask over an H×W image (applied to every channel): 1 marks a hidden pixel, 0 an observed one.
 * `even`/`odd` hide the pixels of even/odd flat index; `middle-rows`/`middle-cols` hide rows/columns 7–20
 * (scaled to other sizes as ⌊H/4⌋ … ⌊H/4⌋+⌊H/2⌋−1); `random-75`/`random-90` hide exactly round(p·H·W) pixels chosen
 * with the seed.
 */
export function makeMask(name: string, height: number, width: number, seed = 0): Uint8Array {
  const P = height * width;
  const m = new Uint8Array(P);
  const lo = (n: number): number => Math.floor(n / 4);
  const hi = (n: number): number => Math.floor(n / 4) + Math.floor(n / 2) - 1;
  const each = (hidden: (r: number, c: number, i: number) => boolean): Uint8Array => {
    for (let r = 0; r < height; r++) for (let c = 0; c < width; c++) m[r * width + c] = hidden(r, c, r * width + c) ? 1 : 0;
    return m;
  };
  switch (name) {
    case 'top-half': return each((r) => r < Math.floor(height / 2));
    case 'bottom-half': return each((r) => r >= Math.floor(height / 2));
    case 'left-half': return each((_r, c) => c < Math.floor(width / 2));
    case 'right-half': return each((_r, c) => c >= Math.floor(width / 2));
    case 'even': return each((_r, _c, i) => i % 2 === 0);
    case 'odd': return each((_r, _c, i) => i % 2 === 1);
    case 'middle-rows': return each((r) => r >= lo(height) && r <= hi(height));
    case 'middle-cols': return each((_r, c) => c >= lo(width) && c <= hi(width));
    case 'random-75':
    case 'random-90': {
      const count = Math.round((name === 'random-75' ? 0.75 : 0.9) * P);
      const order = Int32Array.from({ length: P }, (_, i) => i);
      new Rng(seed).shuffle(order);
      for (let k = 0; k < count; k++) m[order[k]] = 1;
      return m;
    }
    default:
      throw new NiceFlowError(`unknown mask "${name}" (use ${MASK_NAMES.join(', ')}, or a PNG file)`);
  }
}

/**
 * A mask from a picture with values in [0,1] (C×H×W): dark pixels (< 0.5) are hidden. A colour picture is judged by
 * its luma (0.299 R + 0.587 G + 0.114 B), so a mask painted in any dark colour works. A picture with `alpha` (H×W, as
 * decodePngImage gives for PNGs with transparency, `data` being composited over black) is judged over white:
 * transparent pixels are observed, so a mask painted dark on a transparent background hides what is painted.
 */
export function maskFromImage(img: { channels: number; height: number; width: number; data: Float32Array; alpha?: Float32Array }, height: number, width: number, what = 'mask image'): Uint8Array {
  if (img.height !== height || img.width !== width) {
    throw new NiceFlowError(`${what} is ${img.width}×${img.height}, the model's images are ${width}×${height}`);
  }
  const P = height * width;
  const m = new Uint8Array(P);
  const d = img.data;
  for (let i = 0; i < P; i++) {
    const gray = img.channels >= 3 ? 0.299 * d[i] + 0.587 * d[P + i] + 0.114 * d[2 * P + i] : d[i];
    // Over white: colour·alpha + (1 − alpha).
    m[i] = gray + (img.alpha ? 1 - img.alpha[i] : 0) < 0.5 ? 1 : 0;
  }
  if (!m.some((v) => v === 1)) throw new NiceFlowError(`${what} hides no pixel (dark pixels mark what to inpaint)`);
  return m;
}

/** Number of hidden pixels. */
export function hiddenCount(mask: Uint8Array): number {
  let n = 0;
  for (const v of mask) n += v;
  return n;
}
