import type { CouplingLawImpl } from './CouplingLawImpl.js';

/**
 * The additive law (NICE eq. 6, the paper's choice): y2 = x2 + m, log|det| = 0, inverse x2 = y2 − m.
 * Backward: dL/dm = dy2 and dL/dx2 = dy2 (dy is left as it is). Forward and backward are the backend's scatterAdd
 * and gather (the training fast path); nothing is saved.
 */
export const additiveLaw: CouplingLawImpl<'additive'> = {
  name: 'additive',
  groups: 1,
  saved: 0,
  forward({ backend, dim, updated }, h, _x, y, logDet, _saved, n) {
    backend.scatterAdd(h, n, dim, updated, y);
    logDet.fill(0);
  },
  inverse({ dim, updated }, h, x, n) {
    const du = updated.length;
    for (let r = 0; r < n; r++) {
      const o = r * dim;
      const q = r * du;
      for (let j = 0; j < du; j++) x[o + updated[j]] -= h[q + j];
    }
  },
  backward({ backend, dim, updated }, dy, _saved, _logDetWeight, dh, n) {
    backend.gather(dy, n, dim, updated, dh);
  },
};
