// `nice-flow encode`, `decode`, `interpolate` and `spectrum`: working in the latent space of an exact bijection.
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { spectrumPng } from '../src/io/spectrumPng.js';
import { codesFarOutside } from '../src/model/checkFinite.js';
import type { NiceModel } from '../src/model/NiceModel.js';
import { oneHot } from '../src/model/oneHot.js';
import { interpolate } from '../src/model/interpolate.js';
import { scaleSpectrum } from '../src/model/scaleSpectrum.js';
import { loadModel } from './evalSample.js';
import { writeAtomic } from './fsio.js';
import { checkPictures, imageShape, writeGrid, writeNpy } from './images.js';
import { checkLabel, checkRows, farImages, loadImages, readRows, type InputFlags } from './inputs.js';

/**
 * The context of n rows for a class-conditional model: --label for every row, else the rows' own labels (images
 * from a data set); undefined for an unconditional model. A NiceFlowError when neither is there, or --label is given
 * to an unconditional model.
 */
function labelContext(model: NiceModel, n: number, label: number | undefined, own: number[] | undefined, what: string, modelPath: string): Float32Array | undefined {
  const K = checkLabel(model, label, modelPath);
  if (!K) return undefined;
  if (label !== undefined) return oneHot(new Array<number>(n).fill(label), K) as Float32Array;
  if (own) return oneHot(own, K) as Float32Array;
  throw new NiceFlowError(`the model is class-conditional: give the class of the ${what} with --label (0 to ${K - 1})`);
}

export async function encodeCommand(flags: InputFlags & { model: string; out: string; backend: string; label?: number }): Promise<void> {
  const model = await loadModel(flags.model, flags.backend);
  const loaded = loadImages(flags, model, Number.MAX_SAFE_INTEGER);
  const { images, n } = loaded;
  const { h } = model.encode(images, n, labelContext(model, n, flags.label, loaded.labels, 'images', flags.model));
  checkRows(h, n, model.dim, { source: loaded.source, noun: loaded.noun, ids: loaded.ids, verb: 'encoded', far: farImages(loaded, model) });
  writeNpy(flags.out, h, n);
  console.log(`encoded ${n} ${model.config.data === 'continuous' ? 'rows' : 'images'} to ${flags.out} (float32 [${n}, ${model.dim}])`);
}

export async function decodeCommand(flags: { model: string; codes: string; out?: string; npy?: string; backend: string; label?: number }): Promise<void> {
  if (!flags.out && !flags.npy) throw new NiceFlowError('decode: give --out FILE.png and/or --npy FILE.npy');
  const model = await loadModel(flags.model, flags.backend);
  if (flags.out) checkPictures(model, `--out ${flags.out}`, flags.model, '--npy FILE.npy');
  const D = model.dim;
  const { data, n } = readRows(flags.codes, D, 'codes');
  const x = model.decode(data, n, labelContext(model, n, flags.label, undefined, 'codes', flags.model));
  checkRows(x, n, D, { source: `codes ${flags.codes}`, verb: 'decoded', far: codesFarOutside(data, n, D, model.prior) });
  if (flags.npy) writeNpy(flags.npy, x, n);
  if (flags.out) writeGrid(flags.out, x, n, imageShape(model.config.shape, D), undefined, model.range);
  console.log(`decoded ${n} codes${flags.out ? ` to ${flags.out}` : ''}${flags.npy ? ` to ${flags.npy}` : ''}`);
}

export async function interpolateCommand(flags: InputFlags & { model: string; from: number; to: number; steps: number; out?: string; npyOut?: string; backend: string; label?: number }): Promise<void> {
  if (!flags.out && !flags.npyOut) throw new NiceFlowError('interpolate: give --out FILE.png and/or --npy FILE.npy');
  const model = await loadModel(flags.model, flags.backend);
  if (flags.out) checkPictures(model, `--out ${flags.out}`, flags.model, '--npy FILE.npy');
  const loaded = loadImages({ ...flags, index: [flags.from, flags.to] }, model, 2, (k) => (k === 0 ? '--from' : '--to'));
  const { images } = loaded;
  const D = model.dim;
  // A class-conditional model: both images under --label, or each under its own label (the label moves along too).
  const contexts = labelContext(model, 2, flags.label, loaded.labels, 'images', flags.model);
  const x = interpolate(model, images.subarray(0, D), images.subarray(D, 2 * D), flags.steps, contexts);
  // Its two images come from a data set, so they are in the data range: only the model can overflow.
  checkRows(x, flags.steps, D, { source: `interpolation from image ${flags.from} to ${flags.to} of ${loaded.source}`, noun: 'step', verb: 'decoded' });
  if (flags.npyOut) writeNpy(flags.npyOut, x, flags.steps);
  if (flags.out) writeGrid(flags.out, x, flags.steps, imageShape(model.config.shape, D), flags.steps, model.range);
  console.log(`interpolated ${model.config.data === 'continuous' ? 'rows' : 'images'} ${flags.from} → ${flags.to} of the ${flags.split} split in ${flags.steps} steps`);
}

export async function spectrumCommand(flags: { model: string; out?: string; json: boolean; backend: string }): Promise<void> {
  if (!flags.out && !flags.json) throw new NiceFlowError('spectrum: give --out FILE.png and/or --json');
  const model = await loadModel(flags.model, flags.backend);
  const spectrum = scaleSpectrum(model);
  if (flags.out) writeAtomic(flags.out, spectrumPng(spectrum), 'PNG');
  const top = Array.from(spectrum.subarray(0, 5), (v) => v.toPrecision(3)).join(', ');
  console.log(`spectrum exp(−s) of ${spectrum.length} dimensions: largest ${top}; smallest ${spectrum[spectrum.length - 1].toPrecision(3)}`);
  if (flags.json) console.log(JSON.stringify({ dim: spectrum.length, spectrum: Array.from(spectrum) }));
}
