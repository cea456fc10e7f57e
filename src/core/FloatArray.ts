/**
 * Flat storage every kernel works on. Production code is float32; the reference backend can also run in float64
 * so that gradient checks by finite differences are precise (the tests use that).
 */
export type FloatArray = Float32Array | Float64Array;

/** Element type a backend allocates. */
export type DType = 'float32' | 'float64';
