// A described flow from the command line: train --flow FILE and --preset mnist-conv's flow, then every command on the
// model it keeps (eval, sample, inpaint, encode/decode, interpolate), spectrum refusing it in one line, and the
// one-line errors of a bad description.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readNpyF32 } from '../src/io/npy.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { assertUserError, cli } from './cliRun.js';

const dir = mkdtempSync(join(tmpdir(), 'nice-flow-flow-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const coupling = { type: 'coupling', law: 'affine', partition: 'channels', network: 'conv', hidden: 8, depth: 1, zeroInit: true };
const flow = [
  { type: 'logit' }, { type: 'squeeze' },
  { type: 'actnorm' }, { type: 'invconv' }, coupling, { type: 'actnorm' }, { type: 'invconv' }, coupling,
  { type: 'split' }, { type: 'squeeze' },
  { type: 'actnorm' }, { type: 'invconv' }, coupling,
];
const flowFile = join(dir, 'flow.json');
writeFileSync(flowFile, JSON.stringify(flow));
const small = ['--data', 'mnist', '--limit', '300', '--valid-size', '59000', '--valid-limit', '100', '--batch-size', '50', '--quiet'];
const out = join(dir, 'run');
const modelPath = join(out, 'model.safetensors');
const lastJson = (stdout: string): Record<string, number> => JSON.parse(stdout.trim().split('\n').at(-1)!);

describe('train --flow and the commands on a multi-scale model', () => {
  it('trains a described flow and stores the description, complete, in the weight file', () => {
    const r = cli('train', ...small, '--flow', flowFile, '--epochs', '2', '--lr', '3e-3', '--out', out);
    assert.equal(r.code, 0, r.stderr);
    const log = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(log.length, 2);
    assert.ok(log[1].validBitsPerDim < log[0].validBitsPerDim, `validation ${log.map((l) => l.validBitsPerDim).join(' → ')} bits/dim`);
    const { metadata, tensors } = readSafetensors(new Uint8Array(readFileSync(modelPath)));
    const config = JSON.parse(metadata.config);
    assert.equal(config.flow.length, flow.length);
    assert.deepEqual(config.flow[0], { type: 'logit', alpha: 0.05 });
    assert.deepEqual(tensors['flow.2.started'].data, Float32Array.of(1));
    assert.equal(config.couplings, undefined);
  });

  it('eval, sample (with temperature), encode/decode, interpolate and inpaint work on it', () => {
    const e = cli('eval', '--model', modelPath, '--split', 'test', '--limit', '50', '--json', '--quiet');
    assert.equal(e.code, 0, e.stderr);
    const ev = lastJson(e.stdout);
    assert.ok(Number.isFinite(ev.logLikelihood) && ev.bitsPerDim > 0 && ev.bitsPerDim < 8, JSON.stringify(ev));

    const s = cli('sample', '--model', modelPath, '--n', '8', '--temperature', '0.7', '--npy', join(dir, 's.npy'), '--out', join(dir, 's.png'));
    assert.equal(s.code, 0, s.stderr);
    const samples = readNpyF32(new Uint8Array(readFileSync(join(dir, 's.npy'))));
    assert.equal(samples.data.length, 8 * 784);
    assert.ok(samples.data.every(Number.isFinite));

    const enc = cli('encode', '--model', modelPath, '--split', 'test', '--limit', '3', '--out', join(dir, 'h.npy'));
    assert.equal(enc.code, 0, enc.stderr);
    const dec = cli('decode', '--model', modelPath, '--codes', join(dir, 'h.npy'), '--npy', join(dir, 'x.npy'));
    assert.equal(dec.code, 0, dec.stderr);
    const x = readNpyF32(new Uint8Array(readFileSync(join(dir, 'x.npy')))).data;
    assert.ok(x.every((v) => v > -0.1 && v < 1.1), 'decoded codes of test images are images again');

    const i = cli('interpolate', '--model', modelPath, '--split', 'test', '--from', '0', '--to', '1', '--steps', '4', '--out', join(dir, 'i.png'));
    assert.equal(i.code, 0, i.stderr);

    const inp = cli('inpaint', '--model', modelPath, '--mask', 'bottom-half', '--limit', '2', '--steps', '10', '--json', '--quiet');
    assert.equal(inp.code, 0, inp.stderr);
    const j = lastJson(inp.stdout);
    assert.ok(Number.isFinite(j.meanLLAfter) && j.meanLLAfter > j.meanLLBefore, JSON.stringify(j));
  });

  it('spectrum refuses a flow without a final scaling in one line', () => {
    assertUserError(cli('spectrum', '--model', modelPath, '--json'), /the scale spectrum needs a model whose flow ends with the diagonal scaling/);
  });

  it('refuses bad descriptions and flat flags beside one, in one line', () => {
    const bad = (name: string, content: string, pattern: RegExp): void => {
      const f = join(dir, name);
      writeFileSync(f, content);
      assertUserError(cli('train', ...small, '--flow', f, '--epochs', '1', '--out', join(dir, `bad-${name}`)), pattern);
    };
    bad('notjson.json', '[{"type": "squeeze"', /flow description .*not valid JSON/);
    bad('object.json', '{"steps": []}', /expected a JSON list of steps, or an object with a "flow" list/);
    bad('odd.json', JSON.stringify([{ type: 'squeeze' }, { type: 'squeeze' }, { type: 'squeeze' }]), /flow step 2: squeeze step: .*even/);
    bad('unknown.json', JSON.stringify([{ type: 'glow-block' }]), /flow step 0: unknown flow step type "glow-block"/);
    assertUserError(cli('train', ...small, '--flow', flowFile, '--couplings', '8', '--epochs', '1', '--out', join(dir, 'bad-flat')),
      /--couplings: the flow is described by --flow, which fixes every layer/);
    assertUserError(cli('train', ...small, '--preset', 'mnist-conv', '--hidden', '8', '--epochs', '1', '--out', join(dir, 'bad-preset')),
      /--hidden: the flow is described by --preset mnist-conv/);
  });

  it('a resume keeps the run\'s flow and refuses --flow', () => {
    assertUserError(cli('train', '--resume', '--out', out, '--flow', flowFile, '--epochs', '3', '--quiet'), /cannot change .*--flow/);
  });
});
