import { NiceFlowError } from '../core/NiceFlowError.js';

/**
 * Continuous data: `count` rows of `dim` real values (tabular data, 2-D points), taken by the model as they are — no
 * dequantization, no data range, no image shape. Their log-likelihood is a density in nats per example; bits/dim
 * (a measure for 256-level pixels) is not defined for them. Trainer, evaluate and splitDataset take it beside
 * {@link ImageDataset} (see {@link Dataset}).
 */
export interface PointDataset {
  /** [count, dim] values, row-major; every one finite. */
  values: Float32Array;
  count: number;
  dim: number;
  /** Optional class labels, one per row. */
  labels?: Uint8Array;
}

/**
 * Checks an array of continuous values of unknown origin (e.g. a float .npy file) and returns it as a point data
 * set: `shape` must be [N, D] with N ≥ 1, D ≥ 1 and N·D = `values.length`, and every value a finite number that
 * float32 holds (a float64 beyond ±3.4e38 would become infinite). Float32 input is shared, float64 converted. Every
 * error is one line starting with `what` and naming the first bad row.
 */
export function pointDatasetFromArray(values: Float32Array | Float64Array, shape: readonly number[], what: string): PointDataset {
  const dims = `[${shape.join(', ')}]`;
  if (shape.length !== 2) {
    throw new NiceFlowError(`${what}: continuous data must have shape [N, D] (N rows of D values), got ${dims} (rank ${shape.length})`);
  }
  const [N, D] = shape;
  if (!shape.every((v) => Number.isSafeInteger(v) && v >= 0)) throw new NiceFlowError(`${what}: shape ${dims} has a size that is not a whole number ≥ 0`);
  if (N === 0) throw new NiceFlowError(`${what}: shape ${dims} holds no rows`);
  if (D === 0) throw new NiceFlowError(`${what}: rows of shape ${dims} have no values`);
  // The shape is a claim (from a file's header): it must describe exactly the values given.
  if (N * D !== values.length) throw new NiceFlowError(`${what}: shape ${dims} needs ${N * D} values, the data have ${values.length}`);
  const out = values instanceof Float32Array ? values : Float32Array.from(values);
  for (let i = 0; i < out.length; i++) {
    if (Number.isFinite(out[i])) continue;
    const row = Math.floor(i / D);
    const v = values[i];
    throw new NiceFlowError(Number.isFinite(v)
      ? `${what}: row ${row} holds ${v} (column ${i % D}), beyond float32's range (±3.4e38); rescale the data`
      : `${what}: row ${row} holds ${v} (column ${i % D}); continuous data must be finite numbers`);
  }
  return { values: out, count: N, dim: D };
}

/** Rows [start, end) of a point data set, sharing memory. */
export function slicePoints(ds: PointDataset, start: number, end: number): PointDataset {
  const s = Math.max(0, Math.min(start, ds.count));
  const e = Math.max(s, Math.min(end, ds.count));
  return {
    values: ds.values.subarray(s * ds.dim, e * ds.dim),
    count: e - s,
    dim: ds.dim,
    labels: ds.labels?.subarray(s, e),
  };
}
