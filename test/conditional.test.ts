// Class-conditional flows: the config and its checks, the context through the model's methods, Bayes' rule over the
// classes (marginal, posterior, accuracy), training on labelled images, weight files, and the CLI commands
// (train --conditional, eval, classify, sample --label). The property suites (bijections.test.ts,
// bijectionContract.test.ts) check the context-affine layer and conditional flows per context; twin.test.ts checks
// them against PyTorch.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { encode } from 'fast-png';
import { createRefBackend } from '../src/core/createRefBackend.js';
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { Rng } from '../src/core/Rng.js';
import { classPriorFromLabels } from '../src/data/classPriorFromLabels.js';
import type { ImageDataset } from '../src/data/ImageDataset.js';
import { readPngHeader } from '../src/io/readPngHeader.js';
import { classLogLikelihoods, classLogPrior, classPosterior, priorCondition } from '../src/model/classLikelihoods.js';
import { configFromSettings } from '../src/model/configFromSettings.js';
import { deserializeModel, serializeModel } from '../src/model/modelFile.js';
import { countParams, NiceModel } from '../src/model/NiceModel.js';
import { type NiceConfig, validateConfig } from '../src/model/NiceConfig.js';
import { inpaint } from '../src/model/inpaint.js';
import { interpolate } from '../src/model/interpolate.js';
import { oneHot } from '../src/model/oneHot.js';
import { summarizeFlow } from '../src/model/summarizeFlow.js';
import { restyle } from '../src/model/restyle.js';
import { evaluate } from '../src/train/evaluate.js';
import { fillBatch } from '../src/data/Dataset.js';
import { hybridGradient, hybridScratch } from '../src/train/hybridGradient.js';
import { Trainer } from '../src/train/Trainer.js';
import { loadSplit } from '../cli/data.js';
import { assertUserError, cli } from './cliRun.js';

/** A uint8 .npy of `shape` (what numpy writes: version 1.0, header padded to 64 bytes). */
function npyU8(data: Uint8Array, shape: number[]): Uint8Array {
  let header = `{'descr': '|u1', 'fortran_order': False, 'shape': (${shape.join(', ')}), }`;
  header += ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
  const out = new Uint8Array(10 + header.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 255, header.length >> 8]);
  out.set(new TextEncoder().encode(header), 10);
  out.set(data, 10 + header.length);
  return out;
}
import { assertAllClose, numericGrad, randn } from './helpers.js';

const throwsUser = (f: () => unknown, pattern: RegExp): void => {
  assert.throws(f, (e: unknown) => e instanceof NiceFlowError && pattern.test(e.message) && !e.message.includes('\n'), `expected a one-line NiceFlowError matching ${pattern}`);
};

/** A small class-conditional flat model on 4×4 images: 2 affine couplings, the scaling, the per-class prior. */
const FLAT: NiceConfig = { dim: 16, couplings: 2, hidden: 12, depth: 1, prior: 'logistic', partition: 'alternate', coupling: 'affine', shape: [1, 4, 4], classes: 3 };

/** A model of `config` with every parameter moved off its start (so each class has its own prior). */
function movedModel(config: NiceConfig, seed = 1): NiceModel {
  const model = new NiceModel(createRefBackend({ dtype: 'float64' }), config);
  model.init(new Rng(seed));
  for (const [k, p] of model.params.entries()) {
    const r = randn(p.data.length, seed + 10 + k, 0.3);
    for (let i = 0; i < p.data.length; i++) p.data[i] += r[i];
  }
  return model;
}

describe('class-conditional configs', () => {
  it('the flat form gets a context-affine step after the scaling, its tensors named conditional.*', () => {
    const model = new NiceModel(createRefBackend(), FLAT);
    const names = model.params.map((p) => p.name);
    assert.deepEqual(names.slice(-3), ['scaling.scale', 'conditional.weight', 'conditional.bias']);
    assert.deepEqual(model.params.at(-2)!.shape, [32, 3]);
    assert.equal(countParams(FLAT), model.params.reduce((a, p) => a + p.data.length, 0));
    assert.ok(model.scaling, 'the scaling is still found (the spectrum and --scale-init data need it)');
    assert.equal(model.contextSize, 3);
    assert.equal(summarizeFlow(FLAT), '2 affine couplings of 1×12 MLP · class-conditional (3 classes, in the prior)');
    assert.equal(summarizeFlow({ ...FLAT, conditioning: 'both' }), '2 affine couplings of 1×12 MLP · class-conditional (3 classes, in the couplings and the prior)');
  });

  it('refuses bad context settings in one line naming the field', () => {
    const bad = (raw: object, pattern: RegExp): void => throwsUser(() => validateConfig({ ...FLAT, ...raw }), pattern);
    bad({ classes: 1 }, /"classes" must be an integer from 2/);
    bad({ classes: 2.5 }, /"classes" must be an integer/);
    bad({ context: 4 }, /"context" \(4\) must equal "classes" \(3\)/);
    bad({ classPrior: [0.5, 0.5] }, /"classPrior" must be 3 probabilities/);
    bad({ classPrior: [0.5, 0.4, 0.4] }, /"classPrior" must sum to 1/);
    bad({ classes: undefined, classPrior: [0.5, 0.5] }, /"classPrior" needs "classes"/);
    const described = { dim: 16, prior: 'logistic', shape: [1, 4, 4], flow: [{ type: 'scaling' }] };
    throwsUser(() => validateConfig({ ...described, classes: 3 }), /a conditional model .* needs a step that reads the context/);
    throwsUser(() => validateConfig({ ...described, flow: [{ type: 'context-affine', context: 3 }] }), /has a context-affine step that reads a context but the model has no context/);
    throwsUser(() => validateConfig({ ...described, classes: 4, flow: [{ type: 'context-affine', context: 3 }] }), /a context-affine step takes 3 context values, the model.s context has 4/);
    throwsUser(() => validateConfig({ ...described, classes: 3, flow: [{ type: 'context-affine', context: 0 }] }), /"context" must be an integer from 1/);
    throwsUser(() => validateConfig({ ...described, classes: 3, flow: [{ type: 'coupling', hidden: 4, depth: 1, context: 2 }] }), /a coupling step takes 2 context values, the model's context has 3/);
    // A conv network reads the label too (a learned per-class bias of its first layer).
    assert.equal(validateConfig({ ...described, classes: 3, flow: [{ type: 'coupling', law: 'affine', partition: 'checkerboard', network: 'conv', hidden: 4, depth: 1, context: 3 }] }).flow?.[0].context, 3);
    bad({ conditioning: 'everywhere' }, /"conditioning" must be one of prior, couplings, both/);
    bad({ classes: undefined, conditioning: 'both' }, /"conditioning" needs "classes" or "context"/);
  });

  it('conditioning couplings: every coupling network reads the label, no prior step; both: the two', () => {
    for (const conditioning of ['couplings', 'both'] as const) {
      const config = { ...FLAT, conditioning };
      const model = new NiceModel(createRefBackend(), config);
      assert.deepEqual(model.params.find((p) => p.name === 'couplings.0.layers.0.weight')!.shape, [12, 8 + 3]);
      assert.equal(model.params.some((p) => p.name.startsWith('conditional.')), conditioning === 'both');
      assert.equal(countParams(config), model.params.reduce((a, p) => a + p.data.length, 0));
      assert.deepEqual(deserializeModel(serializeModel(model), createRefBackend()).config.conditioning, conditioning);
    }
  });

  it('a described flow (a preset) with --conditioning couplings or both: every coupling network reads the label', () => {
    const data = { dim: 784, shape: [1, 28, 28] as [number, number, number] };
    for (const conditioning of ['prior', 'couplings', 'both'] as const) {
      const config = configFromSettings(data, { classes: 10, conditioning }, 'mnist-conv', [0, 1]);
      const couplings = config.flow!.filter((s) => s.type === 'coupling');
      assert.ok(couplings.length > 0);
      for (const s of couplings) assert.equal(s.context, conditioning === 'prior' ? undefined : 10);
      assert.equal(config.flow!.at(-1)!.type === 'context-affine', conditioning !== 'couplings');
      const model = new NiceModel(createRefBackend(), config);
      assert.equal(countParams(config), model.params.reduce((a, p) => a + p.data.length, 0));
      assert.equal(model.params.filter((p) => p.name.endsWith('.context.weight')).length, conditioning === 'prior' ? 0 : couplings.length);
    }
    const described = [{ type: 'coupling', law: 'affine', partition: 'channels', network: 'conv', hidden: 4, depth: 1, context: 10 }];
    throwsUser(() => configFromSettings({ dim: 16, shape: [4, 2, 2] }, { classes: 10, conditioning: 'both', flow: described }, undefined, [0, 1]), /--conditioning both: the flow of --flow already says which steps read the context/);
  });

  it('a conditional model asks for its labels, and an unconditional one refuses them, in one line', () => {
    const model = movedModel(FLAT);
    const x = Float64Array.from(randn(2 * 16, 3, 0.2), (v) => 0.5 + v);
    throwsUser(() => model.logProb(x, 2), /class-conditional: give a label \(0 to 2\) for each example/);
    throwsUser(() => model.sample(2, new Rng(0)), /class-conditional: give a label/);
    throwsUser(() => model.logProb(x, 2, new Float64Array(3)), /context: expected 2 × 3 values, got 3/);
    const plain = new NiceModel(createRefBackend(), { ...FLAT, classes: undefined });
    throwsUser(() => plain.logProb(Float32Array.from(x), 2, new Float32Array(6)), /not conditional: it takes no context/);
    throwsUser(() => oneHot([0, 3], 3), /label 3 is not a class of this model \(0 to 2\)/);
    throwsUser(() => oneHot([0.5], 3), /label 0\.5 is not a class/);
  });
});

describe("Bayes' rule over the classes", () => {
  // The flat model's label is read by its last layer only (one pass, then that layer per class); the described one's
  // in the middle of the flow (a pass per class).
  const middle: NiceConfig = { dim: 16, prior: 'logistic', shape: [1, 4, 4], classes: 3, flow: [
    { type: 'coupling', law: 'affine', hidden: 12, depth: 1 }, { type: 'context-affine', context: 3 }, { type: 'coupling', law: 'affine', hidden: 12, depth: 1 }, { type: 'scaling' }] };
  for (const config of [FLAT, middle, { ...FLAT, conditioning: 'couplings' as const }]) it(`log p(x | k) for every k is the model under that label, and the marginal is log Σ_k p(x | k) p(k) (${config.flow ? 'label read mid-flow' : `label read by the ${config.conditioning ?? 'prior'}`})`, () => {
    const model = movedModel({ ...config, classPrior: [0.2, 0.3, 0.5] });
    const n = 4;
    const x = Float64Array.from(randn(n * 16, 5, 0.2), (v) => 0.5 + v);
    const ll = classLogLikelihoods(model, x, n);
    for (let k = 0; k < 3; k++) {
      const direct = model.logProb(x, n, oneHot(new Array(n).fill(k), 3));
      for (let i = 0; i < n; i++) assert.ok(Math.abs(ll[i * 3 + k] - direct[i]) < 1e-9, `row ${i}, class ${k}`);
    }
    const logPrior = classLogPrior(model);
    assertAllClose(logPrior, [Math.log(0.2), Math.log(0.3), Math.log(0.5)], 1e-12, 1e-12, 'log p(k)');
    const { marginal, posterior, predicted } = classPosterior(ll, n, logPrior);
    for (let i = 0; i < n; i++) {
      const brute = Math.log([0, 1, 2].reduce((s, k) => s + Math.exp(ll[i * 3 + k]) * Math.exp(logPrior[k]), 0));
      assert.ok(Math.abs(marginal[i] - brute) < 1e-9 * Math.abs(brute), `row ${i}: marginal ${marginal[i]}, brute force ${brute}`);
      const post = [0, 1, 2].map((k) => posterior[i * 3 + k]);
      assert.ok(Math.abs(post.reduce((a, b) => a + b, 0) - 1) < 1e-12, 'posterior sums to 1');
      assert.equal(predicted[i], post.indexOf(Math.max(...post)));
    }
    // The classes really differ (the labels matter), so this checked something.
    assert.ok(Math.abs(ll[0] - ll[1]) > 1e-3);
  });

  it('stays finite far out: log-likelihoods of −1e5 give a finite marginal and a proper posterior', () => {
    const ll = Float64Array.from([-1e5, -1e5 - 3, -1e5 - 700]);
    const { marginal, posterior } = classPosterior(ll, 1, Float64Array.from([Math.log(1 / 3), Math.log(1 / 3), Math.log(1 / 3)]));
    assert.ok(Number.isFinite(marginal[0]) && marginal[0] > -1e5 - 2 && marginal[0] < -1e5);
    assert.ok(posterior[0] > 0.9 && posterior[2] < 1e-300);
  });

  it('the class prior is the smoothed share of each label', () => {
    assertAllClose(classPriorFromLabels([0, 0, 1, 0], 3), [4 / 7, 2 / 7, 1 / 7], 1e-12, 1e-12, 'p(y)');
    throwsUser(() => classPriorFromLabels([0, 5], 3), /label 5 of image 1 is not one of the 3 classes/);
  });
});

/**
 * Labelled 4×4 images of 3 classes that differ in where the light is: class 0 bright on the left, class 1 on the
 * right, class 2 at the top; pixel noise on top.
 */
function threeClasses(count: number, seed: number): ImageDataset {
  const rng = new Rng(seed);
  const pixels = new Uint8Array(count * 16);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const y = i % 3;
    labels[i] = y;
    for (let r = 0; r < 4; r++) {
      for (let c = 0; c < 4; c++) {
        const lit = y === 0 ? c < 2 : y === 1 ? c >= 2 : r < 2;
        pixels[i * 16 + r * 4 + c] = Math.max(0, Math.min(255, Math.round((lit ? 190 : 60) + 30 * rng.normal())));
      }
    }
  }
  return { pixels, count, dim: 16, shape: [1, 4, 4], labels };
}

describe('restyle', () => {
  it('decodes each image\'s code under every class: its own class gives it back, the others change it', () => {
    const model = movedModel(FLAT, 6);
    const n = 3;
    const x = Float64Array.from(randn(n * 16, 12, 0.2), (v) => 0.5 + v);
    const labels = [2, 0, 1];
    const rows = restyle(model, x, n, labels);
    assert.equal(rows.length, n * 4 * 16);
    for (let i = 0; i < n; i++) {
      assertAllClose(rows.subarray(i * 4 * 16, (i * 4 + 1) * 16), x.subarray(i * 16, (i + 1) * 16), 1e-6, 1e-6, `image ${i} first`);
      assertAllClose(rows.subarray((i * 4 + 1 + labels[i]) * 16, (i * 4 + 2 + labels[i]) * 16), x.subarray(i * 16, (i + 1) * 16), 1e-5, 1e-5, `image ${i} as its own class`);
      const other = (labels[i] + 1) % 3;
      const moved = rows.subarray((i * 4 + 1 + other) * 16, (i * 4 + 2 + other) * 16);
      assert.ok(moved.some((v, d) => Math.abs(v - x[i * 16 + d]) > 1e-3), `image ${i} as class ${other} is unchanged`);
    }
    throwsUser(() => restyle(new NiceModel(createRefBackend(), { ...FLAT, classes: undefined }), Float32Array.from(x), n, labels), /not class-conditional/);
  });
});

describe('interpolating between classes', () => {
  it('moves the code and the label together: its ends are the two images, under their own labels', () => {
    const model = movedModel(FLAT, 8);
    const x = Float32Array.from(randn(2 * 16, 15, 0.2), (v) => 0.5 + v);
    const strip = interpolate(model, x.subarray(0, 16), x.subarray(16), 5, oneHot([0, 2], 3));
    assertAllClose(strip.subarray(0, 16), x.subarray(0, 16), 1e-5, 1e-5, 'first');
    assertAllClose(strip.subarray(4 * 16), x.subarray(16), 1e-5, 1e-5, 'last');
    throwsUser(() => interpolate(model, x.subarray(0, 16), x.subarray(16), 5), /class-conditional: give a label/);
  });
});

describe('inpainting towards a class', () => {
  it('ascends log p(x | label) for each image\'s class, never ends below its start, and asks for the classes in one line', async () => {
    const model = movedModel(FLAT, 7);
    const n = 3;
    const x = Float32Array.from(randn(n * 16, 14, 0.2), (v) => Math.min(0.95, Math.max(0.05, 0.5 + v)));
    const mask = Uint8Array.from({ length: 16 }, (_, d) => (d >= 8 ? 1 : 0));
    const labels = [1, 2, 0];
    const r = await inpaint(model, x, n, mask, { rng: new Rng(0), steps: 40, labels });
    assert.ok(r.meanLLAfter >= r.meanLLBefore, `${r.meanLLBefore} → ${r.meanLLAfter}`);
    const lp = model.logProb(r.x, n, oneHot(labels, 3));
    assert.ok(Math.abs(lp.reduce((a, v) => a + v, 0) / n - r.meanLLAfter) < 1e-6 * Math.abs(r.meanLLAfter), 'the result is scored under its labels');
    for (let i = 0; i < n; i++) for (let d = 0; d < 8; d++) assert.equal(r.x[i * 16 + d], x[i * 16 + d], 'observed pixels stay');
    await assert.rejects(inpaint(model, x, n, mask, { rng: new Rng(0), steps: 2 }), /class-conditional: give the class to complete each image towards/);
    const plain = new NiceModel(createRefBackend({ dtype: 'float64' }), { ...FLAT, classes: undefined });
    plain.init(new Rng(1));
    await assert.rejects(inpaint(plain, x, n, mask, { rng: new Rng(0), steps: 2, labels }), /not class-conditional/);
  });
});

describe('the classification term', () => {
  // A multi-scale flow: its label read at the end of the last level, on half the latent (the other half left at the split).
  const coupling = { type: 'coupling', law: 'affine', partition: 'channels', network: 'conv', hidden: 3, depth: 1 };
  const MULTI: NiceConfig = {
    dim: 16, prior: 'logistic', shape: [1, 4, 4], classes: 3,
    flow: [{ type: 'logit', alpha: 0.05 }, { type: 'squeeze' }, { type: 'actnorm' }, coupling, { type: 'split' }, { type: 'actnorm' }, coupling, { type: 'context-affine', context: 3 }],
  };
  // The same flow with the label's step on the whole latent: it moves and scales the values the split let go too.
  const LATENT: NiceConfig = { ...MULTI, flow: [...MULTI.flow!.slice(0, -1), { type: 'context-affine', context: 3, latent: true }] };
  it('a label step on the whole latent is read in one pass of the flow before it, on all 16 values', () => {
    const model = movedModel({ ...LATENT, classPrior: [0.2, 0.3, 0.5] }, 4);
    const cond = priorCondition(model);
    assert.ok(cond && cond.width === 16 && cond.head !== null, 'the label step is last, on every value');
    assert.ok(priorCondition(movedModel(MULTI, 4))?.width === 8, 'in the last level: on its 8 values');
  });
  for (const [name, config] of [['a flat model', FLAT], ['a multi-scale model (the label in its last level)', MULTI], ['a multi-scale model (the label on its whole latent)', LATENT]] as const) {
    it(`hybridGradient is the gradient of −(1/n) Σ [log p(x|y) + λ log p(y|x)] for ${name} (float64 finite differences, every parameter tensor)`, () => {
      const model = movedModel({ ...config, classPrior: [0.2, 0.3, 0.5] }, 4);
      const n = 5;
      const x = Float64Array.from(randn(n * 16, 8, 0.2), (v) => 0.5 + v);
      const labels = [0, 2, 1, 1, 2];
      const lambda = 0.7;
      const logPrior = classLogPrior(model);
      // The loss through the independent path: the whole flow once per class, then Bayes' rule.
      const perClass = (): Float64Array => {
        const ll = new Float64Array(n * 3);
        for (let k = 0; k < 3; k++) model.logProb(x, n, oneHot(new Array(n).fill(k), 3)).forEach((v, i) => (ll[i * 3 + k] = v));
        return ll;
      };
      const loss = (): number => {
        const ll = perClass();
        const { marginal } = classPosterior(ll, n, logPrior);
        let s = 0;
        for (let i = 0; i < n; i++) s += ll[i * 3 + labels[i]] + lambda * (ll[i * 3 + labels[i]] + logPrior[labels[i]] - marginal[i]);
        return -s / n;
      };
      const ll = perClass();
      assertAllClose(classLogLikelihoods(model, x, n), ll, 1e-9, 1e-9, 'classLogLikelihoods (the flow before the label once) = one pass per class');
      const r = hybridGradient(model, x, n, labels, lambda, hybridScratch(model));
      const cond = labels.reduce((a, y, i) => a + ll[i * 3 + y], 0) / n;
      assert.ok(Math.abs(r.conditional - cond) < 1e-9 * Math.abs(cond), `mean log p(x|y) ${r.conditional} vs ${cond}`);
      assert.ok(r.classLogProb < 0);
      const grads = model.params.map((p) => Float64Array.from(p.grad));
      for (const [k, p] of model.params.entries()) {
        const step = Math.max(1, Math.floor(p.data.length / 12));
        let checked = 0;
        for (let i = 0; i < p.data.length; i += step) {
          const num = numericGrad(p.data, i, loss);
          assert.ok(Math.abs(grads[k][i] - num) <= 1e-6 + 1e-5 * Math.abs(num), `${p.name}[${i}]: ${grads[k][i]} vs ${num}`);
          if (num !== 0) checked++;
        }
        assert.ok(checked > 0, `${p.name}: some gradient is non-zero`);
      }
    });
  }

  it('refuses, in one line that names the fix, a model whose couplings read the label', () => {
    const model = new NiceModel(createRefBackend(), { ...FLAT, conditioning: 'couplings' });
    throwsUser(() => hybridScratch(model), /the classification term needs a class-conditional model whose label only its last layer reads \(train --conditional with --conditioning prior/);
  });

  it('with λ = 0 it is the plain likelihood gradient', () => {
    const model = movedModel(FLAT, 5);
    const n = 4;
    const x = Float64Array.from(randn(n * 16, 9, 0.2), (v) => 0.5 + v);
    const labels = [2, 0, 1, 0];
    hybridGradient(model, x, n, labels, 0, hybridScratch(model));
    const hybrid = model.params.map((p) => Float64Array.from(p.grad));
    model.paramGradLogProb(x, n, -1 / n, oneHot(labels, 3));
    model.params.forEach((p, k) => assertAllClose(p.grad, hybrid[k], 1e-9, 1e-12, p.name));
  });
});

describe('evaluating with several dequantization draws', () => {
  // Each image's likelihood (each class's) is log (1/K) Σ_k p(x + u_k), the draws taken from the rng in turn: checked
  // against the same draws made by hand, batch by batch, for a class-conditional and an unconditional model.
  for (const [name, config] of [['class-conditional', FLAT], ['unconditional', { ...FLAT, classes: undefined }]] as const) {
    it(`${name}: log-mean-exp over the draws, per image${config.classes ? ' and class, then Bayes\' rule' : ''}`, async () => {
      const model = movedModel(config, 3);
      const ds = threeClasses(7, 5);
      const draws = 3;
      const batchSize = 4;
      const r = await evaluate(model, ds, { rng: new Rng(9), draws, batchSize });
      const rng = new Rng(9);
      const K = config.classes ?? 1;
      const x = new Float64Array(batchSize * 16);
      let sum = 0;
      let cond = 0;
      let correct = 0;
      for (let start = 0; start < ds.count; start += batchSize) {
        const n = Math.min(batchSize, ds.count - start);
        const per: Float64Array[] = [];
        for (let d = 0; d < draws; d++) {
          fillBatch(ds, null, start, n, 'uniform', rng, x, model.range);
          per.push(config.classes ? classLogLikelihoods(model, x, n) : model.logProb(x, n));
        }
        const avg = per[0].map((_, j) => Math.log(per.reduce((a, v) => a + Math.exp(v[j]), 0) / draws));
        if (config.classes) {
          const post = classPosterior(avg, n, classLogPrior(model));
          for (let i = 0; i < n; i++) {
            sum += post.marginal[i];
            cond += avg[i * K + ds.labels![start + i]];
            if (post.predicted[i] === ds.labels![start + i]) correct++;
          }
        } else for (let i = 0; i < n; i++) sum += avg[i];
      }
      assert.ok(Math.abs(r.logLikelihood - sum / ds.count) < 1e-9 * Math.abs(sum / ds.count), `${r.logLikelihood} vs ${sum / ds.count}`);
      if (config.classes) {
        assert.ok(Math.abs(r.conditionalLogLikelihood! - cond / ds.count) < 1e-9 * Math.abs(cond / ds.count));
        assert.equal(r.accuracy, correct / ds.count);
      }
      // The draws change the figure (it is not one draw's), and one draw is what evaluate gave before.
      const one = await evaluate(model, ds, { rng: new Rng(9), batchSize });
      assert.ok(Math.abs(one.logLikelihood - r.logLikelihood) > 1e-6);
    });
  }
  it('refuses a draw count out of range in one line', async () => {
    const model = movedModel(FLAT, 3);
    await assert.rejects(evaluate(model, threeClasses(3, 1), { rng: new Rng(0), draws: 0 }), (e: Error) => e instanceof NiceFlowError && /draws must be a whole number from 1 to 1000, got 0/.test(e.message));
    await assert.rejects(evaluate(model, threeClasses(3, 1), { rng: new Rng(0), draws: 2.5 }), /draws must be a whole number/);
  });
});

describe('training a class-conditional model', () => {
  it('learns the classes from labelled images: the likelihood classifier beats chance by far, and a reload keeps it', async () => {
    const train = threeClasses(600, 1);
    const test = threeClasses(150, 2);
    const model = new NiceModel(createRefBackend(), { ...FLAT, classPrior: classPriorFromLabels(train.labels!, 3) });
    model.init(new Rng(0));
    const trainer = new Trainer(model, train, { batchSize: 50, seed: 0 });
    const before = await evaluate(model, test, { rng: new Rng(0) });
    assert.ok(before.accuracy! < 0.5, `an untrained model (all classes alike) guesses: ${before.accuracy}`);
    for (let s = 0; s < 240; s++) trainer.trainStep();
    const r = await evaluate(model, test, { rng: new Rng(0) });
    assert.ok(r.accuracy! >= 0.95, `accuracy ${r.accuracy} after training`);
    assert.ok(r.conditionalLogLikelihood! > r.logLikelihood, 'the true label explains an image better than the mixture over labels');
    assert.ok(r.conditionalLogLikelihood! - r.logLikelihood < Math.log(3) + 1e-9, 'but never by more than log(1/p(y))');
    assert.ok(r.logLikelihood > before.logLikelihood + 5, `the marginal improved: ${before.logLikelihood} → ${r.logLikelihood}`);
    assert.equal(r.confusion!.flat().reduce((a, b) => a + b, 0), 150);
    const loaded = deserializeModel(serializeModel(model), createRefBackend());
    assert.deepEqual(loaded.config.classes, 3);
    assert.deepEqual(loaded.config.classPrior, model.config.classPrior);
    const again = await evaluate(loaded, test, { rng: new Rng(0) });
    assert.equal(again.accuracy, r.accuracy);
    assert.ok(Math.abs(again.logLikelihood - r.logLikelihood) < 1e-6 * Math.abs(r.logLikelihood));
  });

  it('refuses unlabelled training images and a context the data cannot give, in one line', () => {
    const model = new NiceModel(createRefBackend(), FLAT);
    const { labels: _, ...unlabelled } = threeClasses(30, 3);
    throwsUser(() => new Trainer(model, unlabelled, { batchSize: 10 }), /class-conditional: the training images need their labels/);
    const vector = new NiceModel(createRefBackend(), { dim: 16, prior: 'logistic', shape: [1, 4, 4], context: 2, flow: [{ type: 'context-affine', context: 2 }] });
    throwsUser(() => new Trainer(vector, threeClasses(30, 3), { batchSize: 10 }), /takes a context vector per example/);
  });
});

describe('the CLI with a class-conditional model', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nice-flow-cond-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'run');
  const model = join(out, 'model.safetensors');

  it('train --conditional, eval (marginal, conditional, accuracy), classify (confusion PNG, JSON), sample --label', () => {
    const t = cli('train', '--data', 'mnist', '--conditional', '--couplings', '2', '--hidden', '40', '--depth', '1', '--epochs', '1', '--limit', '1200',
      '--valid-size', '1000', '--valid-limit', '200', '--batch-size', '100', '--scale-init', 'data', '--out', out, '--quiet');
    assert.equal(t.code, 0, t.stderr);
    // A resumed conditional run reads the labels again and goes on.
    const more = cli('train', '--resume', '--out', out, '--epochs', '2', '--quiet');
    assert.equal(more.code, 0, more.stderr);
    assertUserError(cli('train', '--resume', '--out', out, '--epochs', '3', '--class-weight', '2'), /cannot change --class-weight 2 \(the run has 0\)/);
    const log = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(log.length, 2);
    for (const e of log) assert.ok(e.validAccuracy > 0.3 && e.validAccuracy <= 1, `validation accuracy ${e.validAccuracy}`);

    const e = cli('eval', '--model', model, '--limit', '300', '--json', '--quiet');
    assert.equal(e.code, 0, e.stderr);
    assert.match(e.stdout, /marginal log-likelihood log Σ_y p\(x\|y\)p\(y\)/);
    const ev = JSON.parse(e.stdout.trim().split('\n').at(-1)!);
    assert.ok(ev.conditionalLogLikelihood > ev.logLikelihood, 'conditional above marginal');
    assert.ok(ev.accuracy > 0.3, `accuracy ${ev.accuracy}`);

    // Images without labels (a uint8 .npy): the marginal alone, the same as with the labels, and a line that says so.
    const npy = join(dir, 'unlabelled.npy');
    const { pixels } = loadSplit('mnist', 'test', { validSize: 10000, limit: 300 });
    writeFileSync(npy, npyU8(pixels, [300, 28, 28]));
    const u = cli('eval', '--model', model, '--data', npy, '--split', 'train', '--valid-size', '1', '--json', '--quiet');
    assert.equal(u.code, 0, u.stderr);
    assert.match(u.stdout, /unlabelled\.npy has no class labels: the marginal only/);
    const uj = JSON.parse(u.stdout.trim().split('\n').at(-1)!);
    assert.equal(uj.n, 299);
    assert.equal(uj.accuracy, undefined);

    const png = join(dir, 'confusion.png');
    const c = cli('classify', '--model', model, '--limit', '300', '--json', '--quiet', '--out', png);
    assert.equal(c.code, 0, c.stderr);
    const cj = JSON.parse(c.stdout.trim().split('\n').at(-1)!);
    assert.equal(cj.n, 300);
    assert.equal(cj.accuracy, ev.accuracy);
    assert.equal(cj.bitsPerDim, ev.bitsPerDim);
    assert.equal(cj.confusion.flat().reduce((a: number, b: number) => a + b, 0), 300);
    assert.match(c.stdout, /per class: 0: /);
    assert.ok(readPngHeader(new Uint8Array(readFileSync(png))).width > 400);
    // Several dequantization draws per image: another (tighter) figure, said in the JSON and the summary line.
    const c3 = cli('classify', '--model', model, '--limit', '300', '--draws', '3', '--json', '--quiet');
    assert.equal(c3.code, 0, c3.stderr);
    const c3j = JSON.parse(c3.stdout.trim().split('\n').at(-1)!);
    assert.equal(cj.draws, 1);
    assert.equal(c3j.draws, 3);
    assert.notEqual(c3j.logLikelihood, cj.logLikelihood);
    assert.match(c3.stdout, /uniform dequantization, 3 draws per image\)/);
    assertUserError(cli('eval', '--model', model, '--limit', '10', '--draws', '1001', '--quiet'), /draws must be a whole number from 1 to 1000, got 1001/);
    // With its progress bar on, a refused evaluation still ends (the bar was left running, and the process with it).
    const shown = spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'eval', '--model', model, '--limit', '10', '--draws', '1001'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(shown.status, 1, `exit ${shown.status} (${shown.signal ?? 'no signal'})`);
    assert.match(shown.stderr.trim().split('\n').at(-1)!, /^nice-flow: draws must be a whole number from 1 to 1000, got 1001$/);

    const grid = join(dir, 'classes.png');
    const s = cli('sample', '--model', model, '--out', grid, '--temperature', '0.7');
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /wrote 80 samples \(temperature 0\.7, one row of 8 per class\)/);
    const h = readPngHeader(new Uint8Array(readFileSync(grid)));
    assert.ok(h.height > h.width, `10 rows of 8: ${h.width}×${h.height}`);
    const one = cli('sample', '--model', model, '--out', join(dir, 'sevens.png'), '--label', '7', '--n', '4');
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /wrote 4 samples \(temperature 1, class 7\)/);

    const restyled = join(dir, 'restyle.png');
    const rs = cli('restyle', '--model', model, '--limit', '3', '--out', restyled, '--npy', join(dir, 'restyle.npy'));
    assert.equal(rs.code, 0, rs.stderr);
    assert.match(rs.stdout, /restyled 3 images of the test split of mnist, encoded under their labels/);
    const rh = readPngHeader(new Uint8Array(readFileSync(restyled)));
    assert.ok(rh.width > 3 * rh.height, `3 rows of 11: ${rh.width}×${rh.height}`);
    // encode under the images' own labels, decode under the same: the images come back.
    const codes = join(dir, 'codes.npy');
    const en = cli('encode', '--model', model, '--limit', '3', '--out', codes);
    assert.equal(en.code, 0, en.stderr);
    assertUserError(cli('decode', '--model', model, '--codes', codes, '--npy', join(dir, 'back.npy')), /class-conditional: give the class of the codes with --label \(0 to 9\)/);
    const de = cli('decode', '--model', model, '--codes', codes, '--npy', join(dir, 'back.npy'), '--label', '2');
    assert.equal(de.code, 0, de.stderr);
    const strip = cli('interpolate', '--model', model, '--from', '0', '--to', '1', '--steps', '5', '--out', join(dir, 'strip.png'));
    assert.equal(strip.code, 0, strip.stderr);
    const ip = cli('inpaint', '--model', model, '--mask', 'bottom-half', '--limit', '2', '--steps', '20', '--label', '3', '--json', '--quiet');
    assert.equal(ip.code, 0, ip.stderr);
    // Your own image has no label: the class must be given.
    const digit = join(dir, 'digit.png');
    writeFileSync(digit, encode({ width: 28, height: 28, channels: 1, depth: 8, data: Uint8Array.from({ length: 784 }, (_, i) => (Math.abs((i % 28) - 14) < 3 ? 255 : 0)) }));
    assertUserError(cli('inpaint', '--model', model, '--mask', 'bottom-half', '--image', digit, '--steps', '2', '--json'), /class-conditional: give the class to complete towards with --label/);
    const ok = cli('inpaint', '--model', model, '--mask', 'bottom-half', '--image', digit, '--steps', '2', '--json', '--label', '1', '--quiet');
    assert.equal(ok.code, 0, ok.stderr);
    const mine = cli('restyle', '--model', model, '--image', grid, '--out', join(dir, 'mine.png'));
    assert.equal(mine.code, 0, mine.stderr);
    assert.match(mine.stdout, /under the classes the model gives them \(\d; --label sets one\)/);
  });

  it('says in one line what is wrong: a label out of range, --label or classify on an unconditional model', () => {
    assertUserError(cli('sample', '--model', model, '--out', join(dir, 'x.png'), '--label', '10'), /--label 10: the model's classes are 0 to 9/);
    const plain = join(dir, 'plain');
    const t = cli('train', '--data', 'mnist', '--couplings', '1', '--hidden', '8', '--depth', '1', '--epochs', '1', '--limit', '200', '--valid-size', '1000',
      '--valid-limit', '50', '--batch-size', '100', '--out', plain, '--quiet');
    assert.equal(t.code, 0, t.stderr);
    const plainModel = join(plain, 'model.safetensors');
    assert.ok(existsSync(plainModel));
    assertUserError(cli('sample', '--model', plainModel, '--out', join(dir, 'y.png'), '--label', '3'), /--label: the model .* is not class-conditional \(train one with --conditional\)/);
    assertUserError(cli('classify', '--model', plainModel, '--limit', '10'), /classify: the model .* is not class-conditional/);
    assertUserError(cli('restyle', '--model', plainModel, '--out', join(dir, 'z.png')), /restyle: the model .* is not class-conditional/);
    assertUserError(cli('restyle', '--model', model, '--out', join(dir, 'z.png'), '--label', '11'), /--label 11: the model's classes are 0 to 9/);
    assertUserError(cli('train', '--data', join(dir, 'nowhere.npy'), '--conditional', '--out', join(dir, 'r3')), /./);
  });
});
