// Hostile files at the library level: non-finite weights, and checkpoints whose every field lies.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRefBackend } from '../src/core/createRefBackend.js';
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { Rng } from '../src/core/Rng.js';
import type { ImageDataset } from '../src/data/ImageDataset.js';
import { Whitening } from '../src/flows/Whitening.js';
import { readSafetensors, writeSafetensors, type TensorF32 } from '../src/io/safetensors.js';
import { checkOutputRows, codesFarOutside, describeRows, imagesFarOutside, priorCodeBound } from '../src/model/checkFinite.js';
import { deserializeModel, serializeModel } from '../src/model/modelFile.js';
import { NiceModel } from '../src/model/NiceModel.js';
import { gaussianPrior } from '../src/priors/gaussianPrior.js';
import { logisticPrior } from '../src/priors/logisticPrior.js';
import { deserializeCheckpoint, serializeCheckpoint } from '../src/train/checkpoint.js';
import { Trainer } from '../src/train/Trainer.js';

const config = { dim: 4, couplings: 2, hidden: 6, depth: 1, prior: 'logistic' as const, partition: 'alternate' as const, coupling: 'additive' as const };

/** Asserts a NiceFlowError whose one-line message matches. */
function refuses(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof NiceFlowError, `expected a NiceFlowError, got ${(e as Error)?.stack ?? e}`);
    assert.ok(!e.message.includes('\n'), `not one line: ${e.message}`);
    assert.match(e.message, pattern);
    return true;
  });
}

type File = { tensors: Record<string, TensorF32>; metadata: Record<string, string> };
const edit = (bytes: Uint8Array, change: (f: File) => void): Uint8Array => {
  const f = readSafetensors(bytes);
  change(f);
  return writeSafetensors(f.tensors, f.metadata);
};

describe('model files with non-finite numbers', () => {
  const model = new NiceModel(createRefBackend(), config);
  model.init(new Rng(1));
  const bytes = serializeModel(model);

  for (const bad of [NaN, Infinity, -Infinity]) {
    it(`refuse a weight of ${bad}, naming the tensor and the index`, () => {
      const file = edit(bytes, (f) => (f.tensors['couplings.0.layers.1.weight'].data[5] = bad));
      refuses(() => deserializeModel(file, createRefBackend(), 'model file m.safetensors'),
        new RegExp(`^model file m\\.safetensors: tensor "couplings\\.0\\.layers\\.1\\.weight" holds ${String(bad).replace('+', '')} at index 5$`));
    });
  }

  it('refuse a non-finite scale and bias too', () => {
    refuses(() => deserializeModel(edit(bytes, (f) => (f.tensors['scaling.scale'].data[3] = NaN)), createRefBackend()), /tensor "scaling\.scale" holds NaN at index 3/);
    refuses(() => deserializeModel(edit(bytes, (f) => (f.tensors['couplings.1.layers.0.bias'].data[0] = -Infinity)), createRefBackend()),
      /tensor "couplings\.1\.layers\.0\.bias" holds -Infinity at index 0/);
  });

  it('refuse non-finite whitening tensors and log-det by name', () => {
    const backend = createRefBackend();
    const w = new NiceModel(backend, { ...config, whiten: 'zca' });
    w.init(new Rng(2));
    const eye = Float32Array.from({ length: 16 }, (_, i) => (i % 5 === 0 ? 1 : 0));
    w.setWhitening(new Whitening(backend, 4, [0.5, 0.5, 0.5, 0.5], eye, eye, 0));
    const good = serializeModel(w);
    assert.ok(deserializeModel(good, backend).whitening);
    for (const [name, i] of [['whitening.mean', 2], ['whitening.matrix', 7], ['whitening.inverse', 0], ['whitening.logdet', 0]] as const) {
      refuses(() => deserializeModel(edit(good, (f) => (f.tensors[name].data[i] = NaN)), backend, 'model file w'),
        new RegExp(`^model file w: tensor "${name.replace('.', '\\.')}" holds NaN at index ${i}$`));
    }
    refuses(() => deserializeModel(edit(good, (f) => (f.tensors['whitening.extra'] = { shape: [1], data: Float32Array.of(1) })), backend),
      /unexpected tensor "whitening\.extra"/);
  });
});

/** Points on a ring quantized to 0..255 (two-pixel images). */
function ring(count: number): ImageDataset {
  const rng = new Rng(3);
  const pixels = new Uint8Array(count * 2);
  for (let i = 0; i < count; i++) {
    const t = 2 * Math.PI * rng.uniform();
    pixels[2 * i] = Math.round(128 + 80 * Math.cos(t));
    pixels[2 * i + 1] = Math.round(128 + 80 * Math.sin(t));
  }
  return { pixels, count, dim: 2, shape: [1, 1, 2] };
}

describe('checkpoints that lie', () => {
  const cfg = { ...config, dim: 2 };
  const data = ring(50); // batch 10: 5 batches per epoch
  const trainer = (): Trainer => {
    const model = new NiceModel(createRefBackend(), cfg);
    model.init(new Rng(4));
    return new Trainer(model, data, { batchSize: 10, seed: 5 });
  };
  const first = trainer();
  for (let i = 0; i < 7; i++) first.trainStep(); // epoch 1, batch 2
  first.rng.normal(); // leaves a cached deviate in the RNG state (a number, not null)
  const good = serializeCheckpoint(first, { note: 'run' });
  const what = 'checkpoint runs/x/checkpoint.safetensors';
  const load = (bytes: Uint8Array) => deserializeCheckpoint(bytes, createRefBackend(), what);
  const resume = (bytes: Uint8Array): Trainer => {
    const loaded = load(bytes);
    const t = new Trainer(loaded.model, data, { batchSize: 10, seed: 5 });
    loaded.restore(t);
    return t;
  };
  const withMeta = (key: string, value: string | undefined) => edit(good, (f) => {
    if (value === undefined) delete f.metadata[key];
    else f.metadata[key] = value;
  });
  const withState = (change: (s: Record<string, unknown>) => void) => {
    const s = JSON.parse(readSafetensors(good).metadata.trainer);
    change(s);
    return withMeta('trainer', JSON.stringify(s));
  };
  /** The error must name the checkpoint and say what is wrong, in one line. */
  const refusesCkpt = (bytes: Uint8Array, pattern: RegExp, at: 'load' | 'restore' = 'load'): void => {
    if (at === 'restore') assert.doesNotThrow(() => load(bytes));
    refuses(() => (at === 'load' ? load(bytes) : resume(bytes)), new RegExp(`^${what.replace(/[./]/g, '\\$&')}: .*${pattern.source}`));
  };

  it('a good checkpoint still resumes exactly, its cached normal deviate and run record included', () => {
    const t = resume(good);
    assert.deepEqual(t.getState(), first.getState());
    assert.deepEqual(load(good).run, { note: 'run' });
    assert.ok(Number.isFinite(t.getState().rng.spare));
    // …and one with no cached deviate (NaN, which JSON writes as null)
    const fresh = trainer();
    fresh.trainStep();
    assert.equal(JSON.parse(readSafetensors(serializeCheckpoint(fresh, {})).metadata.trainer).rng.spare, null);
    assert.deepEqual(resume(serializeCheckpoint(fresh, {})).getState(), fresh.getState());
  });

  it('refuses a missing, null, non-object or broken run record', () => {
    refusesCkpt(withMeta('run', undefined), /the run record \("run" in __metadata__\) is missing/);
    refusesCkpt(withMeta('run', 'null'), /the run record \("run" in __metadata__\) is null, not an object/);
    refusesCkpt(withMeta('run', '42'), /is a number, not an object/);
    refusesCkpt(withMeta('run', '[1]'), /is an array, not an object/);
    refusesCkpt(withMeta('run', '{"epochs": '), /the run record \("run" in __metadata__\) is not valid JSON/);
  });

  it('refuses trainer counters that are negative, null, fractional, missing or not numbers', () => {
    refusesCkpt(withState((s) => (s.epoch = -999999999)), /trainer state "epoch" is -999999999; expected a non-negative integer/);
    refusesCkpt(withState((s) => (s.step = null)), /trainer state "step" is null; expected a non-negative integer/);
    refusesCkpt(withState((s) => (s.step = 6.5)), /trainer state "step" is 6.5; expected a non-negative integer/);
    refusesCkpt(withState((s) => delete s.batchInEpoch), /trainer state "batchInEpoch" is missing/);
    refusesCkpt(withState((s) => (s.step = '7')), /trainer state "step" is "7"/);
    refusesCkpt(withState((s) => (s.step = 2 ** 60)), /trainer state "step" is 1152921504606847000/);
    refusesCkpt(withMeta('trainer', 'null'), /trainer state in __metadata__ is null/);
  });

  it('refuses counters that disagree with the trainer: past the epoch, or step ≠ epoch × batches + batch', () => {
    refusesCkpt(withState((s) => (s.batchInEpoch = 5)), /trainer state "batchInEpoch" 5 is past the end of an epoch of 5 batches per epoch \(batch size 10, 50 images\)/, 'restore');
    refusesCkpt(withState((s) => (s.epoch = 3)), /trainer state is inconsistent: step 7 is not epoch 3 × 5 batches per epoch/, 'restore');
    refusesCkpt(withState((s) => (s.step = 700)), /step 700 is not epoch 1 × 5 batches/, 'restore');
  });

  it('refuses a bad RNG state: wrong length, non-integers, out of range, all zeros, a bad spare', () => {
    const rng = (change: (r: { s: unknown[]; spare: unknown }) => void) => withState((s) => change(s.rng as { s: unknown[]; spare: unknown }));
    refusesCkpt(rng((r) => r.s.pop()), /trainer state: rng state "s" is an array of 3; expected an array of four 32-bit unsigned integers/);
    refusesCkpt(withState((s) => delete s.rng), /rng state is missing, not an object/);
    refusesCkpt(withState((s) => (s.rng = 5)), /rng state is 5, not an object/);
    refusesCkpt(rng((r) => (r.s = 'abcd' as unknown as unknown[])), /rng state "s" is "abcd"/);
    refusesCkpt(rng((r) => (r.s[1] = 1.5)), /rng state "s"\[1\] is 1\.5, not a 32-bit unsigned integer/);
    refusesCkpt(rng((r) => (r.s[2] = -1)), /rng state "s"\[2\] is -1/);
    refusesCkpt(rng((r) => (r.s[3] = 2 ** 32)), /rng state "s"\[3\] is 4294967296/);
    refusesCkpt(rng((r) => (r.s[0] = null)), /rng state "s"\[0\] is null/);
    refusesCkpt(rng((r) => (r.s = [0, 0, 0, 0])), /rng state "s" is all zeros/);
    refusesCkpt(rng((r) => (r.spare = 'x')), /rng state "spare" is "x", not a cached normal deviate/);
    refusesCkpt(rng((r) => (r.spare = 1e300)), /rng state "spare" is 1e\+300/);
  });

  it('refuses non-finite or negative Adam moments by name', () => {
    const moment = (key: string, i: number, v: number) => edit(good, (f) => (f.tensors[key].data[i] = v));
    refusesCkpt(moment('train.adam.v.couplings.0.layers.0.weight', 2, NaN), /tensor "train\.adam\.v\.couplings\.0\.layers\.0\.weight" holds NaN at index 2$/);
    refusesCkpt(moment('train.adam.v.scaling.scale', 1, -0.5), /tensor "train\.adam\.v\.scaling\.scale" holds -0\.5 at index 1; Adam's second moments are never negative/);
    refusesCkpt(moment('train.adam.m.couplings.1.layers.1.bias', 0, NaN), /tensor "train\.adam\.m\.couplings\.1\.layers\.1\.bias" holds NaN at index 0/);
    refusesCkpt(moment('train.adam.m.scaling.scale', 0, Infinity), /holds Infinity at index 0/);
    refusesCkpt(edit(good, (f) => delete f.tensors['train.adam.m.scaling.scale']), /optimiser tensor "train\.adam\.m\.scaling\.scale" is missing/);
    refusesCkpt(edit(good, (f) => (f.tensors['train.adam.v.scaling.scale'] = { shape: [3], data: new Float32Array(3) })),
      /optimiser tensor "train\.adam\.v\.scaling\.scale" has shape \[3\], its parameter has \[2\]/);
    refusesCkpt(edit(good, (f) => (f.tensors['train.extra'] = { shape: [1], data: new Float32Array(1) })), /unexpected tensor "train\.extra"/);
    // The weights of a checkpoint are a model's: the same check.
    refusesCkpt(moment('scaling.scale', 0, NaN), /tensor "scaling\.scale" holds NaN at index 0/);
  });

  it('refuses an image order that is not a permutation of 0..n−1', () => {
    const order = (change: (o: Float32Array) => void) => edit(good, (f) => change(f.tensors['train.order'].data));
    const o = readSafetensors(good).tensors['train.order'].data;
    const at = o.indexOf(o[0] === 1 ? 2 : 1); // somewhere other than index 0
    refusesCkpt(order((d) => (d[at] = d[0])), new RegExp(`tensor "train\\.order" is not a permutation of 0\\.\\.49: ${o[0]} is at index 0 and ${at}`));
    refusesCkpt(order((d) => (d[3] = 50)), /tensor "train\.order" is not a permutation of 0\.\.49: index 3 holds 50$/);
    refusesCkpt(order((d) => (d[4] = -1)), /index 4 holds -1$/);
    refusesCkpt(order((d) => (d[5] = 2.5)), /index 5 holds 2\.5$/);
    refusesCkpt(order((d) => (d[6] = NaN)), /index 6 holds NaN$/);
    refusesCkpt(edit(good, (f) => (f.tensors['train.order'] = { shape: [5, 10], data: f.tensors['train.order'].data })), /tensor "train\.order" has shape \[5, 10\]; expected \[n\]/);
    // A permutation of another size is named at restore, with the file.
    refusesCkpt(edit(good, (f) => (f.tensors['train.order'] = { shape: [3], data: Float32Array.of(2, 0, 1) })), /made on 3 training images, this run has 50/, 'restore');
  });
});

describe('Rng.checkState and setState', () => {
  it('accept what getState gives, with spare NaN or null; refuse anything else and leave the generator as it was', () => {
    const r = new Rng(1);
    const s = r.getState();
    assert.deepEqual(Rng.checkState(JSON.parse(JSON.stringify(s))), s);
    const before = r.getState();
    assert.throws(() => r.setState({ s: [0, 0, 0, 0], spare: NaN }), NiceFlowError);
    assert.throws(() => r.setState({ s: [1, 2, 3] as unknown as [number, number, number, number], spare: NaN }), NiceFlowError);
    assert.deepEqual(r.getState(), before);
  });
});

describe('the output rule (checkOutputRows)', () => {
  it('names non-finite rows and the cause; warns about far inputs with finite outputs', () => {
    assert.equal(priorCodeBound(logisticPrior), 100);
    assert.equal(priorCodeBound(gaussianPrior), 14.1);
    assert.equal(describeRows([3]), 'row 3');
    assert.equal(describeRows([0, 4, 9], 'image'), 'images 0, 4 and 9');
    assert.equal(describeRows([0, 1, 2, 3, 4, 5, 6, 7]), 'rows 0, 1, 2, 3, 4 and 3 more');
    const codes = Float32Array.of(0, 1, 3e38, 0, 0, 0);
    const far = codesFarOutside(codes, 3, 2, logisticPrior);
    assert.deepEqual(far?.rows, [1]);
    assert.throws(() => checkOutputRows(Float32Array.of(0, 0, NaN, Infinity, 0, 0), 3, 2, { source: 'codes c.npy', verb: 'decoded', far }),
      /^NiceFlowError: codes c\.npy: row 1 \(of 3\) gives NaN or infinite values when decoded: the inputs hold values far outside the logistic prior's range \|h\| ≤ 100 \(3\.00e\+38 in row 1\)$/);
    assert.equal(checkOutputRows(new Float32Array(6), 3, 2, { source: 'codes c.npy', verb: 'decoded', far }),
      "codes c.npy: row 1 (of 3) holds values far outside the logistic prior's range |h| ≤ 100 (3.00e+38 in row 1); the results may mean little");
    assert.equal(checkOutputRows(new Float32Array(6), 3, 2, { source: 's', verb: 'decoded', far: null }), null);
    const pixels = Float32Array.of(0.5, 0.5, 255, 0);
    const farPx = imagesFarOutside(pixels, 2, 2, [0, 1]);
    assert.match(checkOutputRows(new Float32Array(4), 2, 2, { source: 'images x.npy', verb: 'encoded', far: farPx }) ?? '',
      /^images x\.npy: row 1 \(of 2\) holds values far outside the model's data range \[0, 1\] \(255 in row 1; pixel values 0–255 belong in a uint8 \.npy\)/);
    assert.equal(imagesFarOutside(Float32Array.of(-0.9, 1.9), 1, 2, [0, 1]), null, 'within one range width of the range is not far');
    assert.throws(() => checkOutputRows(Float32Array.of(NaN, 0), 1, 2, { source: 'the test split of mnist', noun: 'image', ids: [17], verb: 'encoded' }),
      /the test split of mnist: image 17 \(of 1\) gives NaN or infinite values when encoded: the model's weights overflow float32 on them/);
  });
});
