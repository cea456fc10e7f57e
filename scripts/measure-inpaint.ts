// Inpainting, measured: for each of the paper's 10 masks, the first N test digits are completed with each recipe, and
// the hidden pixels are compared with the truth.
//
//   node --import tsx scripts/measure-inpaint.ts runs/mnist/model.safetensors [N=100] [STEPS] [--figure docs/inpaint-masks.png]
//       [--no-restarts] [--no-paper] [--masks a,b] [--only default,...]
//
// STEPS overrides every recipe's own number of steps (the SGD recipes 1000, as the paper; Adam its default 300).
// Prints a Markdown table: per mask and recipe, the mean squared error of the hidden pixels against the truth, the
// total variation of the completed images over that of the true ones (1 = as smooth as real digits; speckle is > 1),
// and the mean log-likelihood (nats) of the completions. Baselines: hidden pixels filled with black and with the mean
// training digit. With --figure, a picture like the paper's Figure 6: per mask, rows of originals, masked and
// completed digits (the default recipe).
import { readFileSync, writeFileSync } from 'node:fs';
import { Rng } from '../src/core/Rng.js';
import { dequantizeBatch } from '../src/data/dequantize.js';
import { imageGridPng } from '../src/io/pngGrid.js';
import { inpaint, type InpaintOptions } from '../src/model/inpaint.js';
import { makeMask, MASK_NAMES } from '../src/model/masks.js';
import { deserializeModel } from '../src/model/modelFile.js';
import { selectBackend } from '../src/node/selectBackend.js';
import { loadSplit } from '../cli/data.js';

const args = process.argv.slice(2);
const figureAt = args.indexOf('--figure');
const figure = figureAt >= 0 ? args.splice(figureAt, 2)[1] : null;
const noRestarts = args.includes('--no-restarts');
if (noRestarts) args.splice(args.indexOf('--no-restarts'), 1);
const noPaper = args.includes('--no-paper');
if (noPaper) args.splice(args.indexOf('--no-paper'), 1);
const masksAt = args.indexOf('--masks');
const maskList = masksAt >= 0 ? args.splice(masksAt, 2)[1].split(',') : [...MASK_NAMES];
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? args.splice(onlyAt, 2)[1].split(',') : null;
const [modelPath, nText = '100', stepsText] = args;
if (!modelPath) {
  process.stderr.write('usage: measure-inpaint.ts MODEL [N] [STEPS] [--figure out.png]\n');
  process.exit(2);
}
const N = Number(nText);
const steps = stepsText === undefined ? undefined : Number(stepsText);
const backend = await selectBackend('auto');
const model = deserializeModel(new Uint8Array(readFileSync(modelPath)), backend);
const [C, H, W] = model.config.shape ?? [1, 28, 28];
const D = model.dim;
const test = loadSplit('mnist', 'test', { validSize: 10000, limit: N });
const truth = new Float32Array(N * D);
dequantizeBatch(test, null, 0, N, 'center', new Rng(0), truth, model.range);
const train = loadSplit('mnist', 'train', { validSize: 10000, limit: 10000 });
const meanDigit = new Float32Array(D);
for (let i = 0; i < train.count; i++) for (let d = 0; d < D; d++) meanDigit[d] += (train.pixels[i * D + d] + 0.5) / 256 / train.count;

const recipes: Record<string, Omit<InpaintOptions, 'rng'>> = {
  'paper (SGD, raw gradient, full noise, from noise)': { method: 'sgd', gradient: 'raw', noise: 'paper', start: 'noise', steps: 1000, keep: 'last' },
  'old default (SGD, normalized gradient, noise annealed halfway, from noise)': { method: 'sgd', noise: 'anneal', start: 'noise', steps: 1000 },
  'Adam from noise': { start: 'noise' },
  'default (Adam from the mode)': {},
  'default, 3 restarts': { restarts: 3 },
};
if (noRestarts) delete recipes['default, 3 restarts'];
if (noPaper) delete recipes['paper (SGD, raw gradient, full noise, from noise)'];
if (only) for (const k of Object.keys(recipes)) if (!only.some((o) => k.startsWith(o))) delete recipes[k];
const isDefault = (label: string): boolean => label.startsWith('default (');

const tv = (img: Float32Array, o: number): number => {
  let s = 0;
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const k = o + c * H * W + y * W + x;
        if (x + 1 < W) s += Math.abs(img[k + 1] - img[k]);
        if (y + 1 < H) s += Math.abs(img[k + W] - img[k]);
      }
    }
  }
  return s;
};
let truthTv = 0;
for (let i = 0; i < N; i++) truthTv += tv(truth, i * D);

const rows: string[] = ['| mask | recipe | MSE hidden | TV / truth | mean LL (nats) |', '|---|---|---|---|---|'];
const pictures: { mask: string; masked: Float32Array; done: Float32Array }[] = [];
for (const name of maskList) {
  const mask = makeMask(name, H, W, 7);
  const hidden = mask.reduce((a, v) => a + v, 0) * C;
  const score = (x: Float32Array): [number, number, number] => {
    let se = 0;
    let t = 0;
    for (let i = 0; i < N; i++) {
      for (let d = 0; d < D; d++) if (mask[d % mask.length]) se += (x[i * D + d] - truth[i * D + d]) ** 2;
      t += tv(x, i * D);
    }
    const ll = model.logProb(x, N).reduce((a, v) => a + v, 0) / N;
    return [se / (N * hidden), t / truthTv, ll];
  };
  for (const [label, fill] of [['black', () => 0], ['mean digit', (d: number) => meanDigit[d]]] as const) {
    const x = Float32Array.from(truth);
    for (let i = 0; i < N; i++) for (let d = 0; d < D; d++) if (mask[d % mask.length]) x[i * D + d] = fill(d);
    const [mse, tvr, ll] = score(x);
    rows.push(`| ${name} | fill with ${label} | ${mse.toFixed(3)} | ${tvr.toFixed(2)} | ${ll.toFixed(0)} |`);
  }
  for (const [label, recipe] of Object.entries(recipes)) {
    const t0 = performance.now();
    const r = await inpaint(model, truth, N, mask, { ...recipe, ...(steps === undefined ? {} : { steps }), rng: new Rng(1), low: model.range[0], high: model.range[1] });
    const [mse, tvr, ll] = score(r.x);
    rows.push(`| ${name} | ${label} | ${mse.toFixed(3)} | ${tvr.toFixed(2)} | ${ll.toFixed(0)} |`);
    process.stderr.write(`${name}, ${label}: MSE ${mse.toFixed(3)}, TV ${tvr.toFixed(2)}, LL ${ll.toFixed(0)} (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
    if (figure && isDefault(label)) {
      const masked = Float32Array.from(truth.subarray(0, 8 * D));
      for (let i = 0; i < 8; i++) for (let d = 0; d < D; d++) if (mask[d % mask.length]) masked[i * D + d] = (model.range[0] + model.range[1]) / 2;
      pictures.push({ mask: name, masked, done: r.x.slice(0, 8 * D) });
    }
  }
}
process.stdout.write(rows.join('\n') + '\n');
if (figure) {
  // Per mask three rows of 8: originals, masked (hidden pixels mid-gray), completed.
  const tiles = new Float32Array(pictures.length * 3 * 8 * D);
  pictures.forEach((p, m) => {
    tiles.set(truth.subarray(0, 8 * D), (m * 3 + 0) * 8 * D);
    tiles.set(p.masked, (m * 3 + 1) * 8 * D);
    tiles.set(p.done, (m * 3 + 2) * 8 * D);
  });
  writeFileSync(figure, imageGridPng(tiles, pictures.length * 3 * 8, { channels: C, height: H, width: W }, { columns: 8, scale: 2, low: model.range[0], high: model.range[1] }));
  process.stderr.write(`wrote ${figure} (masks top to bottom: ${pictures.map((p) => p.mask).join(', ')})\n`);
}
backend.dispose();
