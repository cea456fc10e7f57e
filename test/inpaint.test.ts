import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createRefBackend } from '../src/core/createRefBackend.js';
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { Rng } from '../src/core/Rng.js';
import { dequantizeBatch } from '../src/data/dequantize.js';
import { inpaint } from '../src/model/inpaint.js';
import { interpolate } from '../src/model/interpolate.js';
import { hiddenCount, makeMask, MASK_NAMES, maskFromImage } from '../src/model/masks.js';
import { NiceModel } from '../src/model/NiceModel.js';
import { scaleSpectrum } from '../src/model/scaleSpectrum.js';
import { Trainer } from '../src/train/Trainer.js';
import { loadSplit } from '../cli/data.js';

describe('masks', () => {
  const expected: Record<string, number> = {
    'top-half': 392, 'bottom-half': 392, 'left-half': 392, 'right-half': 392, even: 392, odd: 392,
    'middle-rows': 14 * 28, 'middle-cols': 14 * 28, 'random-75': 588, 'random-90': 706,
  };
  for (const name of MASK_NAMES) {
    it(`${name} hides ${expected[name]} of 784 pixels`, () => assert.equal(hiddenCount(makeMask(name, 28, 28, 1)), expected[name]));
  }
  it('hides the right places', () => {
    assert.equal(makeMask('top-half', 28, 28)[0], 1);
    assert.equal(makeMask('top-half', 28, 28)[14 * 28], 0);
    assert.equal(makeMask('middle-rows', 28, 28)[6 * 28 + 3], 0);
    assert.equal(makeMask('middle-rows', 28, 28)[7 * 28 + 3], 1);
    assert.equal(makeMask('middle-rows', 28, 28)[20 * 28 + 3], 1);
    assert.equal(makeMask('middle-rows', 28, 28)[21 * 28 + 3], 0);
    assert.equal(makeMask('middle-cols', 28, 28)[3 * 28 + 7], 1);
    assert.equal(makeMask('right-half', 28, 28)[27], 1);
    assert.notDeepEqual(makeMask('random-75', 28, 28, 1), makeMask('random-75', 28, 28, 2));
    assert.deepEqual(makeMask('random-75', 28, 28, 1), makeMask('random-75', 28, 28, 1));
  });
  it('reads masks from images and rejects bad ones', () => {
    const img = { channels: 1, height: 2, width: 2, data: Float32Array.from([0, 1, 0.2, 0.9]) };
    assert.deepEqual(Array.from(maskFromImage(img, 2, 2)), [1, 0, 1, 0]);
    assert.throws(() => maskFromImage(img, 28, 28), (e: unknown) => e instanceof NiceFlowError && /2×2.*28×28/.test(e.message));
    assert.throws(() => maskFromImage({ ...img, data: Float32Array.from([1, 1, 1, 1]) }, 2, 2), /hides no pixel/);
    assert.throws(() => makeMask('diagonal', 28, 28), /unknown mask "diagonal"/);
  });
});

describe('inpainting and latent space on a small trained model', () => {
  const config = { dim: 784, couplings: 4, hidden: 32, depth: 1, prior: 'logistic' as const, partition: 'alternate' as const, coupling: 'additive' as const, shape: [1, 28, 28] };
  const model = new NiceModel(createRefBackend(), config);
  const test = loadSplit('mnist', 'test', { validSize: 10000, limit: 6 });
  const x = new Float32Array(6 * 784);
  before(() => {
    model.init(new Rng(1));
    const train = loadSplit('mnist', 'train', { validSize: 10000, limit: 500 });
    const trainer = new Trainer(model, train, { batchSize: 50, seed: 2 });
    for (let i = 0; i < 80; i++) trainer.trainStep();
    dequantizeBatch(test, null, 0, 6, 'center', new Rng(0), x);
  });

  it('keeps observed pixels bit-identical and raises the log-likelihood', async () => {
    const mask = makeMask('bottom-half', 28, 28);
    let calls = 0;
    const r = await inpaint(model, x, 6, mask, { steps: 100, rng: new Rng(3), onStep: () => void calls++ });
    assert.equal(calls, 100);
    for (let k = 0; k < 6; k++) {
      for (let d = 0; d < 784; d++) {
        const v = r.x[k * 784 + d];
        if (!mask[d]) assert.ok(Object.is(v, x[k * 784 + d]), `observed pixel ${d} of image ${k} changed`);
        else assert.ok(v >= 0 && v <= 1);
      }
    }
    assert.ok(r.meanLLAfter > r.meanLLBefore + 10, `mean LL ${r.meanLLBefore} → ${r.meanLLAfter}`);
  });

  it('interpolation starts and ends at the two images; encode/decode round trip', () => {
    const a = x.subarray(0, 784), b = x.subarray(784, 1568);
    const strip = interpolate(model, a, b, 5);
    assert.equal(strip.length, 5 * 784);
    for (let d = 0; d < 784; d++) {
      assert.ok(Math.abs(strip[d] - a[d]) < 1e-5, `first image, pixel ${d}`);
      assert.ok(Math.abs(strip[4 * 784 + d] - b[d]) < 1e-5, `last image, pixel ${d}`);
    }
    const mid = strip.subarray(2 * 784, 3 * 784);
    assert.ok(mid.some((v, d) => Math.abs(v - a[d]) > 1e-3) && mid.some((v, d) => Math.abs(v - b[d]) > 1e-3));
    const { h } = model.encode(x, 6);
    const back = model.decode(h, 6);
    for (let i = 0; i < back.length; i++) assert.ok(Math.abs(back[i] - x[i]) < 1e-5);
  });

  it('the spectrum is exp(−s) sorted from largest to smallest', () => {
    const sp = scaleSpectrum(model);
    assert.equal(sp.length, 784);
    for (let i = 1; i < sp.length; i++) assert.ok(sp[i] <= sp[i - 1]);
    const s = Array.from(model.scaling.scale.data);
    assert.ok(Math.abs(sp[0] - Math.exp(-Math.min(...s))) < 1e-9);
    assert.ok(sp[0] !== sp[783], 'training moved the scales apart');
  });
});
