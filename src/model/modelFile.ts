import type { Backend } from '../core/Backend.js';
import { NiceFlowError } from '../core/NiceFlowError.js';
import { readSafetensors, writeSafetensors, type TensorF32 } from '../io/safetensors.js';
import { Whitening, WHITENING_TENSORS } from '../flows/Whitening.js';
import { checkFiniteTensor } from './checkFinite.js';
import { type NiceConfig, validateConfig } from './NiceConfig.js';
import { countParams, NiceModel } from './NiceModel.js';

// Weight files follow docs/weight-files.md: one safetensors file, torch.nn.Linear layouts
// (`couplings.{k}.layers.{j}.weight` [out, in], `.bias` [out]) or, for `network: conv`, torch.nn.Conv2d layouts
// (`weight` [out, in, k, k]), `scaling.scale` [D], and the config as JSON in `__metadata__.config`, so a PyTorch
// state_dict of the same architecture loads unchanged.

/** Weight-file name of the whitening layer's log|det W| ([1]); without it, loading recomputes it by LU. */
export const WHITENING_LOGDET = 'whitening.logdet';

/** The model's parameters (and a whitening layer's fixed tensors) as float32 tensors by weight-file name. */
export function modelTensors(model: NiceModel): Record<string, TensorF32> {
  const out: Record<string, TensorF32> = {};
  for (const p of [...model.params, ...model.buffers]) {
    out[p.name] = { shape: p.shape, data: p.data instanceof Float32Array ? p.data : Float32Array.from(p.data) };
  }
  // The whitening layer's fixed tensors (not parameters: never trained) travel with the weights, with its
  // log|det W| so that loading skips an O(D³) LU (≈ 15 s at D = 3072); float32 keeps it to ~1e-4 nats.
  const w = model.whitening;
  if (w) {
    for (const t of w.tensors()) out[t.name] = { shape: t.shape, data: t.data };
    out[WHITENING_LOGDET] = { shape: [1], data: Float32Array.of(w.logDet) };
  }
  return out;
}

/** Options of {@link serializeModel}. */
export interface SerializeModelOptions {
  /**
   * Store the trained parameters as F16 (IEEE half, rounded to nearest even): about half the file. The fixed
   * tensors stay F32, exactly: the buffers (a permutation's indices, ActNorm's flag) and the whitening layer's mean,
   * matrix, inverse and log-det (half would break W·W⁻¹ = I beyond the loader's check and its log-det by nats).
   * A parameter beyond half's range (|w| ≥ 65520) is refused with a NiceFlowError naming it.
   */
  float16?: boolean;
}

/**
 * A weight file for the model; `metadata` adds entries beside `config`. With `{ float16: true }` the parameters are
 * stored as F16: {@link deserializeModel} reads either, and a model read back from F16 has exactly the float32
 * parameters rounded to half.
 */
export function serializeModel(model: NiceModel, metadata: Record<string, string> = {}, options: SerializeModelOptions = {}): Uint8Array {
  const tensors = modelTensors(model);
  const meta = { ...metadata, config: JSON.stringify(configForFile(model.config)) };
  if (!options.float16) return writeSafetensors(tensors, meta);
  const params = new Set(model.params.map((p) => p.name));
  return writeSafetensors(tensors, meta, { dtype: (name) => (params.has(name) ? 'F16' : 'F32') });
}

/**
 * The config as stored: `data`, `shape`, `range`, `whiten`, `classes`, `classPrior` and `context` only when set, `network` only when it is not the default `mlp`;
 * a described flow as its `flow` list (complete specs) in place of the flat keys.
 */
function configForFile(config: NiceConfig): NiceConfig {
  const { dim, couplings, hidden, depth, prior, partition, coupling, shape, network, range, whiten, flow, classes, classPrior, context, conditioning, data } = config;
  const out: NiceConfig = flow ? { dim, prior, flow } : { dim, couplings, hidden, depth, prior, partition, coupling };
  if (data) out.data = data;
  if (shape) out.shape = shape;
  if (network && network !== 'mlp') out.network = network;
  if (range) out.range = range;
  if (whiten) out.whiten = whiten;
  if (classes !== undefined) out.classes = classes;
  if (classPrior) out.classPrior = classPrior;
  if (context !== undefined) out.context = context;
  if (conditioning) out.conditioning = conditioning;
  return out;
}

/** Reads the config stored in a weight file's metadata. */
export function configFromMetadata(metadata: Record<string, string>, what: string): NiceConfig {
  if (metadata.config === undefined) throw new NiceFlowError(`${what}: no model config in the file's __metadata__ (not a nice-flow model?)`);
  let raw: unknown;
  try {
    raw = JSON.parse(metadata.config);
  } catch {
    throw new NiceFlowError(`${what}: the model config in __metadata__ is not valid JSON`);
  }
  try {
    return validateConfig(raw);
  } catch (e) {
    throw new NiceFlowError(`${what}: ${(e as Error).message}`);
  }
}

/**
 * Copies tensors into a model's parameters and fixed buffers, checking that every tensor is there with the config's
 * shape, holds only finite numbers (a NaN or infinite weight is named with its first bad index), and that nothing unknown is left over
 * (a file of another architecture is rejected by name). The whitening tensors and log-det are checked the same way.
 */
export function loadTensorsInto(model: NiceModel, tensors: Record<string, TensorF32>, what: string, ignorePrefix?: string): void {
  const params = model.paramMap();
  const buffers = model.bufferMap();
  const outputLayer = new Set(model.couplings.flatMap((c) => c.net.params.slice(-2).map((p) => p.name)));
  // Parameters and fixed buffers (ActNorm's started flag, a 1×1 convolution's permutation) alike.
  for (const [name, p] of [...params, ...buffers]) {
    const t = tensors[name];
    if (!t) throw new NiceFlowError(`${what}: tensor "${name}" is missing (the file does not match its config)`);
    if (t.shape.length !== p.shape.length || t.shape.some((v, i) => v !== p.shape[i])) {
      throw new NiceFlowError(`${what}: tensor "${name}" has shape [${t.shape.join(', ')}], the config needs [${p.shape.join(', ')}]${layoutHint(t.shape, p.shape, model.config, outputLayer.has(name))}`);
    }
    checkFiniteTensor(t.data, name, what);
    p.data.set(t.data);
  }
  const whitened = model.config.whiten === 'zca';
  const whiteningNames = new Set<string>([...Object.values(WHITENING_TENSORS), WHITENING_LOGDET]);
  if (whitened) {
    for (const name of whiteningNames) if (tensors[name]) checkFiniteTensor(tensors[name].data, name, what);
    try {
      const stored = tensors[WHITENING_LOGDET];
      if (stored && stored.data.length !== 1) {
        throw new NiceFlowError(`tensor "${WHITENING_LOGDET}" must hold one number, not ${stored.data.length}`);
      }
      model.setWhitening(Whitening.fromTensors(model.backend, tensors, stored?.data[0]));
    } catch (e) {
      throw new NiceFlowError(`${what}: ${(e as Error).message}`);
    }
  }
  for (const name of Object.keys(tensors)) {
    if (whitened && whiteningNames.has(name)) continue;
    if (!params.has(name) && !buffers.has(name) && !(ignorePrefix && name.startsWith(ignorePrefix))) {
      throw new NiceFlowError(`${what}: unexpected tensor "${name}" (the file is of another architecture than its config says)`);
    }
  }
}

/**
 * Names the likely cause of a shape mismatch: a dense weight where the config needs a convolution's (or the other way
 * round), or an output layer sized for another coupling law (affine nets output twice as many values).
 */
function layoutHint(got: number[], need: number[], config: NiceConfig, outputLayer: boolean): string {
  const network = config.network ?? 'mlp';
  if (got.length === 2 && need.length === 4) return ` (a dense layer's weight, but the config says network "${network}")`;
  if (got.length === 4 && need.length === 2) return ` (a convolution's weight, but the config says network "${network}")`;
  const rest = got.length === need.length && got.every((v, i) => i === 0 || v === need[i]);
  if (outputLayer && rest && (2 * got[0] === need[0] || got[0] === 2 * need[0])) {
    return ` (an output layer sized for another coupling law; the config says coupling "${config.coupling}")`;
  }
  return '';
}

/** Builds the model a weight file describes, on the given backend. */
export function deserializeModel(bytes: Uint8Array, backend: Backend, what = 'model file'): NiceModel {
  const { tensors, metadata } = readSafetensors(bytes);
  const config = configFromMetadata(metadata, what);
  checkSizeAgainstTensors(config, tensors, what);
  const model = new NiceModel(backend, config);
  loadTensorsInto(model, tensors, what, 'train.');
  return model;
}

/** Parameters a config may describe beyond twice what its file holds before it is refused unbuilt (~8 MB). */
const SIZE_SLACK = 2 ** 20;

/**
 * Refuses a config whose parameters far outnumber the values the file holds, before a model of that size is allocated:
 * the file's tensors must match the config one for one, so a config claiming far more (say `hidden: 1e9`) is a damaged
 * or foreign file, and building its model first would allocate whatever it claims.
 */
export function checkSizeAgainstTensors(config: NiceConfig, tensors: Record<string, TensorF32>, what: string): void {
  const need = countParams(config);
  let have = 0;
  for (const name of Object.keys(tensors)) if (!name.startsWith('train.') && !name.startsWith('whitening.')) have += tensors[name].data.length;
  // A config a little off gets the precise message of the tensor-by-tensor check after the build (which tensor is
  // missing or has the wrong shape); one that would allocate far more than the file holds is refused here.
  if (need > 2 * have + SIZE_SLACK) {
    throw new NiceFlowError(`${what}: its config describes ${need} parameters but the file holds ${have} values (the file does not match its config)`);
  }
}
