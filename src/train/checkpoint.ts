import type { Backend } from '../core/Backend.js';
import { NiceFlowError } from '../core/NiceFlowError.js';
import { readSafetensors, writeSafetensors, type TensorF32 } from '../io/safetensors.js';
import { configFromMetadata, loadTensorsInto, modelTensors } from '../model/modelFile.js';
import { NiceModel } from '../model/NiceModel.js';
import type { Trainer, TrainerState } from './Trainer.js';

// A resumable checkpoint is a weight file (it loads as a model) plus, under the `train.` prefix, Adam's moments
// and the epoch's image order, with the trainer's state and the caller's run info as JSON metadata.

const f32 = (a: ArrayLike<number>): Float32Array => (a instanceof Float32Array ? a : Float32Array.from(a));

/** Serialises model, optimiser and trainer state; `run` is any JSON the caller wants back on resume. */
export function serializeCheckpoint(trainer: Trainer, run: unknown): Uint8Array {
  const model = trainer.model;
  const tensors: Record<string, TensorF32> = modelTensors(model);
  model.params.forEach((p, i) => {
    tensors[`train.adam.m.${p.name}`] = { shape: p.shape, data: f32(trainer.adam.m[i]) };
    tensors[`train.adam.v.${p.name}`] = { shape: p.shape, data: f32(trainer.adam.v[i]) };
  });
  // Image indices are below 2^24, so float32 holds them exactly.
  tensors['train.order'] = { shape: [trainer.order.length], data: Float32Array.from(trainer.order) };
  return writeSafetensors(tensors, {
    config: JSON.stringify(model.config),
    trainer: JSON.stringify(trainer.getState()),
    run: JSON.stringify(run),
  });
}

/** What a checkpoint holds, ready to be applied to a fresh Trainer over the same data. */
export interface LoadedCheckpoint {
  model: NiceModel;
  run: unknown;
  /** Applies optimiser moments, order and state to a trainer built on `model`. */
  restore(trainer: Trainer): void;
}

/** Reads a checkpoint written by serializeCheckpoint. */
export function deserializeCheckpoint(bytes: Uint8Array, backend: Backend, what = 'checkpoint'): LoadedCheckpoint {
  const { tensors, metadata } = readSafetensors(bytes);
  const config = configFromMetadata(metadata, what);
  if (metadata.trainer === undefined || tensors['train.order'] === undefined) {
    throw new NiceFlowError(`${what}: not a resumable checkpoint (no trainer state); it may be a plain model file`);
  }
  let state: TrainerState;
  let run: unknown;
  try {
    state = JSON.parse(metadata.trainer) as TrainerState;
    run = JSON.parse(metadata.run ?? 'null');
  } catch {
    throw new NiceFlowError(`${what}: trainer state in __metadata__ is not valid JSON`);
  }
  const model = new NiceModel(backend, config);
  loadTensorsInto(model, tensors, what, 'train.');
  return {
    model,
    run,
    restore(trainer: Trainer): void {
      if (trainer.model !== model) throw new Error('restore: trainer is not built on the checkpoint model');
      model.params.forEach((p, i) => {
        for (const [key, dst] of [[`train.adam.m.${p.name}`, trainer.adam.m[i]], [`train.adam.v.${p.name}`, trainer.adam.v[i]]] as const) {
          const t = tensors[key];
          if (!t || t.data.length !== dst.length) throw new NiceFlowError(`${what}: optimiser tensor "${key}" is missing or has the wrong size`);
          dst.set(t.data);
        }
      });
      trainer.setState(state, Int32Array.from(tensors['train.order'].data));
    },
  };
}
