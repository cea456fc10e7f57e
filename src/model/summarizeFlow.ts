import { contextSize } from './contextSize.js';
import { planFlow } from './planFlow.js';
import type { NiceConfig } from './NiceConfig.js';

/**
 * One line saying what a model's flow is, for front ends (the CLI's training banner, the studio's Model panel):
 * the paper's flat form as "4 additive couplings of 5×1000 MLP", a described flow as its steps grouped by level
 * ("logit · squeeze → 4×14×14 · 4 × (actnorm, invconv, affine coupling conv 2×64) · split → 2×14×14 · …").
 */
export function summarizeFlow(config: NiceConfig): string {
  if (!config.flow) {
    const net = config.network === 'conv' ? `conv ${config.depth}×${config.hidden} channels` : `${config.depth}×${config.hidden} MLP`;
    const C = contextSize(config);
    const where = config.conditioning === 'couplings' ? 'in the couplings' : config.conditioning === 'both' ? 'in the couplings and the prior' : 'in the prior';
    const conditional = C ? ` · ${config.classes ? `class-conditional (${config.classes} classes` : `conditional (a context of ${C}`}, ${where})` : '';
    return `${config.couplings} ${config.coupling} couplings of ${net}${conditional}`;
  }
  const words: string[] = [];
  for (const p of planFlow(config)) {
    const s = p.spec;
    if (s.type === 'coupling') words.push(`${s.law} coupling (${s.partition}, ${s.network} ${s.depth}×${s.hidden})`);
    else if (s.type === 'squeeze' || s.type === 'split') {
      const out = p.kind.outShape(s, p.shape);
      words.push(`${s.type} → ${out.join('×')}`);
    } else words.push(s.latent === true ? `${s.type} (whole latent)` : s.type);
  }
  // Runs of the same group of steps (a level's K repetitions) are written once with their count.
  const out: string[] = [];
  for (let i = 0; i < words.length; ) {
    let best = { len: 1, reps: 1 };
    for (let len = 1; len <= 4 && i + len <= words.length; len++) {
      let reps = 1;
      while (i + (reps + 1) * len <= words.length && words.slice(i + reps * len, i + (reps + 1) * len).join('|') === words.slice(i, i + len).join('|')) reps++;
      if (reps > 1 && reps * len > best.reps * best.len) best = { len, reps };
    }
    const group = words.slice(i, i + best.len).join(', ');
    out.push(best.reps > 1 ? `${best.reps} × (${group})` : group);
    i += best.len * best.reps;
  }
  return out.join(' · ');
}
