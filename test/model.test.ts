import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRefBackend } from '../src/core/createRefBackend.js';
import { Rng } from '../src/core/Rng.js';
import { denseBackward, denseForward } from '../src/nn/dense.js';
import { NiceModel } from '../src/model/NiceModel.js';
import type { NiceConfig } from '../src/model/NiceConfig.js';
import { gaussianPrior } from '../src/priors/gaussianPrior.js';
import { logisticPrior } from '../src/priors/logisticPrior.js';
import { assertAllClose, jacobian, logAbsDet, numericGrad, randn } from './helpers.js';

const b64 = createRefBackend({ dtype: 'float64' });

function smallModel(prior: 'logistic' | 'gaussian', seed = 1): NiceModel {
  const config: NiceConfig = { dim: 6, couplings: 4, hidden: 7, depth: 2, prior, partition: 'alternate', coupling: 'additive' };
  const m = new NiceModel(b64, config);
  m.init(new Rng(seed));
  m.scaling.scale.data.set(randn(6, seed + 100, 0.4));
  return m;
}

describe('dense layer', () => {
  it('backward matches float64 finite differences, with and without ReLU', () => {
    const n = 4, inF = 5, outF = 3;
    const x = randn(n * inF, 1), W = randn(outF * inF, 2), bias = randn(outF, 3), w = randn(n * outF, 4);
    for (const relu of [false, true]) {
      const y = new Float64Array(n * outF);
      const loss = (): number => {
        denseForward(b64, x, W, bias, y, n, inF, outF, relu);
        return y.reduce((s, v, i) => s + v * w[i], 0);
      };
      loss();
      const dy = Float64Array.from(w);
      if (relu) b64.reluBackward(dy, y, n * outF);
      const gW = new Float64Array(W.length), gb = new Float64Array(outF), dx = new Float64Array(x.length);
      denseBackward(b64, x, W, dy, n, inF, outF, gW, gb, dx);
      for (let i = 0; i < W.length; i++) assert.ok(Math.abs(gW[i] - numericGrad(W, i, loss)) < 1e-6, `dW[${i}] relu=${relu}`);
      for (let i = 0; i < outF; i++) assert.ok(Math.abs(gb[i] - numericGrad(bias, i, loss)) < 1e-6, `db[${i}] relu=${relu}`);
      for (let i = 0; i < x.length; i++) assert.ok(Math.abs(dx[i] - numericGrad(x, i, loss)) < 1e-6, `dx[${i}] relu=${relu}`);
    }
  });
});

describe('priors', () => {
  for (const prior of [logisticPrior, gaussianPrior]) {
    it(`${prior.name} density integrates to 1 and its score is the derivative`, () => {
      let integral = 0;
      const h = 1e-3;
      for (let t = -60; t <= 60; t += h) integral += Math.exp(prior.logDensity(t)) * h;
      assert.ok(Math.abs(integral - 1) < 1e-6, `integral ${integral}`);
      for (const t of [-3, -0.5, 0, 0.2, 4]) {
        const num = (prior.logDensity(t + 1e-6) - prior.logDensity(t - 1e-6)) / 2e-6;
        assert.ok(Math.abs(prior.score(t) - num) < 1e-6, `score at ${t}`);
      }
    });
  }
  it('logistic is stable at |h| = 100 and matches −(softplus(h) + softplus(−h)) at moderate h', () => {
    for (const t of [100, -100, 700, -700]) {
      const v = logisticPrior.logDensity(t);
      assert.ok(Number.isFinite(v) && Math.abs(v + Math.abs(t)) < 1e-9, `log p(${t}) = ${v}`);
      assert.ok(Number.isFinite(logisticPrior.score(t)));
    }
    for (const t of [-5, -1, 0, 2.5]) {
      const naive = -(Math.log(1 + Math.exp(t)) + Math.log(1 + Math.exp(-t)));
      assert.ok(Math.abs(logisticPrior.logDensity(t) - naive) < 1e-12);
    }
    assert.ok(Math.abs(logisticPrior.logDensity(0) + 2 * Math.LN2) < 1e-15);
  });
});

describe('NICE model', () => {
  for (const prior of ['logistic', 'gaussian'] as const) {
    it(`${prior}: logProb equals Σ log prior(f(x)) + log|det| of the brute-force Jacobian`, () => {
      const model = smallModel(prior);
      const x = randn(6, 9);
      // The flow's own float64 output (encode() returns float32 copies, too coarse for differences).
      const J = jacobian((v) => Float64Array.from(model.flow.forward(v, 1).y), x, 1e-5);
      const h = Float64Array.from(model.flow.forward(x, 1).y);
      let expected = logAbsDet(J, 6);
      for (const v of h) expected += model.prior.logDensity(v);
      assert.ok(Math.abs(model.logProb(x, 1)[0] - expected) < 1e-5, `${model.logProb(x, 1)[0]} vs ${expected}`);
    });

    it(`${prior}: gradient of the mean log-likelihood (parameters) and of log p (inputs) match finite differences`, () => {
      const model = smallModel(prior, 2);
      const n = 3;
      const x = randn(n * 6, 10);
      const meanNll = (): number => -model.logProb(x, n).reduce((a, v) => a + v, 0) / n;
      model.gradLogProb(x, n, -1 / n, true);
      for (const p of model.params) {
        const step = Math.max(1, Math.floor(p.data.length / 10));
        for (let i = 0; i < p.data.length; i += step) {
          const num = numericGrad(p.data, i, meanNll);
          assert.ok(Math.abs(p.grad[i] - num) < 1e-6 + 1e-5 * Math.abs(num), `${p.name}[${i}]: ${p.grad[i]} vs ${num}`);
        }
      }
      const { dx, logProb } = model.gradLogProb(x, n, 1, false);
      const dxCopy = Float64Array.from(dx);
      assertAllClose(logProb, model.logProb(x, n), 1e-12, 1e-12, 'logProb from gradLogProb');
      const total = (): number => model.logProb(x, n).reduce((a, v) => a + v, 0);
      for (let i = 0; i < n * 6; i++) assert.ok(Math.abs(dxCopy[i] - numericGrad(x, i, total)) < 1e-5, `dx[${i}]`);
    });
  }

  it('encode/decode round trip, temperature 0 is deterministic, samples follow the prior in latent space', () => {
    const model = smallModel('gaussian', 3);
    const x = randn(5 * 6, 11);
    const { h } = model.encode(x, 5);
    assertAllClose(model.decode(Float64Array.from(h), 5), x, 1e-6, 1e-6, 'decode(encode(x))');
    const a = model.sample(4, new Rng(1), 0);
    const b = model.sample(4, new Rng(2), 0);
    assert.deepEqual(a, b);
    const s = model.sample(4000, new Rng(5));
    const hs = model.encode(Float64Array.from(s), 4000).h;
    let mean = 0, sq = 0;
    for (const v of hs) { mean += v; sq += v * v; }
    mean /= hs.length;
    const variance = sq / hs.length - mean * mean;
    assert.ok(Math.abs(mean) < 0.03 && Math.abs(variance - 1) < 0.05, `latent mean ${mean}, variance ${variance}`);
  });
});
