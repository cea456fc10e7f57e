// `nice-flow eval` and `nice-flow sample`.
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { Rng } from '../src/core/Rng.js';
import type { Dequantize } from '../src/data/dequantize.js';
import { deserializeModel } from '../src/model/modelFile.js';
import type { NiceModel } from '../src/model/NiceModel.js';
import { isPointDataset, type Dataset } from '../src/data/Dataset.js';
import { oneHot } from '../src/model/oneHot.js';
import { evaluate, type EvalResult, type PointEvalResult } from '../src/train/evaluate.js';
import { selectBackend } from '../src/node/selectBackend.js';
import { loadDataSplit, type Split } from './data.js';
import { parseInput } from './fsio.js';
import { checkPictures, imageShape, isNpyPath, writeGrid, writeNpy } from './images.js';
import { checkDataForModel, checkLabel, checkRows } from './inputs.js';
import { createBar, threadCount, yieldToEventLoop } from './progress.js';

/** Loads a weight file on the named backend. */
export async function loadModel(path: string, backendName: string): Promise<NiceModel> {
  const backend = await selectBackend(backendName);
  return parseInput(path, 'model file', (bytes) => deserializeModel(bytes, backend, `model file ${path}`));
}

export interface EvalFlags {
  model: string;
  data: string;
  split: Split;
  limit?: number;
  validSize: number;
  dequantize: Dequantize;
  seed: number;
  /** Dequantization draws per image (evaluate's `draws`). */
  draws: number;
  batchSize: number;
  json: boolean;
  backend: string;
  quiet: boolean;
}

export async function evalCommand(flags: EvalFlags): Promise<void> {
  const model = await loadModel(flags.model, flags.backend);
  // A class-conditional model is evaluated with the images' labels (the conditional likelihood and the classifier).
  // Without labels (a .npy, a folder of PNGs) it still has its marginal log-likelihood.
  const ds = loadDataSplit(flags.data, flags.split, { validSize: flags.validSize, limit: flags.limit, labels: model.config.classes !== undefined && 'if-present' });
  checkDataForModel(ds, model, flags.data, flags.model);
  const r = await runEval(model, ds, flags);
  const what = model.config.classes ? 'marginal log-likelihood log Σ_y p(x|y)p(y)' : 'log-likelihood';
  if (r.bitsPerDim === null) {
    // Continuous data: a density of real values, in nats; bits/dim (of 256-level pixels) do not apply.
    console.log(`${flags.split} ${what}: ${r.logLikelihood.toFixed(4)} ± ${r.stdError.toFixed(4)} nats per row ` +
      `over ${r.n} rows of continuous data, ${model.backend.name} backend (${threadCount(model.backend)})`);
  } else {
    console.log(`${flags.split} ${what}: ${r.logLikelihood.toFixed(2)} ± ${r.stdError.toFixed(2)} nats per image ` +
      `(${r.bitsPerDim.toFixed(4)} bits/dim) over ${r.n} images, ${flags.dequantize} dequantization, ${model.backend.name} backend (${threadCount(model.backend)})`);
  }
  if (model.config.classes !== undefined && !ds.labels) {
    console.log(`${flags.data} has no class labels: the marginal only (the log-likelihood given the label and the accuracy need a labels file)`);
  }
  if (r.conditionalLogLikelihood !== undefined) {
    console.log(`${flags.split} log-likelihood given the true label: ${r.conditionalLogLikelihood.toFixed(2)} nats (${r.conditionalBitsPerDim!.toFixed(4)} bits/dim); ` +
      `likelihood classifier accuracy ${(100 * r.accuracy!).toFixed(2)}%`);
  }
  if (flags.json) {
    console.log(JSON.stringify({ logLikelihood: r.logLikelihood, bitsPerDim: r.bitsPerDim, stdError: r.stdError, n: r.n, split: flags.split,
      ...(r.conditionalLogLikelihood !== undefined ? { conditionalLogLikelihood: r.conditionalLogLikelihood, conditionalBitsPerDim: r.conditionalBitsPerDim, accuracy: r.accuracy } : {}),
      ...(r.bitsPerDim === null ? { continuous: true } : { dequantize: flags.dequantize, draws: flags.draws }), model: flags.model, data: flags.data, seconds: r.seconds }));
  }
}

/** `evaluate` with a progress bar; a non-finite result is an error naming the model and the data. */
export async function runEval(model: NiceModel, ds: Dataset, flags: Pick<EvalFlags, 'model' | 'data' | 'split' | 'seed' | 'draws' | 'dequantize' | 'batchSize' | 'quiet'>): Promise<(EvalResult | PointEvalResult) & { seconds: number }> {
  const passes = model.config.classes ? ` (${model.config.classes} passes: one per class)` : '';
  const points = isPointDataset(ds);
  const bar = createBar(`evaluating ${flags.split}${passes} |{bar}| {value}/{total} ${points ? 'rows' : 'images'} | ETA {eta_formatted}`, ds.count, flags.quiet);
  const t0 = performance.now();
  let r: EvalResult | PointEvalResult;
  try {
    r = await evaluate(model, ds, { rng: new Rng(flags.seed), dequantize: flags.dequantize, draws: flags.draws, batchSize: flags.batchSize, onBatch: async (done) => {
      bar.update(done);
      await yieldToEventLoop();
    } });
  } finally {
    // Also when evaluate refuses: a bar left running keeps the process alive after the error is printed.
    bar.stop();
  }
  // The images are dequantized pixels, inside the data range: a non-finite result is the model's doing. Continuous
  // rows may also lie far from anything the model saw.
  if (!Number.isFinite(r.logLikelihood) || !Number.isFinite(r.stdError)) {
    throw new NiceFlowError(`model file ${flags.model}: the log-likelihood of the ${flags.split} split of ${flags.data} is ${r.logLikelihood} ± ${r.stdError}, ` +
      (points ? "not finite: the model's weights overflow float32 on these rows (some may lie far from the data it was trained on)"
        : "not finite: the model's weights overflow float32 on these images, though they are within its data range"));
  }
  return { ...r, seconds: (performance.now() - t0) / 1000 };
}

export interface SampleFlags {
  model: string;
  n: number;
  out?: string;
  npy?: string;
  seed: number;
  temperature: number;
  columns?: number;
  backend: string;
  /** A class-conditional model: draw this class (else one row of samples per class). */
  label?: number;
}

export async function sampleCommand(flags: SampleFlags): Promise<void> {
  if (!flags.out && !flags.npy) throw new NiceFlowError('sample: give --out FILE.png (or FILE.npy) and/or --npy FILE.npy');
  const model = await loadModel(flags.model, flags.backend);
  // --out FILE.npy writes the rows (what a model of continuous data gives; any model's raw samples); else a picture.
  const picture = flags.out !== undefined && !isNpyPath(flags.out);
  if (picture) checkPictures(model, `--out ${flags.out}`, flags.model, '--out FILE.npy');
  const K = checkLabel(model, flags.label, flags.model);
  // A class-conditional model without --label: one row per class, --columns (8) samples each.
  const perClass = K && flags.label === undefined;
  const columns = perClass ? (flags.columns ?? 8) : flags.columns;
  const n = perClass ? K * columns! : flags.n;
  const labels = K ? Int32Array.from({ length: n }, (_, i) => (perClass ? Math.floor(i / columns!) : flags.label!)) : undefined;
  const x = model.sample(n, new Rng(flags.seed), flags.temperature, labels && oneHot(labels, K!));
  flags = { ...flags, n, columns };
  checkRows(x, flags.n, model.dim, {
    source: `samples at temperature ${flags.temperature}`, noun: 'sample', verb: 'decoded',
    cause: flags.temperature > 1 ? "the temperature puts the prior's draws out of the model's reach (float32 overflows)" : "the model's weights overflow float32 on the prior's draws",
  });
  if (flags.npy) writeNpy(flags.npy, x, flags.n);
  if (flags.out && !picture) writeNpy(flags.out, x, flags.n);
  if (flags.out && picture) {
    writeGrid(flags.out, x, flags.n, imageShape(model.config.shape, model.dim), flags.columns, model.range);
  }
  const which = K ? (perClass ? `, one row of ${columns} per class` : `, class ${flags.label}`) : '';
  console.log(`wrote ${flags.n} samples (temperature ${flags.temperature}${which})${flags.out ? ` to ${flags.out}` : ''}${flags.npy ? `${flags.out ? ' and' : ''} to ${flags.npy}` : ''}`);
}
