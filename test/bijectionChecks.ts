// The bijection property suite, one function per bijection so that any list of them can run it: the registered
// cases (test/bijections.test.ts over test/bijectionCases.ts) and the worked examples of docs/extending.md.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRefBackend } from '../src/core/createRefBackend.js';
import { type BijectionCase, caseContext } from './bijectionCases.js';
import { assertAllClose, jacobian, logAbsDet, numericGrad, randn } from './helpers.js';

const n = 3;

/**
 * Registers the property suite for one bijection: output shapes and rows computed independently of the batch, round
 * trip in float64 and float32, log-det against the brute-force Jacobian, for a coupling the kept half untouched,
 * backward against float64 finite differences for the inputs and every parameter, and backward without the input
 * gradient.
 */
export function describeBijectionChecks(c: BijectionCase): void {
  describe(`bijection: ${c.name}`, () => {
    const b64 = createRefBackend({ dtype: 'float64' });
    const f = c.make(b64);
    const D = f.dim;
    const x0 = randn(n * D, 42);
    /** The case's context for rows [from, from + m) (undefined when unconditional). */
    const ctx = (from: number, m: number, dtype: 'float64' | 'float32' = 'float64') => caseContext(c, from, m, dtype);

    it('has the right output shapes, and each row of a batch is what that row alone gives', () => {
      const { y, logDet } = f.forward(Float64Array.from(x0), n, ctx(0, n));
      assert.equal(y.length, n * D);
      assert.equal(logDet.length, n);
      assert.ok(y.every(Number.isFinite) && logDet.every(Number.isFinite), 'finite outputs');
      const yAll = Float64Array.from(y);
      const logDetAll = Float64Array.from(logDet);
      for (let r = 0; r < n; r++) {
        const one = f.forward(x0.slice(r * D, (r + 1) * D), 1, ctx(r, 1));
        assertAllClose(one.y, yAll.subarray(r * D, (r + 1) * D), 1e-12, 1e-12, `row ${r} alone`);
        assertAllClose(one.logDet, [logDetAll[r]], 1e-12, 1e-12, `row ${r}'s log-det alone`);
      }
      const x = f.inverse(Float64Array.from(x0), n, ctx(0, n));
      assert.equal(x.length, n * D);
    });

    it('inverse(forward(x)) ≈ x, in float64 and in float32 (relative 1e-5)', () => {
      const y = Float64Array.from(f.forward(Float64Array.from(x0), n, ctx(0, n)).y);
      assertAllClose(f.inverse(y, n, ctx(0, n)), x0, 1e-12, 1e-12, 'float64 round trip');
      const f32 = c.make(createRefBackend());
      const x32 = Float32Array.from(x0);
      const y32 = Float32Array.from(f32.forward(x32, n, ctx(0, n, 'float32')).y);
      assertAllClose(f32.inverse(y32, n, ctx(0, n, 'float32')), x32, 1e-5, 1e-5, 'float32 round trip');
      // And the other way: forward(inverse(y)) ≈ y.
      const back = Float64Array.from(f.inverse(Float64Array.from(x0), n, ctx(0, n)));
      assertAllClose(f.forward(back, n, ctx(0, n)).y, x0, 1e-12, 1e-12, 'forward of inverse');
    });

    it('log-determinant equals log|det| of the brute-force Jacobian', () => {
      for (let r = 0; r < n; r++) {
        const xr = x0.slice(r * D, (r + 1) * D);
        const J = jacobian((x) => Float64Array.from(f.forward(x, 1, ctx(r, 1)).y), xr);
        const expected = logAbsDet(J, D);
        const got = f.forward(xr, 1, ctx(r, 1)).logDet[0];
        assert.ok(Math.abs(got - expected) < 1e-6, `row ${r}: log-det ${got}, Jacobian says ${expected}`);
      }
    });

    if (c.partition) {
      const { kept, updated } = c.partition;
      it('leaves the kept half bit-identical and changes the updated half', () => {
        const { y } = f.forward(Float64Array.from(x0), n, ctx(0, n));
        for (let r = 0; r < n; r++) for (const i of kept) assert.equal(y[r * D + i], x0[r * D + i]);
        let changed = 0;
        for (let r = 0; r < n; r++) for (const i of updated) if (y[r * D + i] !== x0[r * D + i]) changed++;
        assert.equal(changed, n * updated.length);
      });
    }
    it('backward matches float64 finite differences (inputs and parameters, log-det term included)', () => {
      const w = randn(n * D, 5);
      const logDetWeight = 0.7;
      // L = Σ w ⊙ y + logDetWeight · Σ_i logDet_i
      const loss = (x: Float64Array): number => {
        const { y, logDet } = f.forward(x, n, ctx(0, n));
        let s = 0;
        for (let i = 0; i < n * D; i++) s += w[i] * y[i];
        for (let i = 0; i < n; i++) s += logDetWeight * logDet[i];
        return s;
      };
      const x = Float64Array.from(x0);
      f.forward(x, n, ctx(0, n));
      const dx = Float64Array.from(f.backward(Float64Array.from(w), logDetWeight, true)!);
      const numDx = new Float64Array(n * D);
      for (let i = 0; i < n * D; i++) numDx[i] = numericGrad(x, i, () => loss(x));
      assertAllClose(dx, numDx, 1e-5, 1e-6, 'dL/dx');
      const grads = f.params.map((p) => Float64Array.from(p.grad));
      f.params.forEach((p, k) => {
        const step = Math.max(1, Math.floor(p.data.length / 25));
        for (let i = 0; i < p.data.length; i += step) {
          const num = numericGrad(p.data, i, () => loss(x));
          assert.ok(Math.abs(grads[k][i] - num) <= 1e-6 + 1e-5 * Math.abs(num), `${p.name || 'param'}[${i}]: ${grads[k][i]} vs ${num}`);
        }
      });
    });

    it('backward without the input gradient returns null and writes the same parameter gradients', () => {
      const w = randn(n * D, 6);
      f.forward(Float64Array.from(x0), n, ctx(0, n));
      f.backward(Float64Array.from(w), 0.3, true, true);
      const full = f.params.map((p) => Float64Array.from(p.grad));
      for (const p of f.params) p.grad.fill(Number.NaN);
      f.forward(Float64Array.from(x0), n, ctx(0, n));
      assert.equal(f.backward(Float64Array.from(w), 0.3, true, false), null);
      f.params.forEach((p, k) => assertAllClose(p.grad, full[k], 0, 0, `${p.name || 'param'} without input gradient`));
    });

    if (c.context) {
      it('is a different bijection for each context, and its inverse follows the context', () => {
        // Row 0's input under each row's context: the outputs differ, and each inverts under its own context only.
        const C = c.context!.size;
        const m = Math.min(4, C); // one-hot rows repeat after C
        const xs = new Float64Array(m * D);
        for (let r = 0; r < m; r++) xs.set(x0.subarray(0, D), r * D);
        const y = Float64Array.from(f.forward(xs, m, ctx(0, m)).y);
        for (let r = 1; r < m; r++) {
          let diff = 0;
          for (let i = 0; i < D; i++) diff = Math.max(diff, Math.abs(y[r * D + i] - y[i]));
          assert.ok(diff > 1e-6, `rows 0 and ${r}: the same output for different contexts`);
        }
        assertAllClose(f.inverse(y, m, ctx(0, m)), xs, 1e-12, 1e-12, 'round trip under each context');
        const swapped = Float64Array.from(ctx(0, m)!);
        swapped.copyWithin(0, C, 2 * C);
        assert.ok(!f.inverse(y, m, swapped).subarray(0, D).every((v, i) => Math.abs(v - xs[i]) < 1e-9), 'row 0 decoded under row 1\'s context gives x back');
      });
    }
  });
}
