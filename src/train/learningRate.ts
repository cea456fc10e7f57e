import { NiceFlowError } from '../core/NiceFlowError.js';

/** Names of the learning-rate schedules. */
export const LR_SCHEDULES = ['constant', 'cosine', 'step'] as const;
/** The name of a learning-rate schedule (LR_SCHEDULES). */
export type LrScheduleName = (typeof LR_SCHEDULES)[number];

/**
 * How Adam's learning rate moves over a run: a linear warmup from 0 over `warmup` steps, then
 * - `constant`: the base rate (the paper);
 * - `cosine`: from the base rate down to `floor`·base at step `total`, along half a cosine (constant after);
 * - `step`: the base rate times `factor` after every `every` steps.
 */
export interface LrSchedule {
  kind: LrScheduleName;
  warmup: number;
  /** cosine: the step at which the rate reaches its floor (the run's last step). */
  total?: number;
  /** cosine: the final rate as a fraction of the base rate (default 0). */
  floor?: number;
  /** step: steps between decays, and the factor applied each time. */
  every?: number;
  factor?: number;
}

/** The learning rate for update number `step` (counted from 0), given the base rate. */
export function learningRateAt(schedule: LrSchedule | undefined, base: number, step: number): number {
  if (!schedule) return base;
  const warm = schedule.warmup > 0 && step < schedule.warmup ? (step + 1) / schedule.warmup : 1;
  let rate = base;
  if (schedule.kind === 'cosine') {
    const total = schedule.total ?? 0;
    const floor = schedule.floor ?? 0;
    const span = total - schedule.warmup;
    const t = span > 0 ? Math.min(1, Math.max(0, (step - schedule.warmup) / span)) : 1;
    rate = base * (floor + (1 - floor) * 0.5 * (1 + Math.cos(Math.PI * t)));
  } else if (schedule.kind === 'step') {
    const every = schedule.every ?? 0;
    rate = every > 0 ? base * (schedule.factor ?? 0.5) ** Math.floor(step / every) : base;
  }
  return rate * warm;
}

/** Checks a schedule read back from a file; `what` starts the one-line error. */
export function checkLrSchedule(raw: unknown, what: string): LrSchedule {
  const fail = (msg: string): never => {
    throw new NiceFlowError(`${what}: learning-rate schedule ${msg}`);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail('is not an object');
  const r = raw as Record<string, unknown>;
  if (!(LR_SCHEDULES as readonly unknown[]).includes(r.kind)) fail(`"kind" must be one of ${LR_SCHEDULES.join(', ')}, got ${JSON.stringify(r.kind)}`);
  const num = (key: string, ok: (v: number) => boolean, optional: boolean): number | undefined => {
    const v = r[key];
    if (v === undefined && optional) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) fail(`"${key}" is ${JSON.stringify(v)}`);
    return v as number;
  };
  const intOk = (v: number): boolean => Number.isSafeInteger(v) && v >= 0;
  const out: LrSchedule = { kind: r.kind as LrScheduleName, warmup: num('warmup', intOk, false) as number };
  const total = num('total', intOk, true);
  const floor = num('floor', (v) => v >= 0 && v <= 1, true);
  const every = num('every', (v) => Number.isSafeInteger(v) && v >= 1, true);
  const factor = num('factor', (v) => v > 0 && v <= 1, true);
  if (total !== undefined) out.total = total;
  if (floor !== undefined) out.floor = floor;
  if (every !== undefined) out.every = every;
  if (factor !== undefined) out.factor = factor;
  return out;
}
