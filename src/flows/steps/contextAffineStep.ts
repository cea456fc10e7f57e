import { ContextAffine } from '../ContextAffine.js';
import { SpecReader } from './readSpec.js';
import type { StepKind, StepSpec } from './StepKind.js';

/** The most context values per example a step accepts. */
export const MAX_CONTEXT = 2 ** 16;

/**
 * A `context-affine` step's settings: `context`, the number of context values per example (C); `latent: true` (the
 * flow's last step only) makes it act on the whole latent, every level's values, after the flow, instead of on the
 * values its place in the flow sees (in a multi-scale flow: the last level's).
 */
export interface ContextAffineSpec extends StepSpec {
  type: 'context-affine';
  context: number;
  latent?: true;
}

/**
 * A conditional affine map y = x ⊙ exp(ℓ(a)) + t with [a | t] linear in the example's context (ContextAffine). As a
 * flow's last step with one-hot class labels it gives each class its own prior location and scale.
 */
export const contextAffineStep: StepKind<ContextAffineSpec> = {
  type: 'context-affine',
  summary: 'conditional affine map y = x ⊙ exp(ℓ(a)) + t, [a | t] linear in the context (last: a per-class prior location and scale; "latent": true: on every level\'s values)',
  validate(raw) {
    const r = new SpecReader(raw, 'context-affine step');
    const spec: ContextAffineSpec = { type: 'context-affine', context: r.int('context', 1, MAX_CONTEXT) };
    if (r.bool('latent', false)) spec.latent = true;
    r.done();
    return spec;
  },
  outShape: (_spec, shape) => shape,
  paramShapes: (spec, shape) => {
    const D = shape[0] * shape[1] * shape[2];
    return [{ name: 'weight', shape: [2 * D, spec.context] }, { name: 'bias', shape: [2 * D] }];
  },
  build: (spec, site) => new ContextAffine(site.backend, site.shape[0] * site.shape[1] * site.shape[2], spec.context, site.prefix),
};
