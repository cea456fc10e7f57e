import { NiceFlowError } from '../../core/NiceFlowError.js';
import type { StepSpec } from './StepKind.js';

/**
 * Reads the settings of an untrusted step spec one by one, each with its range and default, and refuses unknown
 * settings at `done()`: every error is one line naming the step and the setting.
 */
export class SpecReader {
  private readonly seen = new Set<string>(['type']);

  constructor(
    private readonly raw: StepSpec,
    private readonly what: string,
  ) {}

  private get(key: string): unknown {
    this.seen.add(key);
    return Object.hasOwn(this.raw, key) ? this.raw[key] : undefined;
  }

  /** An integer setting in [min, max]; `fallback` when absent (required when fallback is undefined). */
  int(key: string, min: number, max: number, fallback?: number): number {
    const v = this.get(key) ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new NiceFlowError(`${this.what}: "${key}" must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
    }
    return v;
  }

  /** A number in the open interval (lo, hi). */
  number(key: string, lo: number, hi: number, fallback?: number): number {
    const v = this.get(key) ?? fallback;
    if (typeof v !== 'number' || !(v > lo && v < hi)) throw new NiceFlowError(`${this.what}: "${key}" must be a number in (${lo}, ${hi}), got ${JSON.stringify(v)}`);
    return v;
  }

  /** One of the given names. */
  oneOf<T extends string>(key: string, names: readonly T[], fallback?: T): T {
    const v = this.get(key) ?? fallback;
    if (!names.includes(v as T)) throw new NiceFlowError(`${this.what}: "${key}" must be one of ${names.join(', ')}, got ${JSON.stringify(v)}`);
    return v as T;
  }

  /** true or false. */
  bool(key: string, fallback: boolean): boolean {
    const v = this.get(key) ?? fallback;
    if (typeof v !== 'boolean') throw new NiceFlowError(`${this.what}: "${key}" must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  /** Refuses settings the kind does not have. */
  done(): void {
    const extra = Object.keys(this.raw).filter((k) => !this.seen.has(k));
    if (extra.length) throw new NiceFlowError(`${this.what}: unknown setting${extra.length > 1 ? 's' : ''} ${extra.map((k) => `"${k}"`).join(', ')}`);
  }
}
