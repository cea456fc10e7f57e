import { NiceFlowError } from '../../core/NiceFlowError.js';
import { Squeeze } from '../Squeeze.js';
import { SpecReader } from './readSpec.js';
import type { StepKind, StepSpec } from './StepKind.js';

/**
 * `{ "type": "squeeze" }`: the 2×2 space-to-depth squeeze of multi-scale flows (RealNVP §3.6, Glow),
 * [C, H, W] → [4C, H/2, W/2] in PyTorch/Glow's channel order (see Squeeze). No settings, no parameters; H and W
 * must be even.
 */
export const squeezeStep: StepKind<StepSpec> = {
  type: 'squeeze',
  summary: 'squeeze: 2×2 space-to-depth, C×H×W → 4C×(H/2)×(W/2) (H and W even); a permutation, log-det 0, no parameters',
  validate(raw, shape) {
    new SpecReader(raw, 'squeeze step').done();
    if (shape[1] % 2 !== 0 || shape[2] % 2 !== 0) {
      throw new NiceFlowError(`squeeze step: needs an even height and width, the shape here is ${shape.join('×')}`);
    }
    return { type: 'squeeze' };
  },
  outShape: (_spec, [C, H, W]) => [4 * C, H / 2, W / 2],
  paramShapes: () => [],
  build: (_spec, site) => new Squeeze(site.backend, site.shape),
};
