import type { Backend } from '../core/Backend.js';
import type { FloatArray } from '../core/FloatArray.js';
import type { Param } from '../nn/Param.js';
import { Workspace } from '../nn/Workspace.js';
import type { Rng } from '../core/Rng.js';
import type { Bijection, DataInitOptions, LayerBuffer } from './Bijection.js';

/**
 * Composition of bijections: forward applies them in order (data → latent), inverse in reverse order;
 * the log-determinant is the sum of the layers' (chain rule, NICE §2). It keeps the Bijection contract because each
 * layer does: forward writes the layers' forward buffers and its own `logDet`, inverse only the layers' inverse
 * buffers, so an inverse between forward and backward changes neither forward's outputs nor the gradients.
 */
export class Chain implements Bijection {
  readonly params: Param[];
  readonly dim: number;
  readonly buffers: LayerBuffer[];
  private readonly logDet: Workspace;

  constructor(
    backend: Backend,
    readonly layers: Bijection[],
  ) {
    this.dim = layers[0].dim;
    this.params = layers.flatMap((l) => l.params);
    this.buffers = layers.flatMap((l) => l.buffers ?? []);
    this.logDet = new Workspace(backend, 1);
  }

  /** Initialises each layer in order (the draws from `rng` follow the layer order). */
  init(rng: Rng): void {
    for (const layer of this.layers) layer.init?.(rng);
  }

  /** Starts each layer from data in order, each on what the layers before it (already started) make of x. */
  initFromData(x: FloatArray, n: number, options: DataInitOptions): void {
    let cur = x;
    for (const layer of this.layers) {
      layer.initFromData?.(cur, n, options);
      cur = layer.forward(cur, n, options.context).y;
    }
  }

  forward(x: FloatArray, n: number, context?: FloatArray): { y: FloatArray; logDet: FloatArray } {
    const total = this.logDet.get(n);
    total.fill(0);
    let cur = x;
    for (const layer of this.layers) {
      const { y, logDet } = layer.forward(cur, n, context);
      for (let i = 0; i < n; i++) total[i] += logDet[i];
      cur = y;
    }
    return { y: cur, logDet: total };
  }

  inverse(y: FloatArray, n: number, context?: FloatArray): FloatArray {
    let cur = y;
    for (let k = this.layers.length - 1; k >= 0; k--) cur = this.layers[k].inverse(cur, n, context);
    return cur;
  }

  backward(dy: FloatArray, logDetWeight: number, paramGrads: boolean, inputGrad = true): FloatArray | null {
    let cur = dy;
    for (let k = this.layers.length - 1; k > 0; k--) cur = this.layers[k].backward(cur, logDetWeight, paramGrads, true)!;
    return this.layers[0].backward(cur, logDetWeight, paramGrads, inputGrad);
  }
}
