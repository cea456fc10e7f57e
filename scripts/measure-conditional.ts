// Measures a class-conditional model against independent classifiers (docs/conditional.md, docs/results.md):
//
//   node --import tsx scripts/measure-conditional.ts MODEL [DATA] [--out DIR] [--restyle N]
//
// 1. Trains two discriminative classifiers on the same pixels (the training split, pixel centres in [0, 1]), with the
//    same seed every run: logistic regression (784 → 10) and a small MLP (784 → 512 → 10, ReLU), softmax cross-entropy,
//    Adam 1e-3, batch 100, 3 and 10 epochs. Their test accuracies are the table's baselines; the MLP is the judge below.
// 2. The likelihood classifier's accuracy (Bayes' rule) on the whole test split.
// 3. Class-conditional samples at T = 0.7, 10 per class: the judge's agreement with the requested label (a 10 × 10
//    grid to DIR/samples-t07.png).
// 4. Restyling the first N test digits (default 1,000) as every other class: the judge's agreement with the target
//    class, and how the style carries over: the correlation between an image's and its restyled versions' ink mass
//    (thickness) and slant (the second moment xy / yy of the ink), over all targets. The grid of the first 10 goes to
//    DIR/restyle.png.
// The last line is one JSON object with every figure.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../src/core/Rng.js';
import { dequantizeBatch } from '../src/data/dequantize.js';
import type { ImageDataset } from '../src/data/ImageDataset.js';
import { imageGridPng } from '../src/io/pngGrid.js';
import { deserializeModel } from '../src/model/modelFile.js';
import { oneHot } from '../src/model/oneHot.js';
import { restyle } from '../src/model/restyle.js';
import { Adam } from '../src/nn/Adam.js';
import { Mlp } from '../src/nn/Mlp.js';
import { selectBackend } from '../src/node/selectBackend.js';
import { evaluate } from '../src/train/evaluate.js';
import { loadSplit } from '../cli/data.js';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const positional = args.filter((a, i) => !a.startsWith('--') && !(i > 0 && ['--out', '--restyle'].includes(args[i - 1])));
const [modelPath, data = 'mnist'] = positional;
if (!modelPath) {
  console.error('usage: node --import tsx scripts/measure-conditional.ts MODEL [DATA] [--out DIR] [--restyle N]');
  process.exit(1);
}
const outDir = flag('--out');
const restyleCount = Number(flag('--restyle') ?? 1000);
if (outDir) mkdirSync(outDir, { recursive: true });

const backend = await selectBackend('auto');
const model = deserializeModel(new Uint8Array(readFileSync(modelPath)), backend, `model file ${modelPath}`);
const K = model.config.classes;
if (!K) throw new Error(`${modelPath} is not a class-conditional model`);
const train = loadSplit(data, 'train', { validSize: 1, labels: true });
const test = loadSplit(data, 'test', { validSize: 1, labels: true });
const D = model.dim;

/** Pixel centres in [0, 1] of images `order` of a data set, [n, D]. */
function pixels(ds: ImageDataset, order: Int32Array, start: number, n: number, out: Float32Array): Float32Array {
  dequantizeBatch(ds, order, start, n, 'center', new Rng(0), out, [0, 1]);
  return out;
}

/** A softmax classifier m: [n, D] → [n, K] logits, trained with cross-entropy; returns its test accuracy and a predictor. */
function trainClassifier(hidden: number, depth: number, epochs: number, seed: number): { accuracy: number; predict: (x: Float32Array, n: number) => Int32Array } {
  const net = new Mlp(backend, D, K!, hidden, depth, 'clf.');
  const rng = new Rng(seed);
  net.init(rng);
  const adam = new Adam(backend, net.params, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
  const B = 100;
  const order = Int32Array.from({ length: train.count }, (_, i) => i);
  const x = new Float32Array(B * D);
  const grad = new Float32Array(B * K!);
  for (let e = 0; e < epochs; e++) {
    rng.shuffle(order);
    for (let s = 0; s + B <= train.count; s += B) {
      pixels(train, order, s, B, x);
      const logits = net.forward(x, B, true);
      for (let i = 0; i < B; i++) {
        let max = -Infinity;
        for (let k = 0; k < K!; k++) max = Math.max(max, logits[i * K! + k]);
        let sum = 0;
        for (let k = 0; k < K!; k++) sum += Math.exp(logits[i * K! + k] - max);
        const y = train.labels![order[s + i]];
        for (let k = 0; k < K!; k++) grad[i * K! + k] = (Math.exp(logits[i * K! + k] - max) / sum - (k === y ? 1 : 0)) / B;
      }
      net.backward(grad, true, false);
      adam.update();
    }
  }
  const predict = (xs: Float32Array, n: number): Int32Array => {
    const out = new Int32Array(n);
    for (let s = 0; s < n; s += B) {
      const m = Math.min(B, n - s);
      const logits = net.forward(xs.subarray(s * D, (s + m) * D), m, false);
      for (let i = 0; i < m; i++) {
        let best = 0;
        for (let k = 1; k < K!; k++) if (logits[i * K! + k] > logits[i * K! + best]) best = k;
        out[s + i] = best;
      }
    }
    return out;
  };
  const all = pixels(test, Int32Array.from({ length: test.count }, (_, i) => i), 0, test.count, new Float32Array(test.count * D));
  const predicted = predict(all, test.count);
  let correct = 0;
  for (let i = 0; i < test.count; i++) if (predicted[i] === test.labels![i]) correct++;
  return { accuracy: correct / test.count, predict };
}

const t0 = performance.now();
const logistic = trainClassifier(1, 0, 3, 1);
const judge = trainClassifier(512, 1, 10, 2);
console.log(`discriminative classifiers on the same pixels: logistic regression ${(100 * logistic.accuracy).toFixed(2)}%, ` +
  `MLP 784-512-10 ${(100 * judge.accuracy).toFixed(2)}% (${((performance.now() - t0) / 1000).toFixed(0)} s)`);

const r = await evaluate(model, test, { rng: new Rng(0), batchSize: 500 });
console.log(`likelihood classifier: ${(100 * r.accuracy!).toFixed(2)}% on ${r.n} test images; marginal ${r.bitsPerDim.toFixed(4)} bits/dim, ` +
  `given the label ${r.conditionalBitsPerDim!.toFixed(4)} bits/dim`);

// Class-conditional samples at T = 0.7, 10 per class, judged.
const perClass = 10;
const sampleLabels = Int32Array.from({ length: K * perClass }, (_, i) => Math.floor(i / perClass));
const samples = model.sample(K * perClass, new Rng(7), 0.7, oneHot(sampleLabels, K));
for (let i = 0; i < samples.length; i++) samples[i] = Math.min(1, Math.max(0, samples[i]));
const sampleJudged = judge.predict(samples, K * perClass);
let sampleAgree = 0;
for (let i = 0; i < K * perClass; i++) if (sampleJudged[i] === sampleLabels[i]) sampleAgree++;
console.log(`samples at T = 0.7: the MLP labels ${sampleAgree} of ${K * perClass} as the class asked for`);

// Restyling: the first N test digits as every other class.
const N = Math.min(restyleCount, test.count);
const x = pixels(test, Int32Array.from({ length: N }, (_, i) => i), 0, N, new Float32Array(N * D));
const [, H, W] = test.shape;
/** Ink mass and slant (xy / yy second moment about the ink's centre) of an image. */
const moments = (img: Float32Array): { mass: number; slant: number } => {
  let m = 0, cx = 0, cy = 0;
  for (let y = 0; y < H; y++) for (let c = 0; c < W; c++) {
    const v = Math.max(0, img[y * W + c]);
    m += v; cx += v * c; cy += v * y;
  }
  if (m === 0) return { mass: 0, slant: 0 };
  cx /= m; cy /= m;
  let xy = 0, yy = 0;
  for (let y = 0; y < H; y++) for (let c = 0; c < W; c++) {
    const v = Math.max(0, img[y * W + c]);
    xy += v * (c - cx) * (y - cy); yy += v * (y - cy) * (y - cy);
  }
  return { mass: m, slant: yy > 0 ? xy / yy : 0 };
};
const pearson = (a: number[], b: number[]): number => {
  const n = a.length;
  const ma = a.reduce((s, v) => s + v, 0) / n, mb = b.reduce((s, v) => s + v, 0) / n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) { sab += (a[i] - ma) * (b[i] - mb); saa += (a[i] - ma) ** 2; sbb += (b[i] - mb) ** 2; }
  return sab / Math.sqrt(saa * sbb);
};
let agree = 0, total = 0;
const massA: number[] = [], massB: number[] = [], slantA: number[] = [], slantB: number[] = [];
const B = 100;
let firstGrid: Float32Array | null = null;
for (let s = 0; s < N; s += B) {
  const m = Math.min(B, N - s);
  const rows = restyle(model, x.subarray(s * D, (s + m) * D), m, Array.from(test.labels!.subarray(s, s + m)));
  for (let i = 0; i < rows.length; i++) rows[i] = Math.min(1, Math.max(0, rows[i]));
  if (!firstGrid) firstGrid = rows.slice(0, Math.min(10, m) * (K + 1) * D);
  const judged = judge.predict(rows, m * (K + 1));
  for (let i = 0; i < m; i++) {
    const own = test.labels![s + i];
    const orig = moments(rows.subarray(i * (K + 1) * D, (i * (K + 1) + 1) * D));
    for (let k = 0; k < K; k++) {
      if (k === own) continue;
      const row = i * (K + 1) + 1 + k;
      total++;
      if (judged[row] === k) agree++;
      const mo = moments(rows.subarray(row * D, (row + 1) * D));
      massA.push(orig.mass); massB.push(mo.mass); slantA.push(orig.slant); slantB.push(mo.slant);
    }
  }
}
const style = { thickness: pearson(massA, massB), slant: pearson(slantA, slantB) };
console.log(`restyled ${N} test digits as each other class: the MLP labels ${(100 * agree / total).toFixed(1)}% as the target class; ` +
  `style carried over (correlation with the original): ink mass ${style.thickness.toFixed(3)}, slant ${style.slant.toFixed(3)}`);
if (outDir) {
  writeFileSync(join(outDir, 'samples-t07.png'), imageGridPng(samples, K * perClass, { channels: 1, height: H, width: W }, { columns: perClass, scale: 2 }));
  writeFileSync(join(outDir, 'restyle.png'), imageGridPng(firstGrid!, firstGrid!.length / D, { channels: 1, height: H, width: W }, { columns: K + 1, scale: 2 }));
  console.log(`wrote ${join(outDir, 'samples-t07.png')} and ${join(outDir, 'restyle.png')}`);
}
console.log(JSON.stringify({
  model: modelPath, data, accuracy: r.accuracy, n: r.n, bitsPerDim: r.bitsPerDim, conditionalBitsPerDim: r.conditionalBitsPerDim,
  logisticRegression: logistic.accuracy, mlp: judge.accuracy, sampleAgreement: sampleAgree / (K * perClass),
  restyleAgreement: agree / total, restyled: N, styleCorrelation: style,
}));
