// Continuous (float) data: PointDataset in the library (training, evaluate, splits, configs, runs) and float .npy
// files on the command line (train, eval, sample, encode; hostile files).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { createRefBackend } from '../src/core/createRefBackend.js';
import { Rng } from '../src/core/Rng.js';
import { fillBatch, isPointDataset, sliceExamples } from '../src/data/Dataset.js';
import { dequantizeBatch } from '../src/data/dequantize.js';
import type { ImageDataset } from '../src/data/ImageDataset.js';
import { pointDatasetFromArray, type PointDataset } from '../src/data/PointDataset.js';
import { splitDataset } from '../src/data/splitDataset.js';
import { readNpyF32, readNpyFloat } from '../src/io/npy.js';
import { configFromSettings } from '../src/model/configFromSettings.js';
import { deserializeModel, serializeModel } from '../src/model/modelFile.js';
import { validateConfig, type NiceConfig } from '../src/model/NiceConfig.js';
import { NiceModel } from '../src/model/NiceModel.js';
import { evaluate } from '../src/train/evaluate.js';
import type { EpochLogEntry } from '../src/train/RunStorage.js';
import { Trainer } from '../src/train/Trainer.js';
import { TrainingRun } from '../src/train/TrainingRun.js';
import { assertUserError, cli } from './cliRun.js';

const dir = mkdtempSync(join(tmpdir(), 'nice-flow-continuous-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const throwsUser = (f: () => unknown, pattern: RegExp): void => {
  assert.throws(f, (e: unknown) => e instanceof NiceFlowError && pattern.test(e.message) && !e.message.includes('\n'), `expected a one-line NiceFlowError matching ${pattern}`);
};

// A correlated 2-D Gaussian far from [0, 1]²: means (3, −2), spreads (2, 0.5), correlation 0.8.
const MU = [3, -2];
const SD = [2, 0.5];
const RHO = 0.8;

function gaussian(count: number, seed: number): PointDataset {
  const rng = new Rng(seed);
  const values = new Float32Array(count * 2);
  for (let i = 0; i < count; i++) {
    const a = rng.normal();
    const b = rng.normal();
    values[2 * i] = MU[0] + SD[0] * a;
    values[2 * i + 1] = MU[1] + SD[1] * (RHO * a + Math.sqrt(1 - RHO * RHO) * b);
  }
  return { values, count, dim: 2 };
}

/** The mean log-density (nats) of the rows under the true Gaussian: what a perfect model scores. */
function trueLogLikelihood(ds: PointDataset): number {
  const det = SD[0] ** 2 * SD[1] ** 2 * (1 - RHO * RHO);
  let sum = 0;
  for (let i = 0; i < ds.count; i++) {
    const z0 = (ds.values[2 * i] - MU[0]) / SD[0];
    const z1 = (ds.values[2 * i + 1] - MU[1]) / SD[1];
    sum += -0.5 * (z0 * z0 - 2 * RHO * z0 * z1 + z1 * z1) / (1 - RHO * RHO) - Math.log(2 * Math.PI) - 0.5 * Math.log(det);
  }
  return sum / ds.count;
}

const model2d = (over: Partial<NiceConfig> = {}): NiceModel => {
  const model = new NiceModel(createRefBackend(), { dim: 2, couplings: 4, hidden: 64, depth: 2, prior: 'gaussian', partition: 'alternate', coupling: 'additive', ...over });
  model.init(new Rng(1));
  return model;
};
const adam = { lr: 3e-3, beta1: 0.9, beta2: 0.99, eps: 1e-4 };

describe('continuous data in the library', () => {
  it('trains a 2-D model (dim 2, no image shape) on a correlated Gaussian to near its true log-likelihood', async () => {
    const held = gaussian(1000, 3);
    const truth = trueLogLikelihood(held);
    for (const [over, steps] of [[{}, 400], [{ prior: 'logistic', coupling: 'affine' }, 200]] as const) {
      const model = model2d(over);
      const before = await evaluate(model, held, { rng: new Rng(0) });
      const trainer = new Trainer(model, gaussian(2000, 2), { batchSize: 100, seed: 5, adam });
      for (let i = 0; i < steps; i++) trainer.trainStep();
      const after = await evaluate(model, held, { rng: new Rng(0) });
      const what = `${JSON.stringify(over)}: ${before.logLikelihood.toFixed(3)} → ${after.logLikelihood.toFixed(3)} nats, true ${truth.toFixed(3)}`;
      // Measured: −9.41 → −2.30 (additive, Gaussian prior) and −5.51 → −2.31 (affine, logistic prior); true −2.28.
      assert.ok(after.logLikelihood > before.logLikelihood + 2, what);
      assert.ok(Math.abs(after.logLikelihood - truth) < 0.2, what);
      assert.equal(after.bitsPerDim, null);
    }
  });

  it('evaluate is the mean of model.logProb over the rows, draws no noise and has no bits/dim', async () => {
    const model = model2d({ coupling: 'affine' });
    const ds = gaussian(150, 7);
    const lp = model.logProb(ds.values, ds.count);
    let sum = 0;
    for (let i = 0; i < ds.count; i++) sum += lp[i];
    const rng = new Rng(9);
    const state = JSON.stringify(rng.getState());
    const r = await evaluate(model, ds, { rng });
    assert.equal(r.logLikelihood, sum / ds.count);
    assert.equal(r.n, 150);
    assert.equal(r.bitsPerDim, null);
    assert.equal(JSON.stringify(rng.getState()), state, 'continuous data draw no dequantization noise');
    // In batches: the same numbers (each row's log-density does not depend on its batch).
    const batched = await evaluate(model, ds, { rng, batchSize: 16 });
    assert.ok(Math.abs(batched.logLikelihood - r.logLikelihood) < 1e-9, `${batched.logLikelihood} vs ${r.logLikelihood}`);
  });

  it('fillBatch copies points as they are and dequantizes images exactly as dequantizeBatch', () => {
    const ds = gaussian(10, 1);
    const out = new Float32Array(6);
    fillBatch(ds, Int32Array.of(4, 0, 9), 0, 3, 'uniform', new Rng(0), out);
    assert.deepEqual([...out], [...ds.values.subarray(8, 10), ...ds.values.subarray(0, 2), ...ds.values.subarray(18, 20)]);
    const images: ImageDataset = { pixels: Uint8Array.from({ length: 40 }, (_, i) => (i * 37) % 256), count: 10, dim: 4, shape: [1, 2, 2] };
    const order = Int32Array.of(3, 1, 8, 5);
    const a = new Float32Array(16);
    const b = new Float32Array(16);
    fillBatch(images, order, 0, 4, 'uniform', new Rng(4), a, [-1, 1]);
    dequantizeBatch(images, order, 0, 4, 'uniform', new Rng(4), b, [-1, 1]);
    assert.deepEqual([...a], [...b]);
    assert.equal(isPointDataset(ds), true);
    assert.equal(isPointDataset(images), false);
  });

  it('pointDatasetFromArray checks shape and values, naming the first bad row', () => {
    const ok = pointDatasetFromArray(Float64Array.of(1, 2, 3, 4, 5, 6), [3, 2], 'x');
    assert.ok(ok.values instanceof Float32Array);
    assert.deepEqual([ok.count, ok.dim, ...ok.values], [3, 2, 1, 2, 3, 4, 5, 6]);
    const f32 = Float32Array.of(1, 2);
    assert.equal(pointDatasetFromArray(f32, [1, 2], 'x').values, f32, 'float32 is shared');
    throwsUser(() => pointDatasetFromArray(Float64Array.of(1, 2, 3, NaN, 5, 6), [3, 2], 'pts.npy'), /^pts\.npy: row 1 holds NaN \(column 1\); continuous data must be finite/);
    throwsUser(() => pointDatasetFromArray(Float32Array.of(1, 2, 3, 4, -Infinity, 6), [3, 2], 'x'), /row 2 holds -Infinity/);
    throwsUser(() => pointDatasetFromArray(Float64Array.of(1, 2, 1e300, 4), [2, 2], 'x'), /row 1 holds 1e\+300 .*beyond float32's range/);
    throwsUser(() => pointDatasetFromArray(new Float64Array(8), [2, 2, 2], 'x'), /must have shape \[N, D\].*\[2, 2, 2\]/);
    throwsUser(() => pointDatasetFromArray(new Float64Array(6), [4, 2], 'x'), /shape \[4, 2\] needs 8 values, the data have 6/);
    throwsUser(() => pointDatasetFromArray(new Float64Array(0), [0, 2], 'x'), /holds no rows/);
  });

  it('splitDataset and sliceExamples split points like images: the last validSize rows validate', () => {
    const ds = { ...gaussian(10, 1), labels: Uint8Array.from({ length: 10 }, (_, i) => i) };
    const train = splitDataset(ds, 'train', { validSize: 3 }, 'pts');
    const valid = splitDataset(ds, 'valid', { validSize: 3, limit: 2 }, 'pts');
    assert.deepEqual([train.count, valid.count, [...valid.labels!]], [7, 2, [7, 8]]);
    assert.deepEqual([...valid.values], [...ds.values.subarray(14, 18)]);
    assert.equal(train.values.buffer, ds.values.buffer, 'shares memory');
    assert.equal(sliceExamples(ds, 8, 20).count, 2);
    throwsUser(() => splitDataset(ds, 'train', { validSize: 10 }, 'pts'), /--valid-size 10 leaves no training rows \(pts has 10\)/);
  });

  it('a config of continuous data: no range, shape or logit; the flow sees one row; the weight file keeps it', () => {
    const config = configFromSettings({ dim: 2 }, { hidden: 8, depth: 1 }, undefined, [0, 1]);
    assert.equal(config.data, 'continuous');
    assert.equal(config.shape, undefined);
    assert.equal(config.range, undefined);
    throwsUser(() => configFromSettings({ dim: 2 }, { range: [-1, 1] }, undefined, [0, 1]), /--range: the data range is for 8-bit pixels/);
    throwsUser(() => configFromSettings({ dim: 1 }, {}, undefined, [0, 1]), /continuous data of 1 value per row: a NICE model needs at least 2/);
    // An image data set's config is as before: shape and range.
    assert.deepEqual(configFromSettings({ dim: 4, shape: [1, 2, 2] }, { hidden: 8 }, undefined, [0, 1]).range, [0, 1]);
    throwsUser(() => validateConfig({ ...config, range: [0, 1] }), /"range" is the dequantized pixels' range/);
    throwsUser(() => validateConfig({ ...config, data: 'images' }), /"data" must be "continuous"/);
    throwsUser(() => validateConfig({ dim: 4, prior: 'gaussian', data: 'continuous', flow: [{ type: 'logit' }, { type: 'scaling' }] }), /logit step .*continuous data/);
    // Without a shape a continuous model's flow sees [1, 1, D], so a 4-value row is not taken for a 2×2 image.
    throwsUser(() => validateConfig({ dim: 4, prior: 'gaussian', data: 'continuous', flow: [{ type: 'squeeze' }, { type: 'scaling' }] }), /flow step 0/);
    const backend = createRefBackend();
    const model = new NiceModel(backend, config);
    model.init(new Rng(2));
    const back = deserializeModel(serializeModel(model), backend);
    assert.equal(back.config.data, 'continuous');
    const x = gaussian(5, 4).values;
    assert.deepEqual([...back.logProb(x, 5)], [...model.logProb(x, 5)]);
  });

  it('a model of continuous data refuses images; a plain model takes points as they are', async () => {
    const model = new NiceModel(createRefBackend(), { ...configFromSettings({ dim: 4 }, { hidden: 8, depth: 1 }, undefined, [0, 1]) });
    const images: ImageDataset = { pixels: new Uint8Array(40), count: 10, dim: 4, shape: [1, 2, 2] };
    throwsUser(() => new Trainer(model, images), /the model is for continuous data .*these are 8-bit images/);
    await assert.rejects(evaluate(model, images, { rng: new Rng(0) }), /the model is for continuous data/);
    const plain = model2d();
    assert.ok(Number.isFinite(new Trainer(plain, gaussian(20, 1), { batchSize: 10 }).trainStep()));
  });

  it('TrainingRun on points: a continuous model, the best model saved, a log without bits/dim', async () => {
    const data = gaussian(300, 5);
    const train = sliceExamples(data, 0, 240);
    const valid = sliceExamples(data, 240, 300);
    const run = await TrainingRun.create(createRefBackend(), train, valid, {
      data: 'pts', validSize: 60, dataRange: [0, 1], model: { hidden: 16, depth: 1, prior: 'gaussian' }, epochs: 2, batchSize: 40, lr: 3e-3, scaleInit: 'data',
    });
    assert.equal(run.model.config.data, 'continuous');
    const log: EpochLogEntry[] = [];
    let saved: Uint8Array | null = null;
    const samples: number[] = [];
    const outcome = await run.run({
      storage: { saveCheckpoint: () => {}, saveModel: (bytes) => void (saved = bytes), appendLog: (e) => void log.push(e) },
      events: { onEpoch: (e) => void samples.push(e.samples.length) },
    });
    assert.equal(outcome.reason, 'done');
    assert.equal(log.length, 2);
    for (const e of log) {
      assert.ok(Number.isFinite(e.validLogLikelihood) && Number.isFinite(e.trainLogLikelihood), JSON.stringify(e));
      assert.equal(e.validBitsPerDim, null);
      assert.equal(e.trainBitsPerDim, null);
    }
    assert.deepEqual(samples, [128, 128]);
    assert.ok(saved);
    assert.equal(deserializeModel(saved, createRefBackend()).config.data, 'continuous');
  });
});

/** A .npy file (version 1.0) with the given dtype string, shape and raw data bytes. */
function npy(descr: string, shape: number[], data: Uint8Array): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const head = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = Math.ceil((11 + head.length) / 64) * 64;
  const header = head.padEnd(total - 11, ' ') + '\n';
  return Uint8Array.from([0x93, ...Buffer.from('NUMPY'), 1, 0, header.length & 255, header.length >> 8, ...Buffer.from(header), ...data]);
}
const f64Bytes = (a: ArrayLike<number>): Uint8Array => {
  const b = new Uint8Array(8 * a.length);
  const view = new DataView(b.buffer);
  for (let i = 0; i < a.length; i++) view.setFloat64(8 * i, a[i], true);
  return b;
};

describe('readNpyFloat', () => {
  it('reads float32 and float64 in either byte order, keeping float64 precision', () => {
    const x = [1.5, -2.25, 1 / 3, 1e-300];
    const be = new Uint8Array(32);
    x.forEach((v, i) => new DataView(be.buffer).setFloat64(8 * i, v, false));
    for (const bytes of [npy('<f8', [2, 2], f64Bytes(x)), npy('>f8', [2, 2], be)]) {
      const r = readNpyFloat(bytes);
      assert.ok(r.data instanceof Float64Array);
      assert.deepEqual([...r.data], x);
      assert.deepEqual(r.shape, [2, 2]);
    }
    const f32 = new Uint8Array(Float32Array.of(0.5, 3).buffer);
    const r = readNpyFloat(npy('<f4', [1, 2], f32));
    assert.ok(r.data instanceof Float32Array);
    assert.deepEqual([...r.data], [0.5, 3]);
    throwsUser(() => readNpyFloat(npy('<i8', [1], new Uint8Array(8)), 'a.npy'), /^a\.npy: \.npy dtype <i8 is not float32 or float64/);
    throwsUser(() => readNpyFloat(npy('<f8', [3, 2], f64Bytes([1, 2, 3]))), /truncated: expected 48 bytes of data, found 24/);
  });
});

describe('nice-flow on a float .npy of 2-D points', () => {
  const data = gaussian(600, 11);
  const points = join(dir, 'points.npy');
  writeFileSync(points, npy('<f8', [600, 2], f64Bytes(data.values)));
  const run = join(dir, 'run');
  const modelPath = join(run, 'model.safetensors');
  const backend = ['--backend', 'ref'];

  it('train writes the model of continuous data, its log without bits/dim and .npy samples', () => {
    const r = cli('train', '--data', points, '--out', run, '--epochs', '3', '--valid-size', '100', '--batch-size', '50', '--couplings', '4',
      '--hidden', '32', '--depth', '2', '--prior', 'gaussian', '--lr', '0.003', ...backend);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /continuous data\) on 500 rows of 2 values of \.npy file /);
    assert.match(r.stderr, /epoch 3: train LL -?[\d.]+, valid LL -?[\d.]+ nats(,|$)/m);
    assert.doesNotMatch(r.stderr, /bits\/dim/);
    const log = readFileSync(join(run, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(log.length, 3);
    assert.ok(log.every((e) => e.validBitsPerDim === null && Number.isFinite(e.validLogLikelihood)));
    assert.ok(log[2].validLogLikelihood > log[0].validLogLikelihood - 0.5, JSON.stringify(log));
    const samples = readNpyF32(readFileSync(join(run, 'samples', 'epoch-0003.npy')));
    assert.deepEqual(samples.shape, [64, 2]);
  });

  it('eval --json gives the library\'s number on the same file, in nats and without bits/dim', async () => {
    const r = cli('eval', '--model', modelPath, '--data', points, '--json', '--quiet', ...backend);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0], /^test log-likelihood: -?[\d.]+ ± [\d.]+ nats per row over 600 rows of continuous data/);
    assert.doesNotMatch(r.stdout, /bits\/dim/);
    const j = JSON.parse(lines[lines.length - 1]);
    assert.equal(j.bitsPerDim, null);
    assert.equal(j.n, 600);
    assert.equal(j.continuous, true);
    const model = deserializeModel(readFileSync(modelPath), createRefBackend());
    const ds = pointDatasetFromArray(readNpyFloat(readFileSync(points)).data, [600, 2], 'points');
    const mine = await evaluate(model, ds, { rng: new Rng(0), batchSize: 500 });
    assert.equal(j.logLikelihood, mine.logLikelihood);
    // Trained 3 epochs on this Gaussian: well past the untrained start (about −9 nats), short of the truth (−2.3).
    assert.ok(j.logLikelihood > -4 && j.logLikelihood < trueLogLikelihood(data) + 0.3, String(j.logLikelihood));
  });

  it('sample --out FILE.npy writes [n, 2] float32 samples; a PNG is refused in one line', () => {
    const out = join(dir, 'samples.npy');
    const r = cli('sample', '--model', modelPath, '--n', '10', '--out', out, ...backend);
    assert.equal(r.code, 0, r.stderr);
    const s = readNpyF32(readFileSync(out));
    assert.deepEqual(s.shape, [10, 2]);
    assert.ok(s.data.every(Number.isFinite));
    assertUserError(cli('sample', '--model', modelPath, '--out', join(dir, 's.png'), ...backend), /--out .*s\.png: the model .* is of continuous data \(2 values per row\), which make no picture; write the rows with --out FILE\.npy/);
  });

  it('encode --data writes the latents of the rows', () => {
    const out = join(dir, 'z.npy');
    const r = cli('encode', '--model', modelPath, '--data', points, '--limit', '5', '--out', out, ...backend);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /encoded 5 rows to .*z\.npy \(float32 \[5, 2\]\)/);
    const z = readNpyF32(readFileSync(out));
    assert.deepEqual(z.shape, [5, 2]);
    const model = deserializeModel(readFileSync(modelPath), createRefBackend());
    assert.deepEqual([...z.data], [...model.encode(data.values.subarray(0, 10), 5).h]);
  });

  it('refuses images for a model of points and points for a model of images, in one line', () => {
    assertUserError(cli('eval', '--model', modelPath, '--data', 'mnist', '--limit', '10', '--quiet', ...backend), /mnist holds 8-bit images but the model .* is for continuous data/);
    assertUserError(cli('encode', '--model', modelPath, '--image', 'x.png', '--out', join(dir, 'no.npy'), ...backend), /--image: the model is of continuous data/);
    // A model of 2-value "images" (pixels dequantized into [0, 1]²) is not a model of these values.
    const images = join(dir, 'images.safetensors');
    const model = new NiceModel(createRefBackend(), configFromSettings({ dim: 2, shape: [1, 1, 2] }, { hidden: 8, depth: 1 }, undefined, [0, 1]));
    model.init(new Rng(0));
    writeFileSync(images, serializeModel(model));
    assertUserError(cli('eval', '--model', images, '--data', points, '--quiet', ...backend), /points\.npy holds continuous data \(float values, 2 per row\) but the model .*images\.safetensors is for 8-bit images/);
  });

  it('hostile files give one-line errors: NaN, a 3-D array, a truncated file, int64', () => {
    const cases: [string, Uint8Array, RegExp][] = [
      ['nan.npy', npy('<f8', [4, 2], f64Bytes([0, 1, 2, 3, 4, NaN, 6, 7])), /nan\.npy \(float64\): row 2 holds NaN \(column 1\); continuous data must be finite/],
      ['cube.npy', npy('<f8', [2, 2, 2], f64Bytes(new Array(8).fill(1))), /cube\.npy: float64 values of shape \[2, 2, 2\]: continuous data are \[N, D\]/],
      ['cut.npy', npy('<f8', [100, 2], f64Bytes(new Array(50).fill(1))), /cut\.npy: truncated: expected 1600 bytes of data, found 400/],
      ['int.npy', npy('<i8', [4, 2], new Uint8Array(64)), /int\.npy: \.npy dtype <i8 is neither uint8 .* nor float32\/float64/],
    ];
    for (const [name, bytes, pattern] of cases) {
      writeFileSync(join(dir, name), bytes);
      assertUserError(cli('train', '--data', join(dir, name), '--out', join(dir, `run-${name}`), '--valid-size', '1', '--quiet', ...backend), pattern);
    }
  });
});
