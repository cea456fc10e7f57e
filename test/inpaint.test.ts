import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createRefBackend } from '../src/core/createRefBackend.js';
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { Rng } from '../src/core/Rng.js';
import { dequantizeBatch } from '../src/data/dequantize.js';
import { inpaint } from '../src/model/inpaint.js';
import { hiddenCount, makeMask, MASK_NAMES, maskFromImage } from '../src/model/masks.js';
import { NiceModel } from '../src/model/NiceModel.js';
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
    // A colour mask is judged by its luma: pure red (luma 0.3) is dark, yellow (0.89) is light.
    const rgb = { channels: 3, height: 1, width: 2, data: Float32Array.from([1, 1, 0, 1, 0, 0]) };
    assert.deepEqual(Array.from(maskFromImage(rgb, 1, 2)), [1, 0]);
  });
  it('scales the middle bands to other sizes and hides half of an odd-sized image rounding down', () => {
    assert.equal(hiddenCount(makeMask('middle-rows', 8, 4)), 4 * 4);
    assert.equal(hiddenCount(makeMask('top-half', 5, 3)), 2 * 3);
    assert.equal(hiddenCount(makeMask('random-90', 5, 3, 7)), Math.round(0.9 * 15));
  });
});

describe('inpainting with a small trained model', () => {
  // hidden 64, depth 2, 300 steps on 500 MNIST images, the scale started from the data (with s = 0 at the start 300
  // steps leave the model near its initial, noise-tolerant state, about −860 nats, and inpainting gains little).
  const config = { dim: 784, couplings: 4, hidden: 64, depth: 2, prior: 'logistic' as const, partition: 'alternate' as const, coupling: 'additive' as const, shape: [1, 28, 28] };
  const model = new NiceModel(createRefBackend(), config);
  const n = 8;
  const x = new Float32Array(n * 784);
  before(() => {
    model.init(new Rng(1));
    const train = loadSplit('mnist', 'train', { validSize: 10000, limit: 500 });
    const start = new Float32Array(500 * 784);
    dequantizeBatch(train, null, 0, 500, 'uniform', new Rng(7), start);
    model.initScaleFromData(start, 500);
    const trainer = new Trainer(model, train, { batchSize: 50, seed: 2 });
    for (let i = 0; i < 300; i++) trainer.trainStep();
    const test = loadSplit('mnist', 'test', { validSize: 10000, limit: n });
    dequantizeBatch(test, null, 0, n, 'center', new Rng(0), x);
  });

  const observedUnchanged = (r: Float32Array, mask: Uint8Array): void => {
    for (let k = 0; k < n; k++) {
      for (let d = 0; d < 784; d++) {
        const v = r[k * 784 + d];
        if (!mask[d]) assert.ok(Object.is(v, x[k * 784 + d]), `observed pixel ${d} of image ${k} changed`);
        else assert.ok(v >= 0 && v <= 1, `hidden pixel ${d} of image ${k} is ${v}, outside [0, 1]`);
      }
    }
  };

  it('keeps observed pixels bit-identical and raises the log-likelihood', async () => {
    for (const name of ['bottom-half', 'random-75'] as const) {
      const mask = makeMask(name, 28, 28, 5);
      const seen: number[] = [];
      const r = await inpaint(model, x, n, mask, { steps: 200, rng: new Rng(3), onStep: (i) => void seen.push(i) });
      assert.deepEqual(seen, Array.from({ length: 200 }, (_, i) => i));
      observedUnchanged(r.x, mask);
      assert.ok(r.meanLLAfter > r.meanLLBefore + 1000, `${name}: mean LL ${r.meanLLBefore} → ${r.meanLLAfter}`);
    }
  });

  it('is reproducible from its seed, and the raw-gradient rule also leaves observed pixels alone', async () => {
    const mask = makeMask('even', 28, 28);
    const a = await inpaint(model, x, n, mask, { steps: 20, rng: new Rng(9) });
    const b = await inpaint(model, x, n, mask, { steps: 20, rng: new Rng(9) });
    assert.deepEqual(a.x, b.x);
    const raw = await inpaint(model, x, n, mask, { steps: 20, rng: new Rng(9), gradient: 'raw' });
    observedUnchanged(raw.x, mask);
    assert.ok(Number.isFinite(raw.meanLLAfter));
  });

  it('starts from noise the same way whatever the number of steps', async () => {
    const mask = makeMask('odd', 28, 28);
    const r0 = await inpaint(model, x, n, mask, { steps: 0, rng: new Rng(4) });
    assert.equal(r0.meanLLBefore, r0.meanLLAfter);
    const r1 = await inpaint(model, x, n, mask, { steps: 1, rng: new Rng(4) });
    assert.equal(r1.meanLLBefore, r0.meanLLBefore);
  });
});
