// One property suite over every bijection (zuko/nflows style): shape, round trip, log-det against a brute-force
// float64 Jacobian, the kept half untouched, and backward against finite differences. Every coupling law runs with
// every network (dense with alternate/halves/checkerboard, conv with checkerboard/channels), plus the scaling layer,
// the whitening layer, chains of them, whole model flows (one with whitening first) and every registered flow step:
// the list is test/bijectionCases.ts, shared with the buffer-contract suite (test/bijectionContract.test.ts).
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Backend } from '../src/core/Backend.js';
import { createRefBackend } from '../src/core/createRefBackend.js';
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { Coupling } from '../src/flows/Coupling.js';
import { LOG_SCALE_BOUND } from '../src/flows/couplingLaw.js';
import { partitionFor } from '../src/flows/Partition.js';
import { createWasmBackendNode } from '../src/node/createWasmBackendNode.js';
import { assertAllClose, randn } from './helpers.js';
import { BIJECTION_CASES, coupling, D, makeNet, SHAPE, WHITENING, whitening } from './bijectionCases.js';
import { describeBijectionChecks } from './bijectionChecks.js';

const cases = BIJECTION_CASES;

for (const c of cases) describeBijectionChecks(c);

const n = 3;
const x0 = randn(n * D, 42);

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
