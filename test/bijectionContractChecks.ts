// The Bijection contract (src/flows/Bijection.ts), one function per bijection so that any list of them can run it
// (test/bijectionContract.test.ts over test/bijectionCases.ts, and the worked examples of docs/extending.md): each
// direction owns its buffers, so an inverse (sampling) between forward and backward, on other data and other batch
// sizes, changes neither forward's outputs nor the gradients backward computes, and forward/backward leave inverse's
// result alone.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRefBackend } from '../src/core/createRefBackend.js';
import { type BijectionCase, caseContext } from './bijectionCases.js';
import { randn } from './helpers.js';

const n = 3;
const logDetWeight = 0.7;

/** Bit-exact equality of two arrays, naming the first difference. */
function assertSame(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: lengths differ`);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) assert.fail(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]}`);
  }
}

/** Registers the buffer-contract checks for one bijection, in float64 and float32. */
export function describeContractChecks(c: BijectionCase): void {
  describe(`bijection contract: ${c.name}`, () => {
    const D = c.make(createRefBackend({ dtype: 'float64' })).dim;
    const x0 = randn(n * D, 42);
    const dy0 = randn(n * D, 43);
    /** Inverse inputs: the same batch size, a larger one (the workspaces grow) and a smaller one. */
    const inverseBatches = [n, n + 4, 1].map((m, i) => ({ m, z: randn(m * D, 100 + i, 1.5) }));
    for (const dtype of ['float64', 'float32'] as const) {
      const from = (a: ArrayLike<number>): Float64Array | Float32Array => (dtype === 'float64' ? Float64Array.from(a) : Float32Array.from(a));
      const ctx = (m: number) => caseContext(c, 0, m, dtype);

      it(`${dtype}: inverse calls leave forward's y and logDet unchanged`, () => {
        const f = c.make(createRefBackend({ dtype }));
        const { y, logDet } = f.forward(from(x0), n, ctx(n));
        const yCopy = Float64Array.from(y);
        const logDetCopy = Float64Array.from(logDet);
        for (const { m, z } of inverseBatches) {
          f.inverse(from(z), m, ctx(m));
          assertSame(y, yCopy, `forward y after an inverse of ${m} rows`);
          assertSame(logDet, logDetCopy, `forward logDet after an inverse of ${m} rows`);
        }
        f.backward(from(dy0), logDetWeight, true, true);
        assertSame(y, yCopy, 'forward y after backward');
      });

      it(`${dtype}: backward after inverse calls gives the gradients of forward → backward`, () => {
        // Reference: forward → backward, nothing in between.
        const ref = c.make(createRefBackend({ dtype }));
        ref.forward(from(x0), n, ctx(n));
        const refDx = Float64Array.from(ref.backward(from(dy0), logDetWeight, true, true)!);
        const refGrads = ref.params.map((p) => Float64Array.from(p.grad));

        const f = c.make(createRefBackend({ dtype }));
        f.forward(from(x0), n, ctx(n));
        for (const { m, z } of inverseBatches) f.inverse(from(z), m, ctx(m));
        for (const p of f.params) p.grad.fill(Number.NaN);
        const dx = f.backward(from(dy0), logDetWeight, true, true)!;
        f.params.forEach((p, k) => assertSame(p.grad, refGrads[k], `${p.name || 'param'} gradient`));
        assertSame(dx, refDx, 'dL/dx');
      });

      it(`${dtype}: inverse's result is right after a forward, and forward/backward leave it alone`, () => {
        const { m, z } = inverseBatches[1];
        const fresh = c.make(createRefBackend({ dtype }));
        const expected = Float64Array.from(fresh.inverse(from(z), m, ctx(m)));

        const f = c.make(createRefBackend({ dtype }));
        f.forward(from(x0), n, ctx(n));
        const xi = f.inverse(from(z), m, ctx(m));
        assertSame(xi, expected, 'inverse after a forward');
        const xiCopy = Float64Array.from(xi);
        f.forward(from(randn(2 * n * D, 44)), 2 * n, ctx(2 * n));
        f.backward(from(randn(2 * n * D, 45)), logDetWeight, true, true);
        assertSame(xi, xiCopy, 'inverse result after forward and backward');
      });
    }
  });
}
