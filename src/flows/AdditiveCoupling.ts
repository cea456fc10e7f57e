import type { Backend } from '../core/Backend.js';
import type { CouplingNet } from '../nn/CouplingNet.js';
import { Coupling } from './Coupling.js';
import { additiveLaw } from './laws/additiveLaw.js';
import type { Partition } from './Partition.js';

/**
 * Additive coupling layer (NICE §3.2, eq. 6): `y_I1 = x_I1`, `y_I2 = x_I2 + m(x_I1)`.
 * The Jacobian is unit triangular, so log|det| = 0; the inverse subtracts: `x_I2 = y_I2 − m(y_I1)`.
 * A `Coupling` with the law fixed to `additiveLaw` (kept for existing code); the net is `m` (also `net`).
 *
 * Backward: dL/dx_I2 = dL/dy_I2;  dL/dx_I1 = dL/dy_I1 + (∂m/∂x_I1)ᵀ dL/dy_I2 (the net's input gradient).
 */
export class AdditiveCoupling extends Coupling {
  constructor(backend: Backend, dim: number, partition: Partition, m: CouplingNet) {
    super(backend, dim, partition, m, additiveLaw);
  }
}
