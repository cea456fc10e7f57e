// The Glow-style image layers: ActNorm and the invertible 1×1 convolution (LU form), and their step kinds. Each layer
// gets the property suite of bijections.test.ts (round trip, log-det against a brute-force float64 Jacobian, backward
// against finite differences with the log-det term, the buffer contract), plus checks of its exact formula, its
// initialisation and its step kind.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Backend } from '../src/core/Backend.js';
import { createRefBackend } from '../src/core/createRefBackend.js';
import type { FloatArray } from '../src/core/FloatArray.js';
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { Rng } from '../src/core/Rng.js';
import { ActNorm } from '../src/flows/ActNorm.js';
import type { Bijection } from '../src/flows/Bijection.js';
import { InvConv1x1 } from '../src/flows/InvConv1x1.js';
import { actnormStep } from '../src/flows/steps/actnormStep.js';
import { invconvStep } from '../src/flows/steps/invconvStep.js';
import type { StepKind } from '../src/flows/steps/StepKind.js';
import { assertAllClose, jacobian, logAbsDet, numericGrad, randn } from './helpers.js';

const SHAPE = [3, 2, 3] as const; // C×H×W
const [C, H, W] = SHAPE;
const P = H * W;
const D = C * P;
const n = 3;
const x0 = randn(n * D, 42, 1.5);
const LOG_DET_WEIGHT = 0.7;

const f64 = (): Backend => createRefBackend({ dtype: 'float64' });
const f32 = (): Backend => createRefBackend();
const isNiceFlowError = (pattern: RegExp) => (e: unknown) => e instanceof NiceFlowError && pattern.test(e.message);

/** ActNorm with non-trivial bias and log-scale. */
function actnorm(backend: Backend): ActNorm {
  const a = new ActNorm(backend, SHAPE, 'flow.1.');
  a.bias.data.set(randn(C, 11, 0.5));
  a.logScale.data.set(randn(C, 12, 0.4));
  return a;
}

/**
 * An invertible 1×1 convolution after init, then with random strictly triangular parts and log-scales, the
 * permutation [1, 2, 0] (a 3-cycle: not its own inverse, so mixing up P and Pᵀ shows) and signs [−1, 1, −1].
 */
function invconv(backend: Backend): InvConv1x1 {
  const f = new InvConv1x1(backend, SHAPE, 'flow.2.');
  f.init(new Rng(5));
  const lo = randn(C * C, 13, 0.5);
  const up = randn(C * C, 14, 0.5);
  for (let i = 0; i < C; i++) {
    for (let j = 0; j < C; j++) {
      if (i > j) f.lower.data[i * C + j] = lo[i * C + j];
      if (i < j) f.upper.data[i * C + j] = up[i * C + j];
    }
  }
  f.logScale.data.set(randn(C, 15, 0.3));
  f.perm.data.set([1, 2, 0]);
  f.sign.data.set([-1, 1, -1]);
  return f;
}

function matmul(a: Float64Array, b: Float64Array, m: number): Float64Array {
  const c = new Float64Array(m * m);
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) for (let k = 0; k < m; k++) c[i * m + j] += a[i * m + k] * b[k * m + j];
  return c;
}

/**
 * W = P · L · (U + diag(sign ⊙ exp(logScale))) straight from the definition, with P the explicit permutation
 * matrix P[i, j] = [j = perm[i]], L = I + strictly-lower(lower), U = strictly-upper(upper).
 */
function referenceW(f: InvConv1x1): Float64Array {
  const m = f.shape[0];
  const Pm = new Float64Array(m * m);
  const L = new Float64Array(m * m);
  const U = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    Pm[i * m + f.perm.data[i]] = 1;
    for (let j = 0; j < m; j++) {
      L[i * m + j] = i > j ? f.lower.data[i * m + j] : i === j ? 1 : 0;
      U[i * m + j] = i < j ? f.upper.data[i * m + j] : i === j ? f.sign.data[i] * Math.exp(f.logScale.data[i]) : 0;
    }
  }
  return matmul(Pm, matmul(L, U, m), m);
}

/** y[r, c, p] = Σ_c' A[c, c'] x[r, c', p]. */
function applyChannels(A: Float64Array, x: ArrayLike<number>, rows: number, channels: number, pixels: number): Float64Array {
  const d = channels * pixels;
  const y = new Float64Array(rows * d);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < channels; c++) {
      for (let c2 = 0; c2 < channels; c2++) for (let p = 0; p < pixels; p++) y[r * d + c * pixels + p] += A[c * channels + c2] * x[r * d + c2 * pixels + p];
    }
  }
  return y;
}

/** L = Σ w ⊙ y + logDetWeight · Σ_i logDet_i at x. */
function lossOf(f: Bijection, x: Float64Array, w: Float64Array): number {
  const { y, logDet } = f.forward(x, n);
  let s = 0;
  for (let i = 0; i < n * D; i++) s += w[i] * y[i];
  for (let i = 0; i < n; i++) s += LOG_DET_WEIGHT * logDet[i];
  return s;
}

const copy = (a: ArrayLike<number>): Float64Array => Float64Array.from(a);

interface Case {
  name: string;
  make: (backend: Backend) => Bijection;
}

const cases: Case[] = [
  { name: 'ActNorm', make: actnorm },
  { name: 'InvConv1x1', make: invconv },
];

for (const c of cases) {
  describe(`${c.name}: bijection properties (shape [${SHAPE}], n = ${n})`, () => {
    it('inverse(forward(x)) ≈ x in float64 (1e-10) and float32 (relative 1e-5), and forward(inverse(y)) ≈ y', () => {
      const f = c.make(f64());
      const y = copy(f.forward(copy(x0), n).y);
      assertAllClose(f.inverse(y, n), x0, 1e-10, 1e-10, 'float64 round trip');
      const back = copy(f.inverse(copy(x0), n));
      assertAllClose(f.forward(back, n).y, x0, 1e-10, 1e-10, 'float64 forward of inverse');
      const g = c.make(f32());
      const x32 = Float32Array.from(x0);
      const y32 = Float32Array.from(g.forward(x32, n).y);
      assertAllClose(g.inverse(y32, n), x32, 1e-5, 1e-5, 'float32 round trip');
    });

    it('log-determinant equals log|det| of the brute-force float64 Jacobian, per example', () => {
      const f = c.make(f64());
      const { logDet } = f.forward(copy(x0), n);
      const got = copy(logDet);
      for (let r = 0; r < n; r++) {
        const xr = x0.slice(r * D, (r + 1) * D);
        const J = jacobian((x) => copy(f.forward(x, 1).y), xr);
        const expected = logAbsDet(J, D);
        assert.ok(Math.abs(expected) > 0.1, `the test needs a non-zero log-det (got ${expected})`);
        assert.ok(Math.abs(got[r] - expected) < 1e-6, `row ${r}: log-det ${got[r]}, Jacobian says ${expected}`);
      }
    });

    it('backward matches central finite differences for the inputs and every parameter entry (log-det weight 0.7)', () => {
      const f = c.make(f64());
      const w = randn(n * D, 5);
      const x = copy(x0);
      f.forward(x, n);
      const dx = copy(f.backward(copy(w), LOG_DET_WEIGHT, true)!);
      const numDx = new Float64Array(n * D);
      for (let i = 0; i < n * D; i++) numDx[i] = numericGrad(x, i, () => lossOf(f, x, w));
      assertAllClose(dx, numDx, 1e-6, 1e-7, 'dL/dx');
      const grads = f.params.map((p) => copy(p.grad));
      f.params.forEach((p, k) => {
        for (let i = 0; i < p.data.length; i++) {
          const num = numericGrad(p.data, i, () => lossOf(f, x, w));
          assert.ok(Math.abs(grads[k][i] - num) <= 1e-7 + 1e-6 * Math.abs(num), `${p.name}[${i}]: ${grads[k][i]} vs ${num}`);
        }
      });
    });

    it('backward with paramGrads false leaves the gradients alone; with inputGrad false it returns null and the same gradients', () => {
      const f = c.make(f64());
      const w = randn(n * D, 6);
      f.forward(copy(x0), n);
      const dxFull = copy(f.backward(copy(w), 0.3, true, true)!);
      const full = f.params.map((p) => copy(p.grad));
      for (const p of f.params) p.grad.fill(Number.NaN);
      f.forward(copy(x0), n);
      const dxOnly = f.backward(copy(w), 0.3, false, true);
      assert.ok(dxOnly !== null);
      assertAllClose(dxOnly, dxFull, 0, 0, 'dL/dx without parameter gradients');
      for (const p of f.params) assert.ok(p.grad.every(Number.isNaN), `${p.name} was written with paramGrads false`);
      f.forward(copy(x0), n);
      assert.equal(f.backward(copy(w), 0.3, true, false), null);
      f.params.forEach((p, k) => assertAllClose(p.grad, full[k], 0, 0, `${p.name} without input gradient`));
    });

    it('an inverse between forward and backward changes neither forward’s outputs nor the gradients', () => {
      const f = c.make(f64());
      const w = randn(n * D, 7);
      f.forward(copy(x0), n);
      const dxRef = copy(f.backward(copy(w), LOG_DET_WEIGHT, true)!);
      const gradRef = f.params.map((p) => copy(p.grad));
      const x = copy(x0);
      const { y, logDet } = f.forward(x, n);
      const yRef = copy(y);
      const logDetRef = copy(logDet);
      x.fill(123); // forward's input may be reused once it returns
      f.inverse(randn(5 * D, 8), 5); // other data, a bigger batch
      assertAllClose(y, yRef, 0, 0, 'forward y after inverse');
      assertAllClose(logDet, logDetRef, 0, 0, 'forward logDet after inverse');
      assertAllClose(f.backward(copy(w), LOG_DET_WEIGHT, true)!, dxRef, 0, 0, 'dL/dx after inverse');
      f.params.forEach((p, k) => assertAllClose(p.grad, gradRef[k], 0, 0, `${p.name} after inverse`));
    });
  });
}

describe('ActNorm', () => {
  it('computes y = (x + bias_c)·exp(logScale_c) per channel, with log-det H·W·Σ logScale; params bias, logScale and buffer started', () => {
    const a = actnorm(f64());
    const { y, logDet } = a.forward(copy(x0), n);
    const want = new Float64Array(n * D);
    for (let r = 0; r < n; r++) for (let c = 0; c < C; c++) for (let p = 0; p < P; p++) {
      const i = r * D + c * P + p;
      want[i] = (x0[i] + a.bias.data[c]) * Math.exp(a.logScale.data[c]);
    }
    assertAllClose(y, want, 1e-15, 0, 'y');
    const s = a.logScale.data[0] + a.logScale.data[1] + a.logScale.data[2];
    assertAllClose(logDet, [P * s, P * s, P * s], 1e-15, 0, 'logDet');
    assert.deepEqual(a.params.map((p) => [p.name, p.shape]), [['flow.1.bias', [3]], ['flow.1.logScale', [3]]]);
    assert.deepEqual(a.buffers.map((b) => [b.name, b.shape, b.data.length]), [['flow.1.started', [1], 1]]);
  });

  it('starts at the identity: init zeroes bias and logScale, clears started and draws nothing', () => {
    const a = actnorm(f64());
    a.started.data[0] = 1;
    const rng = new Rng(9);
    const before = rng.getState();
    a.init(rng);
    assert.deepEqual(rng.getState(), before);
    assert.deepEqual(Array.from(a.bias.data), [0, 0, 0]);
    assert.deepEqual(Array.from(a.logScale.data), [0, 0, 0]);
    assert.equal(a.started.data[0], 0);
    assertAllClose(a.forward(copy(x0), n).y, x0, 0, 0, 'identity');
    assert.equal(new ActNorm(f64(), SHAPE).started.data[0], 0);
  });

  for (const [dtype, make, tol] of [['float64', f64, 1e-12], ['float32', f32, 1e-5]] as const) {
    it(`initFromData (${dtype}) gives that batch per-channel mean 0 and std priorStd, sets started, and never starts again`, () => {
      const a = new ActNorm(make(), SHAPE);
      a.init(new Rng(1));
      const rows = 4;
      const raw = randn(rows * D, 21, 2);
      for (let r = 0; r < rows; r++) for (let c = 0; c < C; c++) for (let p = 0; p < P; p++) raw[r * D + c * P + p] += 3 * c - 2;
      const x = dtype === 'float64' ? copy(raw) : Float32Array.from(raw);
      const priorStd = 0.8;
      a.initFromData(x, rows, { priorStd, scaling: false });
      assert.equal(a.started.data[0], 1);
      const y = a.forward(x, rows).y;
      for (let c = 0; c < C; c++) {
        let sum = 0;
        let sq = 0;
        for (let r = 0; r < rows; r++) for (let p = 0; p < P; p++) sum += y[r * D + c * P + p];
        const mean = sum / (rows * P);
        for (let r = 0; r < rows; r++) for (let p = 0; p < P; p++) sq += (y[r * D + c * P + p] - mean) ** 2;
        const std = Math.sqrt(sq / (rows * P));
        assert.ok(Math.abs(mean) < tol, `channel ${c}: mean ${mean}`);
        assert.ok(Math.abs(std - priorStd) < tol, `channel ${c}: std ${std}`);
      }
      const bias = copy(a.bias.data);
      const logScale = copy(a.logScale.data);
      const other = randn(rows * D, 22, 5);
      a.initFromData(dtype === 'float64' ? other : Float32Array.from(other), rows, { priorStd: 2, scaling: true });
      assertAllClose(a.bias.data, bias, 0, 0, 'bias after a second start');
      assertAllClose(a.logScale.data, logScale, 0, 0, 'logScale after a second start');
      assert.equal(a.started.data[0], 1);
    });
  }

  it('a layer loaded as started (trained values) keeps them through initFromData', () => {
    const a = actnorm(f64());
    a.started.data[0] = 1; // as a weight file would write it
    const bias = copy(a.bias.data);
    const logScale = copy(a.logScale.data);
    a.initFromData(randn(n * D, 23, 3), n, { priorStd: 1, scaling: false });
    assertAllClose(a.bias.data, bias, 0, 0, 'bias');
    assertAllClose(a.logScale.data, logScale, 0, 0, 'logScale');
  });

  it('a constant channel starts with a finite scale (std floored at 1e-6); bad starts are NiceFlowErrors', () => {
    const a = new ActNorm(f64(), SHAPE);
    const x = copy(x0);
    for (let r = 0; r < n; r++) for (let p = 0; p < P; p++) x[r * D + P + p] = 0.25;
    a.initFromData(x, n, { priorStd: 1, scaling: false });
    assert.equal(a.bias.data[1], -0.25);
    assert.ok(Math.abs(a.logScale.data[1] - Math.log(1e6)) < 1e-9);
    const b = new ActNorm(f64(), SHAPE);
    assert.throws(() => b.initFromData(x, n, { priorStd: 0, scaling: false }), isNiceFlowError(/prior standard deviation/));
    assert.throws(() => b.initFromData(x, 0, { priorStd: 1, scaling: false }), isNiceFlowError(/at least one example/));
    x[5] = Number.NaN;
    assert.throws(() => b.initFromData(x, n, { priorStd: 1, scaling: false }), isNiceFlowError(/channel 0 .*not finite/));
    assert.equal(b.started.data[0], 0);
  });
});

describe('InvConv1x1', () => {
  it('computes y[c, p] = Σ_c′ W[c, c′] x[c′, p] with W = P·L·(U + diag(sign·exp(logScale))), (P·v)[i] = v[perm[i]]', () => {
    const f = invconv(f64());
    const Wref = referenceW(f);
    const { y, logDet } = f.forward(copy(x0), n);
    assertAllClose(y, applyChannels(Wref, x0, n, C, P), 1e-13, 1e-13, 'y');
    const s = f.logScale.data[0] + f.logScale.data[1] + f.logScale.data[2];
    assertAllClose(logDet, [P * s, P * s, P * s], 1e-15, 0, 'logDet = H·W·Σ logScale');
    assert.ok(Math.abs(logDet[0] - P * logAbsDet(Wref, C)) < 1e-12, 'log-det is H·W·log|det W|');
    assert.deepEqual(
      f.params.map((p) => [p.name, p.shape]),
      [['flow.2.lower', [3, 3]], ['flow.2.upper', [3, 3]], ['flow.2.logScale', [3]]],
    );
    assert.deepEqual(f.buffers.map((b) => [b.name, b.shape, b.data.length]), [['flow.2.perm', [3], 3], ['flow.2.sign', [3], 3]]);
  });

  it('ignores the unused triangles of lower and upper (diagonal included)', () => {
    const f = invconv(f64());
    const want = copy(f.forward(copy(x0), n).y);
    for (let i = 0; i < C; i++) for (let j = 0; j < C; j++) {
      if (i <= j) f.lower.data[i * C + j] = 7 + i + j;
      if (i >= j) f.upper.data[i * C + j] = -5 - i * j;
    }
    assertAllClose(f.forward(copy(x0), n).y, want, 0, 0, 'y with garbage in the unused triangles');
    f.forward(copy(x0), n);
    f.backward(randn(n * D, 3), 0.5, true, false);
    for (let i = 0; i < C; i++) for (let j = 0; j < C; j++) {
      if (i <= j) assert.equal(f.lower.grad[i * C + j], 0, `lower.grad[${i}, ${j}]`);
      if (i >= j) assert.equal(f.upper.grad[i * C + j], 0, `upper.grad[${i}, ${j}]`);
    }
  });

  for (const [dtype, make, tol] of [['float64', f64, 1e-12], ['float32', f32, 1e-6]] as const) {
    it(`init (${dtype}) gives a random rotation: W·Wᵀ = I, log-det 0, a permutation, signs ±1, clean triangles`, () => {
      const m = 5;
      const f = new InvConv1x1(make(), [m, 2, 2]);
      f.init(new Rng(7));
      const Wm = referenceW(f);
      const WWt = new Float64Array(m * m);
      for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) for (let k = 0; k < m; k++) WWt[i * m + j] += Wm[i * m + k] * Wm[j * m + k];
      assertAllClose(WWt, Float64Array.from({ length: m * m }, (_, i) => (i % (m + 1) === 0 ? 1 : 0)), 0, tol, 'W·Wᵀ');
      let offDiagonal = 0;
      for (let i = 0; i < m * m; i++) if (i % (m + 1) !== 0) offDiagonal += Math.abs(Wm[i]);
      assert.ok(offDiagonal > 0.5, 'W is not (close to) a signed permutation');
      const { logDet } = f.forward(new Float64Array(4 * m * 2), 2);
      for (const v of logDet) assert.ok(Math.abs(v) < 4 * m * tol, `log-det ${v}`);
      assert.deepEqual(Array.from(f.perm.data).sort(), [0, 1, 2, 3, 4]);
      for (const s of f.sign.data) assert.ok(s === 1 || s === -1, `sign ${s}`);
      for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) {
        if (i <= j) assert.equal(f.lower.data[i * m + j], 0);
        if (i >= j) assert.equal(f.upper.data[i * m + j], 0);
      }
      // Deterministic in the seed, and another seed gives another rotation.
      const g = new InvConv1x1(make(), [m, 2, 2]);
      g.init(new Rng(7));
      assertAllClose(referenceW(g), Wm, 0, 0, 'same seed');
      g.init(new Rng(8));
      assert.ok(referenceW(g).some((v, i) => Math.abs(v - Wm[i]) > 1e-3), 'another seed');
    });
  }

  it('init on many seeds: W = P·L·Ũ is the Q factor of the drawn normals (Wᵀ·A upper triangular, positive diagonal)', () => {
    for (let seed = 0; seed < 40; seed++) {
      const m = 4;
      const f = new InvConv1x1(f64(), [m, 1, 1]);
      f.init(new Rng(seed));
      const Wm = referenceW(f);
      // A = the m×m standard normals init draws, row by row; A = Q·R with R upper, positive diagonal, so Qᵀ·A = R.
      const rng = new Rng(seed);
      const A = Float64Array.from({ length: m * m }, () => rng.normal());
      for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) {
        let dot = 0;
        let r = 0;
        for (let k = 0; k < m; k++) {
          dot += Wm[i * m + k] * Wm[j * m + k];
          r += Wm[k * m + i] * A[k * m + j];
        }
        assert.ok(Math.abs(dot - (i === j ? 1 : 0)) < 1e-12, `seed ${seed}: (W·Wᵀ)[${i}, ${j}] = ${dot}`);
        if (i > j) assert.ok(Math.abs(r) < 1e-12, `seed ${seed}: (Wᵀ·A)[${i}, ${j}] = ${r}`);
        if (i === j) assert.ok(r > 0, `seed ${seed}: (Wᵀ·A)[${i}, ${i}] = ${r}`);
      }
      for (let i = 0; i < m * m; i++) if (i % (m + 1) !== 0 && Math.floor(i / m) > i % m) assert.ok(Math.abs(f.lower.data[i]) <= 1 + 1e-12, 'partial pivoting keeps |L| ≤ 1');
    }
  });

  it('float32: the log-det is H·W·Σ logScale rounded once (exact, as the LU form promises)', () => {
    const f = invconv(f32());
    const { logDet } = f.forward(Float32Array.from(x0), n);
    const s = f.logScale.data[0] + f.logScale.data[1] + f.logScale.data[2];
    for (const v of logDet) assert.equal(v, Math.fround(P * s));
  });

  it('refuses a loaded perm that is not a permutation, or signs other than ±1', () => {
    const f = invconv(f64());
    f.perm.data.set([0, 2, 2]);
    assert.throws(() => f.forward(copy(x0), n), isNiceFlowError(/flow\.2\.perm is not a permutation/));
    f.perm.data.set([0, 1, 3]);
    assert.throws(() => f.inverse(copy(x0), n), isNiceFlowError(/not a permutation/));
    f.perm.data.set([0, 1, 2]);
    f.sign.data.set([1, 0, -1]);
    assert.throws(() => f.forward(copy(x0), n), isNiceFlowError(/flow\.2\.sign must hold ±1/));
  });
});

describe('image layer shapes', () => {
  for (const bad of [[0, 2, 2], [3, 0, 2], [2.5, 2, 2], [5000, 1, 1], [3, 2], [-1, 2, 2]]) {
    it(`ActNorm and InvConv1x1 refuse the shape ${JSON.stringify(bad)} with a NiceFlowError`, () => {
      const shape = bad as unknown as readonly [number, number, number];
      assert.throws(() => new ActNorm(f64(), shape), isNiceFlowError(/^actnorm: /));
      assert.throws(() => new InvConv1x1(f64(), shape), isNiceFlowError(/^invconv: /));
    });
  }

  it('4096 channels are accepted, 4097 are not', () => {
    assert.equal(new ActNorm(f64(), [4096, 1, 1]).dim, 4096);
    InvConv1x1.checkShape([4096, 2, 2]);
    assert.throws(() => InvConv1x1.checkShape([4097, 1, 1]), isNiceFlowError(/4097 channels, at most 4096/));
    assert.throws(() => ActNorm.checkShape([4097, 1, 1]), isNiceFlowError(/4097 channels, at most 4096/));
  });
});

describe('step kinds actnorm and invconv', () => {
  const kinds: [StepKind, string, string[], string[]][] = [
    [actnormStep, 'actnorm', ['bias', 'logScale'], ['started']],
    [invconvStep, 'invconv', ['lower', 'upper', 'logScale'], ['perm', 'sign']],
  ];
  for (const [kind, type, params, buffers] of kinds) {
    it(`${type}: validate completes the spec and refuses unknown settings, naming them`, () => {
      assert.equal(kind.type, type);
      assert.ok(kind.summary.length > 0 && !kind.summary.includes('\n'));
      assert.deepEqual(kind.validate({ type }, SHAPE), { type });
      assert.throws(() => kind.validate({ type, scale: 1 }, SHAPE), isNiceFlowError(new RegExp(`^${type} step: unknown setting "scale"`)));
      assert.throws(() => kind.validate({ type, foo: 1, bar: 'x' }, SHAPE), isNiceFlowError(/unknown settings "foo", "bar"/));
      assert.throws(() => kind.validate({ type }, [5000, 1, 1]), NiceFlowError);
    });

    it(`${type}: outShape is the input shape; paramShapes and build agree on names, order and shapes`, () => {
      const spec = kind.validate({ type }, SHAPE);
      assert.deepEqual(kind.outShape(spec, SHAPE), SHAPE);
      const shapes = kind.paramShapes(spec, SHAPE);
      assert.deepEqual(shapes.map((s) => s.name), params);
      const layer = kind.build(spec, { backend: f32(), shape: SHAPE, prefix: 'flow.3.', parity: 0 });
      assert.ok(layer instanceof (type === 'actnorm' ? ActNorm : InvConv1x1));
      assert.equal(layer.dim, D);
      assert.deepEqual(layer.params.map((p) => [p.name, p.shape]), shapes.map((s) => [`flow.3.${s.name}`, s.shape]));
      assert.deepEqual(layer.buffers?.map((b) => b.name), buffers.map((b) => `flow.3.${b}`));
      const data: FloatArray = layer.params[0].data;
      assert.ok(data instanceof Float32Array);
    });
  }
});
