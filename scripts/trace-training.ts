// Traces a training run step by step, to find what makes a flow's training log-likelihood collapse: per step the
// batch's mean and worst log-likelihood, the gradient norm, and, for a batch whose worst example is far below its
// mean, that example (its index in the training set) with its path through the flow: each leaf layer's log-det and
// the largest |value| it outputs, then the prior's term.
//
//   node --import tsx scripts/trace-training.ts --preset mnist-conv --steps 4000 > trace.jsonl
//   node --import tsx scripts/trace-training.ts --flow my-flow.json --batch-size 64 --lr 1e-3 --steps 4000
//
// One JSON line per step (and one per outlier); --every N prints every N-th step only (outliers always).
import { readFileSync } from 'node:fs';
import { Rng } from '../src/core/Rng.js';
import type { FloatArray } from '../src/core/FloatArray.js';
import { getPreset } from '../src/model/presets.js';
import { TrainingRun } from '../src/train/TrainingRun.js';
import { selectBackend } from '../src/node/selectBackend.js';
import { loadSplit } from '../cli/data.js';
import { flowPath, type PathStep } from './flowPath.js';

const arg = (name: string, fallback?: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const preset = arg('preset');
const recipe = preset ? getPreset(preset).training ?? {} : {};
const steps = Number(arg('steps', '2000'));
const every = Number(arg('every', '1'));
const batchSize = Number(arg('batch-size', String(recipe.batchSize ?? 64)));
const lr = Number(arg('lr', String(recipe.lr ?? 1e-3)));
const flowFile = arg('flow');
const backend = await selectBackend(arg('backend', 'auto')!);
const train = loadSplit('mnist', 'train', { validSize: 1000 });
const valid = loadSplit('mnist', 'valid', { validSize: 1000, limit: 100 });
const run = await TrainingRun.create(backend, train, valid, {
  data: 'mnist', validSize: 1000, dataRange: [0, 1], preset, epochs: 100, batchSize, lr, seed: Number(arg('seed', '0')),
  lrSchedule: (arg('lr-schedule') ?? recipe.lrSchedule ?? 'constant') as 'constant', warmup: Number(arg('warmup', String(recipe.warmup ?? 0))),
  model: flowFile ? { flow: JSON.parse(readFileSync(flowFile, 'utf8')) } : {},
});
const { model, trainer } = run;
const D = model.dim;

const original = model.paramGradLogProb.bind(model);
let last = { min: 0, argmin: 0, mean: 0, x: new Float64Array(0) };
model.paramGradLogProb = (x: FloatArray, n: number, weight: number): Float64Array => {
  const lp = original(x, n, weight);
  let min = Infinity, argmin = 0, mean = 0;
  for (let i = 0; i < n; i++) {
    mean += lp[i] / n;
    if (lp[i] < min) [min, argmin] = [lp[i], i];
  }
  last = { min, argmin, mean, x: Float64Array.from(x.subarray(argmin * D, (argmin + 1) * D)) };
  return lp;
};
for (let s = 0; s < steps; s++) {
  const before = trainer.batchInEpoch;
  const batch = trainer.order.slice(before * batchSize, (before + 1) * batchSize);
  trainer.trainStep();
  let g2 = 0;
  for (const p of model.params) for (let i = 0; i < p.grad.length; i++) g2 += p.grad[i] ** 2;
  const line = { step: trainer.step, mean: +last.mean.toFixed(1), min: +last.min.toFixed(1), gradNorm: +Math.sqrt(g2).toPrecision(4) };
  if (s % every === 0) console.log(JSON.stringify(line));
  if (last.min < last.mean - 2000) {
    // The outlier's path through the flow as it is now (after the update).
    const layers: PathStep[] = [];
    const h = flowPath(model.flow, last.x, layers);
    const lp = model.logProb(Float64Array.from(last.x), 1)[0];
    let hMax = 0;
    for (let i = 0; i < D; i++) hMax = Math.max(hMax, Math.abs(h[i]));
    console.log(JSON.stringify({ outlier: trainer.step, image: batch[last.argmin], logProbBefore: last.min, logProbAfter: +lp.toFixed(1), hMax,
      layers: layers.map((l) => `${l.name} ld ${l.logDet.toFixed(1)} max ${l.maxAbs.toPrecision(3)}`) }));
  }
}
