import { NiceFlowError } from '../../core/NiceFlowError.js';
import { ActNorm } from '../ActNorm.js';
import type { Shape3, StepKind, StepSpec } from './StepKind.js';

/**
 * `{"type": "actnorm"}`: Glow's activation normalisation (see {@link ActNorm}), a per-channel affine map started
 * from the first batch. No settings. Tensors after the prefix: `bias` [C] and `logScale` [C] (trained), and the
 * buffer `started` [1].
 */
export const actnormStep: StepKind = {
  type: 'actnorm',
  summary: 'ActNorm (Glow): per-channel y = (x + bias)·exp(logScale), started from the first batch to mean 0 and the prior’s spread',
  validate(raw: StepSpec, shape: Shape3): StepSpec {
    const unknown = Object.keys(raw).filter((k) => k !== 'type');
    if (unknown.length > 0) {
      throw new NiceFlowError(`actnorm step: unknown setting${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')} (actnorm takes none)`);
    }
    ActNorm.checkShape(shape);
    return { type: 'actnorm' };
  },
  outShape: (_spec: StepSpec, shape: Shape3): Shape3 => shape,
  paramShapes: (_spec: StepSpec, shape: Shape3) => [
    { name: 'bias', shape: [shape[0]] },
    { name: 'logScale', shape: [shape[0]] },
  ],
  build: (_spec, site) => new ActNorm(site.backend, site.shape, site.prefix),
};
