// Parsers for command-line values: a bad value is a one-line error naming the flag.
import { InvalidArgumentError } from 'commander';

/** An integer ≥ min. */
export const int = (min: number) => (value: string): number => {
  const v = Number(value);
  if (!/^[+-]?\d+$/.test(value.trim()) || !Number.isSafeInteger(v) || v < min) throw new InvalidArgumentError(`expected an integer ≥ ${min}, got "${value}"`);
  return v;
};

/** A finite number, > 0 when `positive`, ≥ 0 otherwise. */
export const num = (positive: boolean) => (value: string): number => {
  const v = Number(value);
  if (value.trim() === '' || !Number.isFinite(v) || (positive ? v <= 0 : v < 0)) {
    throw new InvalidArgumentError(`expected a ${positive ? 'positive' : 'non-negative'} number, got "${value}"`);
  }
  return v;
};

/** One of a list of words. */
export const oneOf = <T extends string>(choices: readonly T[]) => (value: string): T => {
  if (!choices.includes(value as T)) throw new InvalidArgumentError(`expected one of ${choices.join(', ')}, got "${value}"`);
  return value as T;
};

/** A decay rate in [0, 1) (0: off). */
export const decay = (value: string): number => {
  const v = Number(value);
  if (value.trim() === '' || !(v >= 0 && v < 1)) throw new InvalidArgumentError(`expected a decay in [0, 1), got "${value}"`);
  return v;
};
