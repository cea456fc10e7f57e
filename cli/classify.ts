// `nice-flow classify`: a class-conditional model as a classifier (Bayes' rule over p(x | y) p(y)).
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { confusionPng } from '../src/io/confusionPng.js';
import { loadSplit } from './data.js';
import { type EvalFlags, loadModel, runEval } from './evalSample.js';
import { checkLabel } from './inputs.js';
import { writeAtomic } from './fsio.js';

export interface ClassifyFlags extends Omit<EvalFlags, 'json'> {
  json: boolean;
  /** Confusion matrix PNG. */
  out?: string;
}

export async function classifyCommand(flags: ClassifyFlags): Promise<void> {
  const model = await loadModel(flags.model, flags.backend);
  checkLabel(model, undefined, flags.model, 'classify');
  const ds = loadSplit(flags.data, flags.split, { validSize: flags.validSize, limit: flags.limit, labels: true });
  if (ds.dim !== model.dim) throw new NiceFlowError(`${flags.data} has ${ds.dim} values per image, the model ${flags.model} expects ${model.dim}`);
  const r = await runEval(model, ds, flags);
  const confusion = r.confusion!;
  const perClass = confusion.map((row, k) => row[k] / Math.max(1, row.reduce((a, b) => a + b, 0)));
  console.log(`accuracy ${(100 * r.accuracy!).toFixed(2)}% on ${r.n} images of the ${flags.split} split (Bayes' rule with the model's class prior, ${flags.dequantize} dequantization${flags.draws > 1 ? `, ${flags.draws} draws per image` : ''})`);
  console.log(`per class: ${perClass.map((a, k) => `${k}: ${(100 * a).toFixed(1)}%`).join(', ')}`);
  console.log('confusion (rows: true class, columns: predicted):');
  const w = Math.max(4, String(Math.max(...confusion.flat())).length + 1);
  console.log(' '.repeat(3) + confusion.map((_, k) => String(k).padStart(w)).join(''));
  confusion.forEach((row, k) => console.log(String(k).padStart(2) + ' ' + row.map((v) => String(v).padStart(w)).join('')));
  if (flags.out) {
    writeAtomic(flags.out, confusionPng(confusion), 'PNG');
    console.log(`wrote the confusion matrix to ${flags.out}`);
  }
  if (flags.json) {
    console.log(JSON.stringify({ accuracy: r.accuracy, n: r.n, bitsPerDim: r.bitsPerDim, logLikelihood: r.logLikelihood,
      conditionalLogLikelihood: r.conditionalLogLikelihood, conditionalBitsPerDim: r.conditionalBitsPerDim, confusion, split: flags.split,
      dequantize: flags.dequantize, draws: flags.draws, model: flags.model, data: flags.data, seconds: r.seconds }));
  }
}
