// Flow descriptions (a model config's `flow`): the step registry, validation, parameter counts without building,
// weight files with fixed buffers (ActNorm's started flag), multi-scale sampling and encode/decode, and training.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRefBackend } from '../src/core/createRefBackend.js';
import { Rng } from '../src/core/Rng.js';
import { ActNorm } from '../src/flows/ActNorm.js';
import { STEP_TYPES } from '../src/flows/steps/stepRegistry.js';
import { summarizeFlow } from '../src/model/summarizeFlow.js';
import { deserializeModel, serializeModel } from '../src/model/modelFile.js';
import { validateConfig, type NiceConfig } from '../src/model/NiceConfig.js';
import { countParams, NiceModel } from '../src/model/NiceModel.js';
import { scaleSpectrum } from '../src/model/scaleSpectrum.js';
import { readRunCheckpoint } from '../src/train/readRunCheckpoint.js';
import { TrainingRun } from '../src/train/TrainingRun.js';
import { assertAllClose, randn } from './helpers.js';
import { MemoryStorage, squares } from './runFixtures.js';
import { MULTI_SCALE_CASE, STEP_CASES, stepCaseConfig, stepCaseModel } from './stepCases.js';

const multiScaleConfig = (): NiceConfig => ({ dim: 24, prior: 'logistic', shape: MULTI_SCALE_CASE.shape, range: MULTI_SCALE_CASE.range, flow: MULTI_SCALE_CASE.flow });

describe('flow step registry', () => {
  it('every registered step type has a test case (so both bijection suites check it)', () => {
    for (const type of STEP_TYPES) assert.ok(STEP_CASES[type]?.length, `no case in test/stepCases.ts for step type "${type}"`);
    for (const type of Object.keys(STEP_CASES)) assert.ok(STEP_TYPES.includes(type), `test/stepCases.ts has cases for unregistered type "${type}"`);
  });

  it('countParams counts, without building, exactly the parameters the model builds, with the names the kinds list', () => {
    const b = createRefBackend();
    for (const c of [...Object.values(STEP_CASES).flat(), MULTI_SCALE_CASE]) {
      const config = stepCaseConfig(c, 'gaussian');
      const model = new NiceModel(b, config);
      assert.equal(countParams(config), model.params.reduce((a, p) => a + p.data.length, 0), c.name);
      assert.ok(model.params.every((p) => /^flow\.\d+\./.test(p.name)), `${c.name}: names ${model.params.map((p) => p.name).join(', ')}`);
    }
  });

  it("the paper's flat configs keep their weight names and counts", () => {
    const model = new NiceModel(createRefBackend(), { dim: 24, couplings: 3, hidden: 5, depth: 1, prior: 'logistic', partition: 'alternate', coupling: 'affine' });
    assert.deepEqual(model.params.map((p) => p.name), [
      'couplings.0.layers.0.weight', 'couplings.0.layers.0.bias', 'couplings.0.layers.1.weight', 'couplings.0.layers.1.bias',
      'couplings.1.layers.0.weight', 'couplings.1.layers.0.bias', 'couplings.1.layers.1.weight', 'couplings.1.layers.1.bias',
      'couplings.2.layers.0.weight', 'couplings.2.layers.0.bias', 'couplings.2.layers.1.weight', 'couplings.2.layers.1.bias',
      'scaling.scale',
    ]);
    // 12 kept → 5 → 24 (affine: a and t for 12 updated values), 3 couplings, + 24 scales.
    assert.equal(countParams(model.config), 3 * ((12 + 1) * 5 + (5 + 1) * 24) + 24);
    assert.ok(model.scaling);
  });
});

describe('flow descriptions: validation', () => {
  const bad = (what: string, change: (c: Record<string, unknown>) => void, message: RegExp): void => {
    it(`refuses ${what} in one line`, () => {
      const c = multiScaleConfig() as unknown as Record<string, unknown>;
      c.flow = structuredClone(c.flow);
      change(c);
      assert.throws(() => validateConfig(c), (e: Error) => e.name === 'NiceFlowError' && message.test(e.message) && !e.message.includes('\n'));
    });
  };
  bad('an unknown step type', (c) => ((c.flow as object[])[1] = { type: 'glow' }), /flow step 1: unknown flow step type "glow"/);
  bad('an unknown setting', (c) => ((c.flow as object[])[4] = { type: 'coupling', hidden: 4, depth: 1, width: 3 }), /flow step 4.*unknown setting "width"/);
  bad('a squeeze of odd sides', (c) => (c.shape = [4, 1, 6]), /flow step 1: .*even/);
  bad('a split at the end', (c) => (c.flow as object[]).splice(9), /flow step 8: split step: nothing follows it/);
  bad('a step on the whole latent that is not last', (c) => {
    c.context = 2;
    (c.flow as object[]).splice(3, 0, { type: 'context-affine', context: 2, latent: true });
  }, /flow step 3: context-affine step: "latent": true only for the flow's last step/);
  bad('"latent" that is not true or false', (c) => (c.flow as object[]).push({ type: 'context-affine', context: 2, latent: 1 }), /"latent" must be true or false, got 1/);
  bad('a split of one channel', (c) => (c.flow = [{ type: 'split' }, { type: 'actnorm' }]), /flow step 0: split step: needs an even number of channels/);
  bad('flat settings beside a flow', (c) => (c.couplings = 4), /"flow" describes the whole flow; drop "couplings"/);
  bad('an empty flow', (c) => (c.flow = []), /"flow" must be a list of 1 to/);
  bad('a conv coupling of depth 0', (c) => ((c.flow as object[])[4] = { type: 'coupling', network: 'conv', hidden: 4, depth: 0 }), /"depth" must be an integer from 1/);
  bad('a logit alpha of 0.5', (c) => ((c.flow as object[])[0] = { type: 'logit', alpha: 0.5 }), /alpha/);

  it('fills in defaults, so a stored description is complete', () => {
    const c = validateConfig({ dim: 24, prior: 'logistic', shape: [6, 2, 2], flow: [{ type: 'coupling', hidden: 3, depth: 1 }, { type: 'logit' }] });
    assert.deepEqual(c.flow, [{ type: 'coupling', law: 'additive', partition: 'alternate', network: 'mlp', hidden: 3, depth: 1 }, { type: 'logit', alpha: 0.05 }]);
  });

  it('describes itself in one line, levels grouped', () => {
    assert.equal(summarizeFlow(validateConfig(multiScaleConfig())),
      'logit · squeeze → 4×2×3 · 2 × (actnorm, invconv, affine coupling (channels, conv 1×4)) · split → 2×2×3 · actnorm · invconv · additive coupling (checkerboard, conv 1×4) · scaling');
  });
});

describe('multi-scale models', () => {
  it('round-trips through a weight file: same log p, buffers restored, and a reload never starts ActNorm again', () => {
    const b = createRefBackend({ dtype: 'float64' });
    const model = stepCaseModel(b, MULTI_SCALE_CASE);
    const x = Float64Array.from(randn(5 * 24, 8, 1));
    const lp = model.logProb(x, 5);
    const bytes = serializeModel(model);
    const loaded = deserializeModel(bytes, createRefBackend({ dtype: 'float64' }));
    assertAllClose(loaded.logProb(x, 5), lp, 1e-5, 1e-4, 'log p after reload');
    const started = loaded.buffers.filter((t) => t.name.endsWith('.started'));
    assert.equal(started.length, 3);
    assert.ok(started.every((t) => t.data[0] === 1), 'ActNorm started flags restored');
    // A data-dependent start on a reloaded model (what a careless trainer would do) leaves every trained value alone.
    const before = loaded.params.map((p) => Float64Array.from(p.data));
    loaded.initFromData(Float64Array.from(randn(40 * 24, 99, 3)), 40, { scaling: false });
    loaded.params.forEach((p, i) => assert.deepEqual(Float64Array.from(p.data), before[i], `${p.name} changed by a second start`));
  });

  it('a file without its ActNorm buffers is refused by name', () => {
    const model = stepCaseModel(createRefBackend(), MULTI_SCALE_CASE);
    const bytes = serializeModel(model);
    // Rename the tensor in the header (same length), so the file no longer holds it.
    const text = new TextDecoder('latin1').decode(bytes);
    const broken = Uint8Array.from(text.replace('"flow.2.started"', '"flow.2.startex"'), (ch) => ch.charCodeAt(0));
    assert.throws(() => deserializeModel(broken, createRefBackend()), /tensor "flow.2.started" is missing/);
  });

  it('samples, encodes and decodes the multi-level latent (one flat row), at any temperature', () => {
    const b = createRefBackend({ dtype: 'float64' });
    const model = stepCaseModel(b, MULTI_SCALE_CASE, 3, 0.05);
    const samples = model.sample(6, new Rng(1), 0.7);
    assert.equal(samples.length, 6 * 24);
    // The logit's inverse maps R onto the range widened by α(hi − lo)/(1 − 2α) each side: (−10, 10) here.
    assert.ok(samples.every((v) => v > -10 && v < 10), 'samples where the logit maps back');
    const { h } = model.encode(Float64Array.from(samples), 6);
    assertAllClose(model.decode(h, 6), samples, 1e-5, 1e-6, 'decode(encode(x))');
  });

  it('has no scale spectrum unless the flow ends with the scaling, and says so in one line', () => {
    const flow = MULTI_SCALE_CASE.flow.slice(0, -1);
    const model = new NiceModel(createRefBackend(), { ...multiScaleConfig(), flow });
    assert.equal(model.scaling, null);
    assert.throws(() => scaleSpectrum(model), /the scale spectrum needs a model whose flow ends with the diagonal scaling/);
    // A split encloses the steps after it: a scaling there covers only the last level, not every latent.
    assert.equal(stepCaseModel(createRefBackend(), MULTI_SCALE_CASE).scaling, null);
    const flat = new NiceModel(createRefBackend(), { dim: 24, prior: 'logistic', shape: [6, 2, 2], flow: [{ type: 'actnorm' }, { type: 'scaling' }] });
    assert.equal(scaleSpectrum(flat).length, 24);
  });

  it('ActNorm starts from data: zero mean and the prior spread per channel on the batch it saw', () => {
    const b = createRefBackend({ dtype: 'float64' });
    const model = new NiceModel(b, { ...multiScaleConfig(), flow: MULTI_SCALE_CASE.flow.slice(0, 3), prior: 'gaussian' });
    model.init(new Rng(0));
    const n = 50;
    const x = Float64Array.from(randn(n * 24, 5, 2));
    model.initFromData(x, n, { scaling: false });
    const { y } = model.flow.forward(x, n);
    // After logit and squeeze, 4 channels of 2×3 pixels.
    for (let c = 0; c < 4; c++) {
      const v: number[] = [];
      for (let i = 0; i < n; i++) for (let p = 0; p < 6; p++) v.push(y[i * 24 + c * 6 + p]);
      const mean = v.reduce((a, q) => a + q, 0) / v.length;
      const sd = Math.sqrt(v.reduce((a, q) => a + (q - mean) ** 2, 0) / (v.length - 1));
      assert.ok(Math.abs(mean) < 1e-9, `channel ${c} mean ${mean}`);
      assert.ok(Math.abs(sd - 1) < 0.01, `channel ${c} spread ${sd}`);
    }
    assert.ok(model.layers.some((l) => l instanceof ActNorm));
  });
});

describe('training a described flow', () => {
  const flow = [
    { type: 'logit' }, { type: 'squeeze' },
    { type: 'actnorm' }, { type: 'invconv' }, { type: 'coupling', law: 'affine', partition: 'channels', network: 'conv', hidden: 8, depth: 1, zeroInit: true },
    { type: 'actnorm' }, { type: 'invconv' }, { type: 'coupling', law: 'affine', partition: 'channels', network: 'conv', hidden: 8, depth: 1, zeroInit: true },
    { type: 'split' }, { type: 'actnorm' }, { type: 'coupling', law: 'affine', partition: 'channels', network: 'conv', hidden: 8, depth: 1, zeroInit: true },
  ];
  const options = { data: 'squares', validSize: 40, dataRange: [0, 1] as const, epochs: 4, batchSize: 20, seed: 3, lr: 3e-3, model: { flow } };

  it('learns (validation improves by nats per image), and a checkpoint resumes it exactly with its ActNorm state', async () => {
    const train = squares(120, 1), valid = squares(40, 2);
    const storage = new MemoryStorage();
    const straight = await TrainingRun.create(createRefBackend(), train, valid, options);
    const startLL = straight.trainer.checkLoss();
    await straight.run({ storage });
    const ll = storage.log.map((l) => l.validLogLikelihood);
    assert.ok(ll.every(Number.isFinite));
    const curve = `validation ${ll.map((v) => v.toFixed(1)).join(' → ')} from ${startLL.toFixed(1)} at the start`;
    assert.ok(ll.every((v, i) => v > (i ? ll[i - 1] : startLL)) && ll[3] > startLL + 2, curve);

    const first = await TrainingRun.create(createRefBackend(), train, valid, options);
    const partial = new MemoryStorage();
    await first.run({ storage: partial, shouldStop: () => first.trainer.step === 9 });
    const resumed = TrainingRun.resume(readRunCheckpoint(partial.checkpoint!, createRefBackend()), train, valid);
    await resumed.run({ storage: partial });
    straight.model.params.forEach((p, i) => assert.deepEqual(resumed.model.params[i].data, p.data, `${p.name} differs after the resume`));
    const model = deserializeModel(storage.model!, createRefBackend());
    assert.deepEqual(model.config.flow?.map((s) => s.type), flow.map((s) => s.type));
  });
});
