// `nice-flow train` when things go wrong: divergence, resumes that would change the run, crash leftovers, usage errors.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createRefBackend } from '../src/core/createRefBackend.js';
import { readSafetensors, writeSafetensors } from '../src/io/safetensors.js';
import { readRunCheckpoint } from '../src/train/readRunCheckpoint.js';
import { assertUserError, cli } from './cliRun.js';

const dir = mkdtempSync(join(tmpdir(), 'nice-flow-train-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// 600 training images, 6 steps of 100 per epoch, 100 validation images, a small MLP.
const small = ['--data', 'mnist', '--limit', '600', '--valid-size', '59000', '--valid-limit', '100', '--batch-size', '100',
  '--hidden', '24', '--depth', '2', '--backend', 'wasm', '--quiet'];
const readLog = (out: string): Record<string, number>[] => readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const withoutSeconds = (l: Record<string, number>): Record<string, number> => ({ ...l, seconds: 0 });

describe('train: state that is kept is state that was shown good', () => {
  it('after a divergence names only a checkpoint that exists, evaluates finite and resumes, or says there is none', () => {
    for (const every of ['1', '5']) {
      const out = join(dir, `diverge-${every}`);
      const r = cli('train', ...small, '--out', out, '--epochs', '2', '--lr', '1000', '--checkpoint-every', every);
      assertUserError(r, /training stopped at step \d+/);
      const ckpt = join(out, 'checkpoint.safetensors');
      const named = /checkpoint (\S+) \(step (\d+)\) is the last state shown to give a finite loss/.exec(r.stderr);
      if (named) {
        assert.equal(named[1], ckpt);
        assert.ok(existsSync(ckpt), `the message names ${ckpt}, which does not exist`);
        const e = cli('eval', '--model', ckpt, '--limit', '20', '--json', '--quiet');
        assert.equal(e.code, 0, e.stderr);
        assert.ok(Number.isFinite(JSON.parse(e.stdout.trim().split('\n').at(-1)!).logLikelihood));
      } else {
        assert.match(r.stderr, /no checkpoint was saved yet, so there is nothing to resume/);
        assert.ok(!existsSync(ckpt), 'a checkpoint exists although the message says none was saved');
      }
    }
  });

  it('after a divergence past a good checkpoint, names that checkpoint, which evaluates finite and resumes with a lower --lr', () => {
    const out = join(dir, 'diverge-late');
    assert.equal(cli('train', ...small, '--out', out, '--epochs', '2', '--max-steps', '2', '--checkpoint-every', '1').code, 0);
    // Resumed with a learning rate that blows up at once: the resumed checkpoint (step 2) is the last good state.
    const r = cli('train', '--resume', '--out', out, '--max-steps', '8', '--lr', '1000', '--backend', 'wasm', '--quiet');
    const ckpt = join(out, 'checkpoint.safetensors');
    // Its stderr: the note that the learning rate changes, then the one-line error.
    assertUserError({ code: r.code, stderr: r.stderr.replace(/^warning: the learning rate changes .*\n/, '') },
      new RegExp(`the checkpoint ${ckpt.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(step 2\\) is the last state shown to give a finite loss`));
    const e = cli('eval', '--model', ckpt, '--limit', '20', '--json', '--quiet');
    assert.equal(e.code, 0, e.stderr);
    assert.ok(Number.isFinite(JSON.parse(e.stdout.trim().split('\n').at(-1)!).logLikelihood));
    const again = cli('train', '--resume', '--out', out, '--max-steps', '4', '--lr', '0.0001', '--quiet', '--backend', 'wasm');
    assert.equal(again.code, 0, again.stderr);
  });

  it('warns when training diverges without a NaN (--lr 1)', () => {
    const r = cli('train', ...small, '--out', join(dir, 'lr1'), '--epochs', '1', '--lr', '1');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: training looks diverged: validation is at .* bits\/dim/);
    assert.match(r.stderr, /warning: this run diverged/);
  });

  it('with --lr 1, 3 or 10 leaves only checkpoints that --resume accepts, and a stop names the last of them', () => {
    // These rates overflow Adam's second moments (g² past float32) while the weights stay finite; a checkpoint of
    // that state used to be written, and --resume then refused it ("… holds Infinity").
    for (const lr of ['1', '3', '10']) {
      const out = join(dir, `lr-state-${lr}`);
      const r = cli('train', ...small, '--out', out, '--epochs', '3', '--lr', lr, '--checkpoint-every', '2');
      const ckpt = join(out, 'checkpoint.safetensors');
      if (r.code !== 0) {
        assertUserError(r, /training stopped at step \d+: .*(is the last state shown to give a finite loss|no checkpoint was saved yet)/);
      }
      if (existsSync(ckpt)) {
        assert.doesNotThrow(() => readRunCheckpoint(new Uint8Array(readFileSync(ckpt)), createRefBackend()), `--lr ${lr}: the checkpoint it left cannot be resumed`);
      }
    }
    // --lr 10 overflows the second moments in its first epoch: the run says so, and that nothing was saved.
    assertUserError(cli('train', ...small, '--out', join(dir, 'lr10'), '--epochs', '1', '--lr', '10'),
      /training stopped at step \d+: the optimiser state: tensor "train\.adam\.v\..*" holds Infinity at index \d+; no checkpoint was saved yet/);
  });

  it('refuses to resume a checkpoint whose finite parameters give a non-finite loss', () => {
    const out = join(dir, 'huge');
    assert.equal(cli('train', ...small, '--out', out, '--max-steps', '2').code, 0);
    const path = join(out, 'checkpoint.safetensors');
    const { tensors, metadata } = readSafetensors(new Uint8Array(readFileSync(path)));
    tensors['scaling.scale'].data.fill(1e30);
    writeFileSync(path, writeSafetensors(tensors, metadata));
    assertUserError(cli('train', '--resume', '--out', out, '--max-steps', '4'), /checkpoint .*huge.checkpoint\.safetensors: its parameters give a log-likelihood of .* it cannot be resumed/);
  });
});

describe('train --resume', () => {
  const base = join(dir, 'base');

  it("keeps the epoch's running train log-likelihood across a resume", () => {
    const straight = join(dir, 'straight');
    assert.equal(cli('train', ...small, '--out', straight, '--epochs', '2').code, 0);
    // Stop mid-epoch 2 (step 9 of 12), then resume to the end.
    assert.equal(cli('train', ...small, '--out', base, '--epochs', '2', '--max-steps', '9').code, 0);
    const r = cli('train', '--resume', '--out', base, '--max-steps', '12', '--quiet', '--backend', 'wasm');
    assert.equal(r.code, 0, r.stderr);
    const a = readLog(straight);
    const b = readLog(base);
    assert.deepEqual(b.map((l) => l.step), [6, 9, 12]);
    assert.deepEqual(withoutSeconds(b[2]), withoutSeconds(a[1]), 'the resumed epoch 2 differs from the straight run');
  });

  it('refuses flags that would change the run, allows --lr with a warning', () => {
    const copy = join(dir, 'base-copy');
    cpSync(base, copy, { recursive: true });
    assertUserError(cli('train', '--resume', '--out', copy, '--hidden', '500'), /cannot change --hidden 500 \(the run has 24\)/);
    assertUserError(cli('train', '--resume', '--out', copy, '--data', 'fashion-mnist', '--batch-size', '50'),
      /cannot change --data fashion-mnist \(the run has mnist\), --batch-size 50 \(the run has 100\)/);
    // The same values as the run's are fine.
    const same = cli('train', '--resume', '--out', copy, '--hidden', '24', '--data', 'mnist', '--max-steps', '13', '--quiet');
    assert.equal(same.code, 0, same.stderr);
    const lr = cli('train', '--resume', '--out', copy, '--lr', '0.0001', '--max-steps', '14', '--quiet');
    assert.equal(lr.code, 0, lr.stderr);
    assert.match(lr.stderr, /the learning rate changes from 0\.001 to 0\.0001/);
  });

  it('removes temporary files left by a write that was killed, and only those', () => {
    const copy = join(dir, 'tmp-run');
    cpSync(base, copy, { recursive: true });
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!; // a process that has exited
    const stale = join(copy, `checkpoint.safetensors.tmp-${dead}`);
    const live = join(copy, `model.safetensors.tmp-${process.pid}`);
    writeFileSync(stale, 'half a checkpoint');
    writeFileSync(live, 'being written by a live process');
    const r = cli('train', '--resume', '--out', copy, '--max-steps', '13');
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!existsSync(stale), 'the stale temporary file is still there');
    assert.ok(existsSync(live), "a live process's temporary file was removed");
  });
});

describe('usage errors', () => {
  it('are one line in the nice-flow format, naming the command to ask for help', () => {
    const r = cli('train', '--out', join(dir, 'x'), '--epochs', 'many');
    assert.notEqual(r.code, 0);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^nice-flow: option '--epochs <n>' argument 'many' is invalid.*; see nice-flow train --help\n$/);
    for (const args of [['trian'], ['eval'], ['train', '--out', 'x', '--bogus']]) {
      const u = cli(...args);
      assert.notEqual(u.code, 0);
      assert.match(u.stderr, /^nice-flow: [^\n]+\n$/, u.stderr);
    }
  });
});

describe('train: a recipe preset', () => {
  // mnist-ema brings --ema 0.999 --epochs 50 --valid-size 1000 (model flags and explicit training flags win).
  const tiny = ['--data', 'mnist', '--limit', '300', '--valid-limit', '50', '--batch-size', '100', '--hidden', '16', '--depth', '1', '--backend', 'wasm', '--max-steps', '3'];
  it('mnist-ema brings its training settings where flags are not given', () => {
    const out = join(dir, 'recipe');
    const r = cli('train', ...tiny, '--preset', 'mnist-ema', '--out', out);
    assert.equal(r.code, 0, r.stderr);
    const [entry] = readLog(out);
    assert.ok(Number.isFinite(entry.liveValidLogLikelihood), 'the weight average is on (--ema 0.999)');
    // 1,000 held out: --valid-limit 50 validates on 50 of them; the epoch is 3 steps of 100 images.
    assert.match(r.stderr, /on 300 images/);
    const record = JSON.parse(readSafetensors(new Uint8Array(readFileSync(join(out, 'checkpoint.safetensors')))).metadata.run);
    assert.equal(record.trainerOptions.ema, 0.999);
    assert.equal(record.validSize, 1000);
    assert.equal(record.epochs, 50);
  });
  it('explicit flags win over the recipe', () => {
    const out = join(dir, 'recipe-explicit');
    const r = cli('train', ...tiny, '--preset', 'mnist-ema', '--ema', '0', '--out', out);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readLog(out)[0].liveValidLogLikelihood, undefined, '--ema 0 turns the average off');
  });
});
