// The studio's model jobs: evaluate, sample, log-likelihood, inpaint, interpolate, encode, decode and test images,
// each on the active model (held for the job's length) through the library's public API.
import { bitsPerDim, classLogLikelihoods, classLogPrior, classPosterior, evaluate, inpaint, interpolate, NiceFlowError, oneHot, predictClasses, restyle, Rng, type FloatArray, type NiceModel } from '../../../src/index.js';
import type { CallArgs, CallResult } from '../protocol.js';
import { loadSplit } from './data.js';
import { dataset, withModel } from './models.js';
import { imageShape, nonFinite, toData, toDisplay } from './modelViews.js';
import { checkCancel, progress, yieldNow } from './runtime.js';

type Job<K extends JobType> = (args: CallArgs<K>, id: number) => Promise<CallResult<K>>;
type JobType = 'evaluate' | 'sample' | 'loglik' | 'inpaint' | 'restyle' | 'interpolate' | 'encode' | 'decode' | 'test-images';

/** A class-conditional model's class for one image: `label` when given (checked), else the likeliest class. */
function classFor(model: NiceModel, x: FloatArray, label: number | undefined): number {
  const K = model.config.classes;
  if (!K) throw new NiceFlowError('this model is not class-conditional: it has no classes');
  if (label !== undefined) {
    if (!Number.isSafeInteger(label) || label < 0 || label >= K) throw new NiceFlowError(`the class must be 0 to ${K - 1}, got ${label}`);
    return label;
  }
  return predictClasses(model, x, 1)[0];
}

/** The request handlers of the model jobs (worker.ts routes requests to them). */
export const modelJobs: { [K in JobType]: Job<K> } = {
  evaluate: (args, id) => withModel(id, async (model) => {
    const entry = dataset(args.dataset);
    let lastPost = 0;
    const test = await loadSplit(entry, 'test', {}, (received, total) => {
      const now = performance.now();
      if (now - lastPost < 100) return;
      lastPost = now;
      progress(id, received, total, `downloading ${entry.label}`);
    });
    checkCancel(id);
    if (test.dim !== model.dim) {
      throw new NiceFlowError(`${entry.label} images have ${test.dim} values, this model's have ${model.dim}: evaluate it with the CLI on its own data`);
    }
    // The CLI's `eval` defaults: uniform dequantization with seed 0, so the numbers match `nice-flow eval`.
    const r = await evaluate(model, test, {
      rng: new Rng(0), dequantize: 'uniform', batchSize: 200,
      onBatch: async (done) => {
        progress(id, done, test.count, `evaluating on ${entry.label} test`);
        await yieldNow();
        checkCancel(id);
      },
    });
    if (!Number.isFinite(r.logLikelihood)) throw new NiceFlowError(`the test log-likelihood is ${r.logLikelihood}: the model gives some test image no finite density`);
    return r;
  }),

  sample: (args, id) => withModel(id, (model) => {
    if (!Number.isSafeInteger(args.n) || args.n < 1 || args.n > 400) throw new NiceFlowError(`the number of samples must be 1–400, got ${args.n}`);
    if (!(Number.isFinite(args.temperature) && args.temperature >= 0 && args.temperature <= 5)) {
      throw new NiceFlowError(`the temperature must be a number from 0 to 5, got ${args.temperature}`);
    }
    if (!Number.isSafeInteger(args.seed) || args.seed < 0) throw new NiceFlowError(`the seed must be a whole number ≥ 0, got ${args.seed}`);
    const K = model.config.classes;
    if (args.label !== undefined && (!K || !Number.isSafeInteger(args.label) || args.label < 0 || args.label >= K)) {
      throw new NiceFlowError(K ? `the class must be 0 to ${K - 1}, got ${args.label}` : 'this model is not class-conditional: it draws no chosen class');
    }
    // A class-conditional model: the chosen class, or the grid's rows through the classes in order.
    const labels = K ? Array.from({ length: args.n }, (_, i) => args.label ?? Math.floor((i * K) / args.n)) : null;
    const x = model.sample(args.n, new Rng(args.seed), args.temperature, labels ? oneHot(labels, K!) : undefined);
    return { images: toDisplay(model, x, args.n * model.dim), warning: nonFinite(x, args.n, model.dim, 'samples') };
  }),

  loglik: (args, id) => withModel(id, (model) => {
    const x = toData(model, args.image, 1);
    if (model.config.classes) {
      // The marginal log Σ_y p(x | y) p(y) and what the model thinks the drawing is, p(y | x).
      const post = classPosterior(classLogLikelihoods(model, x, 1), 1, classLogPrior(model));
      const lp = post.marginal[0];
      return { logLikelihood: lp, bitsPerDim: bitsPerDim(lp, model.dim, model.range), classes: Array.from(post.posterior) };
    }
    const lp = model.logProb(x, 1)[0];
    return { logLikelihood: lp, bitsPerDim: bitsPerDim(lp, model.dim, model.range) };
  }),

  inpaint: (args, id) => withModel(id, async (model) => {
    const D = model.dim;
    const [, H, W] = imageShape(model);
    if (args.mask.length !== H * W) throw new NiceFlowError(`the mask has ${args.mask.length} pixels, the model's images ${H}×${W}`);
    if (!args.mask.some((v) => v === 1)) throw new NiceFlowError('nothing is marked unknown: paint the unknown pixels or choose a mask');
    const x = toData(model, args.image, 1);
    // A class-conditional model completes towards the chosen class, or the one it thinks the image is.
    const label = model.config.classes ? classFor(model, x, args.label) : undefined;
    if (args.label !== undefined && label === undefined) throw new NiceFlowError('this model is not class-conditional: it completes towards no class');
    // inpaint evaluates the gradient at its current images every step: a view of them, for the animation.
    let current: FloatArray | null = null;
    const watched = Object.create(model, {
      gradLogProb: {
        value: (xs: FloatArray, n: number, weight: number, paramGrads: boolean, context?: FloatArray) => {
          current = xs;
          return model.gradLogProb(xs, n, weight, paramGrads, context);
        },
      },
    }) as NiceModel;
    let lastPost = 0;
    let steps = 0;
    const [lo, hi] = model.range;
    const r = await inpaint(watched, x, 1, args.mask, {
      rng: new Rng(args.seed), low: lo, high: hi,
      ...(label !== undefined ? { labels: [label] } : {}),
      onStep: async (step, meanLL) => {
        steps = step + 1;
        const now = performance.now();
        if (now - lastPost > 40 && current) {
          lastPost = now;
          progress(id, steps, null, 'completing', { image: toDisplay(model, current, D), value: meanLL });
        }
        await yieldNow();
        checkCancel(id);
      },
    });
    return { image: toDisplay(model, r.x, D), before: r.meanLLBefore, after: r.meanLLAfter, steps, ...(label !== undefined ? { label } : {}) };
  }),

  restyle: (args, id) => withModel(id, (model) => {
    const x = toData(model, args.image, 1);
    const label = classFor(model, x, args.label);
    const rows = restyle(model, x, 1, [label]);
    const n = rows.length / model.dim;
    return { images: toDisplay(model, rows, n * model.dim), label };
  }),

  interpolate: (args, id) => withModel(id, (model) => {
    if (!Number.isSafeInteger(args.steps) || args.steps < 2 || args.steps > 200) throw new NiceFlowError(`steps must be 2–200, got ${args.steps}`);
    const [lo, hi] = model.range;
    const map = (img: Float32Array): Float32Array => {
      if (img.length !== model.dim) throw new NiceFlowError(`an end point has ${img.length} values, the model's images ${model.dim}`);
      return Float32Array.from(img, (v) => lo + (hi - lo) * v);
    };
    const a = map(args.a), b = map(args.b);
    // A class-conditional model: each end under the class it looks like, the class moving along the line too.
    const K = model.config.classes;
    const contexts = K ? oneHot([classFor(model, a, undefined), classFor(model, b, undefined)], K) : undefined;
    const strip = interpolate(model, a, b, args.steps, contexts);
    return { images: toDisplay(model, strip, args.steps * model.dim), warning: nonFinite(strip, args.steps, model.dim, 'points of the line') };
  }),

  encode: (args, id) => withModel(id, (model) => {
    const x = toData(model, args.image, 1);
    // A class-conditional model encodes under the given class, else the class the image looks like.
    const K = model.config.classes;
    const label = K ? classFor(model, x, args.label) : undefined;
    const { h } = model.encode(x, 1, K ? oneHot([label!], K) : undefined);
    return { code: Float32Array.from(h), ...(label !== undefined ? { label } : {}) };
  }),

  decode: (args, id) => withModel(id, (model) => {
    if (args.code.length !== model.dim) throw new NiceFlowError(`a latent code of ${args.code.length} values, the model's have ${model.dim}`);
    if (!args.code.every(Number.isFinite)) throw new NiceFlowError('the latent code has a non-finite value');
    const K = model.config.classes;
    if (K && args.label === undefined) throw new NiceFlowError('this model is class-conditional: choose the class to decode as');
    if (K) classFor(model, args.code, args.label); // checks the class
    const x = model.decode(args.code, 1, K ? oneHot([args.label!], K) : undefined);
    return { image: toDisplay(model, x, model.dim), warning: nonFinite(x, 1, model.dim, 'decoded image') };
  }),

  async 'test-images'(args) {
    const entry = dataset(args.dataset);
    const test = await loadSplit(entry, 'test');
    const D = test.dim;
    const out = new Float32Array(args.indices.length * D);
    args.indices.forEach((i, k) => {
      if (!Number.isSafeInteger(i) || i < 0 || i >= test.count) throw new NiceFlowError(`test image ${i} does not exist (${entry.label} has 0–${test.count - 1})`);
      for (let d = 0; d < D; d++) out[k * D + d] = (test.pixels[i * D + d] + 0.5) / 256;
    });
    return { images: out, count: test.count, shape: test.shape };
  },
};
