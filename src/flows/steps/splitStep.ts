import { NiceFlowError } from '../../core/NiceFlowError.js';
import type { Bijection } from '../Bijection.js';
import { Prefix } from '../Prefix.js';
import { SpecReader } from './readSpec.js';
import type { StepKind, StepSpec } from './StepKind.js';

/**
 * The multi-scale split (RealNVP §3.6, Glow): the second half of the channels leaves the flow here and goes to the
 * prior as it is; the steps after the split act on the first half only. In channel-major rows the first half of the
 * channels is the first half of each row, so the latent of a multi-scale model is still one flat row: what each level
 * let go sits after what stayed.
 */
export const splitStep: StepKind<StepSpec> = {
  type: 'split',
  summary: 'multi-scale split: the last C/2 channels leave the flow for the prior; the steps after it act on the first C/2',
  encloses: true,
  validate(raw, shape) {
    new SpecReader(raw, 'split step').done();
    if (shape[0] < 2 || shape[0] % 2 !== 0) throw new NiceFlowError(`split step: needs an even number of channels, the shape here is ${shape.join('×')} (squeeze first)`);
    return { type: 'split' };
  },
  outShape: (_spec, [C, H, W]) => [C / 2, H, W],
  paramShapes: () => [],
  build(_spec, site, rest?: Bijection) {
    if (!rest) throw new NiceFlowError('split step: nothing follows it (a split must be followed by the steps of the next level)');
    return new Prefix(site.backend, site.shape[0] * site.shape[1] * site.shape[2], rest);
  },
};
