// The command line on tiny colour data sets: a folder of 8×8 RGB PNGs, where a convolutional affine model with ZCA
// whitening and the [−1, 1] range trains a few steps, resumes, evaluates and samples a colour PNG; and a set in
// CIFAR-10's binary format, where a preset sets the paper's architecture with explicit flags winning.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { decode, encode } from 'fast-png';
import { readSafetensors } from '../src/io/safetensors.js';
import { cli } from './cliRun.js';

const dir = mkdtempSync(join(tmpdir(), 'nice-flow-colour-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A CIFAR-10 binary file of `count` 32×32 RGB records: smooth colour gradients plus noise, labels 0..9. */
function cifarFile(count: number, seed: number): Uint8Array {
  const out = new Uint8Array(count * 3073);
  let s = seed;
  const rand = (): number => ((s = (s * 1103515245 + 12345) >>> 0) >>> 16) / 65536;
  for (let r = 0; r < count; r++) {
    const o = r * 3073;
    out[o] = r % 10;
    const [a, b] = [rand(), rand()];
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < 1024; p++) {
        const y = p >> 5, x = p & 31;
        out[o + 1 + c * 1024 + p] = Math.min(255, Math.floor(255 * (0.3 * a * (y / 31) + 0.3 * b * (x / 31) + 0.1 * c) + 80 * rand()));
      }
    }
  }
  return out;
}

const data = join(dir, 'cifar');
mkdirSync(data);
writeFileSync(join(data, 'data_batch_1.bin'), cifarFile(48, 1));
writeFileSync(join(data, 'test_batch.bin'), cifarFile(16, 2));

/** A folder with train/ and test/ PNGs of 8×8 RGB images (colour gradients plus noise). */
function pngFolder(path: string, counts: { train: number; test: number }): void {
  let s = 7;
  const rand = (): number => ((s = (s * 1103515245 + 12345) >>> 0) >>> 16) / 65536;
  for (const [split, count] of Object.entries(counts)) {
    mkdirSync(join(path, split), { recursive: true });
    for (let i = 0; i < count; i++) {
      const px = new Uint8Array(8 * 8 * 3);
      const [a, b] = [rand(), rand()];
      for (let p = 0; p < 64; p++) {
        for (let c = 0; c < 3; c++) px[p * 3 + c] = Math.min(255, Math.floor(200 * (a * (p >> 3) / 7 + b * (p & 7) / 7) / 2 + 30 * c + 50 * rand()));
      }
      writeFileSync(join(path, split, `img-${String(i).padStart(3, '0')}.png`), encode({ width: 8, height: 8, data: px, channels: 3, depth: 8 }));
    }
  }
}

const folder = join(dir, 'pngs');
pngFolder(folder, { train: 64, test: 16 });

describe('nice-flow CLI on colour data', () => {
  const run = join(dir, 'conv');

  it('trains a conv affine model with ZCA whitening on [−1, 1], evaluates it and samples a colour PNG', () => {
    const t = cli('train', '--data', folder, '--out', run, '--valid-size', '16', '--batch-size', '16', '--max-steps', '3',
      '--network', 'conv', '--coupling', 'affine', '--partition', 'channels', '--hidden', '8', '--depth', '1',
      '--couplings', '2', '--whiten', 'zca', '--range=-1,1', '--backend', 'wasm', '--quiet');
    assert.equal(t.code, 0, t.stderr);
    const file = readSafetensors(new Uint8Array(readFileSync(join(run, 'model.safetensors'))));
    const config = JSON.parse(file.metadata.config);
    assert.deepEqual([config.network, config.coupling, config.partition, config.whiten, config.range], ['conv', 'affine', 'channels', 'zca', [-1, 1]]);
    assert.deepEqual(config.shape, [3, 8, 8]);
    assert.deepEqual(file.tensors['couplings.0.layers.0.weight'].shape, [8, 3, 3, 3]); // kept half scattered into all 3 channels
    assert.deepEqual(file.tensors['whitening.matrix'].shape, [192, 192]);

    const e = cli('eval', '--model', join(run, 'model.safetensors'), '--data', folder, '--split', 'test', '--json', '--quiet', '--backend', 'wasm');
    assert.equal(e.code, 0, e.stderr);
    const r = JSON.parse(e.stdout.trim().split('\n').at(-1)!);
    assert.equal(r.n, 16);
    assert.ok(Number.isFinite(r.logLikelihood));
    // Bits/dim are of the 256-level data whatever the range: LL on [−1,1]^D is LL on [0,1]^D − D ln 2.
    const expected = (-(r.logLikelihood + 192 * Math.log(2)) / 192 + Math.log(256)) / Math.LN2;
    assert.ok(Math.abs(r.bitsPerDim - expected) < 1e-9, `${r.bitsPerDim} vs ${expected}`);

    const png = join(dir, 'samples.png');
    const s = cli('sample', '--model', join(run, 'model.safetensors'), '--n', '4', '--out', png, '--backend', 'wasm');
    assert.equal(s.code, 0, s.stderr);
    const img = decode(readFileSync(png));
    assert.equal(img.channels, 3);
    // 2×2 grid of 8×8 tiles, scaled 2×, padding 1.
    assert.equal(img.width, 2 * 16 + 3);
  });

  it('resumes a whitened run with its whitening intact', () => {
    const r = cli('train', '--resume', '--out', run, '--max-steps', '5', '--quiet', '--backend', 'wasm');
    assert.equal(r.code, 0, r.stderr);
    const log = readFileSync(join(run, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(log.at(-1).step, 5);
  });

  it('a CIFAR-10 set defaults to the [−1, 1] range; a preset sets the paper\'s settings and explicit flags win', () => {
    const out = join(dir, 'preset');
    const t = cli('train', '--data', data, '--out', out, '--preset', 'cifar10', '--hidden', '6', '--depth', '1', '--whiten', 'none',
      '--valid-size', '16', '--batch-size', '16', '--max-steps', '1', '--backend', 'wasm', '--quiet');
    assert.equal(t.code, 0, t.stderr);
    const config = JSON.parse(readSafetensors(new Uint8Array(readFileSync(join(out, 'model.safetensors')))).metadata.config);
    assert.deepEqual([config.couplings, config.hidden, config.depth, config.prior, config.whiten, config.range], [4, 6, 1, 'logistic', undefined, [-1, 1]]);
  });

  it('a single-channel image has no channel split: a clear error', () => {
    const r = cli('train', '--data', 'mnist', '--limit', '32', '--out', join(dir, 'bad'), '--partition', 'channels', '--quiet');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /channel/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });
});
