// The images a model finds least likely: the mean, median and worst log-likelihoods of a split (pixel centres and
// uniform noise with seed 0, as `eval`), then the worst image's path through the flow (each leaf layer's log-det and
// the largest |value| it outputs), in float64. A mean far below the median means a few images dominate it.
//
//   node --import tsx scripts/worst-images.ts runs/mnist-conv/model.safetensors [test|valid|train] [DATA]
import { readFileSync } from 'node:fs';
import { createRefBackend } from '../src/core/createRefBackend.js';
import { Rng } from '../src/core/Rng.js';
import { dequantizeBatch } from '../src/data/dequantize.js';
import { deserializeModel } from '../src/model/modelFile.js';
import { selectBackend } from '../src/node/selectBackend.js';
import { loadSplit, type Split } from '../cli/data.js';
import { flowPath, type PathStep } from './flowPath.js';

const [modelPath, split = 'test', data = 'mnist'] = process.argv.slice(2);
if (!modelPath) {
  process.stderr.write('usage: worst-images.ts MODEL [test|valid|train] [DATA]\n');
  process.exit(2);
}
const bytes = new Uint8Array(readFileSync(modelPath));
const backend = await selectBackend('auto');
const model = deserializeModel(bytes, backend);
const images = loadSplit(data, split as Split, { validSize: 1000 });
const N = images.count, D = model.dim, B = 500;
let worstIndex = 0;
for (const mode of ['center', 'uniform'] as const) {
  const rng = new Rng(0);
  const lls = new Float64Array(N);
  for (let s = 0; s < N; s += B) {
    const n = Math.min(B, N - s);
    const x = new Float32Array(n * D);
    dequantizeBatch(images, null, s, n, mode, rng, x, model.range);
    lls.set(model.logProb(x, n), s);
  }
  const order = Array.from(lls.keys()).sort((a, b) => lls[a] - lls[b]);
  worstIndex = order[0];
  const mean = lls.reduce((a, b) => a + b, 0) / N;
  console.log(`${mode}: mean ${mean.toFixed(1)} nats, median ${lls[order[N >> 1]].toFixed(1)}; worst (image: nats) ${order.slice(0, 8).map((i) => `${i}: ${lls[i].toFixed(0)}`).join(', ')}`);
}

// The worst image's path, in float64.
const m64 = deserializeModel(bytes, createRefBackend({ dtype: 'float64' }));
const x = new Float64Array(D);
dequantizeBatch(images, null, worstIndex, 1, 'center', new Rng(0), x, model.range);
console.log(`image ${worstIndex} (pixel centres) through the flow:`);
const steps: PathStep[] = [];
flowPath(m64.flow, x, steps);
steps.forEach((l, k) => console.log(`  ${String(k).padStart(3)} ${l.name.padEnd(12)} on ${String(l.dim).padStart(4)} values: log-det ${l.logDet.toFixed(1).padStart(8)}, max |y| ${l.maxAbs.toExponential(2)}`));
console.log(`log p = ${m64.logProb(x, 1)[0].toFixed(1)} nats`);
backend.dispose();
