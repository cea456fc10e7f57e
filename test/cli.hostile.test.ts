// Hostile but well-formed input from the command line: non-finite weights, checkpoints that lie, absurd finite values,
// and uint8 .npy images: one clear line and a non-zero exit, or a warning, never NaN with exit 0.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createRefBackend } from '../src/core/createRefBackend.js';
import { Rng } from '../src/core/Rng.js';
import { readNpyF32, writeNpyF32 } from '../src/io/npy.js';
import { readSafetensors, writeSafetensors, type TensorF32 } from '../src/io/safetensors.js';
import { serializeModel } from '../src/model/modelFile.js';
import { NiceModel } from '../src/model/NiceModel.js';
import { assertUserError, cli } from './cliRun.js';

const dir = mkdtempSync(join(tmpdir(), 'nice-flow-hostile-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const npy = (p: string) => readNpyF32(new Uint8Array(readFileSync(p)));

/** A small MNIST-shaped model file; `change` edits it before it is written. */
function modelFile(name: string, change: (m: NiceModel) => void = () => {}): string {
  const model = new NiceModel(createRefBackend(), { dim: 784, couplings: 4, hidden: 24, depth: 1, prior: 'logistic', partition: 'alternate', coupling: 'additive', shape: [1, 28, 28] });
  model.init(new Rng(1));
  change(model);
  const path = join(dir, name);
  writeFileSync(path, serializeModel(model));
  return path;
}
const modelPath = modelFile('model.safetensors');
/** exp(s) overflows float32 in one dimension: every image encodes to an infinite code. */
const overflowing = modelFile('overflow.safetensors', (m) => (m.scaling!.scale.data[3] = 100));

/** A .npy of uint8 values (the layout NumPy writes for dtype uint8). */
function writeNpyU8(data: Uint8Array, shape: number[]): Uint8Array {
  let header = `{'descr': '|u1', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 11, ' ') + '\n';
  const out = new Uint8Array(total + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(data, total);
  return out;
}

describe('hostile input from the command line', () => {
  it('eval and spectrum refuse a model with a NaN or infinite weight, naming the tensor', () => {
    const nan = modelFile('nan.safetensors', (m) => (m.couplings[1].net.params[0].data[1234] = NaN));
    const inf = modelFile('inf.safetensors', (m) => (m.scaling!.scale.data[7] = -Infinity));
    assertUserError(cli('eval', '--model', nan, '--limit', '5', '--quiet'), /model file .*nan\.safetensors: tensor "couplings\.1\.layers\.0\.weight" holds NaN at index 1234$/);
    assertUserError(cli('eval', '--model', inf, '--limit', '5', '--quiet'), /model file .*inf\.safetensors: tensor "scaling\.scale" holds -Infinity at index 7$/);
    assertUserError(cli('spectrum', '--model', nan, '--json'), /tensor "couplings\.1\.layers\.0\.weight" holds NaN at index 1234$/);
  });

  it('decode refuses codes of 3e38 that decode to NaN or infinity, naming the rows and the cause', () => {
    const codes = new Float32Array(3 * 784).fill(0.5);
    codes.fill(3e38, 784, 2 * 784);
    writeFileSync(join(dir, 'huge-codes.npy'), writeNpyF32(codes, [3, 784]));
    const out = join(dir, 'never.npy');
    const scale0 = modelFile('scale0.safetensors', (m) => m.scaling!.scale.data.fill(0));
    assertUserError(cli('decode', '--model', scale0, '--codes', join(dir, 'huge-codes.npy'), '--npy', out),
      /codes .*huge-codes\.npy: row 1 \(of 3\) gives NaN or infinite values when decoded: the inputs hold values far outside the logistic prior's range \|h\| ≤ 100 \(3\.00e\+38 in row 1\)$/);
    assert.throws(() => readFileSync(out), /ENOENT/, 'nothing is written');
  });

  it('encode refuses images of 3e38, naming the rows; far but harmless values only warn', () => {
    const imgs = new Float32Array(3 * 784).fill(0.5);
    imgs.fill(3e38, 2 * 784);
    writeFileSync(join(dir, 'huge-images.npy'), writeNpyF32(imgs, [3, 784]));
    assertUserError(cli('encode', '--model', modelPath, '--npy', join(dir, 'huge-images.npy'), '--out', join(dir, 'c.npy')),
      /images .*huge-images\.npy: row 2 \(of 3\) gives NaN or infinite values when encoded: the inputs hold values far outside the model's data range \[0, 1\] \(3\.00e\+38 in row 2\)$/);
    // 0–255 pixels saved as floats: finite codes, but a warning that says what is likely wrong.
    const raw = Float32Array.from({ length: 2 * 784 }, (_, i) => i % 256);
    writeFileSync(join(dir, 'raw255.npy'), writeNpyF32(raw, [2, 784]));
    const r = cli('encode', '--model', modelPath, '--npy', join(dir, 'raw255.npy'), '--out', join(dir, 'c255.npy'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^warning: images .*raw255\.npy: rows 0 and 1 \(of 2\) hold values far outside the model's data range \[0, 1\] \(255 in row 0; pixel values 0–255 belong in a uint8 \.npy\); the results may mean little\n$/);
    // Codes far outside the prior's range that still decode to finite images: a warning too.
    const far = new Float32Array(784);
    far[10] = 500;
    writeFileSync(join(dir, 'far-codes.npy'), writeNpyF32(far, [1, 784]));
    const d = cli('decode', '--model', modelPath, '--codes', join(dir, 'far-codes.npy'), '--npy', join(dir, 'far-images.npy'));
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stderr, /^warning: codes .*far-codes\.npy: row 0 \(of 1\) holds values far outside the logistic prior's range \|h\| ≤ 100 \(500 in row 0\)/);
  });

  it('eval, encode, inpaint, interpolate and sample refuse a model that overflows on in-range data', () => {
    assertUserError(cli('eval', '--model', overflowing, '--limit', '5', '--quiet'),
      /model file .*overflow\.safetensors: the log-likelihood of the test split of mnist is -Infinity ± NaN, not finite: the model's weights overflow float32/);
    assertUserError(cli('encode', '--model', overflowing, '--index', '4,7', '--out', join(dir, 'c.npy')),
      /the test split of mnist: images 4 and 7 \(of 2\) give NaN or infinite values when encoded: the model's weights overflow float32 on them/);
    assertUserError(cli('inpaint', '--model', overflowing, '--mask', 'top-half', '--limit', '2', '--steps', '2', '--json', '--quiet'),
      /the test split of mnist: images 0 and 1 \(of 2\) give NaN or infinite values when inpainted/);
    assertUserError(cli('interpolate', '--model', overflowing, '--from', '0', '--to', '1', '--steps', '3', '--npy', join(dir, 's.npy')),
      /interpolation from image 0 to 1 of the test split of mnist: steps 0, 1 and 2 \(of 3\) give NaN or infinite values when decoded/);
    assertUserError(cli('sample', '--model', modelPath, '--n', '4', '--temperature', '1e38', '--npy', join(dir, 's.npy')),
      /samples at temperature 1e\+38: samples 0, 1, 2 and 3 \(of 4\) give NaN or infinite values when decoded: the temperature/);
  });

  it('encode --npy names what is wrong with a broken uint8 file, not its dtype', () => {
    // '<u1' is uint8 too; truncated, it used to be retried as floats and refused as "dtype <u1 is not supported".
    const bytes = writeNpyU8(new Uint8Array(2 * 784), [2, 784]);
    const header = new TextDecoder().decode(bytes.subarray(10, 60)).replace("'|u1'", "'<u1'");
    const broken = Uint8Array.from(bytes.subarray(0, bytes.length - 100));
    broken.set(new TextEncoder().encode(header), 10);
    writeFileSync(join(dir, 'short-u1.npy'), broken);
    assertUserError(cli('encode', '--model', modelPath, '--npy', join(dir, 'short-u1.npy'), '--out', join(dir, 'short.npy')), /truncated: expected 1568 bytes of data, found 1468/);
  });

  it('encode --npy reads uint8 as pixels, dequantized exactly as --data reads the same file; float32 as data-range values', () => {
    const n = 3;
    const pixels = Uint8Array.from({ length: n * 784 }, (_, i) => (i * 37 + (i >> 5)) % 256);
    writeFileSync(join(dir, 'pixels.npy'), writeNpyU8(pixels, [n, 28, 28]));
    writeFileSync(join(dir, 'pixels-rows.npy'), writeNpyU8(pixels, [n, 784]));
    const values = Float32Array.from(pixels, (p) => (p + 0.5) / 256); // center dequantization into [0, 1]
    writeFileSync(join(dir, 'values.npy'), writeNpyF32(values, [n, 784]));
    const run = (...args: string[]) => {
      const out = join(dir, `codes-${args.join('-').replace(/[^\w]/g, '')}.npy`);
      const r = cli('encode', '--model', modelPath, ...args, '--out', out);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '', 'no warning for in-range images');
      return npy(out).data;
    };
    const fromFloat = run('--npy', join(dir, 'values.npy'));
    assert.deepEqual(run('--npy', join(dir, 'pixels.npy')), fromFloat);
    assert.deepEqual(run('--npy', join(dir, 'pixels-rows.npy')), fromFloat);
    assert.deepEqual(run('--data', join(dir, 'pixels.npy'), '--split', 'test'), fromFloat);
    // Uniform dequantization with a seed: the same noise as the data set path.
    assert.deepEqual(run('--npy', join(dir, 'pixels.npy'), '--dequantize', 'uniform', '--seed', '3'),
      run('--data', join(dir, 'pixels.npy'), '--split', 'test', '--dequantize', 'uniform', '--seed', '3'));
    writeFileSync(join(dir, 'pixels-wide.npy'), writeNpyU8(new Uint8Array(2 * 785), [2, 785]));
    assertUserError(cli('encode', '--model', modelPath, '--npy', join(dir, 'pixels-wide.npy'), '--out', join(dir, 'c.npy')), /pixels-wide\.npy has shape \[2, 785\], the model needs \[n, 784\]/);
  });
});

describe('checkpoints that lie, on --resume', () => {
  const run = join(dir, 'run');
  const tiny = ['--data', 'mnist', '--limit', '64', '--valid-size', '100', '--valid-limit', '32', '--batch-size', '16', '--hidden', '16', '--depth', '1', '--quiet'];
  const ckpt = join(run, 'checkpoint.safetensors');
  let good: Uint8Array;
  const rewrite = (change: (tensors: Record<string, TensorF32>, metadata: Record<string, string>) => void): void => {
    const f = readSafetensors(good);
    change(f.tensors, f.metadata);
    writeFileSync(ckpt, writeSafetensors(f.tensors, f.metadata));
  };
  const resume = () => cli('train', '--resume', '--epochs', '2', '--quiet', '--out', run);
  const named = (pattern: RegExp) => new RegExp(`checkpoint .*run.checkpoint\\.safetensors: .*${pattern.source}`);

  it('trains one epoch to have a real checkpoint', () => {
    const r = cli('train', ...tiny, '--epochs', '1', '--out', run);
    assert.equal(r.code, 0, r.stderr);
    good = new Uint8Array(readFileSync(ckpt));
  });

  it('refuses a negative epoch, a null step, a null run record and a bad RNG state, naming the file', () => {
    const state = (change: (s: Record<string, unknown>) => void) => rewrite((_, m) => {
      const s = JSON.parse(m.trainer);
      change(s);
      m.trainer = JSON.stringify(s);
    });
    state((s) => (s.epoch = -999999999));
    assertUserError(resume(), named(/trainer state "epoch" is -999999999; expected a non-negative integer/));
    state((s) => (s.step = null));
    assertUserError(resume(), named(/trainer state "step" is null/));
    state((s) => ((s.rng as { s: number[] }).s = [0, 0, 0, 0]));
    assertUserError(resume(), named(/rng state "s" is all zeros/));
    rewrite((_, m) => (m.run = 'null'));
    assertUserError(resume(), named(/the run record \("run" in __metadata__\) is null, not an object/));
    rewrite((_, m) => delete m.run);
    assertUserError(resume(), named(/the run record \("run" in __metadata__\) is missing/));
  });

  it('refuses NaN or negative Adam second moments and a non-permutation order', () => {
    rewrite((t) => (t['train.adam.v.scaling.scale'].data[9] = NaN));
    assertUserError(resume(), named(/tensor "train\.adam\.v\.scaling\.scale" holds NaN at index 9$/));
    rewrite((t) => (t['train.adam.v.scaling.scale'].data[9] = -1));
    assertUserError(resume(), named(/holds -1 at index 9; Adam's second moments are never negative/));
    rewrite((t) => (t['train.order'].data[1] = t['train.order'].data[0]));
    assertUserError(resume(), named(/tensor "train\.order" is not a permutation of 0\.\.63/));
    // and the good checkpoint still resumes
    writeFileSync(ckpt, good);
    const r = resume();
    assert.equal(r.code, 0, r.stderr);
  });
});
