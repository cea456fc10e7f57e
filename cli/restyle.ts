// `nice-flow restyle`: each image written as every class (encode under its own label, decode under each other).
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { predictClasses } from '../src/model/classLikelihoods.js';
import { restyle } from '../src/model/restyle.js';
import { loadModel } from './evalSample.js';
import { checkPictures, imageShape, writeGrid, writeNpy } from './images.js';
import { checkLabel, checkRows, farImages, type InputFlags, loadImages } from './inputs.js';

export interface RestyleFlags extends InputFlags {
  model: string;
  out?: string;
  npyOut?: string;
  backend: string;
  /** The class of the given images (--image, --npy); without it the model's own classification. */
  label?: number;
}

export async function restyleCommand(flags: RestyleFlags): Promise<void> {
  if (!flags.out && !flags.npyOut) throw new NiceFlowError('restyle: give --out FILE.png and/or --npy FILE.npy');
  const model = await loadModel(flags.model, flags.backend);
  const K = checkLabel(model, flags.label, flags.model, 'restyle');
  if (flags.out) checkPictures(model, `--out ${flags.out}`, flags.model, '--npy FILE.npy');
  const loaded = loadImages(flags, model, 10);
  const { images, n } = loaded;
  // Each image's own class: --label, the data set's label, or what the model classifies it as.
  let labels: ArrayLike<number>;
  let said: string;
  if (flags.label !== undefined) {
    labels = new Array<number>(n).fill(flags.label);
    said = `as class ${flags.label} (--label)`;
  } else if (loaded.labels) {
    labels = loaded.labels;
    said = 'under their labels';
  } else {
    labels = predictClasses(model, images, n);
    said = `under the classes the model gives them (${Array.from(labels).join(', ')}; --label sets one)`;
  }
  const rows = restyle(model, images, n, labels);
  checkRows(rows, n * (K + 1), model.dim, { source: loaded.source, noun: 'output', verb: 'restyled', far: farImages(loaded, model) });
  if (flags.npyOut) writeNpy(flags.npyOut, rows, n * (K + 1));
  if (flags.out) writeGrid(flags.out, rows, n * (K + 1), imageShape(model.config.shape, model.dim), K + 1, model.range);
  console.log(`restyled ${n} images of ${loaded.source}, encoded ${said}: each row is the image, then it written as 0 … ${K - 1}` +
    `${flags.out ? `; wrote ${flags.out}` : ''}${flags.npyOut ? `; wrote ${flags.npyOut}` : ''}`);
}
