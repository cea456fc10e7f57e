import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRefBackend } from '../src/core/createRefBackend.js';
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { Rng } from '../src/core/Rng.js';
import { readSafetensors, writeSafetensors, type TensorF32 } from '../src/io/safetensors.js';
import { deserializeModel, serializeModel } from '../src/model/modelFile.js';
import { NiceModel } from '../src/model/NiceModel.js';
import { randn } from './helpers.js';

const config = { dim: 8, couplings: 3, hidden: 5, depth: 2, prior: 'logistic' as const, partition: 'alternate' as const, coupling: 'additive' as const };

/** Tensors as PyTorch would name and lay them out for this config (Linear weight [out, in]). */
function torchStyleTensors(): Record<string, TensorF32> {
  const t: Record<string, TensorF32> = {};
  let seed = 1;
  for (let k = 0; k < 3; k++) {
    const widths = [4, 5, 5, 4];
    for (let j = 0; j < 3; j++) {
      t[`couplings.${k}.layers.${j}.weight`] = { shape: [widths[j + 1], widths[j]], data: Float32Array.from(randn(widths[j + 1] * widths[j], seed++)) };
      t[`couplings.${k}.layers.${j}.bias`] = { shape: [widths[j + 1]], data: Float32Array.from(randn(widths[j + 1], seed++)) };
    }
  }
  t['scaling.scale'] = { shape: [8], data: Float32Array.from(randn(8, seed, 0.3)) };
  return t;
}

const x = Float32Array.from(randn(4 * 8, 77, 0.5));

describe('model file', () => {
  it('round-trips a model exactly, config included', () => {
    const model = new NiceModel(createRefBackend(), config);
    model.init(new Rng(1));
    model.scaling!.scale.data.set(randn(8, 2));
    const bytes = serializeModel(model, { note: 'x' });
    const back = deserializeModel(bytes, createRefBackend());
    assert.deepEqual(back.config, model.config);
    assert.deepEqual(back.logProb(x, 4), model.logProb(x, 4));
    assert.equal(readSafetensors(bytes).metadata.note, 'x');
  });

  it('loads a file written by another program in the PyTorch layout and evaluates identically', () => {
    const tensors = torchStyleTensors();
    const bytes = writeSafetensors(tensors, { config: JSON.stringify(config) });
    const loaded = deserializeModel(bytes, createRefBackend());
    // The same numbers set by hand, parameter by parameter.
    const manual = new NiceModel(createRefBackend(), config);
    for (const p of manual.params) p.data.set(tensors[p.name].data);
    assert.deepEqual(loaded.logProb(x, 4), manual.logProb(x, 4));
    // And the layout really is [out, in]: the first coupling's first layer maps its 4 kept inputs (x[0::2]) to 5 units.
    const W = tensors['couplings.0.layers.0.weight'].data;
    const b = tensors['couplings.0.layers.0.bias'].data;
    const m = loaded.couplings[0].m;
    const kept = Float32Array.from([x[0], x[2], x[4], x[6]]);
    m.forward(kept, 1);
    const hidden = (m as unknown as { acts: { get(n: number): Float32Array }[] }).acts[0].get(1);
    for (let o = 0; o < 5; o++) {
      let s = b[o];
      for (let i = 0; i < 4; i++) s += W[o * 4 + i] * kept[i];
      assert.ok(Math.abs(hidden[o] - Math.max(0, s)) < 1e-6, `unit ${o}`);
    }
  });

  const reject = (what: string, mutate: (t: Record<string, TensorF32>, meta: Record<string, string>) => void, pattern: RegExp): void => {
    it(`rejects ${what}`, () => {
      const t = torchStyleTensors();
      const meta: Record<string, string> = { config: JSON.stringify(config) };
      mutate(t, meta);
      assert.throws(() => deserializeModel(writeSafetensors(t, meta), createRefBackend()), (e: unknown) => e instanceof NiceFlowError && pattern.test(e.message));
    });
  };
  reject('a missing tensor', (t) => delete t['couplings.2.layers.1.bias'], /couplings\.2\.layers\.1\.bias.*missing/);
  reject('a tensor of the wrong shape', (t) => (t['scaling.scale'] = { shape: [2, 4], data: new Float32Array(8) }), /scaling\.scale.*shape \[2, 4\].*\[8\]/);
  reject('a tensor of another architecture', (t) => (t['couplings.3.layers.0.weight'] = { shape: [1], data: new Float32Array(1) }), /unexpected tensor "couplings\.3/);
  reject('a file without config', (_t, m) => delete m.config, /no model config/);
  reject('a config that is not JSON', (_t, m) => (m.config = '{dim: 8'), /not valid JSON/);
  reject('a config with a bad field', (_t, m) => (m.config = JSON.stringify({ ...config, prior: 'cauchy' })), /prior/);
  reject('a config whose depth disagrees with the tensors', (_t, m) => (m.config = JSON.stringify({ ...config, depth: 3 })), /missing|shape/);
  reject(
    'a dense file declared as conv',
    (_t, m) => (m.config = JSON.stringify({ ...config, network: 'conv', shape: [2, 2, 2] })),
    /tensor "couplings\.0\.layers\.0\.weight" has shape \[5, 4\], the config needs \[5, 2, 3, 3\] \(a dense layer's weight, but the config says network "conv"\)/,
  );
  reject(
    'an additive file declared as affine',
    (_t, m) => (m.config = JSON.stringify({ ...config, coupling: 'affine' })),
    /tensor "couplings\.0\.layers\.2\.weight" has shape \[4, 5\], the config needs \[8, 5\] \(an output layer sized for another coupling law; the config says coupling "affine"\)/,
  );
  reject('a config with an unknown coupling law', (_t, m) => (m.config = JSON.stringify({ ...config, coupling: 'cubic' })), /"coupling" must be one of/);

  it('keeps exactly the old config keys for a dense additive model', () => {
    const model = new NiceModel(createRefBackend(), { ...config, shape: [2, 2, 2] });
    const stored = JSON.parse(readSafetensors(serializeModel(model)).metadata.config) as Record<string, unknown>;
    assert.deepEqual(Object.keys(stored), ['dim', 'couplings', 'hidden', 'depth', 'prior', 'partition', 'coupling', 'shape']);
  });
});

describe('model file: conv and affine models', () => {
  const convConfig = { dim: 24, couplings: 3, hidden: 4, depth: 2, prior: 'gaussian' as const, partition: 'channels' as const, coupling: 'affine' as const, shape: [2, 3, 4], network: 'conv' as const };
  const xs = Float32Array.from(randn(5 * 24, 78, 0.5));
  const convModel = (): NiceModel => {
    const model = new NiceModel(createRefBackend(), convConfig);
    model.init(new Rng(2));
    model.scaling!.scale.data.set(randn(24, 3, 0.3));
    return model;
  };

  it('round-trips a conv affine model: config (network included), Conv2d-layout tensors, same logProb', () => {
    const model = convModel();
    const bytes = serializeModel(model);
    const { tensors, metadata } = readSafetensors(bytes);
    assert.deepEqual(JSON.parse(metadata.config), convConfig);
    // torch.nn.Conv2d layout: [out, in, k, k]; the 1×1 output conv gives 2 groups (a, t) × C channels.
    assert.deepEqual(tensors['couplings.0.layers.0.weight'].shape, [4, 2, 3, 3]);
    assert.deepEqual(tensors['couplings.0.layers.2.weight'].shape, [4, 4, 1, 1]);
    const back = deserializeModel(bytes, createRefBackend());
    assert.deepEqual(back.config, model.config);
    assert.equal(back.config.network, 'conv');
    const lp = model.logProb(xs, 5);
    assert.ok(lp.every(Number.isFinite));
    assert.deepEqual(back.logProb(xs, 5), lp);
  });

  it('rejects a conv file declared as dense, naming the tensor and the layout', () => {
    const { tensors } = readSafetensors(serializeModel(convModel()));
    const { network: _network, ...denseConfig } = convConfig;
    const bytes = writeSafetensors(tensors, { config: JSON.stringify(denseConfig) });
    assert.throws(
      () => deserializeModel(bytes, createRefBackend()),
      (e: unknown) => e instanceof NiceFlowError && /"couplings\.0\.layers\.0\.weight" has shape \[4, 2, 3, 3\], the config needs \[4, 12\] \(a convolution's weight, but the config says network "mlp"\)/.test(e.message),
    );
  });
});
