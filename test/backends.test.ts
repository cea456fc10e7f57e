// A whole training step gives the same parameters on every backend (within float32 tolerance).
import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import type { Backend } from '../src/core/Backend.js';
import { createRefBackend } from '../src/core/createRefBackend.js';
import { Rng } from '../src/core/Rng.js';
import type { NiceConfig } from '../src/model/NiceConfig.js';
import { NiceModel } from '../src/model/NiceModel.js';
import { Trainer } from '../src/train/Trainer.js';
import { blasAvailable, createBlasBackend } from '../src/node/createBlasBackend.js';
import { createWasmBackendNode } from '../src/node/createWasmBackendNode.js';

const backends: Array<[string, () => Promise<Backend> | Backend]> = [
  ['wasm (1 thread)', () => createWasmBackendNode({ threads: 1 })],
  ['wasm (2 threads)', () => createWasmBackendNode({ threads: 2 })],
];
if (blasAvailable()) {
  backends.push(['blas', () => createBlasBackend()]);
  // The weights and gradients take ~500 KB: half of them, then everything else, past the wasm memory (on the heap).
  backends.push(['blas spilling past 256 KiB of wasm memory', () => createBlasBackend({ wasmBytes: 256 * 1024 })]);
}
const made: Backend[] = [];
after(() => made.forEach((b) => b.dispose()));

const paperConfig: NiceConfig = { dim: 64, couplings: 4, hidden: 96, depth: 2, prior: 'logistic', partition: 'alternate', coupling: 'additive' };
// A multi-scale described flow: every new step kind on every backend (its couplings on the backend's convolutions).
const coupling = { type: 'coupling', law: 'affine', partition: 'channels', network: 'conv', hidden: 16, depth: 2 };
const flowConfig: NiceConfig = {
  dim: 64, prior: 'gaussian', shape: [1, 8, 8],
  flow: [{ type: 'logit' }, { type: 'squeeze' }, { type: 'actnorm' }, { type: 'invconv' }, coupling, { type: 'actnorm' }, { type: 'invconv' }, coupling,
    { type: 'split' }, { type: 'squeeze' }, { type: 'actnorm' }, { type: 'invconv' }, coupling],
};
const pixels = new Uint8Array(64 * 120);
{
  const rng = new Rng(1);
  for (let i = 0; i < pixels.length; i++) pixels[i] = Math.floor(256 * rng.uniform() ** 2);
}
const data = { pixels, count: 120, dim: 64, shape: [1, 8, 8] as [number, number, number] };

function trainedParams(backend: Backend, config: NiceConfig): Float32Array[] {
  const model = new NiceModel(backend, config);
  model.init(new Rng(2));
  const trainer = new Trainer(model, data, { batchSize: 40, seed: 3 });
  for (let i = 0; i < 3; i++) trainer.trainStep();
  return model.params.map((p) => Float32Array.from(p.data));
}

for (const [what, config] of [['the paper\'s model', paperConfig], ['a multi-scale flow', flowConfig]] as const) {
  const reference = trainedParams(createRefBackend(), config);

  for (const [name, make] of backends) {
    it(`${what}: three training steps on ${name} match the reference backend`, async () => {
      const backend = await make();
      made.push(backend);
      const params = trainedParams(backend, config);
      let worst = 0;
      params.forEach((p, k) => {
        for (let i = 0; i < p.length; i++) worst = Math.max(worst, Math.abs(p[i] - reference[k][i]));
      });
      // Adam moves each weight by up to ~1e-3 a step; float32 rounding differences stay orders of magnitude below.
      assert.ok(worst < 2e-5, `largest parameter difference ${worst}`);
      // And the steps did move the parameters (the comparison is not vacuous).
      const init = new NiceModel(createRefBackend(), config);
      init.init(new Rng(2));
      assert.ok(params.some((p, k) => p.some((v, i) => Math.abs(v - init.params[k].data[i]) > 1e-4)));
    });
  }
}
