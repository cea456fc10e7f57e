// One row's path through a flow, for the diagnostic scripts (trace-training.ts, worst-images.ts): each leaf layer
// (the parts of chains, and the layers inside a split's Prefix) with its log-det and the largest |value| it outputs.
import type { FloatArray } from '../src/core/FloatArray.js';
import type { Bijection } from '../src/flows/Bijection.js';
import { Chain } from '../src/flows/Chain.js';
import { Prefix } from '../src/flows/Prefix.js';

/** One leaf layer on the path: its class name, its log-det for the row and the largest |value| it outputs. */
export interface PathStep {
  name: string;
  dim: number;
  logDet: number;
  maxAbs: number;
}

/** Runs one row x [dim] forward through `flow`, appending each leaf layer to `out`; returns the row's latent. */
export function flowPath(flow: Bijection, x: FloatArray, out: PathStep[]): Float64Array<ArrayBufferLike> {
  if (flow instanceof Chain) {
    let cur: Float64Array<ArrayBufferLike> = Float64Array.from(x);
    for (const layer of flow.layers) cur = flowPath(layer, cur, out);
    return cur;
  }
  if (flow instanceof Prefix) {
    const y = Float64Array.from(x);
    y.set(flowPath(flow.inner, Float64Array.from(x.subarray(0, flow.inner.dim)), out));
    return y;
  }
  const { y, logDet } = flow.forward(Float64Array.from(x.subarray(0, flow.dim)) as FloatArray, 1);
  let m = 0;
  for (let i = 0; i < flow.dim; i++) m = Math.max(m, Math.abs(y[i]));
  out.push({ name: flow.constructor.name, dim: flow.dim, logDet: logDet[0], maxAbs: m });
  return Float64Array.from(y.subarray(0, flow.dim));
}
