import { NiceFlowError } from '../core/NiceFlowError.js';
import { decodePngImage } from '../io/pngGrid.js';
import type { ImageDataset } from './ImageDataset.js';

/**
 * A file of an image folder: its name (for sorting and errors) and its bytes, or a function that reads them (so a
 * large folder is read one file at a time instead of all at once).
 */
export interface NamedFile {
  /** The file's name (sorting, error messages). */
  name: string;
  /** The file's bytes, or a function that reads them when needed. */
  bytes: Uint8Array | (() => Uint8Array);
}

const channelName = (c: number): string => (c === 1 ? 'gray' : 'RGB');

/**
 * PNG images of one size as an 8-bit data set, in file-name order (plain code-unit order, so the result does not
 * depend on the locale). Gray and gray+alpha images give 1 channel; RGB, RGBA and palette images 3 (alpha is dropped).
 * 16-bit and low-bit-depth PNGs are rescaled to 0..255. Every image must have the size and channels of the first.
 * `what` names the folder; errors name the file. Reading the folder is the caller's job, so this runs anywhere.
 */
export function imagesFromPngs(files: readonly NamedFile[], what = 'image folder'): ImageDataset {
  const sorted = [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const f of sorted) {
    if (!/\.png$/i.test(f.name)) throw new NiceFlowError(`${what}/${f.name} is not a PNG file (an image folder holds only .png images)`);
  }
  if (sorted.length === 0) throw new NiceFlowError(`${what} has no .png images`);
  let first: { name: string; C: number; H: number; W: number } | null = null;
  let pixels = new Uint8Array(0);
  let dim = 0;
  for (let i = 0; i < sorted.length; i++) {
    const f = sorted[i];
    const bytes = typeof f.bytes === 'function' ? f.bytes() : f.bytes; // read errors already name the file
    let img;
    try {
      img = decodePngImage(bytes);
    } catch (e) {
      throw new NiceFlowError(`${what}/${f.name}: ${(e as Error).message}`);
    }
    const { channels: C, height: H, width: W } = img;
    if (!first) {
      first = { name: f.name, C, H, W };
      dim = C * H * W;
      pixels = new Uint8Array(sorted.length * dim);
    } else if (C !== first.C || H !== first.H || W !== first.W) {
      throw new NiceFlowError(
        `${what}/${f.name} is ${W}×${H} ${channelName(C)}, but ${first.name} is ${first.W}×${first.H} ${channelName(first.C)}: ` +
          'all images must have the same size and channels',
      );
    }
    // decodePngImage gives value/max as float32; rounding ·255 recovers 8-bit values exactly.
    for (let d = 0; d < dim; d++) pixels[i * dim + d] = Math.round(img.data[d] * 255);
  }
  const { C, H, W } = first!;
  return { pixels, count: sorted.length, dim, shape: [C, H, W] };
}
