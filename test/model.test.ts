import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRefBackend } from '../src/core/createRefBackend.js';
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { Rng } from '../src/core/Rng.js';
import { denseBackward, denseForward } from '../src/nn/dense.js';
import { NiceModel } from '../src/model/NiceModel.js';
import { type NiceConfig, validateConfig } from '../src/model/NiceConfig.js';
import { ConvNet } from '../src/nn/ConvNet.js';
import { Mlp } from '../src/nn/Mlp.js';
import { gaussianPrior } from '../src/priors/gaussianPrior.js';
import { logisticPrior } from '../src/priors/logisticPrior.js';
import { assertAllClose, jacobian, logAbsDet, numericGrad, randn } from './helpers.js';

const b64 = createRefBackend({ dtype: 'float64' });

function smallModel(prior: 'logistic' | 'gaussian', seed = 1): NiceModel {
  const config: NiceConfig = { dim: 6, couplings: 4, hidden: 7, depth: 2, prior, partition: 'alternate', coupling: 'additive' };
  const m = new NiceModel(b64, config);
  m.init(new Rng(seed));
  m.scaling!.scale.data.set(randn(6, seed + 100, 0.4));
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
      // The training path (no input gradient) writes the same parameter gradients and log-likelihoods.
      const full = model.params.map((p) => Float64Array.from(p.grad));
      for (const p of model.params) p.grad.fill(Number.NaN);
      const lpTrain = Float64Array.from(model.paramGradLogProb(x, n, -1 / n));
      model.params.forEach((p, k) => assertAllClose(p.grad, full[k], 0, 0, `${p.name} from paramGradLogProb`));
      assertAllClose(lpTrain, model.logProb(x, n), 1e-12, 1e-12, 'logProb from paramGradLogProb');
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

describe('NICE model with general coupling laws and conv nets', () => {
  const base = { dim: 24, couplings: 4, hidden: 3, depth: 1, prior: 'logistic', shape: [2, 3, 4] } as const;
  const variants: NiceConfig[] = [
    { ...base, partition: 'checkerboard', coupling: 'affine', network: 'conv', shape: [2, 3, 4] },
    { ...base, partition: 'channels', coupling: 'multiplicative', network: 'conv', shape: [2, 3, 4] },
    { ...base, partition: 'halves', coupling: 'affine', shape: [2, 3, 4] },
  ];
  const build = (config: NiceConfig, seed: number): NiceModel => {
    const m = new NiceModel(b64, config);
    m.init(new Rng(seed));
    m.scaling!.scale.data.set(randn(24, seed + 100, 0.4));
    return m;
  };

  for (const config of variants) {
    const label = `${config.coupling}, ${config.network ?? 'mlp'}, ${config.partition}`;

    it(`${label}: builds the right nets and logProb equals Σ log prior(f(x)) + log|det| of the brute-force Jacobian`, () => {
      const model = build(config, 4);
      const groups = config.coupling === 'affine' ? 2 : 1;
      for (const c of model.couplings) {
        assert.ok(config.network === 'conv' ? c.net instanceof ConvNet : c.net instanceof Mlp);
        assert.equal(c.law, config.coupling);
        assert.equal(c.net.outDim, groups * c.partition.updated.length);
      }
      const x = randn(24, 19, 0.5);
      const J = jacobian((v) => Float64Array.from(model.flow.forward(v, 1).y), x, 1e-5);
      const h = Float64Array.from(model.flow.forward(x, 1).y);
      let expected = logAbsDet(J, 24);
      for (const v of h) expected += model.prior.logDensity(v);
      const got = model.logProb(x, 1)[0];
      assert.ok(Math.abs(got - expected) < 1e-5, `${got} vs ${expected}`);
    });

    it(`${label}: gradient of the mean log-likelihood (parameters) and of log p (inputs) match finite differences`, () => {
      const model = build(config, 5);
      const n = 3;
      const x = randn(n * 24, 20, 0.5);
      const meanNll = (): number => -model.logProb(x, n).reduce((a, v) => a + v, 0) / n;
      model.gradLogProb(x, n, -1 / n, true);
      const grads = model.params.map((p) => Float64Array.from(p.grad));
      model.params.forEach((p, k) => {
        const step = Math.max(1, Math.floor(p.data.length / 10));
        for (let i = 0; i < p.data.length; i += step) {
          const num = numericGrad(p.data, i, meanNll);
          assert.ok(Math.abs(grads[k][i] - num) < 1e-6 + 1e-5 * Math.abs(num), `${p.name}[${i}]: ${grads[k][i]} vs ${num}`);
        }
      });
      const { dx } = model.gradLogProb(x, n, 1, false);
      const dxCopy = Float64Array.from(dx);
      const total = (): number => model.logProb(x, n).reduce((a, v) => a + v, 0);
      for (let i = 0; i < n * 24; i++) {
        const num = numericGrad(x, i, total);
        assert.ok(Math.abs(dxCopy[i] - num) < 1e-5 + 1e-5 * Math.abs(num), `dx[${i}]: ${dxCopy[i]} vs ${num}`);
      }
    });
  }

  it('initScaleFromData gives every latent dimension the prior spread (affine conv model)', () => {
    const model = build(variants[0], 6);
    const n = 400;
    const x = randn(n * 24, 21, 0.3);
    model.initScaleFromData(x, n);
    const { h } = model.encode(x, n);
    for (let d = 0; d < 24; d++) {
      let mean = 0, sq = 0;
      for (let i = 0; i < n; i++) mean += h[i * 24 + d];
      mean /= n;
      for (let i = 0; i < n; i++) sq += (h[i * 24 + d] - mean) ** 2;
      const std = Math.sqrt(sq / (n - 1));
      assert.ok(Math.abs(std - Math.PI / Math.sqrt(3)) < 1e-3, `dimension ${d}: std ${std}`);
    }
  });
});

describe('model config', () => {
  const dense = { dim: 8, couplings: 2, hidden: 4, depth: 1, prior: 'logistic', partition: 'alternate' };
  const bad = (what: string, raw: Record<string, unknown>, pattern: RegExp): void => {
    it(`rejects ${what}`, () => {
      assert.throws(() => validateConfig(raw), (e: unknown) => e instanceof NiceFlowError && pattern.test(e.message) && !e.message.includes('\n'));
    });
  };
  bad('an unknown coupling law', { ...dense, coupling: 'cubic' }, /"coupling" must be one of additive, multiplicative, affine, bounded-affine, glow-affine, got "cubic"/);
  bad('an unknown network', { ...dense, network: 'rnn' }, /"network" must be one of mlp, conv, got "rnn"/);
  bad('a conv network without a shape', { ...dense, network: 'conv' }, /"network" conv needs "shape"/);
  bad('a conv network with depth 0', { ...dense, depth: 0, network: 'conv', shape: [2, 2, 2] }, /"depth" must be an integer ≥ 1 for network conv/);
  bad('a channel split of a single-channel image', { ...dense, dim: 16, partition: 'channels', shape: [1, 4, 4] }, /"partition".*single-channel.*checkerboard or alternate/);
  bad('a channel split without a shape', { ...dense, partition: 'channels' }, /"partition".*needs an image shape/);

  it('defaults: coupling additive when absent; network mlp is left out, conv is kept', () => {
    const c = validateConfig(dense);
    assert.deepEqual(Object.keys(c), ['dim', 'couplings', 'hidden', 'depth', 'prior', 'partition', 'coupling']);
    assert.equal(c.coupling, 'additive');
    assert.deepEqual(Object.keys(validateConfig({ ...dense, network: 'mlp', coupling: 'affine' })), Object.keys(c));
    const conv = validateConfig({ ...dense, partition: 'channels', network: 'conv', shape: [2, 2, 2], coupling: 'multiplicative' });
    assert.equal(conv.network, 'conv');
    assert.equal(conv.coupling, 'multiplicative');
  });
});
