import { NiceFlowError } from './NiceFlowError.js';

/**
 * Saved state of an Rng: four 32-bit words and a cached normal deviate (NaN when none; JSON stores that NaN as
 * null, which {@link Rng.checkState} and setState accept).
 */
export interface RngState {
  s: [number, number, number, number];
  spare: number;
}

/**
 * Seeded pseudo-random numbers (xoshiro128**, Blackman & Vigna), with uniform, normal and logistic deviates.
 * The whole state can be saved and restored, so a resumed training run draws exactly what it would have drawn.
 */
export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private spare = NaN;

  constructor(seed = 0) {
    // splitmix32 expands the seed into four non-zero words.
    let x = seed >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform on [0, 1), 32 bits of resolution. */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /**
   * out[offset + i] = uniform() for i < count: the same numbers, in the same order, as `count` calls of uniform(),
   * with the state held in locals (about 5× faster than the calls: the fields would box their 32-bit words).
   */
  fillUniform(out: { [i: number]: number }, offset: number, count: number): void {
    let s0 = this.s0 | 0, s1 = this.s1 | 0, s2 = this.s2 | 0, s3 = this.s3 | 0;
    for (let i = 0; i < count; i++) {
      const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = rotl(s3, 11);
      out[offset + i] = result / 4294967296;
    }
    this.s0 = s0;
    this.s1 = s1;
    this.s2 = s2;
    this.s3 = s3;
  }

  /** Uniform on the open interval (0, 1): safe inside a logarithm. */
  uniformOpen(): number {
    return (this.nextUint32() + 0.5) / 4294967296;
  }

  /** Standard normal deviate (Box–Muller; the second deviate of each pair is cached and part of the state). */
  normal(): number {
    if (!Number.isNaN(this.spare)) {
      const z = this.spare;
      this.spare = NaN;
      return z;
    }
    const u = this.uniformOpen();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Standard logistic deviate by the inverse CDF: log(u) − log(1 − u). */
  logistic(): number {
    const u = this.uniformOpen();
    return Math.log(u) - Math.log1p(-u);
  }

  /** An integer uniform on [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Shuffle in place (Fisher–Yates). */
  shuffle(a: { length: number; [i: number]: number }): void {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
  }

  /** A copy of the state, JSON-serialisable. */
  getState(): RngState {
    return { s: [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0], spare: this.spare };
  }

  /** Restore a state saved by getState (checked first: see {@link Rng.checkState}; nothing changes when it is bad). */
  setState(state: RngState): void {
    const checked = Rng.checkState(state);
    [this.s0, this.s1, this.s2, this.s3] = checked.s;
    this.spare = checked.spare;
  }

  /**
   * Checks a state read from outside (e.g. a checkpoint's JSON) and returns it as getState would have: `s` four
   * unsigned 32-bit integers, not all zero (xoshiro's one forbidden state: it would only ever produce zeros); `spare`
   * a number Box–Muller can produce (|z| < 7, since its largest is √(−2 ln(0.5/2³²)) ≈ 6.8), or NaN, null or
   * absent for none. Throws a one-line NiceFlowError saying what is wrong, without a file name (callers add it).
   */
  static checkState(state: unknown): RngState {
    if (typeof state !== 'object' || state === null || Array.isArray(state)) {
      throw new NiceFlowError(`rng state is ${describeJson(state)}, not an object {"s": [4 words], "spare": number or null}`);
    }
    const { s, spare } = state as { s?: unknown; spare?: unknown };
    if (!Array.isArray(s) || s.length !== 4) {
      throw new NiceFlowError(`rng state "s" is ${describeJson(s)}; expected an array of four 32-bit unsigned integers`);
    }
    s.forEach((w, i) => {
      if (!Number.isInteger(w) || (w as number) < 0 || (w as number) > 0xffffffff) {
        throw new NiceFlowError(`rng state "s"[${i}] is ${describeJson(w)}, not a 32-bit unsigned integer`);
      }
    });
    if (s.every((w) => w === 0)) throw new NiceFlowError('rng state "s" is all zeros (the generator would only ever produce zeros)');
    let z = NaN;
    if (spare !== null && spare !== undefined && !(typeof spare === 'number' && Number.isNaN(spare))) {
      if (typeof spare !== 'number' || !(Math.abs(spare) < 7)) {
        throw new NiceFlowError(`rng state "spare" is ${describeJson(spare)}, not a cached normal deviate (a number below 7 in magnitude, or null)`);
      }
      z = spare;
    }
    return { s: [s[0], s[1], s[2], s[3]] as [number, number, number, number], spare: z };
  }
}

/** A value read from JSON, shown briefly for an error message (arrays and objects by their size, not their contents). */
function describeJson(v: unknown): string {
  if (v === undefined) return 'missing';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'object' && v !== null) return 'an object';
  if (typeof v === 'number') return String(v);
  const text = JSON.stringify(v);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
