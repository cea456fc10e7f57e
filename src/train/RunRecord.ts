import { NiceFlowError } from '../core/NiceFlowError.js';
import type { Dequantize } from '../data/dequantize.js';
import { checkLrSchedule } from './learningRate.js';
import type { TrainerOptions } from './Trainer.js';

/**
 * What a training run remembers of itself, stored in its checkpoint's `__metadata__.run` (JSON): where its data came
 * from and how they were split, how far it is to go, the best validation result so far, and the trainer's settings.
 * A resumed run takes all of these from the checkpoint, so it continues exactly.
 */
export interface RunRecord {
  /** The data set as the front end named it (the CLI: `mnist`, `fashion-mnist` or a path). */
  data: string;
  /** Only the first `limit` training images were used. */
  limit?: number;
  /** Images held out from the end of the training file for validation. */
  validSize: number;
  /** Validation used only the first `validLimit` held-out images. */
  validLimit?: number;
  /** Epochs to train for. */
  epochs: number;
  /** Stop after this many steps in total. */
  maxSteps?: number;
  /** The run's seed (initialisation, shuffling, noise; validation noise uses seed + 1, sample grids seed + 2). */
  seed: number;
  /** Best validation log-likelihood so far (nats per image), and the epoch that reached it. */
  bestValid: number | null;
  bestEpoch: number | null;
  /** Seconds spent in training steps (validation excluded). */
  seconds: number;
  /** Batch size, Adam's settings, dequantization and seed of the trainer. */
  trainerOptions: TrainerOptions;
  /** The front end also logs the test split's log-likelihood each epoch (`--log-test`): a resume keeps doing so. */
  logTest?: boolean;
  /** Sum of the batch log-likelihoods of the current epoch's steps so far, and their count. */
  epochLogLikelihoodSum?: number;
  epochSteps?: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks a run record read back from a checkpoint (JSON of unknown origin), field by field; every problem is a
 * one-line NiceFlowError that starts with `what` (the checkpoint's name).
 */
export function parseRunRecord(raw: unknown, what: string): RunRecord {
  const fail = (msg: string): never => {
    throw new NiceFlowError(`${what}: ${msg}`);
  };
  if (!isObject(raw)) return fail('the run record (__metadata__.run) is missing or not an object');
  const int = (key: string, min: number, optional = false): number | undefined => {
    const v = raw[key];
    if (v === undefined && optional) return undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) fail(`run record: "${key}" must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const finite = (obj: Record<string, unknown>, key: string, where: string, positive: boolean): number => {
    const v = obj[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || (positive ? v <= 0 : v < 0)) {
      fail(`${where}: "${key}" must be a ${positive ? 'positive' : 'non-negative'} finite number, got ${JSON.stringify(v)}`);
    }
    return v as number;
  };
  if (typeof raw.data !== 'string' || raw.data === '') fail(`run record: "data" must name the data set, got ${JSON.stringify(raw.data)}`);
  const bestValid = raw.bestValid ?? null;
  const bestEpoch = raw.bestEpoch ?? null;
  if (bestValid !== null && (typeof bestValid !== 'number' || !Number.isFinite(bestValid))) fail(`run record: "bestValid" must be a finite number or null, got ${JSON.stringify(bestValid)}`);
  if (bestEpoch !== null && (typeof bestEpoch !== 'number' || !Number.isSafeInteger(bestEpoch) || bestEpoch < 1)) fail(`run record: "bestEpoch" must be an epoch number or null, got ${JSON.stringify(bestEpoch)}`);
  if ((bestValid === null) !== (bestEpoch === null)) fail('run record: "bestValid" and "bestEpoch" must be given together');

  const t = raw.trainerOptions;
  if (!isObject(t)) return fail('run record: "trainerOptions" is missing or not an object');
  const batchSize = t.batchSize;
  if (typeof batchSize !== 'number' || !Number.isSafeInteger(batchSize) || batchSize < 1) fail(`run record: trainer "batchSize" must be an integer ≥ 1, got ${JSON.stringify(batchSize)}`);
  const adam = t.adam;
  if (!isObject(adam)) return fail('run record: trainer "adam" settings are missing');
  const lr = finite(adam, 'lr', 'run record: adam', true);
  const eps = finite(adam, 'eps', 'run record: adam', true);
  const beta1 = finite(adam, 'beta1', 'run record: adam', false);
  const beta2 = finite(adam, 'beta2', 'run record: adam', false);
  if (beta1 >= 1 || beta2 >= 1) fail(`run record: adam betas must be below 1, got ${beta1} and ${beta2}`);
  const dequantize = t.dequantize;
  if (dequantize !== 'uniform' && dequantize !== 'center') fail(`run record: trainer "dequantize" must be uniform or center, got ${JSON.stringify(dequantize)}`);
  const tSeed = t.seed;
  if (typeof tSeed !== 'number' || !Number.isSafeInteger(tSeed) || tSeed < 0) fail(`run record: trainer "seed" must be an integer ≥ 0, got ${JSON.stringify(tSeed)}`);

  const ema = t.ema;
  if (ema !== undefined && (typeof ema !== 'number' || !(ema >= 0 && ema < 1))) fail(`run record: trainer "ema" must be a decay in [0, 1), got ${JSON.stringify(ema)}`);
  const lrSchedule = t.lrSchedule === undefined ? undefined : checkLrSchedule(t.lrSchedule, `${what}: run record`);
  const clip = t.clipGradNorm;
  if (clip !== undefined && (typeof clip !== 'number' || !(clip > 0 && clip < Infinity))) fail(`run record: trainer "clipGradNorm" must be a positive number, got ${JSON.stringify(clip)}`);
  const classWeight = t.classWeight;
  if (classWeight !== undefined && (typeof classWeight !== 'number' || !(classWeight > 0 && classWeight < Infinity))) fail(`run record: trainer "classWeight" must be a positive number, got ${JSON.stringify(classWeight)}`);
  const sum = raw.epochLogLikelihoodSum;
  if (sum !== undefined && (typeof sum !== 'number' || !Number.isFinite(sum))) fail(`run record: "epochLogLikelihoodSum" must be a finite number, got ${JSON.stringify(sum)}`);
  const record: RunRecord = {
    data: raw.data as string,
    limit: int('limit', 1, true),
    validSize: int('validSize', 1) as number,
    validLimit: int('validLimit', 1, true),
    epochs: int('epochs', 1) as number,
    maxSteps: int('maxSteps', 1, true),
    seed: int('seed', 0) as number,
    bestValid: bestValid as number | null,
    bestEpoch: bestEpoch as number | null,
    seconds: finite(raw, 'seconds', 'run record', false),
    trainerOptions: {
      batchSize: batchSize as number,
      adam: { lr, beta1, beta2, eps },
      dequantize: dequantize as Dequantize,
      seed: tSeed as number,
      ...(ema !== undefined ? { ema: ema as number } : {}),
      ...(lrSchedule ? { lrSchedule } : {}),
      ...(clip !== undefined ? { clipGradNorm: clip as number } : {}),
      ...(classWeight !== undefined ? { classWeight: classWeight as number } : {}),
    },
  };
  if (raw.logTest !== undefined) {
    if (typeof raw.logTest !== 'boolean') fail(`run record: "logTest" must be true or false, got ${JSON.stringify(raw.logTest)}`);
    record.logTest = raw.logTest as boolean;
  }
  const steps = int('epochSteps', 0, true);
  if ((sum === undefined) !== (steps === undefined)) fail('run record: "epochLogLikelihoodSum" and "epochSteps" must be given together');
  if (steps !== undefined) {
    record.epochLogLikelihoodSum = sum as number;
    record.epochSteps = steps;
  }
  return record;
}
