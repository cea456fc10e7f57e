// One property suite over every bijection (zuko/nflows style): shape, round trip, log-det against a brute-force
// float64 Jacobian, the kept half untouched, and backward against finite differences.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Backend } from '../src/core/Backend.js';
import { createRefBackend } from '../src/core/createRefBackend.js';
import { Rng } from '../src/core/Rng.js';
import { AdditiveCoupling } from '../src/flows/AdditiveCoupling.js';
import type { Bijection } from '../src/flows/Bijection.js';
import { Chain } from '../src/flows/Chain.js';
import { DiagonalScaling } from '../src/flows/DiagonalScaling.js';
import { partitionFor, PARTITION_NAMES, type Partition } from '../src/flows/Partition.js';
import { NiceModel } from '../src/model/NiceModel.js';
import { Mlp } from '../src/nn/Mlp.js';
import { assertAllClose, jacobian, logAbsDet, numericGrad, randn } from './helpers.js';

const D = 16; // 1×4×4, so checkerboard applies
const SHAPE = [1, 4, 4];

interface Case {
  name: string;
  make: (backend: Backend) => Bijection;
  partition?: Partition;
}

function coupling(backend: Backend, partition: Partition, seed: number): AdditiveCoupling {
  const m = new Mlp(backend, partition.kept.length, partition.updated.length, 8, 2);
  m.init(new Rng(seed));
  // Bigger weights than the default init, so the coupling is far from the identity.
  for (const p of m.params) for (let i = 0; i < p.data.length; i++) p.data[i] *= 2;
  return new AdditiveCoupling(backend, D, partition, m);
}

function scaling(backend: Backend): DiagonalScaling {
  const s = new DiagonalScaling(backend, D);
  s.scale.data.set(randn(D, 7, 0.5));
  return s;
}

const cases: Case[] = [];
for (const name of PARTITION_NAMES) {
  for (const k of [0, 1]) {
    const partition = partitionFor(name, k, D, SHAPE);
    cases.push({ name: `additive coupling, ${name} partition, layer ${k}`, make: (b) => coupling(b, partition, 11 + k), partition });
  }
}
cases.push({ name: 'diagonal scaling', make: scaling });
cases.push({
  name: 'chain of 4 alternating couplings and a scaling',
  make: (b) => new Chain(b, [0, 1, 2, 3].map((k) => coupling(b, partitionFor('alternate', k, D), 20 + k) as Bijection).concat(scaling(b))),
});
cases.push({
  name: 'NICE model flow (checkerboard, data-dependent scale)',
  make: (b) => {
    const model = new NiceModel(b, { dim: D, couplings: 4, hidden: 6, depth: 2, prior: 'logistic', partition: 'checkerboard', coupling: 'additive', shape: SHAPE });
    model.init(new Rng(3));
    model.initScaleFromData(Float64Array.from(randn(D * 50, 9, 0.3)), 50);
    return model.flow;
  },
});

const n = 3;
const x0 = randn(n * D, 42);

for (const c of cases) {
  describe(`bijection: ${c.name}`, () => {
    const b64 = createRefBackend({ dtype: 'float64' });
    const f = c.make(b64);

    it('has the right output shapes', () => {
      const { y, logDet } = f.forward(Float64Array.from(x0), n);
      assert.equal(y.length, n * D);
      assert.equal(logDet.length, n);
      assert.ok(y.every(Number.isFinite));
    });

    it('inverse(forward(x)) ≈ x, in float64 and in float32 (relative 1e-5)', () => {
      const y = Float64Array.from(f.forward(Float64Array.from(x0), n).y);
      assertAllClose(f.inverse(y, n), x0, 1e-12, 1e-12, 'float64 round trip');
      const f32 = c.make(createRefBackend());
      const x32 = Float32Array.from(x0);
      const y32 = Float32Array.from(f32.forward(x32, n).y);
      assertAllClose(f32.inverse(y32, n), x32, 1e-5, 1e-5, 'float32 round trip');
      // And the other way: forward(inverse(y)) ≈ y.
      const back = Float64Array.from(f.inverse(Float64Array.from(x0), n));
      assertAllClose(f.forward(back, n).y, x0, 1e-12, 1e-12, 'forward of inverse');
    });

    it('log-determinant equals log|det| of the brute-force Jacobian', () => {
      for (let r = 0; r < n; r++) {
        const xr = x0.slice(r * D, (r + 1) * D);
        const J = jacobian((x) => Float64Array.from(f.forward(x, 1).y), xr);
        const expected = logAbsDet(J, D);
        const got = f.forward(xr, 1).logDet[0];
        assert.ok(Math.abs(got - expected) < 1e-6, `row ${r}: log-det ${got}, Jacobian says ${expected}`);
      }
    });

    if (c.partition) {
      const { kept, updated } = c.partition;
      it('leaves the kept half bit-identical and changes the updated half', () => {
        const { y } = f.forward(Float64Array.from(x0), n);
        for (let r = 0; r < n; r++) for (const i of kept) assert.equal(y[r * D + i], x0[r * D + i]);
        let changed = 0;
        for (let r = 0; r < n; r++) for (const i of updated) if (y[r * D + i] !== x0[r * D + i]) changed++;
        assert.equal(changed, n * updated.length);
      });
    }

    it('backward matches float64 finite differences (inputs and parameters)', () => {
      const w = randn(n * D, 5);
      const logDetWeight = 0.7;
      // L = Σ w ⊙ y + logDetWeight · Σ_i logDet_i
      const loss = (x: Float64Array): number => {
        const { y, logDet } = f.forward(x, n);
        let s = 0;
        for (let i = 0; i < n * D; i++) s += w[i] * y[i];
        for (let i = 0; i < n; i++) s += logDetWeight * logDet[i];
        return s;
      };
      const x = Float64Array.from(x0);
      f.forward(x, n);
      const dx = Float64Array.from(f.backward(Float64Array.from(w), logDetWeight, true));
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
  });
}
