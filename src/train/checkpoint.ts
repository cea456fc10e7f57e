import type { Backend } from '../core/Backend.js';
import { NiceFlowError } from '../core/NiceFlowError.js';
import { Rng } from '../core/Rng.js';
import { readSafetensors, writeSafetensors, type TensorF32 } from '../io/safetensors.js';
import { checkFiniteTensor, firstNotFiniteNonNegativeF32 } from '../model/checkFinite.js';
import { checkSizeAgainstTensors, configFromMetadata, loadTensorsInto, modelTensors } from '../model/modelFile.js';
import { NiceModel } from '../model/NiceModel.js';
import type { Param } from '../nn/Param.js';
import type { Trainer, TrainerState } from './Trainer.js';

// A resumable checkpoint is a weight file (it loads as a model) plus, under the `train.` prefix, Adam's moments
// and the epoch's image order, with the trainer's state and the caller's run info as JSON metadata.

const f32 = (a: ArrayLike<number>): Float32Array => (a instanceof Float32Array ? a : Float32Array.from(a));

const ORDER = 'train.order';
const moment = (which: 'm' | 'v', name: string): string => `train.adam.${which}.${name}`;
/** The weight average of a parameter (runs with `ema`): `train.ema.<name>`, zero-started, before bias correction. */
const average = (name: string): string => `train.ema.${name}`;

/** The optimiser's tensors of a trainer as a checkpoint names them: Adam's moments and the weight average (views). */
function optimiserTensors(trainer: Trainer): Record<string, TensorF32> {
  const tensors: Record<string, TensorF32> = {};
  trainer.model.params.forEach((p, i) => {
    tensors[moment('m', p.name)] = { shape: p.shape, data: f32(trainer.adam.m[i]) };
    tensors[moment('v', p.name)] = { shape: p.shape, data: f32(trainer.adam.v[i]) };
  });
  if (trainer.ema) trainer.model.params.forEach((p, i) => (tensors[average(p.name)] = { shape: p.shape, data: f32(trainer.ema![i]) }));
  return tensors;
}

/**
 * The one check of a checkpoint's optimiser state, for the reader and the writer alike: for every parameter, Adam's
 * moments `train.adam.{m,v}.<name>` of its shape, finite, second moments ≥ 0, and when any parameter has a weight
 * average `train.ema.<name>`, every one has it, of its shape and finite. Throws a one-line error starting with
 * `what`; returns whether the state holds a weight average and the names it checked.
 */
export function checkOptimiserTensors(tensors: Record<string, TensorF32>, params: readonly Param[], what: string): { averaged: boolean; names: string[] } {
  const names: string[] = [];
  const check = (key: string, p: Param, kind: string, nonNegative = false): TensorF32 => {
    names.push(key);
    const t = tensors[key];
    if (!t) throw new NiceFlowError(`${what}: ${kind} tensor "${key}" is missing`);
    if (t.data.length !== p.data.length || t.shape.length !== p.shape.length || t.shape.some((v, i) => v !== p.shape[i])) {
      throw new NiceFlowError(`${what}: ${kind} tensor "${key}" has shape [${t.shape.join(', ')}], its parameter has [${p.shape.join(', ')}]`);
    }
    if (!nonNegative) {
      checkFiniteTensor(t.data, key, what);
      return t;
    }
    // One pass for both rules (a paper model's second moments are 19 M values, checked at every save).
    const i = firstNotFiniteNonNegativeF32(t.data);
    if (i >= 0) {
      const v = t.data[i];
      // NaN or ±Infinity: checkFiniteTensor's message; a negative number: why it cannot be.
      throw new NiceFlowError(`${what}: tensor "${key}" holds ${v} at index ${i}${v - v === 0 ? "; Adam's second moments are never negative" : ''}`);
    }
    return t;
  };
  for (const p of params) {
    check(moment('m', p.name), p, 'optimiser');
    check(moment('v', p.name), p, 'optimiser', true);
  }
  const averaged = params.some((p) => tensors[average(p.name)] !== undefined);
  if (averaged) for (const p of params) check(average(p.name), p, 'weight-average');
  return { averaged, names };
}

/**
 * Why the trainer's optimiser state could not be resumed from (the reader's own check, checkOptimiserTensors), or
 * null when it can: Adam's second moments overflow to Infinity on a diverging run while the weights stay finite.
 */
export function optimiserStateProblem(trainer: Trainer): string | null {
  try {
    checkOptimiserTensors(optimiserTensors(trainer), trainer.model.params, 'the optimiser state');
    return null;
  } catch (e) {
    if (e instanceof NiceFlowError) return e.message;
    throw e;
  }
}

/**
 * Serialises model, optimiser and trainer state; `run` is the caller's JSON object, given back on resume. State the
 * reader would refuse (see optimiserStateProblem) is refused here too, so a checkpoint written is one that resumes.
 */
export function serializeCheckpoint(trainer: Trainer, run: unknown): Uint8Array {
  const model = trainer.model;
  const optimiser = optimiserTensors(trainer);
  checkOptimiserTensors(optimiser, model.params, 'cannot write a checkpoint of this state');
  const tensors: Record<string, TensorF32> = { ...modelTensors(model), ...optimiser };
  // Image indices are below 2^24, so float32 holds them exactly.
  tensors[ORDER] = { shape: [trainer.order.length], data: Float32Array.from(trainer.order) };
  return writeSafetensors(tensors, {
    config: JSON.stringify(model.config),
    trainer: JSON.stringify(trainer.getState()),
    run: JSON.stringify(run),
  });
}

/** What a checkpoint holds, ready to be applied to a fresh Trainer over the same data. */
export interface LoadedCheckpoint {
  model: NiceModel;
  /** The run record: a JSON object (its fields are the caller's to check). */
  run: unknown;
  /** Applies optimiser moments, order and state to a trainer built on `model`. */
  restore(trainer: Trainer): void;
}

/**
 * Reads a checkpoint written by serializeCheckpoint. Nothing in the file is trusted: the weights and Adam's moments
 * must be finite (second moments ≥ 0), the trainer state's counters non-negative integers and its RNG state valid,
 * the image order a permutation, the run record a JSON object; `restore` also checks the state against the trainer
 * (its image count and batches per epoch). Every error is one line starting with `what`.
 */
export function deserializeCheckpoint(bytes: Uint8Array, backend: Backend, what = 'checkpoint'): LoadedCheckpoint {
  const { tensors, metadata } = readSafetensors(bytes);
  const config = configFromMetadata(metadata, what);
  if (metadata.trainer === undefined || tensors[ORDER] === undefined) {
    throw new NiceFlowError(`${what}: not a resumable checkpoint (no trainer state); it may be a plain model file`);
  }
  let rawState: unknown;
  try {
    rawState = JSON.parse(metadata.trainer);
  } catch {
    throw new NiceFlowError(`${what}: trainer state in __metadata__ is not valid JSON`);
  }
  const state = checkTrainerState(rawState, what);
  if (metadata.run === undefined) throw new NiceFlowError(`${what}: the run record ("run" in __metadata__) is missing`);
  let run: unknown;
  try {
    run = JSON.parse(metadata.run);
  } catch {
    throw new NiceFlowError(`${what}: the run record ("run" in __metadata__) is not valid JSON`);
  }
  if (typeof run !== 'object' || run === null || Array.isArray(run)) {
    throw new NiceFlowError(`${what}: the run record ("run" in __metadata__) is ${run === null ? 'null' : Array.isArray(run) ? 'an array' : `a ${typeof run}`}, not an object`);
  }
  const order = checkOrder(tensors[ORDER], what);
  checkSizeAgainstTensors(config, tensors, what);
  const model = new NiceModel(backend, config);
  loadTensorsInto(model, tensors, what, 'train.');
  const { averaged, names } = checkOptimiserTensors(tensors, model.params, what);
  const known = new Set([ORDER, ...names]);
  for (const name of Object.keys(tensors)) {
    if (name.startsWith('train.') && !known.has(name)) throw new NiceFlowError(`${what}: unexpected tensor "${name}"`);
  }
  return {
    model,
    run,
    restore(trainer: Trainer): void {
      if (trainer.model !== model) throw new Error('restore: trainer is not built on the checkpoint model');
      if (order.length !== trainer.order.length) {
        throw new NiceFlowError(`${what}: made on ${order.length} training images, this run has ${trainer.order.length}`);
      }
      const bpe = trainer.batchesPerEpoch;
      const batch = `${bpe} batches per epoch (batch size ${trainer.options.batchSize}, ${trainer.order.length} images)`;
      if (state.batchInEpoch >= bpe) {
        throw new NiceFlowError(`${what}: trainer state "batchInEpoch" ${state.batchInEpoch} is past the end of an epoch of ${batch}`);
      }
      // The Trainer counts step, and batchInEpoch within the epoch, wrapping it into epoch every bpe steps.
      if (state.epoch * bpe + state.batchInEpoch !== state.step) {
        throw new NiceFlowError(`${what}: trainer state is inconsistent: step ${state.step} is not epoch ${state.epoch} × ${batch} + batchInEpoch ${state.batchInEpoch}`);
      }
      if (averaged !== (trainer.ema !== null)) {
        throw new NiceFlowError(`${what}: the run ${trainer.ema ? 'averages its weights but the checkpoint holds no average' : 'keeps no weight average but the checkpoint holds one'}`);
      }
      model.params.forEach((p, i) => {
        trainer.adam.m[i].set(tensors[moment('m', p.name)].data);
        trainer.adam.v[i].set(tensors[moment('v', p.name)].data);
        trainer.ema?.[i].set(tensors[average(p.name)].data);
      });
      trainer.setState(state, order);
    },
  };
}

/** The trainer state as JSON gave it, checked field by field. */
function checkTrainerState(raw: unknown, what: string): TrainerState {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new NiceFlowError(`${what}: trainer state in __metadata__ is ${raw === null ? 'null' : 'not an object'}`);
  }
  const r = raw as Record<string, unknown>;
  const count = (key: 'step' | 'epoch' | 'batchInEpoch'): number => {
    const v = r[key];
    if (!Number.isSafeInteger(v) || (v as number) < 0) {
      throw new NiceFlowError(`${what}: trainer state "${key}" is ${v === undefined ? 'missing' : JSON.stringify(v)}; expected a non-negative integer`);
    }
    return v as number;
  };
  const step = count('step');
  const epoch = count('epoch');
  const batchInEpoch = count('batchInEpoch');
  let rng;
  try {
    rng = Rng.checkState(r.rng);
  } catch (e) {
    throw new NiceFlowError(`${what}: trainer state: ${(e as Error).message}`);
  }
  return { step, epoch, batchInEpoch, rng };
}

/** The image order: a permutation of 0..n−1 (stored as float32, exact below 2^24). */
function checkOrder(t: TensorF32, what: string): Int32Array {
  const n = t.data.length;
  if (t.shape.length !== 1 || n < 1) throw new NiceFlowError(`${what}: tensor "${ORDER}" has shape [${t.shape.join(', ')}]; expected [n] with n ≥ 1`);
  const firstAt = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    const v = t.data[i];
    if (!Number.isInteger(v) || v < 0 || v >= n) {
      throw new NiceFlowError(`${what}: tensor "${ORDER}" is not a permutation of 0..${n - 1}: index ${i} holds ${v}`);
    }
    if (firstAt[v] >= 0) throw new NiceFlowError(`${what}: tensor "${ORDER}" is not a permutation of 0..${n - 1}: ${v} is at index ${firstAt[v]} and ${i}`);
    firstAt[v] = i;
  }
  return Int32Array.from(t.data);
}
