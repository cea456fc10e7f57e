/**
 * log Σ_i exp(v[i]), computed stably (the largest term factored out); −Infinity for an empty list or when every
 * term is −Infinity.
 */
export function logSumExp(v: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < v.length; i++) if (v[i] > m) m = v[i];
  if (m === -Infinity || Number.isNaN(m)) return m;
  let s = 0;
  for (let i = 0; i < v.length; i++) s += Math.exp(v[i] - m);
  return m + Math.log(s);
}
