// Property-based tests (fast-check; in the style of TensorFlow Probability's bijector fuzzing): random flow
// descriptions and random paper-style configs on random small image shapes, with inputs at the edges of the data
// range and large latent values. Each generated model is either refused with the library's one-line error or is an
// exact bijection: the round trip holds, the log-det is the brute-force Jacobian's, and outputs are finite. A failure
// prints fast-check's seed and the counterexample; rerun it with that seed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createRefBackend } from '../src/core/createRefBackend.js';
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { Rng } from '../src/core/Rng.js';
import type { StepSpec } from '../src/flows/steps/StepKind.js';
import { COUPLING_LAWS } from '../src/flows/laws/lawRegistry.js';
import type { NiceConfig } from '../src/model/NiceConfig.js';
import { NiceModel } from '../src/model/NiceModel.js';
import { jacobian, logAbsDet, randn } from './helpers.js';

const RUNS = 60;

const law = fc.constantFrom(...COUPLING_LAWS);
const coupling = fc.record({
  type: fc.constant('coupling'),
  law,
  network: fc.constantFrom('mlp', 'conv'),
  partition: fc.constantFrom('alternate', 'halves', 'checkerboard', 'channels'),
  hidden: fc.integer({ min: 1, max: 6 }),
  depth: fc.integer({ min: 1, max: 2 }),
  zeroInit: fc.boolean(),
});
const step = fc.oneof(
  coupling,
  fc.constant({ type: 'actnorm' }),
  fc.constant({ type: 'invconv' }),
  fc.constant({ type: 'scaling' }),
  fc.constant({ type: 'squeeze' }),
  fc.constant({ type: 'split' }),
) as fc.Arbitrary<StepSpec>;
/** A flow: an optional logit, then 1–6 steps of any kind (many combinations are invalid on purpose). */
const flowArb = fc.record({
  logit: fc.option(fc.double({ min: 0.01, max: 0.3, noNaN: true }), { nil: undefined }),
  steps: fc.array(step, { minLength: 1, maxLength: 6 }),
  shape: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.constantFrom(2, 4), fc.constantFrom(2, 4, 6)),
  seed: fc.integer({ min: 1, max: 1_000_000 }),
});
/** The paper's flat form: couplings of a law over a partition, a network, a prior. */
const flatArb = fc.record({
  couplings: fc.integer({ min: 1, max: 5 }),
  hidden: fc.integer({ min: 1, max: 6 }),
  depth: fc.integer({ min: 0, max: 2 }),
  coupling: law,
  network: fc.constantFrom('mlp', 'conv'),
  partition: fc.constantFrom('alternate', 'halves', 'checkerboard', 'channels'),
  prior: fc.constantFrom('logistic', 'gaussian'),
  shape: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.constantFrom(2, 3, 4), fc.constantFrom(2, 4)),
  seed: fc.integer({ min: 1, max: 1_000_000 }),
});

/** Builds the model, or returns null after checking that the refusal is the library's one-line error. */
function build(config: NiceConfig): NiceModel | null {
  try {
    return new NiceModel(createRefBackend({ dtype: 'float64' }), config);
  } catch (e) {
    assert.ok(e instanceof NiceFlowError, `not a NiceFlowError: ${e}`);
    assert.ok(!e.message.includes('\n'), `not one line: ${e.message}`);
    return null;
  }
}

/** Initialised, started from data, and every parameter moved off its start (no layer left at the identity). */
function start(model: NiceModel, seed: number): void {
  const D = model.dim;
  model.init(new Rng(seed));
  model.initFromData(Float64Array.from(randn(16 * D, seed + 1, 0.15), (v) => Math.min(1, Math.max(0, 0.5 + v))), 16, { scaling: true });
  for (const [k, p] of model.params.entries()) {
    const r = randn(p.data.length, seed + 10 + k, 0.2);
    for (let i = 0; i < p.data.length; i++) p.data[i] += r[i];
  }
}

/** Rows at the edges of the data range [0, 1] (exact bounds, a hair inside) and in its middle. */
function edgeRows(D: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  const edges = [0, 1, 1e-7, 1 - 1e-7, 0.5];
  return Float64Array.from({ length: 3 * D }, (_, i) => (i < D ? edges[i % edges.length] : i < 2 * D ? rng.uniform() : edges[(i * 7) % edges.length]));
}

/** The properties every built model must have. */
function checkBijection(model: NiceModel, seed: number): void {
  const D = model.dim;
  const n = 3;
  const x = edgeRows(D, seed);
  const { y, logDet } = model.flow.forward(Float64Array.from(x), n);
  assert.ok(y.every(Number.isFinite) && logDet.every(Number.isFinite), 'forward gives finite values at the edges of the range');
  const back = model.flow.inverse(Float64Array.from(y), n);
  for (let i = 0; i < n * D; i++) assert.ok(Math.abs(back[i] - x[i]) <= 1e-8 * (1 + Math.abs(x[i])), `round trip: value ${i} is ${back[i]}, was ${x[i]}`);
  // The log-det against the brute-force Jacobian, on the middle row (inside the range, where differences are taken).
  const mid = x.slice(D, 2 * D);
  const J = jacobian((v) => Float64Array.from(model.flow.forward(v, 1).y), mid);
  const got = model.flow.forward(mid, 1).logDet[0];
  const expected = logAbsDet(J, D);
  assert.ok(Math.abs(got - expected) <= 1e-5 * (1 + Math.abs(expected)), `log-det ${got}, brute-force Jacobian ${expected}`);
  // Large latent values decode to finite values.
  const z = Float64Array.from(randn(2 * D, seed + 5, 8), (v, i) => (i % 5 === 0 ? Math.sign(v) * 20 : v));
  const decoded = model.flow.inverse(z, 2);
  assert.ok(decoded.every(Number.isFinite), 'decoding latent values up to ±20 gives finite values');
  assert.ok(model.logProb(Float64Array.from(x), n).every(Number.isFinite), 'log p is finite at the edges of the range');
}

describe('property-based: random models are refused in one line or are exact bijections', () => {
  it(`random flow descriptions (${RUNS} runs)`, () => {
    let built = 0;
    fc.assert(
      fc.property(flowArb, ({ logit, steps, shape, seed }) => {
        const flow: StepSpec[] = logit === undefined ? [...steps] : [{ type: 'logit', alpha: logit }, ...steps];
        const model = build({ dim: shape[0] * shape[1] * shape[2], prior: 'logistic', shape, flow });
        if (!model) return;
        built++;
        start(model, seed);
        checkBijection(model, seed);
      }),
      { numRuns: RUNS, seed: 20261205 },
    );
    assert.ok(built >= RUNS / 4, `only ${built} of ${RUNS} random flows were valid: the generator should make more`);
  });

  it(`random paper-style configs (${RUNS} runs)`, () => {
    let built = 0;
    fc.assert(
      fc.property(flatArb, ({ shape, seed, ...rest }) => {
        const model = build({ dim: shape[0] * shape[1] * shape[2], shape, ...rest } as NiceConfig);
        if (!model) return;
        built++;
        start(model, seed);
        checkBijection(model, seed);
      }),
      { numRuns: RUNS, seed: 20261206 },
    );
    assert.ok(built >= RUNS / 4, `only ${built} of ${RUNS} random configs were valid`);
  });
});
