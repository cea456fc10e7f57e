import { NiceFlowError } from '../core/NiceFlowError.js';

/**
 * Where a convolutional coupling network reads and writes (ConvNet, GatedConvNet): for kept coordinate j its position
 * in an NHWC image of C channels (`keptPos`: pixel·C + channel), and for output value g·U + j (group g, updated
 * coordinate j at pixel p, channel c) its position p·GC + g·C + c in the last layer's NHWC output of GC =
 * outGroups·C channels (`outPos`). `kept` and `updated` are flat channel-major indices (c·H·W + y·W + x) and must
 * partition 0..C·H·W−1; `who` names the network in the error.
 */
export function convPositions(
  shape: readonly [number, number, number],
  kept: Int32Array,
  updated: Int32Array,
  outGroups: number,
  who: string,
): { keptPos: Int32Array; outPos: Int32Array } {
  const [C, H, W] = shape;
  const D = C * H * W;
  const seen = new Uint8Array(D);
  for (const i of [...kept, ...updated]) {
    if (!(i >= 0 && i < D) || seen[i]) throw new NiceFlowError(`${who}: kept and updated must partition 0..${D - 1} (index ${i})`);
    seen[i] = 1;
  }
  if (kept.length + updated.length !== D) throw new NiceFlowError(`${who}: kept and updated must partition 0..${D - 1}`);
  const P = H * W;
  const nhwc = (i: number): number => (i % P) * C + Math.floor(i / P);
  const keptPos = Int32Array.from(kept, nhwc);
  const U = updated.length, GC = outGroups * C;
  const outPos = new Int32Array(outGroups * U);
  for (let g = 0; g < outGroups; g++) {
    for (let j = 0; j < U; j++) {
      const i = updated[j];
      outPos[g * U + j] = (i % P) * GC + g * C + Math.floor(i / P);
    }
  }
  return { keptPos, outPos };
}
