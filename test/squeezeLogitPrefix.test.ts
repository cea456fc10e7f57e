// The layers of multi-scale image flows: Squeeze (2×2 space-to-depth), Logit (the data-range preprocessing) and
// Prefix (a bijection on the first values of each row, the multi-scale split), and their step kinds. Each is checked
// against a reference or a brute-force float64 Jacobian and finite differences, and for the Bijection contract.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Backend } from '../src/core/Backend.js';
import { createRefBackend } from '../src/core/createRefBackend.js';
import type { FloatArray } from '../src/core/FloatArray.js';
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { Rng } from '../src/core/Rng.js';
import type { Bijection, DataInitOptions, LayerBuffer } from '../src/flows/Bijection.js';
import { DiagonalScaling } from '../src/flows/DiagonalScaling.js';
import { Logit } from '../src/flows/Logit.js';
import { Prefix } from '../src/flows/Prefix.js';
import { Squeeze } from '../src/flows/Squeeze.js';
import { logitStep } from '../src/flows/steps/logitStep.js';
import { squeezeStep } from '../src/flows/steps/squeezeStep.js';
import type { StepKind, StepSite } from '../src/flows/steps/StepKind.js';
import type { Param } from '../src/nn/Param.js';
import { assertAllClose, jacobian, logAbsDet, numericGrad, randn } from './helpers.js';

const n = 3;
const b64 = createRefBackend({ dtype: 'float64' });
const b32 = createRefBackend();
const isNiceFlowError = (re: RegExp) => (e: unknown) => e instanceof NiceFlowError && re.test(e.message);

/** Values strictly inside (lo, hi): lo + (hi − lo)(0.5 + 0.45·tanh(z)), z ~ N(0, 1). */
function inside(count: number, seed: number, lo: number, hi: number): Float64Array {
  return Float64Array.from(randn(count, seed), (z) => lo + (hi - lo) * (0.5 + 0.45 * Math.tanh(z)));
}

/** log|det| per row against the brute-force float64 Jacobian of forward on that row. */
function checkLogDet(f: Bijection, x: Float64Array, tol = 1e-6): void {
  const D = f.dim;
  for (let r = 0; r < x.length / D; r++) {
    const xr = x.slice(r * D, (r + 1) * D);
    const expected = logAbsDet(jacobian((v) => Float64Array.from(f.forward(v, 1).y), xr), D);
    const got = f.forward(xr, 1).logDet[0];
    assert.ok(Math.abs(got - expected) < tol, `row ${r}: log-det ${got}, Jacobian says ${expected}`);
  }
}

/** backward against float64 central differences of L = Σ w ⊙ y + logDetWeight · Σ logDet, for x and the params. */
function checkGradients(f: Bijection, x0: Float64Array, seed: number, logDetWeight = 0.7): void {
  const count = x0.length;
  const rows = count / f.dim;
  const w = randn(count, seed);
  const loss = (x: Float64Array): number => {
    const { y, logDet } = f.forward(x, rows);
    let s = 0;
    for (let i = 0; i < count; i++) s += w[i] * y[i];
    for (let i = 0; i < rows; i++) s += logDetWeight * logDet[i];
    return s;
  };
  const x = Float64Array.from(x0);
  f.forward(x, rows);
  const dx = Float64Array.from(f.backward(Float64Array.from(w), logDetWeight, true)!);
  const numDx = new Float64Array(count);
  for (let i = 0; i < count; i++) numDx[i] = numericGrad(x, i, () => loss(x));
  assertAllClose(dx, numDx, 1e-6, 1e-7, 'dL/dx');
  const grads = f.params.map((p) => Float64Array.from(p.grad));
  f.params.forEach((p, k) => {
    for (let i = 0; i < p.data.length; i++) {
      const num = numericGrad(p.data, i, () => loss(x));
      assert.ok(Math.abs(grads[k][i] - num) <= 1e-7 + 1e-6 * Math.abs(num), `${p.name}[${i}]: ${grads[k][i]} vs ${num}`);
    }
  });
}

/**
 * The Bijection contract: an inverse on other data and another batch size between forward and backward changes
 * neither forward's outputs nor the gradients; forward and backward leave inverse's result alone.
 */
function checkContract(f: Bijection, x0: Float64Array, other: Float64Array): void {
  const D = f.dim;
  const w = randn(n * D, 99);
  // Reference: forward then backward, nothing in between.
  f.forward(Float64Array.from(x0), n);
  const refDx = Float64Array.from(f.backward(Float64Array.from(w), 0.7, true)!);
  const refGrads = f.params.map((p) => Float64Array.from(p.grad));
  const { y, logDet } = f.forward(Float64Array.from(x0), n);
  const y0 = Float64Array.from(y);
  const ld0 = Float64Array.from(logDet);
  const m = other.length / D;
  assert.notEqual(m, n);
  const inv = f.inverse(Float64Array.from(other), m);
  const inv0 = Float64Array.from(inv);
  assertAllClose(y, y0, 0, 0, "forward's y after an inverse");
  assertAllClose(logDet, ld0, 0, 0, "forward's logDet after an inverse");
  for (const p of f.params) p.grad.fill(Number.NaN);
  const dx = f.backward(Float64Array.from(w), 0.7, true)!;
  assertAllClose(dx, refDx, 0, 0, 'dL/dx after an inverse');
  f.params.forEach((p, k) => assertAllClose(p.grad, refGrads[k], 0, 0, `${p.name} after an inverse`));
  assertAllClose(y, y0, 0, 0, "forward's y after backward");
  f.forward(Float64Array.from(x0), n);
  assertAllClose(inv, inv0, 0, 0, "inverse's result after forward and backward");
}

/** Reference squeeze, written from x.view(C, H/2, 2, W/2, 2).permute(0, 2, 4, 1, 3).reshape(4C, H/2, W/2). */
function squeezeRef(x: ArrayLike<number>, rows: number, [C, H, W]: readonly [number, number, number]): Float64Array {
  const D = C * H * W;
  const out = new Float64Array(rows * D);
  // view index (c, i, dy, j, dx) ↔ input (c, 2i + dy, 2j + dx); permuted order (c, dy, dx, i, j).
  for (let r = 0; r < rows; r++) {
    let o = r * D;
    for (let c = 0; c < C; c++)
      for (let dy = 0; dy < 2; dy++)
        for (let dx = 0; dx < 2; dx++)
          for (let i = 0; i < H / 2; i++)
            for (let j = 0; j < W / 2; j++) out[o++] = x[r * D + c * H * W + (2 * i + dy) * W + 2 * j + dx];
  }
  return out;
}

describe('Squeeze (2×2 space-to-depth)', () => {
  const shape = [2, 4, 6] as const;
  const D = 48;
  const x0 = randn(n * D, 1);

  it('matches the PyTorch/Glow formula on [2, 4, 6], in float64 and float32, with outShape [8, 2, 3]', () => {
    const f = new Squeeze(b64, shape);
    assert.deepEqual(f.outShape, [8, 2, 3]);
    assert.equal(f.dim, D);
    assert.equal(f.params.length, 0);
    const want = squeezeRef(x0, n, shape);
    assertAllClose(f.forward(Float64Array.from(x0), n).y, want, 0, 0, 'float64 squeeze');
    const f32 = new Squeeze(b32, shape);
    assertAllClose(f32.forward(Float32Array.from(x0), n).y, Float32Array.from(want), 0, 0, 'float32 squeeze');
    // Spot check the stated rule: output channel c·4 + dy·2 + dx at (y, x) holds input (c, 2y + dy, 2x + dx).
    const y = f.forward(Float64Array.from(x0), n).y;
    assert.equal(y[2 * D + (1 * 4 + 1 * 2 + 0) * 6 + 1 * 3 + 2], x0[2 * D + 1 * 24 + 3 * 6 + 4]);
  });

  it('round trip is exact both ways, and the log-determinant is 0', () => {
    const f = new Squeeze(b64, shape);
    const { y, logDet } = f.forward(Float64Array.from(x0), n);
    assert.deepEqual(Array.from(logDet), [0, 0, 0]);
    assertAllClose(f.inverse(Float64Array.from(y), n), x0, 0, 0, 'inverse(forward(x))');
    assertAllClose(f.forward(Float64Array.from(f.inverse(Float64Array.from(x0), n)), n).y, x0, 0, 0, 'forward(inverse(y))');
  });

  it('backward is the exact adjoint: Σ dy·forward(x) = Σ backward(dy)·x; null without the input gradient', () => {
    const f = new Squeeze(b64, shape);
    const dy = randn(n * D, 2);
    const y = f.forward(Float64Array.from(x0), n).y;
    let lhs = 0;
    for (let i = 0; i < n * D; i++) lhs += dy[i] * y[i];
    const dx = f.backward(Float64Array.from(dy), 0.7, true)!;
    let rhs = 0;
    for (let i = 0; i < n * D; i++) rhs += dx[i] * x0[i];
    assert.ok(Math.abs(lhs - rhs) < 1e-12, `${lhs} vs ${rhs}`);
    // A permutation's adjoint is its inverse.
    assertAllClose(dx, f.inverse(Float64Array.from(dy), n), 0, 0, 'backward = inverse');
    assert.equal(f.backward(Float64Array.from(dy), 0.7, true, false), null);
  });

  it('refuses an odd height or width with a one-line NiceFlowError naming the shape', () => {
    assert.throws(() => new Squeeze(b64, [3, 5, 4]), isNiceFlowError(/even height and width.*\[3, 5, 4\]/));
    assert.throws(() => new Squeeze(b64, [1, 4, 7]), isNiceFlowError(/\[1, 4, 7\]/));
  });

  it('keeps the Bijection contract', () => {
    checkContract(new Squeeze(b64, shape), x0, randn(5 * D, 3));
  });
});

describe('Logit (data range → R)', () => {
  const D = 12;
  const range = [-1, 1] as const;
  const x0 = inside(n * D, 4, ...range);

  it('computes y = log s − log(1 − s), s = α + (1 − 2α)(x − lo)/(hi − lo), and the log-det formula', () => {
    const alpha = 0.1;
    const f = new Logit(b64, D, alpha, range);
    const { y, logDet } = f.forward(Float64Array.from(x0), n);
    for (let r = 0; r < n; r++) {
      let ld = 0;
      for (let d = 0; d < D; d++) {
        const s = alpha + (1 - 2 * alpha) * ((x0[r * D + d] + 1) / 2);
        assert.ok(Math.abs(y[r * D + d] - Math.log(s / (1 - s))) < 1e-12);
        ld += Math.log(1 - 2 * alpha) - Math.log(2) - Math.log(s) - Math.log(1 - s);
      }
      assert.ok(Math.abs(logDet[r] - ld) < 1e-12, `row ${r}: ${logDet[r]} vs ${ld}`);
    }
    assert.equal(f.params.length, 0);
  });

  it('maps the range ends to ±log((1 − α)/α), finite; outside (lo − α/k, hi + α/k) gives NaN or ±∞', () => {
    const f = new Logit(b64, 2, 0.05, [0, 1]);
    const { y, logDet } = f.forward(Float64Array.from([0, 1]), 1);
    assertAllClose(y, [-Math.log(19), Math.log(19)], 1e-12, 1e-12, 'ends');
    assert.ok(Number.isFinite(logDet[0]));
    // α = 0.25 on [0, 1]: k = 0.5, α/k = 0.5, so x = −0.5 is s = 0 exactly (−∞), below it NaN.
    const out = new Logit(b64, 2, 0.25).forward(Float64Array.from([-0.5, -1]), 1).y;
    assert.equal(out[0], -Infinity);
    assert.ok(Number.isNaN(out[1]));
  });

  it('inverse(forward(x)) ≈ x in float64 (1e-12) and float32 (1e-5), and forward(inverse(y)) ≈ y', () => {
    const f = new Logit(b64, D, 0.05, range);
    const y = Float64Array.from(f.forward(Float64Array.from(x0), n).y);
    assertAllClose(f.inverse(y, n), x0, 1e-12, 1e-12, 'float64 round trip');
    const f32 = new Logit(b32, D, 0.05, range);
    const x32 = Float32Array.from(x0);
    assertAllClose(f32.inverse(Float32Array.from(f32.forward(x32, n).y), n), x32, 1e-5, 1e-5, 'float32 round trip');
    const z = randn(n * D, 5, 3); // any real y, large ones included
    assertAllClose(f.forward(Float64Array.from(f.inverse(z, n)), n).y, z, 1e-9, 1e-9, 'forward of inverse');
    // Far tails: the stable sigmoid gives the range ends, never NaN.
    assertAllClose(f.inverse(Float64Array.from([-1000, 1000]), 1).subarray(0, 2), [-1 - 0.05 / 0.45, 1 + 0.05 / 0.45], 1e-12, 1e-12, 'tails');
  });

  it('log-determinant equals log|det| of the brute-force Jacobian (range [−1, 1] and [0, 1])', () => {
    checkLogDet(new Logit(b64, D, 0.05, range), x0);
    checkLogDet(new Logit(b64, D, 0.2), inside(n * D, 6, 0, 1));
  });

  it('backward matches float64 finite differences, log-det term (weight 0.7) included; null without the input gradient', () => {
    const f = new Logit(b64, D, 0.05, range);
    checkGradients(f, x0, 7, 0.7);
    checkGradients(new Logit(b64, D, 0.3, [0, 255]), inside(n * D, 8, 0, 255), 9, -1.3);
    f.forward(Float64Array.from(x0), n);
    assert.equal(f.backward(randn(n * D, 10), 0.7, true, false), null);
  });

  it('refuses alpha outside (0, 0.5) and an empty range, with a NiceFlowError', () => {
    for (const a of [0, 0.5, -0.1, 1, Number.NaN]) assert.throws(() => new Logit(b64, D, a), isNiceFlowError(/alpha must be in \(0, 0\.5\)/), `alpha ${a}`);
    assert.throws(() => new Logit(b64, D, 0.05, [1, 1]), isNiceFlowError(/range/));
    assert.throws(() => new Logit(b64, D, 0.05, [0, Infinity]), isNiceFlowError(/range/));
  });

  it('keeps the Bijection contract', () => {
    checkContract(new Logit(b64, D, 0.05, range), x0, randn(5 * D, 11));
  });
});

/** A bijection that records what its optional members were called with (to check Prefix forwards them). */
class Recorder implements Bijection {
  readonly params: Param[] = [];
  readonly buffers: LayerBuffer[] = [{ name: 'inner.flag', shape: [1], data: new Float64Array(1) }];
  inits: Rng[] = [];
  dataInits: { x: number[]; n: number; options: DataInitOptions }[] = [];
  constructor(readonly dim: number) {}
  forward(x: FloatArray, rows: number) {
    return { y: x.slice(0, rows * this.dim), logDet: new Float64Array(rows) };
  }
  inverse(y: FloatArray, rows: number) {
    return y.slice(0, rows * this.dim);
  }
  backward(dy: FloatArray) {
    return dy;
  }
  init(rng: Rng): void {
    this.inits.push(rng);
  }
  initFromData(x: FloatArray, rows: number, options: DataInitOptions): void {
    this.dataInits.push({ x: Array.from(x), n: rows, options });
  }
}

describe('Prefix (a bijection on the first inner.dim values, the rest passed through)', () => {
  const D = 12;
  const k = 6;
  const x0 = randn(n * D, 12);
  const make = (backend: Backend): Prefix => {
    const inner = new DiagonalScaling(backend, k);
    inner.scale.data.set(randn(k, 13, 0.5));
    return new Prefix(backend, D, inner);
  };

  it('applies the inner to the prefix and leaves the tail bit-identical; log-det and params are the inner', () => {
    const f = make(b64);
    const { y, logDet } = f.forward(Float64Array.from(x0), n);
    const s = f.inner.params[0].data;
    let sum = 0;
    for (let j = 0; j < k; j++) sum += s[j];
    for (let r = 0; r < n; r++) {
      for (let j = 0; j < k; j++) assert.ok(Math.abs(y[r * D + j] - x0[r * D + j] * Math.exp(s[j])) < 1e-12);
      for (let j = k; j < D; j++) assert.equal(y[r * D + j], x0[r * D + j], `tail [${r}, ${j}]`);
      assert.ok(Math.abs(logDet[r] - sum) < 1e-12);
    }
    assert.equal(f.params, f.inner.params);
    // The tail of inverse's result and of the input gradient too.
    const x = f.inverse(Float64Array.from(x0), n);
    const dy = randn(n * D, 14);
    f.forward(Float64Array.from(x0), n);
    const dx = f.backward(Float64Array.from(dy), 0.7, true)!;
    for (let r = 0; r < n; r++) {
      for (let j = k; j < D; j++) {
        assert.equal(x[r * D + j], x0[r * D + j]);
        assert.equal(dx[r * D + j], dy[r * D + j]);
      }
    }
  });

  it('inverse(forward(x)) ≈ x in float64 (1e-12) and float32 (1e-5)', () => {
    const f = make(b64);
    assertAllClose(f.inverse(Float64Array.from(f.forward(Float64Array.from(x0), n).y), n), x0, 1e-12, 1e-12, 'float64 round trip');
    const f32 = make(b32);
    const x32 = Float32Array.from(x0);
    assertAllClose(f32.inverse(Float32Array.from(f32.forward(x32, n).y), n), x32, 1e-5, 1e-5, 'float32 round trip');
  });

  it('log-determinant equals log|det| of the brute-force Jacobian', () => {
    checkLogDet(make(b64), x0);
  });

  it('backward matches float64 finite differences for the inputs and the inner params (log-det weight 0.7)', () => {
    checkGradients(make(b64), x0, 15, 0.7);
  });

  it('a Prefix of a Logit (no params) and of a Prefix (nested levels) also pass the Jacobian and gradient checks', () => {
    const logit = new Prefix(b64, D, new Logit(b64, k, 0.05, [-1, 1]));
    const xl = Float64Array.from(x0, (v, i) => (i % D < k ? Math.tanh(v) * 0.9 : v));
    checkLogDet(logit, xl);
    checkGradients(logit, xl, 16, 0.7);
    const inner = new DiagonalScaling(b64, 3);
    inner.scale.data.set(randn(3, 17, 0.5));
    const nested = new Prefix(b64, D, new Prefix(b64, k, inner));
    checkLogDet(nested, x0);
    checkGradients(nested, x0, 18, 0.7);
  });

  it('without the input gradient returns null and still writes the inner parameter gradients', () => {
    const f = make(b64);
    const w = randn(n * D, 19);
    f.forward(Float64Array.from(x0), n);
    f.backward(Float64Array.from(w), 0.3, true, true);
    const full = Float64Array.from(f.params[0].grad);
    f.params[0].grad.fill(Number.NaN);
    f.forward(Float64Array.from(x0), n);
    assert.equal(f.backward(Float64Array.from(w), 0.3, true, false), null);
    assertAllClose(f.params[0].grad, full, 0, 0, 'scale gradient without input gradient');
  });

  it('forwards buffers, init and initFromData (on the compacted prefix [n, inner.dim]) to the inner', () => {
    const inner = new Recorder(2);
    const f = new Prefix(b64, 5, inner);
    assert.equal(f.buffers, inner.buffers);
    const rng = new Rng(1);
    f.init(rng);
    assert.deepEqual(inner.inits, [rng]);
    const options: DataInitOptions = { priorStd: 1, scaling: true };
    f.initFromData(Float64Array.from([0, 1, 2, 3, 4, 10, 11, 12, 13, 14]), 2, options);
    assert.deepEqual(inner.dataInits, [{ x: [0, 1, 10, 11], n: 2, options }]);
    // An inner without them: nothing happens.
    const plain = new Prefix(b64, 5, new Logit(b64, 2));
    plain.init(rng);
    plain.initFromData(new Float64Array(10), 2, options);
    assert.equal(plain.buffers, undefined);
  });

  it('refuses an inner that is not shorter than the row', () => {
    assert.throws(() => new Prefix(b64, 6, new DiagonalScaling(b64, 6)), /prefix/);
  });

  it('keeps the Bijection contract (also around a Logit)', () => {
    checkContract(make(b64), x0, randn(5 * D, 20));
    checkContract(new Prefix(b64, D, new Logit(b64, k, 0.05, [-4, 4])), x0, randn(2 * D, 21));
  });
});

describe('squeeze and logit step kinds', () => {
  const site = (shape: readonly [number, number, number], range?: readonly [number, number]): StepSite => ({ backend: b64, shape, prefix: 'flow.0.', parity: 0, range });

  it('squeeze: no settings, [C, H, W] → [4C, H/2, W/2], no params; builds a Squeeze', () => {
    const spec = squeezeStep.validate({ type: 'squeeze' }, [2, 4, 6]);
    assert.deepEqual(spec, { type: 'squeeze' });
    assert.deepEqual(squeezeStep.outShape(spec, [2, 4, 6]), [8, 2, 3]);
    assert.deepEqual(squeezeStep.paramShapes(spec, [2, 4, 6]), []);
    const f = squeezeStep.build(spec, site([2, 4, 6]));
    assert.ok(f instanceof Squeeze);
    assert.equal(f.dim, 48);
  });

  it('squeeze: refuses odd H or W (naming the shape) and unknown settings', () => {
    assert.throws(() => squeezeStep.validate({ type: 'squeeze' }, [1, 5, 4]), isNiceFlowError(/squeeze.*1×5×4/));
    assert.throws(() => squeezeStep.validate({ type: 'squeeze' }, [1, 4, 3]), isNiceFlowError(/squeeze.*1×4×3/));
    assert.throws(() => squeezeStep.validate({ type: 'squeeze', factor: 2 }, [1, 4, 4]), isNiceFlowError(/squeeze.*factor/));
  });

  it('logit: alpha in (0, 0.5), default 0.05; the shape is kept; builds a Logit on the site range ([0, 1] without)', () => {
    const spec = logitStep.validate({ type: 'logit' }, [1, 2, 2]);
    assert.deepEqual(spec, { type: 'logit', alpha: 0.05 });
    assert.equal(logitStep.validate({ type: 'logit', alpha: 0.2 }, [1, 2, 2]).alpha, 0.2);
    assert.deepEqual(logitStep.outShape(spec, [1, 2, 2]), [1, 2, 2]);
    assert.deepEqual(logitStep.paramShapes(spec, [1, 2, 2]), []);
    const f = logitStep.build(spec, site([1, 2, 2]));
    assert.ok(f instanceof Logit);
    assert.equal(f.dim, 4);
    assert.deepEqual([f.lo, f.hi, f.alpha], [0, 1, 0.05]);
    const g = logitStep.build({ type: 'logit', alpha: 0.1 }, site([1, 2, 2], [-1, 1])) as Logit;
    assert.deepEqual([g.lo, g.hi, g.alpha], [-1, 1, 0.1]);
  });

  it('logit: refuses alpha outside (0, 0.5), a non-number, and unknown settings (range is not a setting)', () => {
    for (const alpha of [0, 0.5, -1, '0.1', true]) {
      assert.throws(() => logitStep.validate({ type: 'logit', alpha }, [1, 2, 2]), isNiceFlowError(/logit.*alpha/), `alpha ${String(alpha)}`);
    }
    assert.throws(() => logitStep.validate({ type: 'logit', range: [0, 1] }, [1, 2, 2]), isNiceFlowError(/logit.*range/));
  });

  it('both are StepKinds of their own type', () => {
    const kinds: StepKind[] = [squeezeStep, logitStep];
    assert.deepEqual(kinds.map((s) => s.type), ['squeeze', 'logit']);
  });
});
