// Training levers beyond the paper: a moving average of the weights and learning-rate schedules.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRefBackend } from '../src/core/createRefBackend.js';
import { Rng } from '../src/core/Rng.js';
import type { ImageDataset } from '../src/data/ImageDataset.js';
import { deserializeModel } from '../src/model/modelFile.js';
import { NiceModel } from '../src/model/NiceModel.js';
import { deserializeCheckpoint, serializeCheckpoint } from '../src/train/checkpoint.js';
import { learningRateAt } from '../src/train/learningRate.js';
import { Trainer } from '../src/train/Trainer.js';
import type { EpochLogEntry } from '../src/train/RunStorage.js';
import { readRunCheckpoint } from '../src/train/readRunCheckpoint.js';
import { TrainingRun } from '../src/train/TrainingRun.js';

function noise(count: number, dim: number, seed: number): ImageDataset {
  const rng = new Rng(seed);
  const pixels = new Uint8Array(count * dim);
  for (let i = 0; i < pixels.length; i++) pixels[i] = Math.floor(256 * rng.uniform() ** 2);
  return { pixels, count, dim, shape: [1, 1, dim] };
}

const config = { dim: 6, couplings: 4, hidden: 8, depth: 1, prior: 'logistic' as const, partition: 'alternate' as const, coupling: 'additive' as const };
const data = noise(60, 6, 1);

function trainer(ema?: number): Trainer {
  const model = new NiceModel(createRefBackend(), config);
  model.init(new Rng(2));
  return new Trainer(model, data, { batchSize: 10, seed: 3, adam: { lr: 1e-2, beta1: 0.9, beta2: 0.99, eps: 1e-4 }, ...(ema ? { ema } : {}) });
}

describe('learning-rate schedules', () => {
  it('warm up linearly, then follow the schedule', () => {
    assert.equal(learningRateAt(undefined, 1e-3, 123), 1e-3);
    const warm = { kind: 'constant' as const, warmup: 10 };
    assert.deepEqual([0, 4, 9, 10, 500].map((s) => learningRateAt(warm, 1, s)), [0.1, 0.5, 1, 1, 1]);
    const cos = { kind: 'cosine' as const, warmup: 0, total: 100 };
    assert.equal(learningRateAt(cos, 2, 0), 2);
    assert.ok(Math.abs(learningRateAt(cos, 2, 50) - 1) < 1e-12);
    assert.ok(Math.abs(learningRateAt(cos, 2, 100)) < 1e-12);
    assert.ok(Math.abs(learningRateAt(cos, 2, 150)) < 1e-12);
    const step = { kind: 'step' as const, warmup: 0, every: 30, factor: 0.5 };
    assert.deepEqual([0, 29, 30, 59, 60, 95].map((s) => learningRateAt(step, 1, s)), [1, 1, 0.5, 0.5, 0.25, 0.125]);
  });

  it('reach Adam: the trainer steps with the scheduled rate, and its recorded base rate stays', () => {
    const t = trainer();
    t.options.lrSchedule = { kind: 'cosine', warmup: 2, total: 12 };
    const seen: number[] = [];
    for (let i = 0; i < 12; i++) {
      seen.push(t.learningRate);
      t.trainStep();
      assert.equal(t.adam.options.lr, seen[i]);
    }
    assert.equal(t.options.adam.lr, 1e-2);
    assert.ok(seen[0] < seen[1] && seen[1] === 1e-2 && seen[11] < seen[2], seen.join(', '));
  });
});

describe('weight average (ema)', () => {
  it('is the bias-corrected average of the weights taken every 4 steps, and useLive puts the live weights back', () => {
    const d = 0.9;
    const t = trainer(d);
    const snapshots: Float32Array[][] = [];
    for (let i = 0; i < 12; i++) {
      t.trainStep();
      if (t.step % 4 === 0) snapshots.push(t.model.params.map((p) => Float32Array.from(p.data)));
    }
    const live = t.model.params.map((p) => Float32Array.from(p.data));
    // The average of the 3 snapshots with weights D², D, 1 (D = d⁴), normalised: what the zero-started, corrected EMA is.
    const D = d ** 4;
    const w = [D * D * (1 - D), D * (1 - D), 1 - D];
    const norm = 1 - D ** 3;
    t.useAverage();
    t.model.params.forEach((p, k) => {
      for (let j = 0; j < p.data.length; j++) {
        const want = (w[0] * snapshots[0][k][j] + w[1] * snapshots[1][k][j] + w[2] * snapshots[2][k][j]) / norm;
        assert.ok(Math.abs(p.data[j] - want) < 1e-5 * (1 + Math.abs(want)), `${p.name}[${j}]: ${p.data[j]} vs ${want}`);
      }
    });
    assert.notDeepEqual(t.model.params[0].data, live[0]);
    assert.throws(() => t.trainStep(), /useLive/);
    t.useLive();
    t.model.params.forEach((p, k) => assert.deepEqual(Float32Array.from(p.data), live[k]));
  });

  it('travels in the checkpoint, and a resumed run continues it exactly', () => {
    const straight = trainer(0.95);
    for (let i = 0; i < 14; i++) straight.trainStep();
    const first = trainer(0.95);
    for (let i = 0; i < 6; i++) first.trainStep();
    const loaded = deserializeCheckpoint(serializeCheckpoint(first, {}), createRefBackend());
    const resumed = new Trainer(loaded.model, data, { ...first.options });
    loaded.restore(resumed);
    for (let i = 0; i < 8; i++) resumed.trainStep();
    straight.ema!.forEach((e, i) => assert.deepEqual(resumed.ema![i], e));
    // A checkpoint without the average does not resume a run that keeps one, and the other way round.
    const plain = deserializeCheckpoint(serializeCheckpoint(trainer(), {}), createRefBackend(), 'checkpoint c');
    assert.throws(() => plain.restore(new Trainer(plain.model, data, { batchSize: 10, ema: 0.9 })), /checkpoint c: the run averages its weights but the checkpoint holds no average/);
  });

  it('is what a TrainingRun validates and saves, beside the live weights', async () => {
    const train = noise(80, 16, 4);
    const valid = noise(20, 16, 5);
    let model: Uint8Array | null = null;
    const log: EpochLogEntry[] = [];
    const run = await TrainingRun.create(createRefBackend(), train, valid, {
      data: 'noise', validSize: 20, dataRange: [0, 1], epochs: 1, batchSize: 10, lr: 1e-2, ema: 0.9, model: { hidden: 8, depth: 1 },
    });
    await run.run({ storage: { saveCheckpoint() {}, saveModel: (b) => void (model = b), appendLog: (e) => void log.push(e) }, monitor: noise(30, 16, 9) });
    assert.equal(log.length, 1);
    for (const l of log) {
      assert.ok(Number.isFinite(l.liveValidLogLikelihood) && l.liveValidLogLikelihood !== l.validLogLikelihood);
      // The monitored set is measured with both weight sets too.
      assert.ok(Number.isFinite(l.testLogLikelihood) && Number.isFinite(l.liveTestLogLikelihood) && l.liveTestLogLikelihood !== l.testLogLikelihood);
    }
    const saved = deserializeModel(model!, createRefBackend());
    run.trainer.useAverage();
    run.model.params.forEach((p, i) => assert.deepEqual(Float32Array.from(saved.params[i].data), Float32Array.from(p.data), p.name));
    run.trainer.useLive();
  });

  it('a cosine schedule stretches when a resume lengthens the run, instead of training the added epochs at rate 0', async () => {
    const train = noise(80, 16, 6);
    const valid = noise(20, 16, 7);
    let ckpt: Uint8Array | null = null;
    const run = await TrainingRun.create(createRefBackend(), train, valid, {
      data: 'noise', validSize: 20, dataRange: [0, 1], epochs: 1, batchSize: 10, lrSchedule: 'cosine', model: { hidden: 8, depth: 1 },
    });
    await run.run({ storage: { saveCheckpoint: (b) => void (ckpt = b), saveModel() {}, appendLog() {} } });
    assert.equal(run.trainer.learningRate, 0, 'the one-epoch schedule has reached its floor');
    const longer = TrainingRun.resume(readRunCheckpoint(ckpt!, createRefBackend()), train, valid, { epochs: 3 });
    assert.equal(longer.trainer.options.lrSchedule?.total, 24);
    assert.ok(longer.trainer.learningRate > 0.5e-3, `the added epochs train at ${longer.trainer.learningRate}`);
  });
});

