// inpaint, encode, decode, interpolate, spectrum and temperature sampling from the command line.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { decode as decodePng, encode } from 'fast-png';
import { createRefBackend } from '../src/core/createRefBackend.js';
import { Rng } from '../src/core/Rng.js';
import { readNpyF32, writeNpyF32 } from '../src/io/npy.js';
import { spectrumPng } from '../src/io/spectrumPng.js';
import { deserializeModel, serializeModel } from '../src/model/modelFile.js';
import { NiceModel } from '../src/model/NiceModel.js';
import { loadSplit } from '../cli/data.js';
import { assertUserError, cli } from './cliRun.js';

const dir = mkdtempSync(join(tmpdir(), 'nice-flow-latent-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const lastJson = (s: string) => JSON.parse(s.trim().split('\n').at(-1)!);
const npy = (p: string) => readNpyF32(new Uint8Array(readFileSync(p)));

const modelPath = join(dir, 'model.safetensors');
{
  const model = new NiceModel(createRefBackend(), { dim: 784, couplings: 4, hidden: 24, depth: 1, prior: 'logistic', partition: 'alternate', coupling: 'additive', shape: [1, 28, 28] });
  model.init(new Rng(1));
  model.scaling!.scale.data.fill(2);
  writeFileSync(modelPath, serializeModel(model));
}
// The same architecture on the data range [−1, 1] (the paper's CIFAR-10 convention).
const symmetricPath = join(dir, 'symmetric.safetensors');
{
  const model = new NiceModel(createRefBackend(), { dim: 784, couplings: 4, hidden: 24, depth: 1, prior: 'logistic', partition: 'alternate', coupling: 'additive', shape: [1, 28, 28], range: [-1, 1] });
  model.init(new Rng(1));
  model.scaling!.scale.data.fill(1);
  writeFileSync(symmetricPath, serializeModel(model));
}
const test = loadSplit('mnist', 'test', { validSize: 10000, limit: 5 });
const centered = (k: number, d: number): number => Math.fround((test.pixels[k * 784 + d] + 0.5) / 256);

describe('latent-space CLI', () => {
  it('inpaint writes a grid, .npy and JSON; observed pixels are the input\'s', () => {
    const out = join(dir, 'inp.npy');
    const r = cli('inpaint', '--model', modelPath, '--mask', 'top-half', '--limit', '3', '--steps', '20', '--out', join(dir, 'inp.png'), '--npy', out, '--json', '--quiet');
    assert.equal(r.code, 0, r.stderr);
    const j = lastJson(r.stdout);
    assert.equal(j.n, 3);
    assert.equal(j.hidden, 392);
    assert.equal(j.mask, 'top-half');
    assert.equal(j.steps, 20);
    assert.equal(j.method, 'adam');
    assert.equal(j.start, 'mode');
    // The default starts at the model's mode, already likely for this untrained model: the ascent still climbs.
    assert.ok(j.meanLLAfter > j.meanLLBefore, `the ascent raises the mean log-likelihood: ${j.meanLLBefore} → ${j.meanLLAfter}`);
    const { data, shape } = npy(out);
    assert.deepEqual(shape, [3, 784]);
    for (let k = 0; k < 3; k++) {
      for (let d = 392; d < 784; d++) assert.equal(data[k * 784 + d], centered(k, d));
      for (let d = 0; d < 392; d++) assert.ok(data[k * 784 + d] >= 0 && data[k * 784 + d] <= 1, `hidden value ${d} of image ${k} is ${data[k * 784 + d]}, outside [0, 1]`);
    }
    // The reported mean log-likelihood is that of the images written (up to the backends' float32 rounding).
    const check = deserializeModel(new Uint8Array(readFileSync(modelPath)), createRefBackend()).logProb(data, 3);
    const meanLL = check.reduce((a, v) => a + v, 0) / 3;
    assert.ok(Math.abs(meanLL - j.meanLLAfter) < 1e-3 * Math.abs(meanLL) + 0.1, `meanLLAfter ${j.meanLLAfter}, the written images have ${meanLL}`);
    // Grid: 3 rows (original, masked, inpainted) × 3 columns of 2×-scaled 28×28 tiles with 1-pixel padding.
    const png = decodePng(readFileSync(join(dir, 'inp.png')));
    assert.equal(png.width, 3 * 56 + 4);
    assert.equal(png.height, 3 * 56 + 4);
    const at = (x: number, y: number): number => png.data[y * png.width + x];
    assert.equal(at(1 + 10, 1 + 56 + 1 + 10), 128, 'hidden pixels of the masked row are mid-gray');
    assert.equal(at(1 + 10, 1 + 56 + 1 + 40), Math.round(255 * centered(0, 20 * 28 + 5)), 'observed pixels of the masked row are the image');
  });

  it('inpaint takes the SGD rule from noise and the paper\'s rule, and rejects bad recipe values', () => {
    const sgd = cli('inpaint', '--model', modelPath, '--mask', 'top-half', '--limit', '2', '--steps', '20', '--method', 'sgd', '--start', 'noise', '--noise', 'anneal', '--json', '--quiet');
    assert.equal(sgd.code, 0, sgd.stderr);
    const j = lastJson(sgd.stdout);
    assert.deepEqual([j.method, j.start], ['sgd', 'noise']);
    assert.ok(j.meanLLAfter > j.meanLLBefore + 100, `from noise the ascent climbs far: ${j.meanLLBefore} → ${j.meanLLAfter}`);
    const paper = cli('inpaint', '--model', modelPath, '--mask', 'top-half', '--limit', '2', '--steps', '3', '--paper', '--json', '--quiet');
    assert.equal(paper.code, 0, paper.stderr);
    assert.deepEqual([lastJson(paper.stdout).method, lastJson(paper.stdout).start, lastJson(paper.stdout).keep], ['sgd', 'noise', 'last']);
    // Steps of 5 data ranges overshoot: the last state is less likely than the start, the kept one is not.
    const overshoot = ['inpaint', '--model', modelPath, '--mask', 'top-half', '--limit', '2', '--steps', '3', '--learning-rate', '5', '--json', '--quiet'];
    const last = lastJson(cli(...overshoot, '--keep', 'last').stdout);
    const kept = lastJson(cli(...overshoot).stdout);
    assert.equal(kept.keep, 'likeliest');
    assert.ok(last.meanLLAfter < last.meanLLBefore, `--keep last: ${last.meanLLBefore} → ${last.meanLLAfter}`);
    assert.ok(kept.meanLLAfter >= kept.meanLLBefore, `--keep likeliest: ${kept.meanLLBefore} → ${kept.meanLLAfter}`);
    assertUserError(cli('inpaint', '--model', modelPath, '--mask', 'top-half', '--limit', '1', '--keep', 'best', '--json'), /--keep.*best/);
    assertUserError(cli('inpaint', '--model', modelPath, '--mask', 'top-half', '--limit', '1', '--method', 'lbfgs', '--json'), /--method.*lbfgs/);
    assertUserError(cli('inpaint', '--model', modelPath, '--mask', 'top-half', '--limit', '1', '--learning-rate', '0', '--json'), /--learning-rate.*positive number/);
    assertUserError(cli('inpaint', '--model', modelPath, '--mask', 'top-half', '--limit', '1', '--start', 'black', '--json'), /--start.*black/);
    assertUserError(cli('inpaint', '--model', modelPath, '--mask', 'top-half', '--limit', '1', '--raw-gradient', '--json'), /--raw-gradient changes the sgd step/);
  });

  it('inpaint works in the model\'s data range: a [−1, 1] model gets [−1, 1] inputs, noise and clipping', () => {
    const out = join(dir, 'inp-sym.npy');
    const r = cli('inpaint', '--model', symmetricPath, '--mask', 'bottom-half', '--limit', '2', '--steps', '20', '--npy', out, '--json', '--quiet');
    assert.equal(r.code, 0, r.stderr);
    const j = lastJson(r.stdout);
    assert.ok(j.meanLLAfter > j.meanLLBefore, `mean LL ${j.meanLLBefore} → ${j.meanLLAfter}`);
    const { data } = npy(out);
    let negative = 0;
    for (let k = 0; k < 2; k++) {
      for (let d = 0; d < 392; d++) assert.equal(data[k * 784 + d], Math.fround(-1 + (test.pixels[k * 784 + d] + 0.5) / 128), `observed value ${d} of image ${k}`);
      for (let d = 392; d < 784; d++) {
        const v = data[k * 784 + d];
        assert.ok(v >= -1 && v <= 1, `hidden value ${d} of image ${k} is ${v}, outside [−1, 1]`);
        if (v < 0) negative++;
      }
    }
    // Noise drawn or values clipped on [0, 1] instead would leave no hidden value below 0.
    assert.ok(negative > 50, `${negative} of 784 hidden values are below 0`);
  });

  it('inpaint picks images by --index and rejects bad selections', () => {
    const r = cli('inpaint', '--model', modelPath, '--mask', 'even', '--index', '4,1', '--steps', '3', '--npy', join(dir, 'idx.npy'), '--json', '--quiet');
    assert.equal(r.code, 0, r.stderr);
    const { data } = npy(join(dir, 'idx.npy'));
    assert.equal(data[1], centered(4, 1));
    assert.equal(data[784 + 3], centered(1, 3));
    assertUserError(cli('inpaint', '--model', modelPath, '--mask', 'even', '--index', '99999', '--json'), /--index 99999 is past the end of the test split/);
    assertUserError(cli('inpaint', '--model', modelPath, '--mask', 'even', '--index', '1', '--limit', '2', '--json'), /--limit or --index, not both/);
    assertUserError(cli('inpaint', '--model', modelPath, '--mask', 'even', '--index', '1,x', '--json'), /comma-separated/);
  });

  it('inpaint takes a mask PNG and the user\'s own PNG images, with clear errors for bad ones', () => {
    const mask = new Uint8Array(784).fill(255);
    mask.fill(0, 0, 100);
    writeFileSync(join(dir, 'mask.png'), encode({ width: 28, height: 28, data: mask, channels: 1, depth: 8 }));
    writeFileSync(join(dir, 'small.png'), encode({ width: 10, height: 10, data: new Uint8Array(100).fill(200), channels: 1, depth: 8 }));
    const r = cli('inpaint', '--model', modelPath, '--mask', join(dir, 'mask.png'), '--image', join(dir, 'small.png'), '--steps', '5', '--json', '--quiet');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(lastJson(r.stdout).hidden, 100);
    assert.match(r.stderr, /resized to 28×28/);
    assertUserError(cli('inpaint', '--model', modelPath, '--mask', join(dir, 'small.png'), '--limit', '1', '--json'), /mask .*small\.png is 10×10.*28×28/);
    writeFileSync(join(dir, 'fake.png'), 'not a png');
    assertUserError(cli('inpaint', '--model', modelPath, '--mask', join(dir, 'fake.png'), '--limit', '1', '--json'), /not a PNG/);
    assertUserError(cli('inpaint', '--model', modelPath, '--mask', 'diagonal', '--limit', '1', '--json'), /unknown mask "diagonal"/);
    assertUserError(cli('inpaint', '--model', modelPath, '--mask', join(dir, 'missing.png'), '--limit', '1', '--json'), /cannot read mask PNG .*missing\.png: no such file/);
    // The user's images: not a PNG, and colour (converted to gray with a note).
    assertUserError(cli('inpaint', '--model', modelPath, '--mask', 'top-half', '--image', join(dir, 'fake.png'), '--json'), /fake\.png: not a PNG/);
    const rgb = new Uint8Array(784 * 3).fill(90);
    writeFileSync(join(dir, 'colour.png'), encode({ width: 28, height: 28, data: rgb, channels: 3, depth: 8 }));
    const c = cli('inpaint', '--model', modelPath, '--mask', 'top-half', '--image', join(dir, 'colour.png'), '--steps', '2', '--npy', join(dir, 'colour.npy'), '--quiet');
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stderr, /colour\.png is in colour; converted to gray/);
    assert.ok(Math.abs(npy(join(dir, 'colour.npy')).data[783] - 90 / 255) < 1e-6);
  });

  it('encode then decode gives the images back; bad codes are named', () => {
    const codes = join(dir, 'codes.npy');
    assert.equal(cli('encode', '--model', modelPath, '--limit', '4', '--out', codes).code, 0);
    assert.deepEqual(npy(codes).shape, [4, 784]);
    const back = join(dir, 'back.npy');
    const r = cli('decode', '--model', modelPath, '--codes', codes, '--npy', back, '--out', join(dir, 'back.png'));
    assert.equal(r.code, 0, r.stderr);
    const { data } = npy(back);
    for (let k = 0; k < 4; k++) for (let d = 0; d < 784; d++) assert.ok(Math.abs(data[k * 784 + d] - centered(k, d)) < 1e-5);
    const bad = new Float32Array(784);
    bad[5] = NaN;
    writeFileSync(join(dir, 'nan.npy'), writeNpyF32(bad, [1, 784]));
    assertUserError(cli('decode', '--model', modelPath, '--codes', join(dir, 'nan.npy'), '--npy', back), /nan\.npy: value 5 \(row 0\) is NaN; NaN or infinite codes cannot be decoded/);
    writeFileSync(join(dir, 'short.npy'), writeNpyF32(new Float32Array(10), [2, 5]));
    assertUserError(cli('decode', '--model', modelPath, '--codes', join(dir, 'short.npy'), '--npy', back), /shape \[2, 5\].*\[n, 784\]/);
    writeFileSync(join(dir, 'junk.npy'), 'junk');
    assertUserError(cli('decode', '--model', modelPath, '--codes', join(dir, 'junk.npy'), '--npy', back), /junk\.npy: not a \.npy file/);
  });

  it('encode takes .npy images, rejecting NaN/Inf and the wrong size; round trip through decode', () => {
    const imgs = new Float32Array(2 * 784);
    for (let i = 0; i < imgs.length; i++) imgs[i] = (i % 97) / 97;
    writeFileSync(join(dir, 'imgs.npy'), writeNpyF32(imgs, [2, 784]));
    const codes = join(dir, 'codes2.npy');
    const strip0 = join(dir, 'strip0.npy');
    assert.equal(cli('encode', '--model', modelPath, '--npy', join(dir, 'imgs.npy'), '--out', codes).code, 0);
    assert.equal(cli('decode', '--model', modelPath, '--codes', codes, '--npy', join(dir, 'imgs2.npy')).code, 0);
    const { data } = npy(join(dir, 'imgs2.npy'));
    for (let i = 0; i < imgs.length; i++) assert.ok(Math.abs(data[i] - imgs[i]) < 1e-5);
    imgs[800] = Infinity;
    writeFileSync(join(dir, 'inf.npy'), writeNpyF32(imgs, [2, 784]));
    assertUserError(cli('encode', '--model', modelPath, '--npy', join(dir, 'inf.npy'), '--out', codes), /inf\.npy: value 800 \(row 1\) is Infinity/);
    writeFileSync(join(dir, 'wide.npy'), writeNpyF32(new Float32Array(2 * 785), [2, 785]));
    assertUserError(cli('encode', '--model', modelPath, '--npy', join(dir, 'wide.npy'), '--out', codes), /shape \[2, 785\].*\[n, 784\]/);
    assertUserError(cli('encode', '--model', modelPath, '--image', join(dir, 'fake.png'), '--out', codes), /not a PNG/);
    assertUserError(cli('interpolate', '--model', modelPath, '--from', '0', '--to', '99999', '--npy', strip0), /--to 99999 is past the end of the test split/);
  });

  it('interpolate ends at its two images; spectrum is sorted and drawn', () => {
    const strip = join(dir, 'strip.npy');
    assert.equal(cli('interpolate', '--model', modelPath, '--from', '1', '--to', '3', '--steps', '4', '--npy', strip, '--out', join(dir, 'strip.png')).code, 0);
    const { data, shape } = npy(strip);
    assert.deepEqual(shape, [4, 784]);
    for (let d = 0; d < 784; d++) {
      assert.ok(Math.abs(data[d] - centered(1, d)) < 1e-5);
      assert.ok(Math.abs(data[3 * 784 + d] - centered(3, d)) < 1e-5);
    }
    const sp = cli('spectrum', '--model', modelPath, '--json', '--out', join(dir, 'spectrum.png'));
    assert.equal(sp.code, 0, sp.stderr);
    const j = lastJson(sp.stdout);
    assert.equal(j.dim, 784);
    assert.ok(j.spectrum.every((v: number, i: number) => i === 0 || v <= j.spectrum[i - 1]));
    assert.ok(Math.abs(j.spectrum[0] - Math.exp(-2)) < 1e-6);
    // The picture is the library's chart of that spectrum (test/latent.test.ts checks that chart's curve), and not
    // blank: gray axes, and a black curve across the plot.
    const png = decodePng(readFileSync(join(dir, 'spectrum.png')));
    assert.deepEqual(png.data, decodePng(spectrumPng(j.spectrum)).data);
    assert.equal(png.width, 640);
    assert.ok(png.data.some((v) => v === 128), 'gray axes');
    const blackColumns = new Set<number>();
    png.data.forEach((v, i) => v === 0 && blackColumns.add(i % png.width));
    assert.ok(blackColumns.size > 500, `black pixels in ${blackColumns.size} columns of 640`);
  });

  it('sample: temperature 0 decodes the prior\'s mode (code 0) whatever the seed; temperature T scales the code\'s spread by T', () => {
    const a = join(dir, 't0a.npy'), b = join(dir, 't0b.npy');
    assert.equal(cli('sample', '--model', modelPath, '--n', '2', '--temperature', '0', '--seed', '1', '--npy', a).code, 0);
    assert.equal(cli('sample', '--model', modelPath, '--n', '2', '--temperature', '0', '--seed', '2', '--npy', b).code, 0);
    assert.deepEqual(npy(a).data, npy(b).data);
    const codes0 = join(dir, 't0codes.npy');
    assert.equal(cli('encode', '--model', modelPath, '--npy', a, '--out', codes0).code, 0);
    assert.ok(npy(codes0).data.every((v) => Math.abs(v) < 1e-5), 'the samples at temperature 0 encode to the all-zero code');
    // 16 × 784 = 12,544 logistic draws times T: their standard deviation is T·π/√3 to within 0.8% (one standard
    // error; see test/latent.test.ts), checked to 5%.
    const T = 0.5;
    const samples = join(dir, 'tsamples.npy'), codes = join(dir, 'tcodes.npy');
    assert.equal(cli('sample', '--model', modelPath, '--n', '16', '--temperature', String(T), '--seed', '3', '--npy', samples).code, 0);
    assert.equal(cli('encode', '--model', modelPath, '--npy', samples, '--out', codes).code, 0);
    const h = npy(codes).data;
    assert.equal(h.length, 16 * 784);
    const mean = h.reduce((s, v) => s + v, 0) / h.length;
    const std = Math.sqrt(h.reduce((s, v) => s + (v - mean) ** 2, 0) / (h.length - 1));
    const sigma = Math.PI / Math.sqrt(3);
    assert.ok(Math.abs(std / (T * sigma) - 1) < 0.05, `codes of samples at temperature ${T} have standard deviation ${std}, expected ${T * sigma}`);
    assert.ok(Math.abs(mean) < 0.06 * T * sigma, `codes have mean ${mean}, expected 0`);
  });
});
