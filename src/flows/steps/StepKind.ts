import type { Backend } from '../../core/Backend.js';
import type { Bijection } from '../Bijection.js';

/** An image shape [C, H, W] (channel-major rows: value c·H·W + y·W + x). */
export type Shape3 = readonly [number, number, number];

/**
 * One step of a flow description: a registered kind (`type`) and its settings, as stored in a model config's `flow`
 * list (JSON). See StepKind for what each kind accepts.
 */
export interface StepSpec {
  type: string;
  [setting: string]: unknown;
}

/** What a kind's `build` gets besides its spec. */
export interface StepSite {
  backend: Backend;
  /** The shape the step sees (its input). */
  shape: Shape3;
  /** Weight-file name prefix of the step's tensors, e.g. `flow.3.`. */
  prefix: string;
  /**
   * For couplings: which of the two sets this one updates when its spec does not say (consecutive couplings of one
   * level alternate, NICE §3.2).
   */
  parity: number;
  /** The model's data range [lo, hi] (config.range; [0, 1] by default), for steps that map it (logit). */
  range?: readonly [number, number];
}

/**
 * A kind of flow step: one file in src/flows/steps and one line in stepRegistry.ts. Everything the library does with a
 * model description (checking it, counting its parameters, building it, the weight-file layout) goes through these
 * four functions, so a new kind needs nothing else.
 */
export interface StepKind<S extends StepSpec = StepSpec> {
  readonly type: string;
  /** One line for help texts and docs. */
  readonly summary: string;
  /**
   * Checks an untrusted spec (from a file or the command line) for an input of `shape` and returns it complete (with
   * its defaults filled in); a NiceFlowError names the setting.
   */
  validate(raw: StepSpec, shape: Shape3): S;
  /** The shape of the step's output (squeeze changes it; a bijection keeps C·H·W). */
  outShape(spec: S, shape: Shape3): Shape3;
  /** Its trainable tensors' names (after the prefix) and shapes, without building anything. */
  paramShapes(spec: S, shape: Shape3): { name: string; shape: number[] }[];
  /**
   * With `encloses`, the steps after this one run inside it (the multi-scale split: they act on part of the values):
   * `build` gets them already built, as one bijection on `outShape`, in `rest`.
   */
  readonly encloses?: boolean;
  /** Builds the step on a backend. */
  build(spec: S, site: StepSite, rest?: Bijection): Bijection;
}
