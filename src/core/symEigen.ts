// Symmetric eigen-decomposition in float64: Householder reduction to tridiagonal form, then implicit QL with
// Wilkinson shifts (the tred2/tql2 scheme), written for row-major storage so every inner loop is contiguous.
//
// Cost for D×D (flops): reduction (4/3)D³, forming Qᵀ (4/3)D³, QL rotations ≈ 6D³ in the worst case (about 2
// sweeps per eigenvalue, each rotating two length-D rows); all scalar JS, one thread. Measured once for D = 3072
// (a random covariance, Node 20, a 2-core machine shared with a training job): 71 s; D = 1000: ≈ 2.2 s.
// Memory: two D×D float64 arrays (75 MB each at D = 3072).

/** Eigenvalues (ascending) and orthonormal eigenvectors of a symmetric matrix. */
export interface SymEigen {
  /** λ_0 ≤ λ_1 ≤ … ≤ λ_{D−1}. */
  values: Float64Array;
  /** D×D row-major, ROW k is the unit eigenvector of `values[k]`: A·vectors[k, :] = values[k]·vectors[k, :]. */
  vectors: Float64Array;
}

/**
 * Eigen-decomposition of a symmetric D×D row-major matrix (only its upper triangle is read). Eigenvectors are
 * returned as rows (see {@link SymEigen}); A = Σ_k λ_k v_k v_kᵀ. Throws a RangeError on non-finite entries.
 */
export function symEigen(a: ArrayLike<number>, D: number): SymEigen {
  if (a.length < D * D) throw new RangeError(`symEigen: ${a.length} values for a ${D}×${D} matrix`);
  const A = new Float64Array(D * D);
  for (let i = 0; i < D * D; i++) {
    A[i] = a[i];
    // A NaN would slip through QL's negligibility test (NaN > tol is false) and come back as "eigenvalues".
    if (!Number.isFinite(A[i])) throw new RangeError(`symEigen: entry ${i} is ${A[i]}`);
  }
  const d = new Float64Array(D);
  const e = new Float64Array(D); // e[i] couples i and i+1; e[D−1] stays 0
  const beta = new Float64Array(D);
  tridiagonalize(A, D, d, e, beta);
  const Z = householderProductT(A, D, beta);
  implicitQL(d, e, Z, D);
  // Sort ascending; a permutation of rows keeps the pairs together.
  const order = Array.from({ length: D }, (_, k) => k).sort((p, q) => d[p] - d[q]);
  const values = new Float64Array(D);
  const vectors = A; // the reflectors are spent: reuse the storage rather than hold a third D×D array
  order.forEach((k, r) => {
    values[r] = d[k];
    vectors.set(Z.subarray(k * D, (k + 1) * D), r * D);
  });
  return { values, vectors };
}

/**
 * Reflector H = I − β v vᵀ with H x = α e_0 for x = row r of A, entries r+1…D−1 (= column r by symmetry).
 * v overwrites x in place (v_0 = x_0 − α, the rest = x, all divided by max|x|), α goes to e[r]. α = −sign(x_0)‖x‖ so that x_0 − α never
 * cancels. An already-zero tail gives β = 0 (no reflection). v is stored scaled (see below), which H does not see.
 */
function reflect(A: Float64Array, D: number, r: number, e: Float64Array, beta: Float64Array): void {
  const o = r * D;
  // H is unchanged when v is scaled, so x is divided by its largest entry first: a row of tiny values (a pixel that
  // is constant in the data, centred to rounding noise ~1e-17) would otherwise give β ~ 1e68 and overflow to NaN
  // two steps later (LAPACK's dlarfg rescales for the same reason).
  let big = 0;
  for (let j = r + 1; j < D; j++) big = Math.max(big, Math.abs(A[o + j]));
  const x0raw = A[o + r + 1];
  let tail = 0;
  if (big > 0) for (let j = r + 2; j < D; j++) tail += (A[o + j] / big) ** 2;
  if (tail === 0) {
    e[r] = x0raw;
    beta[r] = 0;
    return;
  }
  for (let j = r + 1; j < D; j++) A[o + j] /= big;
  const x0 = A[o + r + 1];
  const norm = Math.sqrt(x0 * x0 + tail);
  const alpha = x0 >= 0 ? -norm : norm;
  const v0 = x0 - alpha;
  A[o + r + 1] = v0;
  e[r] = alpha * big;
  beta[r] = 2 / (v0 * v0 + tail);
}

/**
 * A ← H_k A H_k for k = 0…D−3, with H_k acting on indices k+1…. With p = β A v, K = β pᵀv / 2, w = p − K v, the
 * two-sided update is the rank-2 A ← A − v wᵀ − w vᵀ. Only the upper triangle is kept (row i, j ≥ i).
 *
 * Why the odd loop shape: the next reflector comes from row k+1 right after this step's update, so the update of
 * rows k+2… and the matrix-vector product p' = A v' of the next step share one pass over the trailing triangle
 * (each row is read once while hot; a symmetric product from the upper triangle adds a_ij v'_j to p'_i and
 * a_ij v'_i to p'_j). That halves the memory traffic, which dominates at D = 3072 (75 MB matrix).
 * Pass k = −1 has v = w = 0: it only forms the first product. Afterwards row k holds v_k (entries k+1…), d the
 * diagonal, e the off-diagonal of T.
 */
function tridiagonalize(A: Float64Array, D: number, d: Float64Array, e: Float64Array, beta: Float64Array): void {
  const p = new Float64Array(D); // A v (β applied when used)
  const v = new Float64Array(D); // this step's v (a copy of row k), zero in pass −1
  const w = new Float64Array(D); // zero in pass −1, so that pass only multiplies
  for (let k = -1; k <= D - 3; k++) {
    const r = k + 1; // the row that yields the next reflector
    if (k >= 0) {
      const b = beta[k];
      let pv = 0;
      for (let j = r; j < D; j++) {
        v[j] = A[k * D + j];
        pv += p[j] * v[j];
      }
      const K = (b * b * pv) / 2;
      for (let j = r; j < D; j++) w[j] = b * p[j] - K * v[j];
      const vi = v[r], wi = w[r], ro = r * D;
      for (let j = r; j < D; j++) A[ro + j] -= vi * w[j] + wi * v[j];
    }
    const next = r <= D - 3;
    if (next) reflect(A, D, r, e, beta);
    const uo = r * D; // next step's v (garbage when !next, and then p is unused)
    p.fill(0);
    for (let i = r + 1; i < D; i++) {
      const ro = i * D, vi = v[i], wi = w[i], ui = A[uo + i];
      const aii = (A[ro + i] -= 2 * vi * wi);
      let s = aii * ui;
      for (let j = i + 1; j < D; j++) {
        const x = A[ro + j] - vi * w[j] - wi * v[j];
        A[ro + j] = x;
        s += x * A[uo + j];
        p[j] += x * ui;
      }
      p[i] += s;
    }
  }
  for (let i = 0; i < D; i++) d[i] = A[i * D + i];
  if (D >= 2) e[D - 2] = A[(D - 2) * D + D - 1];
}

/**
 * Qᵀ = H_{D−3} ⋯ H_0 (Q = H_0 ⋯ H_{D−3} is the basis with A = Q T Qᵀ), built from the right: M ← M H_k for
 * k = D−3 … 0. Row by row, M H_k = M − β (M v) vᵀ is a dot product then an axpy on the same row. Row r is e_r
 * until H_{r−1}, so H_k only touches rows and columns ≥ k+1.
 * Two speed-ups, both about memory rather than flops: reflectors go in groups of 8 per visit of a row (the row
 * stays in L1; 8× less traffic once M outgrows the caches), and in pairs (k, k−1) fused into one dot pass and one
 * update pass, using row·v_{k−1} after H_k = row·v_{k−1} − t_k (v_k·v_{k−1}).
 */
function householderProductT(A: Float64Array, D: number, beta: Float64Array): Float64Array {
  const M = new Float64Array(D * D);
  for (let i = 0; i < D; i++) M[i * D + i] = 1;
  const vv = new Float64Array(D); // vv[k] = v_k · v_{k−1} (v_k lives in row k, entries > k)
  for (let k = 1; k <= D - 3; k++) for (let j = k + 1; j < D; j++) vv[k] += A[k * D + j] * A[(k - 1) * D + j];
  const GROUP = 8;
  for (let hi = D - 3; hi >= 0; hi -= GROUP) {
    const lo = Math.max(0, hi - GROUP + 1);
    for (let r = lo + 1; r < D; r++) {
      const ro = r * D;
      let k = Math.min(hi, r - 1);
      for (; k - 1 >= lo; k -= 2) {
        const ko = k * D, mo = ko - D; // v_k, v_{k−1}
        let s1 = 0, s2 = M[ro + k] * A[mo + k];
        for (let j = k + 1; j < D; j++) {
          const x = M[ro + j];
          s1 += x * A[ko + j];
          s2 += x * A[mo + j];
        }
        const ta = beta[k] * s1;
        const tb = beta[k - 1] * (s2 - ta * vv[k]);
        M[ro + k] -= tb * A[mo + k];
        for (let j = k + 1; j < D; j++) M[ro + j] -= ta * A[ko + j] + tb * A[mo + j];
      }
      if (k >= lo) {
        const vo = k * D;
        let t = 0;
        for (let j = k + 1; j < D; j++) t += M[ro + j] * A[vo + j];
        t *= beta[k];
        for (let j = k + 1; j < D; j++) M[ro + j] -= t * A[vo + j];
      }
    }
  }
  return M;
}

/**
 * Diagonalises the symmetric tridiagonal (d, e) in place by implicit QL steps, rotating the ROWS of Z (which start
 * as Qᵀ and end as the eigenvectors): T = S Λ Sᵀ accumulates S ← S G, so (Q S)ᵀ ← Gᵀ (Q S)ᵀ, a rotation of two
 * contiguous rows.
 *
 * For each l, find the first m ≥ l with negligible e[m] (|e_m| ≤ u‖T‖); the block l…m is
 * unreduced. The shift μ is the eigenvalue of the top 2×2 block [d_l e_l; e_l d_{l+1}] nearer d_l:
 * with g = (d_{l+1} − d_l)/(2e_l), μ = d_l − e_l / (g + sign(g)·hypot(g, 1)) (the form that never cancels).
 * A QL step of T − μI is done implicitly: a rotation in the plane (m−1, m) zeroes the bottom of the first column
 * of L, and rotations (i, i+1) for i = m−1 down to l chase the resulting bulge up the band. Each eigenvalue
 * converges cubically, typically in 1–2 steps.
 */
function implicitQL(d: Float64Array, e: Float64Array, Z: Float64Array, D: number): void {
  // Negligible means below u·‖T‖, not u·(|d_m| + |d_m+1|): the relative test never fires inside a cluster of
  // (near-)zero eigenvalues, e.g. a rank-deficient covariance. Absolute accuracy u‖A‖ is all Householder gives.
  let norm = 0;
  for (let i = 0; i < D; i++) norm = Math.max(norm, Math.abs(d[i]) + Math.abs(e[i]));
  const tol = Number.EPSILON * norm;
  const rotations = new RotationBuffer(Z, D);
  for (let l = 0; l < D; l++) {
    for (let iter = 0; ; iter++) {
      let m = l;
      while (m < D - 1 && Math.abs(e[m]) > tol) m++;
      if (m === l) break;
      if (iter >= 60) throw new Error(`symEigen: QL did not converge for eigenvalue ${l}`);
      let g = (d[l + 1] - d[l]) / (2 * e[l]);
      let r = Math.hypot(g, 1);
      g = d[m] - d[l] + e[l] / (g + (g >= 0 ? r : -r)); // d_m − μ
      let s = 1, c = 1, p = 0;
      let i = m - 1;
      for (; i >= l; i--) {
        const f = s * e[i], b = c * e[i];
        r = Math.hypot(f, g);
        e[i + 1] = r;
        if (r === 0) {
          // The bulge vanished (underflow): the block has split; deflate and look again.
          d[i + 1] -= p;
          e[m] = 0;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1] - p;
        r = (d[i] - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
        rotations.push(i, c, s);
      }
      if (i >= l) continue;
      d[l] -= p;
      e[l] = g;
      e[m] = 0;
    }
  }
  rotations.flush();
}

/**
 * Rotations of rows (i, i+1) of Z, applied lazily. Applied one by one, each QL sweep streams every row it touches
 * through the cache (75 MB per sweep at D = 3072, thousands of sweeps). Z is never read by QL, so rotations can
 * wait: a batch covering several sweeps is applied one 64-column strip at a time, with the strip (≤ D·512 bytes)
 * staying in cache across the whole batch; columns are independent, so the order within a strip is all that matters.
 */
class RotationBuffer {
  private readonly row: Int32Array;
  private readonly cs: Float64Array;
  private count = 0;

  constructor(
    private readonly Z: Float64Array,
    private readonly D: number,
  ) {
    this.row = new Int32Array(8 * D);
    this.cs = new Float64Array(16 * D);
  }

  /** Queues Z[i+1] ← s Z[i] + c Z[i+1], Z[i] ← c Z[i] − s Z[i+1] (rows i, i+1 of Z = columns i, i+1 of Q S). */
  push(i: number, c: number, s: number): void {
    this.row[this.count] = i;
    this.cs[2 * this.count] = c;
    this.cs[2 * this.count + 1] = s;
    if (++this.count === this.row.length) this.flush();
  }

  flush(): void {
    const { Z, D, row, cs, count } = this;
    for (let k0 = 0; k0 < D; k0 += 64) {
      const k1 = Math.min(D, k0 + 64);
      for (let q = 0; q < count; q++) {
        const c = cs[2 * q], s = cs[2 * q + 1];
        const zi = row[q] * D, zj = zi + D;
        for (let k = k0; k < k1; k++) {
          const x = Z[zi + k], y = Z[zj + k];
          Z[zj + k] = s * x + c * y;
          Z[zi + k] = c * x - s * y;
        }
      }
    }
    this.count = 0;
  }
}
