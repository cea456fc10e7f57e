import { NiceFlowError } from '../../core/NiceFlowError.js';
import { InvConv1x1 } from '../InvConv1x1.js';
import type { Shape3, StepKind, StepSpec } from './StepKind.js';

/**
 * `{"type": "invconv"}`: Glow's invertible 1×1 convolution in LU form (see {@link InvConv1x1}), mixing the channels
 * at every pixel. No settings. Tensors after the prefix: `lower` [C, C], `upper` [C, C] and `logScale` [C]
 * (trained), and the buffers `perm` [C] and `sign` [C].
 */
export const invconvStep: StepKind = {
  type: 'invconv',
  summary: 'invertible 1×1 convolution (Glow, LU form): a learned C×C channel mixing at every pixel, log-det H·W·Σ logScale',
  validate(raw: StepSpec, shape: Shape3): StepSpec {
    const unknown = Object.keys(raw).filter((k) => k !== 'type');
    if (unknown.length > 0) {
      throw new NiceFlowError(`invconv step: unknown setting${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')} (invconv takes none)`);
    }
    InvConv1x1.checkShape(shape);
    return { type: 'invconv' };
  },
  outShape: (_spec: StepSpec, shape: Shape3): Shape3 => shape,
  paramShapes: (_spec: StepSpec, shape: Shape3) => [
    { name: 'lower', shape: [shape[0], shape[0]] },
    { name: 'upper', shape: [shape[0], shape[0]] },
    { name: 'logScale', shape: [shape[0]] },
  ],
  build: (_spec, site) => new InvConv1x1(site.backend, site.shape, site.prefix),
};
