import { NiceFlowError } from '../core/NiceFlowError.js';

/** How a coupling layer splits the coordinates: `kept` (I1, passed through) and `updated` (I2). */
export interface Partition {
  kept: Int32Array;
  updated: Int32Array;
}

/** Partition schemes a user can choose. */
export type PartitionName = 'alternate' | 'halves' | 'checkerboard' | 'channels';

/** The names accepted for `PartitionName`. */
export const PARTITION_NAMES: readonly PartitionName[] = ['alternate', 'halves', 'checkerboard', 'channels'];

/**
 * The partition used by coupling layer `k` (0-based). Consecutive layers swap the roles of the two sets
 * (NICE §3.2, §5.1); layer k even updates the "second" set from the "first":
 * - `alternate` (the default, docs/conventions.md): first = even indices x[0::2], second = odd indices x[1::2];
 * - `halves`: first = x[:D/2], second = x[D/2:] (first half has floor(D/2) entries);
 * - `checkerboard`: on an H×W image (per channel), first = cells with (row + col) even, second = odd;
 * - `channels`: on a C×H×W image with C ≥ 2, first = channels [0, ceil(C/2)), second = the rest (the channel split
 *   of convolutional couplings, docs/conventions.md).
 */
export function partitionFor(name: PartitionName, k: number, dim: number, imageShape?: number[]): Partition {
  const inFirst = firstSetMembership(name, dim, imageShape);
  const first: number[] = [];
  const second: number[] = [];
  for (let i = 0; i < dim; i++) (inFirst(i) ? first : second).push(i);
  const [kept, updated] = k % 2 === 0 ? [first, second] : [second, first];
  return { kept: Int32Array.from(kept), updated: Int32Array.from(updated) };
}

function firstSetMembership(name: PartitionName, dim: number, imageShape?: number[]): (i: number) => boolean {
  switch (name) {
    case 'alternate':
      return (i) => i % 2 === 0;
    case 'halves': {
      const h = Math.floor(dim / 2);
      return (i) => i < h;
    }
    case 'checkerboard': {
      const [c, h, w] = imageShape && imageShape.length === 3 ? imageShape : squareShape(dim);
      if (c * h * w !== dim) throw new NiceFlowError(`checkerboard partition: shape ${c}x${h}x${w} does not have ${dim} values`);
      return (i) => {
        const p = i % (h * w);
        return (Math.floor(p / w) + (p % w)) % 2 === 0;
      };
    }
    case 'channels': {
      if (!imageShape || imageShape.length !== 3) throw new NiceFlowError('channels partition needs an image shape [C, H, W]');
      const [c, h, w] = imageShape;
      if (c * h * w !== dim) throw new NiceFlowError(`channels partition: shape ${c}x${h}x${w} does not have ${dim} values`);
      if (c < 2) {
        throw new NiceFlowError(`channels partition: a single-channel image (${c}x${h}x${w}) has no channel split; use checkerboard or alternate`);
      }
      const firstEnd = Math.ceil(c / 2) * h * w;
      return (i) => i < firstEnd;
    }
    default:
      throw new NiceFlowError(`unknown partition "${String(name)}" (use ${PARTITION_NAMES.join(', ')})`);
  }
}

function squareShape(dim: number): [number, number, number] {
  const s = Math.round(Math.sqrt(dim));
  if (s * s !== dim) throw new NiceFlowError(`checkerboard partition needs an image shape; ${dim} is not a square`);
  return [1, s, s];
}
