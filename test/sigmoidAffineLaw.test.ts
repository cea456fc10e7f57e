// The sigmoid-scale laws bound what one coupling can do to a value, whatever its network outputs: |y2| ≤ |x2| + C
// (scale σ(a + 2) < 1, shift C·tanh(t/C)), and log|det| ≤ 0. That is what keeps a stack of them from blowing up on
// an image unlike the training data (docs/architectures.md); the affine law, whose scale reaches e², does not.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRefBackend } from '../src/core/createRefBackend.js';
import { affineLaw } from '../src/flows/laws/affineLaw.js';
import { boundedAffineLaw, SHIFT_BOUND } from '../src/flows/laws/boundedAffineLaw.js';
import type { CouplingLawImpl, LawSite } from '../src/flows/laws/CouplingLawImpl.js';
import { GLOW_SHIFT_BOUND, glowAffineLaw } from '../src/flows/laws/glowAffineLaw.js';

const backend = createRefBackend({ dtype: 'float64' });
const D = 4, updated = Int32Array.from([1, 3]), du = 2, n = 64;
const site: LawSite = { backend, dim: D, updated };

/** The largest |y2| − |x2| over rows of huge inputs and huge network outputs of either sign, and the largest log-det. */
function worstGrowth(law: CouplingLawImpl): { growth: number; logDet: number } {
  const h = new Float64Array(n * 2 * du), x = new Float64Array(n * D);
  for (let r = 0; r < n; r++) {
    for (let k = 0; k < 2 * du; k++) h[r * 2 * du + k] = ((r >> k) & 1 ? 1 : -1) * 10 ** ((r % 7) - 1);
    for (let i = 0; i < D; i++) x[r * D + i] = (i % 2 ? -1 : 1) * 10 ** (r % 9);
  }
  const y = Float64Array.from(x), logDet = new Float64Array(n), saved = new Float64Array(n * law.saved * du);
  law.forward(site, h, x, y, logDet, saved, n);
  let growth = -Infinity;
  for (let r = 0; r < n; r++) for (const i of updated) growth = Math.max(growth, Math.abs(y[r * D + i]) - Math.abs(x[r * D + i]));
  return { growth, logDet: Math.max(...logDet) };
}

describe('sigmoid-scale coupling laws: one coupling cannot blow a value up', () => {
  for (const [law, C] of [[boundedAffineLaw, SHIFT_BOUND], [glowAffineLaw, GLOW_SHIFT_BOUND]] as const) {
    it(`${law.name}: |y2| < |x2| + ${C} and log|det| ≤ 0 for inputs and network outputs up to 1e8`, () => {
      const { growth, logDet } = worstGrowth(law);
      assert.ok(growth <= C, `grew by ${growth}`);
      assert.ok(growth > 0.9 * C, `the shift bound is reached (${growth})`);
      assert.ok(logDet <= 0, `log-det ${logDet}`);
    });
  }
  it('glow-affine barely touches the shifts a trained flow uses (|t| ≤ 10: within 1%)', () => {
    for (const t of [-10, -1, 0.5, 10]) assert.ok(Math.abs(GLOW_SHIFT_BOUND * Math.tanh(t / GLOW_SHIFT_BOUND) - t) <= 0.01 * Math.abs(t));
  });
  it('the affine law is not bounded so (its scale reaches e²): the reason for the other two', () => {
    const { growth } = worstGrowth(affineLaw);
    assert.ok(growth > 1e8, `affine grew by ${growth}`);
  });
});
