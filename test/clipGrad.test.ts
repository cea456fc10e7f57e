// Gradient-norm clipping (Trainer's clipGradNorm, train --clip-grad): the global norm over every parameter, scaled
// as torch.nn.utils.clip_grad_norm_ does, kept in the run record so a resume clips the same way.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRefBackend } from '../src/core/createRefBackend.js';
import { Rng } from '../src/core/Rng.js';
import { createParam } from '../src/nn/Param.js';
import { NiceModel } from '../src/model/NiceModel.js';
import { parseRunRecord } from '../src/train/RunRecord.js';
import { clipGradNorm, Trainer } from '../src/train/Trainer.js';

describe('gradient-norm clipping', () => {
  it('scales every gradient by max/‖g‖ when the global norm is above max, and leaves it alone below', () => {
    const b = createRefBackend({ dtype: 'float64' });
    const p = createParam(b, 'a', [2]), q = createParam(b, 'b', [1]);
    p.grad.set([3, 0]);
    q.grad.set([4]);
    assert.equal(clipGradNorm([p, q], 10), 5);
    assert.deepEqual([...p.grad, ...q.grad], [3, 0, 4]);
    assert.equal(clipGradNorm([p, q], 2.5), 5);
    assert.deepEqual([...p.grad, ...q.grad], [1.5, 0, 2]);
  });

  it('a training step clips the gradient Adam sees and reports the norm before clipping', () => {
    const model = new NiceModel(createRefBackend(), { dim: 16, couplings: 2, hidden: 8, depth: 1, prior: 'logistic', partition: 'alternate', coupling: 'affine' });
    model.init(new Rng(1));
    const pixels = new Uint8Array(16 * 40).map((_, i) => (i * 37) % 256);
    const trainer = new Trainer(model, { pixels, count: 40, dim: 16, shape: [1, 4, 4] }, { batchSize: 20, adam: { lr: 1e-3, beta1: 0.9, beta2: 0.99, eps: 1e-4 }, dequantize: 'uniform', seed: 0, clipGradNorm: 1e-3 });
    trainer.trainStep();
    assert.ok(trainer.lastGradNorm > 1e-3, `norm before clipping ${trainer.lastGradNorm}`);
    let g2 = 0;
    for (const p of model.params) for (const g of p.grad) g2 += g * g;
    assert.ok(Math.abs(Math.sqrt(g2) - 1e-3) < 1e-9, `norm after clipping ${Math.sqrt(g2)}`);
  });

  it('the run record keeps it and refuses a bad value', () => {
    const record = {
      data: 'mnist', validSize: 10, epochs: 1, seed: 0, bestValid: null, bestEpoch: null, seconds: 0,
      trainerOptions: { batchSize: 10, adam: { lr: 1e-3, beta1: 0.9, beta2: 0.99, eps: 1e-4 }, dequantize: 'uniform', seed: 0, clipGradNorm: 50000 },
    };
    assert.equal(parseRunRecord(record, 'checkpoint').trainerOptions.clipGradNorm, 50000);
    for (const bad of [0, -1, Infinity, '5']) {
      assert.throws(() => parseRunRecord({ ...record, trainerOptions: { ...record.trainerOptions, clipGradNorm: bad } }, 'checkpoint'), /"clipGradNorm" must be a positive number/);
    }
  });
});
