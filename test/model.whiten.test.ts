// A NICE model with ZCA whitening as its first layer (the paper's SVHN / CIFAR-10 preprocessing): the whitening's
// log-determinant is part of log p(x), gradients flow through it, and the weight file carries it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRefBackend } from '../src/core/createRefBackend.js';
import { Rng } from '../src/core/Rng.js';
import { fitZca } from '../src/data/fitWhitening.js';
import { Whitening } from '../src/flows/Whitening.js';
import { readSafetensors, writeSafetensors } from '../src/io/safetensors.js';
import type { NiceConfig } from '../src/model/NiceConfig.js';
import { deserializeModel, serializeModel, WHITENING_LOGDET } from '../src/model/modelFile.js';
import { NiceModel } from '../src/model/NiceModel.js';
import { jacobian, logAbsDet, numericGrad, randn } from './helpers.js';

const D = 12;
const config: NiceConfig = {
  dim: D, couplings: 3, hidden: 8, depth: 1, prior: 'logistic', partition: 'checkerboard', coupling: 'affine',
  shape: [3, 2, 2], whiten: 'zca', range: [-1, 1],
};

/** Correlated data: x = A z + b, so the covariance is far from diagonal and the whitening does real work. */
function data(n: number, seed: number): Float64Array {
  const z = randn(n * D, seed);
  const A = randn(D * D, 99, 1.5);
  const x = new Float64Array(n * D);
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < D; i++) {
      let s = 0.1 * i;
      for (let j = 0; j < D; j++) s += A[i * D + j] * z[r * D + j];
      x[r * D + i] = s;
    }
  }
  return x;
}

function whitenedModel(): NiceModel {
  const backend = createRefBackend({ dtype: 'float64' });
  const model = new NiceModel(backend, config);
  model.init(new Rng(3));
  const fit = fitZca(data(400, 5), 400, D);
  model.setWhitening(new Whitening(backend, D, fit.mean, fit.matrix, fit.inverse, fit.logDet));
  return model;
}

describe('NICE model with ZCA whitening', () => {
  it('log p(x) = Σ log prior(f(x)) + log|det| of the brute-force Jacobian of the whole flow, whitening included', () => {
    const model = whitenedModel();
    assert.ok(model.whitening && Math.abs(model.whitening.logDet) > 0.5, 'the whitening has a non-trivial log-det');
    const x = data(1, 8);
    const J = jacobian((v) => Float64Array.from(model.flow.forward(v, 1).y), x, 1e-5);
    const h = Float64Array.from(model.flow.forward(x, 1).y);
    let expected = logAbsDet(J, D);
    for (const v of h) expected += model.prior.logDensity(v);
    const got = model.logProb(x, 1)[0];
    assert.ok(Math.abs(got - expected) < 1e-5, `${got} vs ${expected}`);
    // Without the whitening's log-det the two would differ by exactly that amount: the check can fail.
    assert.ok(Math.abs(got - model.whitening!.logDet - expected) > 0.5);
  });

  it('gradients (parameters and inputs) go through the whitening and match finite differences', () => {
    const model = whitenedModel();
    const n = 3;
    const x = data(n, 11);
    const meanNll = (): number => -model.logProb(x, n).reduce((a, v) => a + v, 0) / n;
    model.gradLogProb(x, n, -1 / n, true);
    for (const p of model.params) {
      for (let i = 0; i < p.data.length; i += Math.max(1, Math.floor(p.data.length / 6))) {
        const num = numericGrad(p.data, i, meanNll);
        assert.ok(Math.abs(p.grad[i] - num) < 1e-6 + 1e-5 * Math.abs(num), `${p.name}[${i}]: ${p.grad[i]} vs ${num}`);
      }
    }
    const { dx } = model.gradLogProb(x, n, 1, false);
    const got = Float64Array.from(dx.subarray(0, n * D));
    for (let i = 0; i < n * D; i += 5) {
      const num = numericGrad(x, i, () => model.logProb(x, n).reduce((a, v) => a + v, 0));
      assert.ok(Math.abs(got[i] - num) < 1e-6 + 1e-5 * Math.abs(num), `dx[${i}]: ${got[i]} vs ${num}`);
    }
  });

  it('sampling and decoding undo the whitening: decode(encode(x)) = x', () => {
    const model = whitenedModel();
    const x = data(4, 12);
    const { h } = model.encode(x, 4);
    const back = model.decode(h, 4);
    for (let i = 0; i < x.length; i++) assert.ok(Math.abs(back[i] - x[i]) < 1e-4 * (1 + Math.abs(x[i])), `x[${i}]`);
  });

  it('the weight file carries the whitening: same log p after reload, with or without the stored log-det', () => {
    const model = whitenedModel();
    const x = data(5, 13);
    const before = model.logProb(x, 5);
    const bytes = serializeModel(model);
    const file = readSafetensors(bytes);
    assert.deepEqual(Object.keys(file.tensors).filter((k) => k.startsWith('whitening.')).sort(),
      ['whitening.inverse', 'whitening.logdet', 'whitening.matrix', 'whitening.mean']);
    const reloaded = deserializeModel(bytes, createRefBackend({ dtype: 'float64' }));
    assert.deepEqual(reloaded.config, model.config);
    const after = reloaded.logProb(x, 5);
    for (let i = 0; i < 5; i++) assert.ok(Math.abs(after[i] - before[i]) < 1e-3, `${after[i]} vs ${before[i]}`);
    // Without the stored log-det, loading recomputes it by LU: the same likelihood.
    const { [WHITENING_LOGDET]: _dropped, ...rest } = file.tensors;
    const lu = deserializeModel(writeSafetensors(rest, file.metadata), createRefBackend({ dtype: 'float64' })).logProb(x, 5);
    for (let i = 0; i < 5; i++) assert.ok(Math.abs(lu[i] - before[i]) < 1e-3, `${lu[i]} vs ${before[i]}`);
  });

  it('rejects a file whose whitening is missing, corrupted, or not announced by its config', () => {
    const model = whitenedModel();
    const file = readSafetensors(serializeModel(model));
    const backend = createRefBackend();
    const { ['whitening.inverse']: _inv, ...noInverse } = file.tensors;
    assert.throws(() => deserializeModel(writeSafetensors(noInverse, file.metadata), backend), /whitening\.inverse.*missing/);
    const bad = { ...file.tensors, 'whitening.inverse': { ...file.tensors['whitening.inverse'], data: file.tensors['whitening.inverse'].data.map((v, i) => (i === 5 ? v + 3 : v)) } };
    assert.throws(() => deserializeModel(writeSafetensors(bad, file.metadata), backend), /whitening/);
    const nanLogDet = { ...file.tensors, [WHITENING_LOGDET]: { shape: [1], data: Float32Array.of(NaN) } };
    assert.throws(() => deserializeModel(writeSafetensors(nanLogDet, file.metadata), backend), /whitening\.logdet/);
    const { whiten: _w, ...plain } = model.config;
    assert.throws(() => deserializeModel(writeSafetensors(file.tensors, { config: JSON.stringify(plain) }), backend), /unexpected tensor "whitening\./);
  });

  it('refuses to compute log p before its whitening is installed, instead of leaving it out', () => {
    const model = new NiceModel(createRefBackend({ dtype: 'float64' }), config);
    model.init(new Rng(3));
    assert.equal(model.whitening, null);
    assert.throws(() => model.logProb(data(1, 8), 1), /whiten: "zca" but no whitening is installed/);
    assert.throws(() => model.sample(1, new Rng(1)), /no whitening is installed/);
  });

  it('a config without whitening refuses setWhitening; a bad whiten value is named', () => {
    const { whiten: _w, ...plain } = config;
    const model = new NiceModel(createRefBackend(), plain);
    assert.equal(model.whitening, null);
    const I = new Float32Array(D * D).map((_, i) => (i % (D + 1) === 0 ? 1 : 0));
    assert.throws(() => model.setWhitening(new Whitening(createRefBackend(), D, new Float32Array(D), I, I, 0)), /no whitening/);
    assert.throws(() => new NiceModel(createRefBackend(), { ...config, whiten: 'pca' as never }), /"whiten"/);
    assert.throws(() => new NiceModel(createRefBackend(), { ...config, range: [1, 0] }), /"range"/);
  });
});
