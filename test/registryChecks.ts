// The generic checks of a prior and of a coupling law, one function each so that any of them can be checked: the
// registered ones (test/registries.test.ts) and the worked examples of docs/extending.md. Priors: the density
// integrates to 1, its standard deviation is `std`, the score is its derivative, draws follow it, the fused batch
// hook (if any) equals the element-wise path. Laws: round trip, log-det against a brute-force Jacobian, backward
// against float64 finite differences, at the law level. With `registered`, also what needs the name in the registry
// (the config check, building a model by name).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRefBackend } from '../src/core/createRefBackend.js';
import { Rng } from '../src/core/Rng.js';
import { Coupling } from '../src/flows/Coupling.js';
import type { CouplingLaw } from '../src/flows/couplingLaw.js';
import type { CouplingLawImpl, LawSite } from '../src/flows/laws/CouplingLawImpl.js';
import { partitionFor } from '../src/flows/Partition.js';
import { validateConfig } from '../src/model/NiceConfig.js';
import { NiceModel } from '../src/model/NiceModel.js';
import { Mlp } from '../src/nn/Mlp.js';
import { priorLogProb, type Prior } from '../src/priors/Prior.js';
import type { PriorName } from '../src/priors/priorRegistry.js';
import { assertAllClose, jacobian, logAbsDet, randn } from './helpers.js';

/** Registers the checks of one prior (`registered`: it is in the registry under its name). */
export function describePriorChecks(prior: Prior, registered: boolean): void {
  const name = prior.name;
  describe(`prior: ${name}`, () => {
    it('the density integrates to 1, with mean 0 and standard deviation `std` (trapezoid rule on ±60·std)', () => {
      const L = 60 * prior.std, steps = 240000, dh = (2 * L) / steps;
      let mass = 0, first = 0, second = 0;
      for (let k = 0; k <= steps; k++) {
        const h = -L + k * dh;
        const p = Math.exp(prior.logDensity(h)) * (k === 0 || k === steps ? 0.5 : 1) * dh;
        mass += p;
        first += h * p;
        second += h * h * p;
      }
      // 1e-6: the trapezoid rule's error is O(step²) at a kink (a Laplace density's at 0), ~1e-12 for smooth ones.
      assert.ok(Math.abs(mass - 1) < 1e-6, `∫p = ${mass}`);
      assert.ok(Math.abs(first) < 1e-6 * prior.std, `∫h p = ${first}`);
      assert.ok(Math.abs(Math.sqrt(second) - prior.std) < 1e-6 * prior.std, `sqrt(∫h² p) = ${Math.sqrt(second)}, std = ${prior.std}`);
    });

    it('the score is the derivative of the log-density (central differences)', () => {
      const eps = 1e-5;
      for (const h of [-30, -7.5, -2, -0.3, 0, 1e-3, 0.4, 1, 3.7, 12, 45].map((v) => v * prior.std)) {
        const num = (prior.logDensity(h + eps) - prior.logDensity(h - eps)) / (2 * eps);
        assert.ok(Math.abs(prior.score(h) - num) < 1e-7 * (1 + Math.abs(num)), `h = ${h}: score ${prior.score(h)}, finite difference ${num}`);
      }
    });

    it('draws have mean 0 and standard deviation `std`, and follow the density (mass within ±std)', () => {
      const rng = new Rng(2024);
      const N = 200000;
      let s = 0, s2 = 0, inside = 0;
      for (let i = 0; i < N; i++) {
        const v = prior.sample(rng);
        s += v;
        s2 += v * v;
        if (Math.abs(v) <= prior.std) inside++;
      }
      const mean = s / N, std = Math.sqrt(s2 / N - mean * mean);
      assert.ok(Math.abs(mean) < 5 * prior.std / Math.sqrt(N), `mean ${mean}`);
      assert.ok(Math.abs(std / prior.std - 1) < 0.015, `std ${std}, expected ${prior.std}`);
      // P(|h| ≤ std) from the density, against the draws' fraction.
      const steps = 20000, dh = (2 * prior.std) / steps;
      let mass = 0;
      for (let k = 0; k <= steps; k++) mass += Math.exp(prior.logDensity(-prior.std + k * dh)) * (k === 0 || k === steps ? 0.5 : 1) * dh;
      const frac = inside / N;
      assert.ok(Math.abs(frac - mass) < 5 * Math.sqrt(mass * (1 - mass) / N), `P(|h| ≤ std): draws ${frac}, density ${mass}`);
    });

    it(prior.batchLogProb ? 'the fused batch hook equals the element-wise path' : 'has no batch hook (the model goes element-wise)', () => {
      if (!prior.batchLogProb) {
        assert.equal(prior.batchLogProb, undefined);
        return;
      }
      const n = 4, D = 37;
      const hv = randn(n * D, 5, 3 * prior.std);
      hv[0] = 0;
      hv[1] = 80 * prior.std;
      hv[2] = -80 * prior.std;
      for (const dtype of ['float64', 'float32'] as const) {
        const backend = createRefBackend({ dtype });
        const h = dtype === 'float64' ? Float64Array.from(hv) : Float32Array.from(hv);
        for (const weight of [0.37, -1 / n]) {
          const lp = new Float64Array(n), dh = backend.alloc(n * D);
          prior.batchLogProb(backend, h, n, D, weight, lp, dh);
          const lpRef = new Float64Array(n);
          priorLogProb(prior, h, n, D, lpRef);
          const dhRef = Float64Array.from(h, (v) => weight * prior.score(v));
          const tol = dtype === 'float64' ? 1e-12 : 1e-6;
          assertAllClose(lp, lpRef, tol, tol, `${dtype} log p`);
          assertAllClose(dh, dhRef, tol, tol, `${dtype} weight · score`);
        }
      }
    });

    if (registered) it('is accepted by the config check and builds a model whose log p(x) is finite', () => {
      const config = validateConfig({ dim: 8, couplings: 2, hidden: 4, depth: 1, prior: name as PriorName, partition: 'alternate' });
      assert.equal(config.prior, name);
      const model = new NiceModel(createRefBackend({ dtype: 'float64' }), config);
      model.init(new Rng(1));
      assert.equal(model.prior, prior);
      assert.ok(model.logProb(randn(16, 3), 2).every(Number.isFinite));
    });
  });
}

/** The law applied to one batch: rows x [n, D], net output h [n, G·du], on a float64 reference backend. */
function lawSetup(law: CouplingLawImpl) {
  const D = 10;
  const updated = Int32Array.from([7, 1, 4, 8]); // any order: the law must follow partition order
  const du = updated.length;
  const n = 3;
  const site: LawSite = { backend: createRefBackend({ dtype: 'float64' }), dim: D, updated };
  const run = (h: Float64Array, x: Float64Array) => {
    const y = Float64Array.from(x);
    const logDet = new Float64Array(n);
    const saved = new Float64Array(n * law.saved * du);
    law.forward(site, h, x, y, logDet, saved, n);
    return { y, logDet, saved };
  };
  return { D, updated, du, n, site, run, h0: randn(n * law.groups * du, 31, 1.5), x0: randn(n * D, 32) };
}

/** Registers the checks of one coupling law (`registered`: it is in the registry under its name). */
export function describeLawChecks(law: CouplingLawImpl, registered: boolean): void {
  const name = law.name;
  describe(`law: ${name}`, () => {
    it('declares whole numbers of groups (≥ 1) and saved values (≥ 0)', () => {
      assert.ok(Number.isInteger(law.groups) && law.groups >= 1);
      assert.ok(Number.isInteger(law.saved) && law.saved >= 0);
    });

    it('forward leaves I1 alone and inverse undoes it (float64)', () => {
      const { D, updated, n, site, run, h0, x0 } = lawSetup(law);
      const { y } = run(h0, x0);
      const isUpdated = new Set(updated);
      for (let i = 0; i < n * D; i++) if (!isUpdated.has(i % D)) assert.equal(y[i], x0[i]);
      const x = Float64Array.from(y);
      law.inverse(site, h0, x, n);
      assertAllClose(x, x0, 1e-12, 1e-12, 'inverse(forward(x))');
    });

    it('log-det equals log|det ∂y_I2/∂x_I2| of the brute-force Jacobian', () => {
      const { D, updated, du, n, run, h0, x0 } = lawSetup(law);
      const { logDet } = run(h0, x0);
      for (let r = 0; r < n; r++) {
        const x2 = Float64Array.from(updated, (i) => x0[r * D + i]);
        const J = jacobian((v) => {
          const x = Float64Array.from(x0);
          updated.forEach((i, j) => (x[r * D + i] = v[j]));
          const { y } = run(h0, x);
          return Float64Array.from(updated, (i) => y[r * D + i]);
        }, x2);
        const expected = logAbsDet(J, du);
        assert.ok(Math.abs(logDet[r] - expected) < 1e-7, `row ${r}: log-det ${logDet[r]}, Jacobian says ${expected}`);
      }
    });

    it('backward matches float64 finite differences (dL/dh, dL/dx_I2; dy_I1 untouched)', () => {
      const { D, updated, n, site, run, h0, x0 } = lawSetup(law);
      const w = randn(n * D, 33);
      const logDetWeight = 0.7;
      const loss = (h: Float64Array, x: Float64Array): number => {
        const { y, logDet } = run(h, x);
        let s = 0;
        for (let i = 0; i < n * D; i++) s += w[i] * y[i];
        for (let i = 0; i < n; i++) s += logDetWeight * logDet[i];
        return s;
      };
      const { saved } = run(h0, x0);
      const dy = Float64Array.from(w);
      const dh = new Float64Array(h0.length);
      law.backward(site, dy, saved, logDetWeight, dh, n);
      const eps = 1e-6;
      const num = (arr: Float64Array, i: number): number => {
        const old = arr[i];
        arr[i] = old + eps;
        const lp = loss(h0, x0);
        arr[i] = old - eps;
        const lm = loss(h0, x0);
        arr[i] = old;
        return (lp - lm) / (2 * eps);
      };
      for (let i = 0; i < h0.length; i++) {
        const g = num(h0, i);
        assert.ok(Math.abs(dh[i] - g) <= 1e-7 + 1e-6 * Math.abs(g), `dL/dh[${i}]: ${dh[i]} vs ${g}`);
      }
      const isUpdated = new Set(updated);
      for (let i = 0; i < n * D; i++) {
        if (!isUpdated.has(i % D)) {
          assert.equal(dy[i], w[i], `dy_I1[${i}] changed`);
          continue;
        }
        const g = num(x0, i);
        assert.ok(Math.abs(dy[i] - g) <= 1e-7 + 1e-6 * Math.abs(g), `dL/dx[${i}]: ${dy[i]} vs ${g}`);
      }
    });

    if (registered) it('plugs into a Coupling by name and as an object, with the same result', () => {
      const backend = createRefBackend({ dtype: 'float64' });
      const D = 12, n = 2;
      const p = partitionFor('alternate', 0, D);
      const net = new Mlp(backend, p.kept.length, law.groups * p.updated.length, 5, 1);
      net.init(new Rng(4));
      const x = randn(n * D, 34);
      const byName = Float64Array.from(new Coupling(backend, D, p, net, name as CouplingLaw).forward(x, n).y);
      const byObject = new Coupling(backend, D, p, net, law);
      assert.equal(byObject.law, name);
      assert.deepEqual(Array.from(byObject.forward(x, n).y), Array.from(byName));
    });

    if (registered) it('is accepted by the config check and builds a model whose log p(x) is finite', () => {
      const config = validateConfig({ dim: 8, couplings: 2, hidden: 4, depth: 1, prior: 'logistic', partition: 'alternate', coupling: name as CouplingLaw });
      assert.equal(config.coupling, name);
      const model = new NiceModel(createRefBackend({ dtype: 'float64' }), config);
      model.init(new Rng(1));
      assert.equal(model.couplings[0].net.outDim, law.groups * 4);
      assert.ok(model.logProb(randn(16, 3), 2).every(Number.isFinite));
    });
  });
}
