// `nice-flow inpaint`: fill hidden pixels by projected gradient ascent on log p (paper §5.2; recipes in src/model/inpaint.ts).
import { existsSync } from 'node:fs';
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { Rng } from '../src/core/Rng.js';
import { decodePngImage } from '../src/io/pngGrid.js';
import { inpaint } from '../src/model/inpaint.js';
import { overflowCause } from '../src/model/checkFinite.js';
import { hiddenCount, makeMask, MASK_NAMES, maskFromImage } from '../src/model/masks.js';
import { loadModel } from './evalSample.js';
import { parseInput } from './fsio.js';
import { imageShape, writeGrid, writeNpy } from './images.js';
import { checkLabel, checkRows, farImages, loadImages, type InputFlags } from './inputs.js';
import { createBar, yieldToEventLoop } from './progress.js';

export interface InpaintFlags extends InputFlags {
  model: string;
  mask: string;
  steps: number;
  method: 'adam' | 'sgd';
  learningRate: number;
  start: 'mode' | 'low' | 'noise';
  rawGradient: boolean;
  paper: boolean;
  noise: 'none' | 'anneal' | 'paper';
  restarts: number;
  keep: 'likeliest' | 'last';
  out?: string;
  npyOut?: string;
  json: boolean;
  batchSize: number;
  backend: string;
  quiet: boolean;
  /** A class-conditional model: the class to complete towards (data sets: default each image's own label). */
  label?: number;
}

export async function inpaintCommand(flags: InpaintFlags): Promise<void> {
  if (!flags.out && !flags.npyOut && !flags.json) throw new NiceFlowError('inpaint: give --out FILE.png, --npy FILE.npy and/or --json');
  if (flags.rawGradient && !flags.paper && flags.method !== 'sgd') {
    throw new NiceFlowError('inpaint: --raw-gradient changes the sgd step (--method sgd); Adam\'s steps do not depend on the gradient\'s scale');
  }
  const model = await loadModel(flags.model, flags.backend);
  if (model.config.data === 'continuous') throw new NiceFlowError(`inpaint: the model ${flags.model} is of continuous data; inpainting fills the hidden pixels of images`);
  const [C, H, W] = imageShape(model.config.shape, model.dim);
  // A built-in name wins over a file of that name; anything else that looks like a file is read as a mask PNG.
  const named = (MASK_NAMES as readonly string[]).includes(flags.mask);
  const mask = !named && (flags.mask.toLowerCase().endsWith('.png') || existsSync(flags.mask))
    ? maskFromImage(parseInput(flags.mask, 'mask PNG', decodePngImage), H, W, `mask ${flags.mask}`)
    : makeMask(flags.mask, H, W, flags.seed);
  const loaded = loadImages(flags, model, 10);
  const { images, n } = loaded;
  // A class-conditional model completes towards a class: --label, else each data-set image's own label.
  const K = checkLabel(model, flags.label, flags.model);
  if (K && flags.label === undefined && !loaded.labels) throw new NiceFlowError(`the model is class-conditional: give the class to complete towards with --label (0 to ${K - 1})`);
  const labels = K ? (flags.label !== undefined ? new Array<number>(n).fill(flags.label) : loaded.labels!) : undefined;
  const D = model.dim;
  const out = new Float32Array(n * D);
  const rng = new Rng(flags.seed);
  const batches = Math.ceil(n / flags.batchSize);
  const bar = createBar('inpainting |{bar}| step {value}/{total} | mean LL {ll} nats | ETA {eta_formatted}', flags.steps * batches, flags.quiet, { ll: '-' });
  let before = 0, after = 0;
  for (let start = 0; start < n; start += flags.batchSize) {
    const m = Math.min(flags.batchSize, n - start);
    const done = (start / flags.batchSize) * flags.steps;
    const r = await inpaint(model, images.subarray(start * D, (start + m) * D), m, mask, {
      steps: flags.steps, rng, low: model.range[0], high: model.range[1], restarts: flags.restarts,
      ...(labels ? { labels: labels.slice(start, start + m) } : {}),
      ...(flags.paper
        ? { method: 'sgd', gradient: 'raw', noise: 'paper', start: 'noise', keep: 'last' }
        : { method: flags.method, learningRate: flags.learningRate, start: flags.start, noise: flags.noise, gradient: flags.rawGradient ? 'raw' : 'normalized', keep: flags.keep }),
      onStep: async (i, ll) => {
        bar.update(done + i + 1, { ll: ll.toFixed(1) });
        await yieldToEventLoop();
      },
    });
    out.set(r.x, start * D);
    before += r.meanLLBefore * m;
    after += r.meanLLAfter * m;
  }
  bar.stop();
  const check = { source: loaded.source, noun: loaded.noun, ids: loaded.ids, verb: 'inpainted', far: farImages(loaded, model) };
  checkRows(out, n, D, check);
  if (!Number.isFinite(before) || !Number.isFinite(after)) {
    throw new NiceFlowError(`${loaded.source}: the mean log-likelihood is ${(before / n).toPrecision(3)} → ${(after / n).toPrecision(3)} nats, not finite: ${overflowCause(check)}`);
  }
  if (flags.out) {
    // Rows: originals, masked (hidden pixels mid-gray), inpainted.
    const masked = Float32Array.from(images.subarray(0, n * D));
    for (let k = 0; k < n; k++) for (let d = 0; d < D; d++) if (mask[d % (H * W)]) masked[k * D + d] = (model.range[0] + model.range[1]) / 2;
    const grid = new Float32Array(3 * n * D);
    grid.set(images.subarray(0, n * D));
    grid.set(masked, n * D);
    grid.set(out, 2 * n * D);
    writeGrid(flags.out, grid, 3 * n, [C, H, W], n, model.range);
  }
  if (flags.npyOut) writeNpy(flags.npyOut, out, n);
  const hidden = hiddenCount(mask) * C;
  console.log(`inpainted ${n} images (${hidden} of ${D} values hidden, mask ${flags.mask}, ${flags.steps} steps): ` +
    `mean log-likelihood ${(before / n).toFixed(2)} → ${(after / n).toFixed(2)} nats`);
  if (flags.json) console.log(JSON.stringify({ n, mask: flags.mask, hidden, steps: flags.steps, method: flags.paper ? 'sgd' : flags.method, start: flags.paper ? 'noise' : flags.start, keep: flags.paper ? 'last' : flags.keep, meanLLBefore: before / n, meanLLAfter: after / n }));
}
