import type { Backend } from '../core/Backend.js';
import type { FloatArray } from '../core/FloatArray.js';
import type { Param } from './Param.js';

/** Adam's settings. The NICE paper's (§5.1): lr 1e-3, β1 0.9, β2 0.99 (its "0.01" is 1 − β2), ε 1e-4. */
export interface AdamOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
}

/** The paper's Adam settings. */
export const PAPER_ADAM: AdamOptions = { lr: 1e-3, beta1: 0.9, beta2: 0.99, eps: 1e-4 };

/** Adam over a list of parameters; moments live on the backend beside the parameters. */
export class Adam {
  /** Steps taken so far (t in Kingma & Ba). */
  step = 0;
  readonly m: FloatArray[];
  readonly v: FloatArray[];

  constructor(
    private readonly backend: Backend,
    readonly params: Param[],
    readonly options: AdamOptions = PAPER_ADAM,
  ) {
    this.m = params.map((p) => backend.alloc(p.data.length));
    this.v = params.map((p) => backend.alloc(p.data.length));
  }

  /** One update from the gradients currently in each param's `grad`. */
  update(): void {
    this.step++;
    const { lr, beta1, beta2, eps } = this.options;
    for (let i = 0; i < this.params.length; i++) {
      const p = this.params[i];
      this.backend.adam(p.data, p.grad, this.m[i], this.v[i], p.data.length, lr, beta1, beta2, eps, this.step);
    }
  }
}
