import { DiagonalScaling } from '../DiagonalScaling.js';
import { SpecReader } from './readSpec.js';
import type { StepKind, StepSpec } from './StepKind.js';

/** NICE's diagonal scaling h = exp(s) ⊙ z (§3.3), one scale per value. */
export const scalingStep: StepKind<StepSpec> = {
  type: 'scaling',
  summary: "diagonal scaling h = exp(s) ⊙ z, one learned scale per value (NICE §3.3; started from data with --scale-init data)",
  validate(raw) {
    new SpecReader(raw, 'scaling step').done();
    return { type: 'scaling' };
  },
  outShape: (_spec, shape) => shape,
  paramShapes: (_spec, shape) => [{ name: 'scale', shape: [shape[0] * shape[1] * shape[2]] }],
  build: (_spec, site) => new DiagonalScaling(site.backend, site.shape[0] * site.shape[1] * site.shape[2], `${site.prefix}scale`),
};
