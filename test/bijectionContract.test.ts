// The Bijection contract (src/flows/Bijection.ts), checked on every bijection kind: each direction owns its
// buffers, so an inverse (sampling) between forward and backward, on other data and other batch sizes, changes
// neither forward's outputs nor the gradients backward computes, and forward/backward leave inverse's result alone.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Backend } from '../src/core/Backend.js';
import { createRefBackend } from '../src/core/createRefBackend.js';
import { Rng } from '../src/core/Rng.js';
import { AdditiveCoupling } from '../src/flows/AdditiveCoupling.js';
import type { Bijection } from '../src/flows/Bijection.js';
import { Chain } from '../src/flows/Chain.js';
import { Coupling } from '../src/flows/Coupling.js';
import { COUPLING_LAWS, type CouplingLaw, lawOutputGroups } from '../src/flows/couplingLaw.js';
import { DiagonalScaling } from '../src/flows/DiagonalScaling.js';
import { partitionFor, type Partition, type PartitionName } from '../src/flows/Partition.js';
import { Whitening } from '../src/flows/Whitening.js';
import { NiceModel } from '../src/model/NiceModel.js';
import { ConvNet } from '../src/nn/ConvNet.js';
import type { CouplingNet } from '../src/nn/CouplingNet.js';
import { Mlp } from '../src/nn/Mlp.js';
import { randn } from './helpers.js';
import { stepBijectionCases } from './stepCases.js';

const SHAPE: [number, number, number] = [2, 3, 4];
const D = 24;

type NetKind = 'mlp' | 'conv';

function makeNet(backend: Backend, kind: NetKind, p: Partition, groups: number, seed: number): CouplingNet {
  const net =
    kind === 'mlp'
      ? new Mlp(backend, p.kept.length, groups * p.updated.length, 8, 2)
      : new ConvNet(backend, SHAPE, p.kept, p.updated, groups, 4, 2);
  net.init(new Rng(seed));
  for (const q of net.params) for (let i = 0; i < q.data.length; i++) q.data[i] *= 2;
  return net;
}

function coupling(backend: Backend, law: CouplingLaw, kind: NetKind, p: Partition, seed: number): Coupling {
  return new Coupling(backend, D, p, makeNet(backend, kind, p, lawOutputGroups(law), seed), law);
}

function scaling(backend: Backend): DiagonalScaling {
  const s = new DiagonalScaling(backend, D);
  s.scale.data.set(randn(D, 7, 0.5));
  return s;
}

/** A whitening W = Qᵀ diag(λ) Q with Q orthogonal (Gram–Schmidt), so W⁻¹ = Qᵀ diag(1/λ) Q and log|det W| = Σ log λ. */
function whitening(backend: Backend): Whitening {
  const Q = randn(D * D, 77);
  for (let i = 0; i < D; i++) {
    for (let k = 0; k < i; k++) {
      let t = 0;
      for (let j = 0; j < D; j++) t += Q[i * D + j] * Q[k * D + j];
      for (let j = 0; j < D; j++) Q[i * D + j] -= t * Q[k * D + j];
    }
    let norm = 0;
    for (let j = 0; j < D; j++) norm += Q[i * D + j] ** 2;
    for (let j = 0; j < D; j++) Q[i * D + j] /= Math.sqrt(norm);
  }
  const lambda = Array.from({ length: D }, (_, k) => 0.5 + (1.5 * k) / D);
  const W = new Float64Array(D * D), Winv = new Float64Array(D * D);
  for (let k = 0; k < D; k++) {
    for (let i = 0; i < D; i++) {
      for (let j = 0; j < D; j++) {
        W[i * D + j] += lambda[k] * Q[k * D + i] * Q[k * D + j];
        Winv[i * D + j] += (Q[k * D + i] * Q[k * D + j]) / lambda[k];
      }
    }
  }
  const logDet = lambda.reduce((s, l) => s + Math.log(l), 0);
  return new Whitening(backend, D, randn(D, 78, 0.2), W, Winv, logDet);
}

interface Case {
  name: string;
  make: (backend: Backend) => Bijection;
}

const NETS: [NetKind, PartitionName][] = [['mlp', 'alternate'], ['mlp', 'halves'], ['mlp', 'checkerboard'], ['conv', 'checkerboard'], ['conv', 'channels']];

const cases: Case[] = [];
for (const law of COUPLING_LAWS) {
  for (const [kind, name] of NETS) {
    for (const k of [0, 1]) {
      const partition = partitionFor(name, k, D, SHAPE);
      cases.push({ name: `${law} coupling, ${kind} net, ${name} partition, layer ${k}`, make: (b) => coupling(b, law, kind, partition, 11 + k) });
    }
  }
}
const alt0 = partitionFor('alternate', 0, D);
cases.push({ name: 'AdditiveCoupling', make: (b) => new AdditiveCoupling(b, D, alt0, makeNet(b, 'mlp', alt0, 1, 5)) });
cases.push({ name: 'diagonal scaling', make: scaling });
cases.push({ name: 'whitening', make: whitening });
cases.push({
  name: 'chain: whitening, 4 alternating multiplicative mlp couplings, scaling',
  make: (b) => new Chain(b, [whitening(b) as Bijection].concat([0, 1, 2, 3].map((k) => coupling(b, 'multiplicative', 'mlp', partitionFor('alternate', k, D), 20 + k)), scaling(b))),
});
for (const [law, network, partition] of [['additive', 'mlp', 'alternate'], ['affine', 'conv', 'checkerboard'], ['multiplicative', 'conv', 'channels']] as const) {
  cases.push({
    name: `NICE model flow (${law}, ${network}, ${partition})`,
    make: (b) => {
      const model = new NiceModel(b, { dim: D, couplings: 4, hidden: 6, depth: 2, prior: 'logistic', partition, coupling: law, shape: SHAPE, network });
      model.init(new Rng(3));
      model.initScaleFromData(Float64Array.from(randn(D * 50, 9, 0.3)), 50);
      return model.flow;
    },
  });
}

// Every registered flow step (src/flows/steps), one case or more each, and a whole multi-scale flow.
cases.push(...stepBijectionCases());

const n = 3;
const x0 = randn(n * D, 42);
const dy0 = randn(n * D, 43);
const logDetWeight = 0.7;
/** Inverse inputs: the same batch size, a larger one (the workspaces grow) and a smaller one. */
const inverseBatches = [n, n + 4, 1].map((m, i) => ({ m, z: randn(m * D, 100 + i, 1.5) }));

/** Bit-exact equality of two arrays, naming the first difference. */
function assertSame(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: lengths differ`);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) assert.fail(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]}`);
  }
}

for (const c of cases) {
  describe(`bijection contract: ${c.name}`, () => {
    for (const dtype of ['float64', 'float32'] as const) {
      const from = (a: ArrayLike<number>): Float64Array | Float32Array => (dtype === 'float64' ? Float64Array.from(a) : Float32Array.from(a));

      it(`${dtype}: inverse calls leave forward's y and logDet unchanged`, () => {
        const f = c.make(createRefBackend({ dtype }));
        const { y, logDet } = f.forward(from(x0), n);
        const yCopy = Float64Array.from(y);
        const logDetCopy = Float64Array.from(logDet);
        for (const { m, z } of inverseBatches) {
          f.inverse(from(z), m);
          assertSame(y, yCopy, `forward y after an inverse of ${m} rows`);
          assertSame(logDet, logDetCopy, `forward logDet after an inverse of ${m} rows`);
        }
        f.backward(from(dy0), logDetWeight, true, true);
        assertSame(y, yCopy, 'forward y after backward');
      });

      it(`${dtype}: backward after inverse calls gives the gradients of forward → backward`, () => {
        // Reference: forward → backward, nothing in between.
        const ref = c.make(createRefBackend({ dtype }));
        ref.forward(from(x0), n);
        const refDx = Float64Array.from(ref.backward(from(dy0), logDetWeight, true, true)!);
        const refGrads = ref.params.map((p) => Float64Array.from(p.grad));

        const f = c.make(createRefBackend({ dtype }));
        f.forward(from(x0), n);
        for (const { m, z } of inverseBatches) f.inverse(from(z), m);
        for (const p of f.params) p.grad.fill(Number.NaN);
        const dx = f.backward(from(dy0), logDetWeight, true, true)!;
        f.params.forEach((p, k) => assertSame(p.grad, refGrads[k], `${p.name || 'param'} gradient`));
        assertSame(dx, refDx, 'dL/dx');
      });

      it(`${dtype}: inverse's result is right after a forward, and forward/backward leave it alone`, () => {
        const { m, z } = inverseBatches[1];
        const fresh = c.make(createRefBackend({ dtype }));
        const expected = Float64Array.from(fresh.inverse(from(z), m));

        const f = c.make(createRefBackend({ dtype }));
        f.forward(from(x0), n);
        const xi = f.inverse(from(z), m);
        assertSame(xi, expected, 'inverse after a forward');
        const xiCopy = Float64Array.from(xi);
        f.forward(from(randn(2 * n * D, 44)), 2 * n);
        f.backward(from(randn(2 * n * D, 45)), logDetWeight, true, true);
        assertSame(xi, xiCopy, 'inverse result after forward and backward');
      });
    }
  });
}
