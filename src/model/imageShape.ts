/** The image shape [C, H, W] of a model config: its `shape`, or square single-channel when it has none (else a row). */
export function imageShape(shape: readonly number[] | undefined, dim: number): number[] {
  if (shape) return [...shape];
  const s = Math.round(Math.sqrt(dim));
  return s * s === dim ? [1, s, s] : [1, 1, dim];
}
