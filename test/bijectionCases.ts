// The bijections that the property suites check (test/bijections.test.ts: shapes, round trip, log-det against a
// brute-force Jacobian, finite differences; test/bijectionContract.test.ts: the per-direction buffer contract):
// every coupling law with every network and partition, the scaling and whitening layers, chains, whole model flows
// and every registered flow step (test/stepCases.ts). One list, so a new bijection cannot be left out of either.
import type { Backend } from '../src/core/Backend.js';
import { Rng } from '../src/core/Rng.js';
import { AdditiveCoupling } from '../src/flows/AdditiveCoupling.js';
import type { Bijection } from '../src/flows/Bijection.js';
import { Chain } from '../src/flows/Chain.js';
import { ContextAffine } from '../src/flows/ContextAffine.js';
import { Coupling } from '../src/flows/Coupling.js';
import { COUPLING_LAWS, type CouplingLaw, lawOutputGroups } from '../src/flows/couplingLaw.js';
import { DiagonalScaling } from '../src/flows/DiagonalScaling.js';
import { partitionFor, type Partition, type PartitionName } from '../src/flows/Partition.js';
import { Whitening } from '../src/flows/Whitening.js';
import { NiceModel } from '../src/model/NiceModel.js';
import { ConvNet } from '../src/nn/ConvNet.js';
import type { CouplingNet } from '../src/nn/CouplingNet.js';
import { Mlp } from '../src/nn/Mlp.js';
import { CONTEXT_ROWS, contextRows, logAbsDet, randn } from './helpers.js';
import { stepBijectionCases } from './stepCases.js';

/** The image shape of every case: C×H×W, so checkerboard and channel partitions apply. */
export const SHAPE: [number, number, number] = [2, 3, 4];
/** The row length of every case. */
export const D = 24;

/** One bijection to check: how to build it on a backend, and for a coupling its partition (the kept half must pass). */
export interface BijectionCase {
  name: string;
  make: (backend: Backend) => Bijection;
  partition?: Partition;
  /** For a conditional bijection: the context size C and contexts for CONTEXT_ROWS rows (row r's is rows[r·C…]). */
  context?: { size: number; rows: Float64Array };
}

/** Context rows m rows from row `from` of a case, in the dtype's array (undefined for an unconditional case). */
export function caseContext(c: BijectionCase, from: number, m: number, dtype: 'float64' | 'float32' = 'float64'): Float64Array | Float32Array | undefined {
  if (!c.context) return undefined;
  const { size, rows } = c.context;
  if (from + m > CONTEXT_ROWS) throw new Error(`caseContext: rows ${from}…${from + m - 1} of ${CONTEXT_ROWS}`);
  const part = rows.subarray(from * size, (from + m) * size);
  return dtype === 'float64' ? Float64Array.from(part) : Float32Array.from(part);
}

/** The coupling networks of the cases. */
export type NetKind = 'mlp' | 'conv';

/** A small coupling network for partition p, with weights `gain` times the default (far from the identity). */
export function makeNet(backend: Backend, kind: NetKind, p: Partition, groups: number, seed: number, gain = 2): CouplingNet {
  const net =
    kind === 'mlp'
      ? new Mlp(backend, p.kept.length, groups * p.updated.length, 8, 2)
      : new ConvNet(backend, SHAPE, p.kept, p.updated, groups, 4, 2);
  net.init(new Rng(seed));
  // Bigger weights than the default init, so the coupling is far from the identity.
  for (const q of net.params) for (let i = 0; i < q.data.length; i++) q.data[i] *= gain;
  return net;
}

/** A coupling of law `law` on partition p with a small `kind` network. */
export function coupling(backend: Backend, law: CouplingLaw, kind: NetKind, p: Partition, seed: number, gain = 2): Coupling {
  return new Coupling(backend, D, p, makeNet(backend, kind, p, lawOutputGroups(law), seed, gain), law);
}

/** A diagonal scaling with random log-scales. */
export function scaling(backend: Backend): DiagonalScaling {
  const s = new DiagonalScaling(backend, D);
  s.scale.data.set(randn(D, 7, 0.5));
  return s;
}

/**
 * A general whitening y = W (x − μ): W = diag(g)(I + 0.3 G/√D) with G Gaussian and gains g in [0.5, 2], so W is not
 * symmetric (transposition mistakes show) and well conditioned (the float32 round trip stays within 1e-5); W⁻¹ by
 * Gauss–Jordan elimination in float64, μ ≠ 0.
 */
export const WHITENING = (() => {
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

/** The whitening layer of WHITENING on a backend. */
export function whitening(backend: Backend): Whitening {
  return new Whitening(backend, D, WHITENING.mean, WHITENING.W, WHITENING.Winv, WHITENING.logDet);
}

const NETS: [NetKind, PartitionName][] = [['mlp', 'alternate'], ['mlp', 'halves'], ['mlp', 'checkerboard'], ['conv', 'checkerboard'], ['conv', 'channels']];

/** Every bijection both property suites check, in one list so that a new one cannot be left out of either. */
export const BIJECTION_CASES: BijectionCase[] = [];
const cases = BIJECTION_CASES;
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
cases.push({
  name: 'chain: whitening, 4 alternating multiplicative mlp couplings, scaling',
  make: (b) => new Chain(b, [whitening(b) as Bijection].concat([0, 1, 2, 3].map((k) => coupling(b, 'multiplicative', 'mlp', partitionFor('alternate', k, D), 20 + k)), scaling(b))),
});
for (const [coupling, network, partition] of [['additive', 'mlp', 'checkerboard'], ['additive', 'mlp', 'alternate'], ['affine', 'conv', 'checkerboard'], ['multiplicative', 'conv', 'channels']] as const) {
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

/** A ContextAffine layer with random W and b (far from the identity). */
function contextAffine(b: Backend, C: number, seed: number): ContextAffine {
  const layer = new ContextAffine(b, D, C);
  layer.weight.data.set(randn(2 * D * C, seed, 0.8));
  layer.bias.data.set(randn(2 * D, seed + 1, 0.5));
  return layer;
}
for (const [C, hot] of [[3, false], [4, true]] as const) {
  cases.push({ name: `context-affine layer, ${hot ? `one-hot labels of ${C} classes` : `continuous context of ${C} values`}`, make: (b) => contextAffine(b, C, 70 + C), context: { size: C, rows: contextRows(C, hot) } });
}
// Conditional couplings: the dense network reads [x_I1 | c] (every law, both partition halves).
for (const law of COUPLING_LAWS) {
  for (const k of [0, 1]) {
    const p = partitionFor('alternate', k, D);
    const C = 3;
    cases.push({
      name: `${law} coupling with a conditional mlp net (continuous context of ${C}), layer ${k}`,
      make: (b) => {
        const net = new Mlp(b, p.kept.length + C, lawOutputGroups(law) * p.updated.length, 8, 2);
        net.init(new Rng(50 + k));
        for (const q of net.params) for (let i = 0; i < q.data.length; i++) q.data[i] *= 2;
        return new Coupling(b, D, p, net, law, C);
      },
      partition: p,
      context: { size: C, rows: contextRows(C, false) },
    });
  }
}
cases.push({
  name: 'chain of 2 affine mlp couplings, a scaling and a context-affine layer (a class-conditional NICE)',
  make: (b) => new Chain(b, [0, 1].map((k) => coupling(b, 'affine', 'mlp', partitionFor('alternate', k, D), 80 + k) as Bijection).concat(scaling(b), contextAffine(b, 4, 90))),
  context: { size: 4, rows: contextRows(4, true) },
});
