import { Logit } from '../Logit.js';
import { SpecReader } from './readSpec.js';
import type { StepKind, StepSpec } from './StepKind.js';

/** A checked logit step: α ∈ (0, 0.5). */
export interface LogitSpec extends StepSpec {
  type: 'logit';
  alpha: number;
}

/** The logit step's default α (RealNVP's 0.05). */
export const LOGIT_DEFAULT_ALPHA = 0.05;

/**
 * `{ "type": "logit", "alpha": 0.05 }`: the logit preprocessing from the model's data range to R (see Logit).
 * The range is not a setting: it is the model's, `site.range` ([0, 1] when the site has none). No parameters; the
 * shape is unchanged.
 */
export const logitStep: StepKind<LogitSpec> = {
  type: 'logit',
  summary: 'logit preprocessing y = logit(α + (1 − 2α)·u), u the value rescaled from the data range to [0, 1]; alpha in (0, 0.5), default 0.05',
  validate(raw) {
    const r = new SpecReader(raw, 'logit step');
    const alpha = r.number('alpha', 0, 0.5, LOGIT_DEFAULT_ALPHA);
    r.done();
    return { type: 'logit', alpha };
  },
  outShape: (_spec, shape) => shape,
  paramShapes: () => [],
  build(spec, site) {
    const [C, H, W] = site.shape;
    return new Logit(site.backend, C * H * W, spec.alpha, site.range ?? [0, 1]);
  },
};
