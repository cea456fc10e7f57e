// The training run as a library object: in-memory storage, events, stop and resume, rollback after a divergence.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRefBackend } from '../src/core/createRefBackend.js';
import { deserializeModel } from '../src/model/modelFile.js';
import { readRunCheckpoint } from '../src/train/readRunCheckpoint.js';
import { TrainingRun } from '../src/train/TrainingRun.js';
import { MemoryStorage, squares } from './runFixtures.js';

const train = squares(120, 1);
const valid = squares(40, 2);
const options = {
  data: 'squares', validSize: 40, dataRange: [0, 1] as const, epochs: 3, batchSize: 20, seed: 3,
  model: { couplings: 4, hidden: 16, depth: 1, partition: 'checkerboard' as const },
};

describe('TrainingRun', () => {
  it('trains with events and storage, keeping the best model by validation', async () => {
    const storage = new MemoryStorage();
    const run = await TrainingRun.create(createRefBackend(), train, valid, options);
    const steps: number[] = [];
    const epochs: number[] = [];
    const outcome = await run.run({ storage, events: { onStep: (s) => void steps.push(s.step), onEpoch: (e) => void epochs.push(e.epoch) } });
    assert.deepEqual(outcome, { reason: 'done' });
    assert.deepEqual(steps, Array.from({ length: 18 }, (_, i) => i + 1));
    assert.deepEqual(epochs, [1, 2, 3]);
    assert.deepEqual(storage.log.map((l) => l.step), [6, 12, 18]);
    assert.ok(storage.log[2].validLogLikelihood > storage.log[0].validLogLikelihood, 'validation did not improve');
    const best = Math.max(...storage.log.map((l) => l.validLogLikelihood));
    assert.equal(run.record.bestValid, best);
    const model = deserializeModel(storage.model!, createRefBackend());
    assert.equal(model.config.partition, 'checkerboard');
  });

  it('saves a checkpoint every checkpointSeconds of training by its clock, and at each epoch', async () => {
    const saved: number[] = [];
    const storage = new MemoryStorage();
    const recording = Object.assign(Object.create(storage) as MemoryStorage, {
      saveCheckpoint: (bytes: Uint8Array, at: { step: number; epoch: number }) => {
        saved.push(at.step);
        storage.saveCheckpoint(bytes, at);
      },
    });
    const run = await TrainingRun.create(createRefBackend(), train, valid, options);
    let clock = 0; // each step takes 0.7 s by this clock; a save is due 2 s after the last one
    await run.run({ storage: recording, checkpointSeconds: 2, now: () => clock, events: { onStep: () => void (clock += 700) } });
    // 6 steps an epoch: steps 3 (2.1 s), 6 (the epoch), 9 (2.1 s after step 6), 12, 15, 18.
    assert.deepEqual(saved, [3, 6, 9, 12, 15, 18]);
  });

  it('stops on request with a checkpoint that resumes exactly', async () => {
    const straight = await TrainingRun.create(createRefBackend(), train, valid, options);
    await straight.run({ storage: new MemoryStorage() });

    const storage = new MemoryStorage();
    const first = await TrainingRun.create(createRefBackend(), train, valid, options);
    const outcome = await first.run({ storage, shouldStop: () => first.trainer.step === 8 });
    assert.deepEqual(outcome, { reason: 'stopped', saved: true });
    assert.equal(storage.checkpointAt?.step, 8);
    const resumed = TrainingRun.resume(readRunCheckpoint(storage.checkpoint!, createRefBackend()), train, valid);
    assert.deepEqual(await resumed.run({ storage }), { reason: 'done' });
    straight.model.params.forEach((p, i) => assert.deepEqual(resumed.model.params[i].data, p.data, `${p.name} differs after the resume`));
    assert.equal(resumed.record.bestValid, straight.record.bestValid);
  });

  it('a resumed run drops log lines its storage holds from past the checkpoint, and says so', async () => {
    // A run killed after logging epoch 2 but before that epoch's checkpoint landed: the log runs ahead of it.
    const storage = new MemoryStorage();
    const first = await TrainingRun.create(createRefBackend(), train, valid, options);
    await first.run({ storage, shouldStop: () => first.trainer.step === 8 });
    const checkpoint = storage.checkpoint!;
    await first.run({ storage, shouldStop: () => first.trainer.step === 13 });
    assert.deepEqual(storage.log.map((l) => l.step), [6, 12], 'epoch 2 logged past the checkpoint of step 8');
    const trimming = Object.assign(storage, {
      trimLog(step: number): number {
        const before = storage.log.length;
        storage.log = storage.log.filter((l) => !(l.step > step));
        return before - storage.log.length;
      },
    });
    const notes: string[] = [];
    const resumed = TrainingRun.resume(readRunCheckpoint(checkpoint, createRefBackend()), train, valid);
    await resumed.run({ storage: trimming, events: { onNote: (m) => void notes.push(m) } });
    assert.deepEqual(storage.log.map((l) => l.step), [6, 12, 18], 'each epoch logged once, in order');
    assert.deepEqual(notes.filter((n) => n.startsWith('dropped')), ['dropped 1 log line(s) written after the checkpoint (step 8) by a run that was stopped before it saved']);
  });

  it('after parameters overflow, keeps only the last state shown to give a finite loss', async () => {
    const storage = new MemoryStorage();
    const run = await TrainingRun.create(createRefBackend(), train, valid, options);
    // Step 5 leaves a parameter infinite although its own loss was finite (as Adam's overflow can).
    const outcome = await run.run({
      storage, checkpointEvery: 1,
      events: { onStep: (s) => { if (s.step === 5) run.model.scaling!.scale.data[3] = Infinity; } },
    });
    assert.equal(outcome.reason, 'diverged');
    assert.ok(outcome.reason === 'diverged' && /parameter scaling\.scale is not finite after step 5/.test(outcome.message));
    assert.deepEqual(outcome.reason === 'diverged' && outcome.lastGood, { step: 4, epoch: 0 });
    assert.equal(storage.checkpointAt?.step, 4);
    const ckpt = readRunCheckpoint(storage.checkpoint!, createRefBackend());
    const x = new Float32Array(16).fill(0.5);
    assert.ok(Number.isFinite(ckpt.model.logProb(x, 1)[0]));
    // The kept checkpoint resumes.
    const resumed = TrainingRun.resume(ckpt, train, valid, { lr: 1e-4 });
    assert.equal(resumed.trainer.step, 4);
    assert.equal(resumed.trainer.options.adam.lr, 1e-4);
  });

  it('when Adam\'s second moments overflow while the weights stay finite, keeps only the last state that resumes', async () => {
    // As `train --lr 10` does: g² overflows float32 in v long before a weight is infinite. A checkpoint of that
    // state would be refused by --resume, so it is never written.
    const storage = new MemoryStorage();
    const run = await TrainingRun.create(createRefBackend(), train, valid, options);
    const outcome = await run.run({
      storage, checkpointEvery: 1,
      events: { onStep: (s) => { if (s.step === 5) run.trainer.adam.v[0][3] = Infinity; } },
    });
    assert.equal(outcome.reason, 'diverged');
    const name = run.model.params[0].name;
    assert.ok(outcome.reason === 'diverged' && outcome.message.includes(`tensor "train.adam.v.${name}" holds Infinity at index 3 after step 5`), outcome.reason === 'diverged' ? outcome.message : '');
    assert.deepEqual(outcome.reason === 'diverged' && outcome.lastGood, { step: 4, epoch: 0 });
    assert.equal(storage.checkpointAt?.step, 4);
    const resumed = TrainingRun.resume(readRunCheckpoint(storage.checkpoint!, createRefBackend()), train, valid);
    assert.equal(resumed.trainer.step, 4);
  });

  it('refuses a run record that is missing or mistyped, naming the checkpoint', async () => {
    const storage = new MemoryStorage();
    const run = await TrainingRun.create(createRefBackend(), train, valid, { ...options, epochs: 1 });
    await run.run({ storage });
    const { readSafetensors, writeSafetensors } = await import('../src/io/safetensors.js');
    const edit = (f: (run: Record<string, unknown>) => unknown): Uint8Array => {
      const { tensors, metadata } = readSafetensors(storage.checkpoint!);
      return writeSafetensors(tensors, { ...metadata, run: JSON.stringify(f(JSON.parse(metadata.run))) });
    };
    const cases: [string, (r: Record<string, unknown>) => unknown, RegExp][] = [
      ['null record', () => null, /run record.*(missing|null|not an object)/],
      ['negative epochs', (r) => ({ ...r, epochs: -999999999 }), /"epochs" must be an integer ≥ 1/],
      ['string seed', (r) => ({ ...r, seed: 'x' }), /"seed" must be an integer/],
      ['NaN learning rate', (r) => ({ ...r, trainerOptions: { ...(r.trainerOptions as object), adam: { lr: null, beta1: 0.9, beta2: 0.99, eps: 1e-4 } } }), /"lr" must be a positive finite number/],
      ['no trainer options', (r) => ({ ...r, trainerOptions: undefined }), /"trainerOptions" is missing/],
    ];
    for (const [name, f, re] of cases) {
      assert.throws(() => readRunCheckpoint(edit(f), createRefBackend(), 'checkpoint c.safetensors'), (e: Error) => {
        assert.match(e.message, /^checkpoint c\.safetensors: /, name);
        assert.match(e.message, re, name);
        return e.name === 'NiceFlowError' || e.constructor.name === 'NiceFlowError';
      });
    }
  });
});
