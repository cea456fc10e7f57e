// One property suite over every bijection (zuko/nflows style): shape, round trip, log-det against a brute-force
// float64 Jacobian, the kept half untouched, and backward against finite differences. Every coupling law runs with
// every network (dense with alternate/halves/checkerboard, conv with checkerboard/channels), plus the scaling layer,
// the whitening layer, chains of them and whole model flows (one with whitening first).
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Backend } from '../src/core/Backend.js';
import { createRefBackend } from '../src/core/createRefBackend.js';
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { Rng } from '../src/core/Rng.js';
import { AdditiveCoupling } from '../src/flows/AdditiveCoupling.js';
import type { Bijection } from '../src/flows/Bijection.js';
import { Chain } from '../src/flows/Chain.js';
import { Coupling } from '../src/flows/Coupling.js';
import { COUPLING_LAWS, type CouplingLaw, lawOutputGroups, LOG_SCALE_BOUND } from '../src/flows/couplingLaw.js';
import { DiagonalScaling } from '../src/flows/DiagonalScaling.js';
import { partitionFor, type Partition, type PartitionName } from '../src/flows/Partition.js';
import { Whitening } from '../src/flows/Whitening.js';
import { NiceModel } from '../src/model/NiceModel.js';
import { ConvNet } from '../src/nn/ConvNet.js';
import type { CouplingNet } from '../src/nn/CouplingNet.js';
import { Mlp } from '../src/nn/Mlp.js';
import { createWasmBackendNode } from '../src/node/createWasmBackendNode.js';
import { assertAllClose, jacobian, logAbsDet, numericGrad, randn } from './helpers.js';
import { stepBijectionCases } from './stepCases.js';

const SHAPE: [number, number, number] = [2, 3, 4]; // C×H×W, so checkerboard and channels apply
const D = 24;

interface Case {
  name: string;
  make: (backend: Backend) => Bijection;
  partition?: Partition;
}

type NetKind = 'mlp' | 'conv';

function makeNet(backend: Backend, kind: NetKind, p: Partition, groups: number, seed: number, gain = 2): CouplingNet {
  const net =
    kind === 'mlp'
      ? new Mlp(backend, p.kept.length, groups * p.updated.length, 8, 2)
      : new ConvNet(backend, SHAPE, p.kept, p.updated, groups, 4, 2);
  net.init(new Rng(seed));
  // Bigger weights than the default init, so the coupling is far from the identity.
  for (const q of net.params) for (let i = 0; i < q.data.length; i++) q.data[i] *= gain;
  return net;
}

function coupling(backend: Backend, law: CouplingLaw, kind: NetKind, p: Partition, seed: number, gain = 2): Coupling {
  return new Coupling(backend, D, p, makeNet(backend, kind, p, lawOutputGroups(law), seed, gain), law);
}

function scaling(backend: Backend): DiagonalScaling {
  const s = new DiagonalScaling(backend, D);
  s.scale.data.set(randn(D, 7, 0.5));
  return s;
}

/**
 * A general whitening y = W (x − μ): W = diag(g)(I + 0.3 G/√D) with G Gaussian and gains g in [0.5, 2], so W is not
 * symmetric (transposition mistakes show) and well conditioned (the float32 round trip stays within 1e-5); W⁻¹ by
 * Gauss–Jordan elimination in float64, μ ≠ 0.
 */
const WHITENING = (() => {
  const G = randn(D * D, 77, 0.3 / Math.sqrt(D));
  const W = Float64Array.from(G, (v, i) => (v + (i % (D + 1) === 0 ? 1 : 0)) * (0.5 + (1.5 * Math.floor(i / D)) / (D - 1)));
  const M = Float64Array.from(W);
  const Winv = Float64Array.from({ length: D * D }, (_, i) => (i % (D + 1) === 0 ? 1 : 0));
  for (let c = 0; c < D; c++) {
    let p = c;
    for (let r = c + 1; r < D; r++) if (Math.abs(M[r * D + c]) > Math.abs(M[p * D + c])) p = r;
    for (const X of [M, Winv]) for (let k = 0; k < D; k++) [X[c * D + k], X[p * D + k]] = [X[p * D + k], X[c * D + k]];
    const piv = M[c * D + c];
    for (const X of [M, Winv]) for (let k = 0; k < D; k++) X[c * D + k] /= piv;
    for (let r = 0; r < D; r++) {
      if (r === c) continue;
      const f = M[r * D + c];
      for (const X of [M, Winv]) for (let k = 0; k < D; k++) X[r * D + k] -= f * X[c * D + k];
    }
  }
  return { mean: randn(D, 5, 0.3), W, Winv, logDet: logAbsDet(W, D) };
})();

function whitening(backend: Backend): Whitening {
  return new Whitening(backend, D, WHITENING.mean, WHITENING.W, WHITENING.Winv, WHITENING.logDet);
}

const NETS: [NetKind, PartitionName][] = [['mlp', 'alternate'], ['mlp', 'halves'], ['mlp', 'checkerboard'], ['conv', 'checkerboard'], ['conv', 'channels']];

const cases: Case[] = [];
for (const law of COUPLING_LAWS) {
  for (const [kind, name] of NETS) {
    for (const k of [0, 1]) {
      const partition = partitionFor(name, k, D, SHAPE);
      cases.push({ name: `${law} coupling, ${kind} net, ${name} partition, layer ${k}`, make: (b) => coupling(b, law, kind, partition, 11 + k), partition });
    }
  }
}
const alt0 = partitionFor('alternate', 0, D);
cases.push({ name: 'AdditiveCoupling (the additive law by its old name)', make: (b) => new AdditiveCoupling(b, D, alt0, makeNet(b, 'mlp', alt0, 1, 5)), partition: alt0 });
cases.push({ name: 'diagonal scaling', make: scaling });
cases.push({ name: 'whitening y = W (x − μ), W general (not symmetric)', make: whitening });
cases.push({
  name: 'chain of 4 alternating additive couplings and a scaling',
  make: (b) => new Chain(b, [0, 1, 2, 3].map((k) => coupling(b, 'additive', 'mlp', partitionFor('alternate', k, D), 20 + k) as Bijection).concat(scaling(b))),
});
cases.push({
  name: 'chain of 4 affine conv couplings (channels) and a scaling',
  make: (b) => new Chain(b, [0, 1, 2, 3].map((k) => coupling(b, 'affine', 'conv', partitionFor('channels', k, D, SHAPE), 30 + k) as Bijection).concat(scaling(b))),
});
for (const [coupling, network, partition] of [['additive', 'mlp', 'checkerboard'], ['affine', 'conv', 'checkerboard'], ['multiplicative', 'conv', 'channels']] as const) {
  cases.push({
    name: `NICE model flow (${coupling}, ${network}, ${partition}, data-dependent scale)`,
    make: (b) => {
      const model = new NiceModel(b, { dim: D, couplings: 4, hidden: 6, depth: 2, prior: 'logistic', partition, coupling, shape: SHAPE, network });
      model.init(new Rng(3));
      model.initScaleFromData(Float64Array.from(randn(D * 50, 9, 0.3)), 50);
      return model.flow;
    },
  });
}

cases.push({
  name: 'NICE model flow with a whitening layer first (affine, conv, checkerboard, data-dependent scale)',
  make: (b) => {
    const model = new NiceModel(b, { dim: D, couplings: 4, hidden: 6, depth: 2, prior: 'gaussian', partition: 'checkerboard', coupling: 'affine', shape: SHAPE, network: 'conv', whiten: 'zca' });
    model.init(new Rng(4));
    model.setWhitening(whitening(b));
    model.initScaleFromData(Float64Array.from(randn(D * 50, 10, 0.3)), 50);
    return model.flow;
  },
});

// Every registered flow step (src/flows/steps), one case or more each, and a whole multi-scale flow.
cases.push(...stepBijectionCases());

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

    it('backward matches float64 finite differences (inputs and parameters, log-det term included)', () => {
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
      f.forward(Float64Array.from(x0), n);
      f.backward(Float64Array.from(w), 0.3, true, true);
      const full = f.params.map((p) => Float64Array.from(p.grad));
      for (const p of f.params) p.grad.fill(Number.NaN);
      f.forward(Float64Array.from(x0), n);
      assert.equal(f.backward(Float64Array.from(w), 0.3, true, false), null);
      f.params.forEach((p, k) => assertAllClose(p.grad, full[k], 0, 0, `${p.name || 'param'} without input gradient`));
    });
  });
}

describe('coupling laws', () => {
  const b64 = createRefBackend({ dtype: 'float64' });
  const p = partitionFor('checkerboard', 0, D, SHAPE);

  it('the additive law computes y2 = x2 + m(x1) exactly, with log-det 0', () => {
    const cpl = coupling(b64, 'additive', 'mlp', p, 3);
    const { y, logDet } = cpl.forward(Float64Array.from(x0), n);
    const xk = new Float64Array(n * p.kept.length);
    for (let r = 0; r < n; r++) p.kept.forEach((i, j) => (xk[r * p.kept.length + j] = x0[r * D + i]));
    const m = Float64Array.from(cpl.net.forward(xk, n));
    for (let r = 0; r < n; r++) p.updated.forEach((i, j) => assert.equal(y[r * D + i], x0[r * D + i] + m[r * p.updated.length + j]));
    assert.deepEqual(Array.from(logDet), [0, 0, 0]);
    assert.equal(cpl.m, cpl.net);
  });

  it('affine: y2 = x2 ⊙ exp(ℓ(a)) + t with ℓ(a) = 2·tanh(a/2), a then t per example; log-det = Σ ℓ(a)', () => {
    const cpl = coupling(b64, 'affine', 'conv', p, 4);
    const { y, logDet } = cpl.forward(Float64Array.from(x0), n);
    const du = p.updated.length;
    const xk = new Float64Array(n * p.kept.length);
    for (let r = 0; r < n; r++) p.kept.forEach((i, j) => (xk[r * p.kept.length + j] = x0[r * D + i]));
    const h = Float64Array.from(cpl.net.forward(xk, n));
    for (let r = 0; r < n; r++) {
      let sum = 0;
      p.updated.forEach((i, j) => {
        const l = 2 * Math.tanh(h[r * 2 * du + j] / 2);
        sum += l;
        assert.ok(Math.abs(y[r * D + i] - (x0[r * D + i] * Math.exp(l) + h[r * 2 * du + du + j])) < 1e-12, `row ${r}, coordinate ${i}`);
      });
      assert.ok(Math.abs(logDet[r] - sum) < 1e-12);
    }
  });

  for (const law of ['multiplicative', 'affine'] as const) {
    it(`${law}: the log-scale stays in (−2, 2) per coordinate even for huge net outputs, and the inverse stays exact`, () => {
      const cpl = coupling(b64, law, 'mlp', p, 6, 30);
      const x = Float64Array.from(x0);
      const { y, logDet } = cpl.forward(x, n);
      const bound = LOG_SCALE_BOUND * p.updated.length;
      for (const v of logDet) assert.ok(Math.abs(v) < bound, `log-det ${v}`);
      assert.ok(y.every(Number.isFinite));
      assertAllClose(cpl.inverse(Float64Array.from(y), n), x0, 1e-9, 1e-9, 'round trip');
    });
  }

  it('a net of the wrong output size for the law is rejected', () => {
    assert.throws(() => new Coupling(b64, D, p, makeNet(b64, 'mlp', p, 1, 1), 'affine'), /net maps 12 → 12.*12 → 24/);
  });
});

describe('whitening layer', () => {
  const made: Backend[] = [];
  after(() => made.forEach((b) => b.dispose()));
  const { mean, W, logDet } = WHITENING;

  it('computes y = W (x − μ) per row with the constant log|det W|, and has no parameters', () => {
    const f = whitening(createRefBackend({ dtype: 'float64' }));
    const { y, logDet: ld } = f.forward(Float64Array.from(x0), n);
    const want = new Float64Array(n * D);
    for (let r = 0; r < n; r++) for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) want[r * D + i] += W[i * D + j] * (x0[r * D + j] - mean[j]);
    assertAllClose(y, want, 1e-12, 1e-12, 'y');
    assert.deepEqual(Array.from(ld), [logDet, logDet, logDet]);
    assert.equal(f.params.length, 0);
  });

  it('the wasm backend computes the same map and round trip as the reference, and reuses its buffers', async () => {
    const wasm = await createWasmBackendNode({ threads: 1 });
    made.push(wasm);
    const ref = Float64Array.from(whitening(createRefBackend({ dtype: 'float64' })).forward(Float64Array.from(x0), n).y);
    const f = whitening(wasm);
    const y = Float32Array.from(f.forward(Float32Array.from(x0), n).y);
    assertAllClose(y, ref, 1e-5, 1e-5, 'wasm forward');
    assertAllClose(f.inverse(y, n), x0, 1e-5, 1e-5, 'wasm round trip');
    assertAllClose(f.forward(Float32Array.from(x0), n).y, y, 0, 0, 'wasm second call');
  });
});

describe('partitions', () => {
  it('channels splits C×H×W into channels [0, ceil(C/2)) and the rest, alternating', () => {
    const first = Array.from({ length: 12 }, (_, i) => i);
    const second = Array.from({ length: 12 }, (_, i) => 12 + i);
    assert.deepEqual(Array.from(partitionFor('channels', 0, 24, [2, 3, 4]).kept), first);
    assert.deepEqual(Array.from(partitionFor('channels', 0, 24, [2, 3, 4]).updated), second);
    assert.deepEqual(Array.from(partitionFor('channels', 1, 24, [2, 3, 4]).kept), second);
    const three = partitionFor('channels', 0, 12, [3, 2, 2]);
    assert.deepEqual(Array.from(three.kept), Array.from({ length: 8 }, (_, i) => i));
    assert.deepEqual(Array.from(three.updated), [8, 9, 10, 11]);
  });

  it('channels on a single-channel image (or without a shape) is a clear error', () => {
    assert.throws(() => partitionFor('channels', 0, 16, [1, 4, 4]), (e: unknown) => e instanceof NiceFlowError && /single-channel.*checkerboard or alternate/.test(e.message));
    assert.throws(() => partitionFor('channels', 0, 16), (e: unknown) => e instanceof NiceFlowError && /needs an image shape/.test(e.message));
  });

  it('the existing partitions are unchanged (alternate: layer 0 updates the odd indices)', () => {
    assert.deepEqual(Array.from(partitionFor('alternate', 0, 6).updated), [1, 3, 5]);
    assert.deepEqual(Array.from(partitionFor('alternate', 1, 6).updated), [0, 2, 4]);
    assert.deepEqual(Array.from(partitionFor('halves', 0, 5).kept), [0, 1]);
    assert.deepEqual(Array.from(partitionFor('checkerboard', 0, 8, [2, 2, 2]).kept), [0, 3, 4, 7]);
  });
});
