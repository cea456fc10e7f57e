// The toy 2-D data sets of src/toy (for the flow playground and the CLI): names and registry, seeded reproducible
// sampling, argument checks, the known densities (normalised on a grid, rings against brute-force integration over
// the angle, moments of the samples against the definitions, samples against their own density through E[log p]),
// and the true mean log-likelihoods over 10,000 points with seed 0, printed as diagnostics.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { NiceFlowError } from '../src/core/NiceFlowError.js';
import { Rng } from '../src/core/Rng.js';
import * as api from '../src/index.js';
import {
  besselI0e,
  getToyDataset,
  isToyName,
  MAX_TOY_COUNT,
  sampleToy,
  TOY_DATASETS,
  TOY_NAMES,
  toyLogDensity,
  toyTrueLogLikelihood,
  type ToyName,
} from '../src/toy/index.js';
import { root } from './cliRun.js';

const throwsUser = (f: () => unknown, pattern: RegExp): void => {
  assert.throws(f, (e: unknown) => e instanceof NiceFlowError && pattern.test(e.message) && !e.message.includes('\n'), `expected a one-line NiceFlowError matching ${pattern}`);
};

const KNOWN: readonly ToyName[] = ['rings', '8gaussians', 'checkerboard', 'gaussian'];
const UNKNOWN: readonly ToyName[] = ['moons', 'spiral', 'pinwheel'];

/** ∫ p and ∫ p log p over the square [−L, L]² by the midpoint rule with step h (cells where p = 0 add nothing). */
function gridIntegrals(logp: (x: number, y: number) => number, L: number, h: number): { mass: number; meanLogP: number } {
  const n = Math.round((2 * L) / h);
  let mass = 0;
  let plogp = 0;
  for (let i = 0; i < n; i++) {
    const x = -L + (i + 0.5) * h;
    for (let j = 0; j < n; j++) {
      const lp = logp(x, -L + (j + 0.5) * h);
      if (lp === -Infinity) continue;
      const p = Math.exp(lp);
      mass += p;
      plogp += p * lp;
    }
  }
  return { mass: mass * h * h, meanLogP: plogp * h * h };
}

/** Half-width of the integration square and grid step per known density (the mass outside is below 1e-12). */
const GRID: Record<string, { L: number; h: number }> = {
  rings: { L: 3, h: 0.01 },
  '8gaussians': { L: 4, h: 0.01 },
  checkerboard: { L: 2, h: 1 / 64 },
  gaussian: { L: 9, h: 0.02 },
};

/** Mean and covariance of [n, 2] points, in float64. */
function moments(p: Float32Array): { mx: number; my: number; cxx: number; cxy: number; cyy: number } {
  const n = p.length / 2;
  let mx = 0, my = 0;
  for (let i = 0; i < n; i++) { mx += p[2 * i]; my += p[2 * i + 1]; }
  mx /= n; my /= n;
  let cxx = 0, cxy = 0, cyy = 0;
  for (let i = 0; i < n; i++) {
    const dx = p[2 * i] - mx, dy = p[2 * i + 1] - my;
    cxx += dx * dx; cxy += dx * dy; cyy += dy * dy;
  }
  return { mx, my, cxx: cxx / n, cxy: cxy / n, cyy: cyy / n };
}

/**
 * The rings' log-density by brute force: for each ring, the mean over N equally spaced angles (the trapezoid rule,
 * spectrally accurate for this periodic integrand) of the isotropic Gaussian around r·(cos θ, sin θ), in log space.
 */
function ringsBruteForce(x: number, y: number, N = 20000): number {
  const sigma2 = 0.08 * 0.08;
  const radii = [0.5, 1, 1.5, 2];
  const perRing = radii.map((r) => {
    const e = new Float64Array(N);
    let m = -Infinity;
    for (let k = 0; k < N; k++) {
      const t = (2 * Math.PI * k) / N;
      const dx = x - r * Math.cos(t), dy = y - r * Math.sin(t);
      e[k] = -(dx * dx + dy * dy) / (2 * sigma2);
      if (e[k] > m) m = e[k];
    }
    let s = 0;
    for (let k = 0; k < N; k++) s += Math.exp(e[k] - m);
    return Math.log(r / 5) + m + Math.log(s / N) - Math.log(2 * Math.PI * sigma2);
  });
  const m = Math.max(...perRing);
  return m + Math.log(perRing.reduce((a, v) => a + Math.exp(v - m), 0));
}

describe('toy data sets: registry', () => {
  it('lists the seven sets in order, each consistent about its density and noise', () => {
    assert.deepEqual([...TOY_NAMES], ['moons', 'rings', '8gaussians', 'checkerboard', 'spiral', 'pinwheel', 'gaussian']);
    assert.deepEqual(TOY_DATASETS.map((d) => d.name), [...TOY_NAMES]);
    for (const d of TOY_DATASETS) {
      assert.ok(d.label.length > 0, d.name);
      assert.equal(d.densityKnown, d.logDensity !== null, d.name);
      assert.equal(d.densityKnown, KNOWN.includes(d.name), d.name);
      // exactly the sets without a known density take a noise
      assert.equal(d.defaultNoise === null, d.densityKnown, d.name);
      assert.equal(getToyDataset(d.name), d);
      assert.equal(toyLogDensity(d.name), d.logDensity);
      assert.ok(Object.isFrozen(d), d.name);
    }
    assert.ok(Object.isFrozen(TOY_DATASETS));
  });

  it('isToyName accepts exactly the names', () => {
    for (const name of TOY_NAMES) assert.ok(isToyName(name));
    for (const s of ['Moons', 'eightgaussians', '', 'toString', 'constructor', 3, null, undefined]) assert.equal(isToyName(s), false, String(s));
  });

  it('an unknown name is a one-line NiceFlowError listing the names, from every entry point', () => {
    const list = new RegExp(`unknown toy data set "swissroll" \\(use one of ${TOY_NAMES.join(', ')}\\)`);
    throwsUser(() => getToyDataset('swissroll'), list);
    throwsUser(() => sampleToy('swissroll', 10, new Rng(0)), list);
    throwsUser(() => toyLogDensity('swissroll'), list);
    throwsUser(() => toyTrueLogLikelihood('swissroll', new Float32Array(2)), list);
    throwsUser(() => toyLogDensity('toString'), /unknown toy data set "toString"/);
    throwsUser(() => toyLogDensity('a\nb'), /unknown toy data set "a\\nb"/);
  });

  it('is exported from the package entry point', () => {
    assert.equal(api.sampleToy, sampleToy);
    assert.equal(api.toyLogDensity, toyLogDensity);
    assert.equal(api.toyTrueLogLikelihood, toyTrueLogLikelihood);
    assert.equal(api.TOY_DATASETS, TOY_DATASETS);
    assert.equal(api.isToyName, isToyName);
    assert.equal(api.besselI0e, besselI0e);
  });

  it('src/toy is platform-neutral: no node: imports, no DOM', () => {
    const dir = join(root, 'src/toy');
    for (const f of readdirSync(dir)) {
      const text = readFileSync(join(dir, f), 'utf8');
      assert.doesNotMatch(text, /from ['"]node:|require\(|\b(window|document|process|Buffer)\b/, f);
    }
  });
});

describe('toy data sets: sampling', () => {
  for (const name of TOY_NAMES) {
    it(`${name}: reproducible from a seed, finite [count, 2], within [−5, 5]²`, () => {
      const a = sampleToy(name, 5000, new Rng(7));
      const b = sampleToy(name, 5000, new Rng(7));
      const c = sampleToy(name, 5000, new Rng(8));
      assert.ok(a instanceof Float32Array);
      assert.equal(a.length, 10000);
      assert.deepEqual(a, b);
      assert.notDeepEqual(a, c);
      for (const v of a) assert.ok(Number.isFinite(v) && Math.abs(v) < 5, `${name}: ${v}`);
      // drawing in two calls from one generator continues the same stream
      const rng = new Rng(7);
      const first = sampleToy(name, 1, rng);
      assert.deepEqual([...first], [...a.subarray(0, 2)]);
      assert.equal(sampleToy(name, 0, new Rng(7)).length, 0);
    });
  }

  it('checks the count and the noise', () => {
    for (const bad of [-1, 1.5, NaN, Infinity, MAX_TOY_COUNT + 1]) throwsUser(() => sampleToy('moons', bad, new Rng(0)), /toy data set "moons": count .* is not an integer from 0 to/);
    for (const bad of [-0.1, NaN, Infinity]) throwsUser(() => sampleToy('spiral', 10, new Rng(0), { noise: bad }), /toy data set "spiral": noise .* is not a finite number ≥ 0/);
    for (const name of KNOWN) throwsUser(() => sampleToy(name, 10, new Rng(0), { noise: 0.1 }), new RegExp(`toy data set "${name}" has a fixed definition .* takes no noise option`));
  });

  for (const name of UNKNOWN) {
    it(`${name}: the noise option changes the points; the default is defaultNoise; noise 0 is allowed`, () => {
      const d = getToyDataset(name);
      assert.deepEqual(sampleToy(name, 500, new Rng(3)), sampleToy(name, 500, new Rng(3), { noise: d.defaultNoise! }));
      assert.notDeepEqual(sampleToy(name, 500, new Rng(3)), sampleToy(name, 500, new Rng(3), { noise: 2 * d.defaultNoise! }));
      const clean = sampleToy(name, 500, new Rng(3), { noise: 0 });
      for (const v of clean) assert.ok(Number.isFinite(v));
      assert.equal(toyLogDensity(name), null);
      assert.equal(toyTrueLogLikelihood(name, clean), null);
    });
  }

  it('moons with noise 0 lie on the two half circles', () => {
    const p = sampleToy('moons', 2000, new Rng(1), { noise: 0 });
    for (let i = 0; i < 2000; i++) {
      const u = (p[2 * i] + 1) / 2, v = (p[2 * i + 1] + 0.2) / 2;
      const upper = Math.abs(Math.hypot(u, v) - 1) < 1e-5 && v >= -1e-6;
      const lower = Math.abs(Math.hypot(u - 1, v - 0.5) - 1) < 1e-5 && v <= 0.5 + 1e-6;
      assert.ok(upper || lower, `(${p[2 * i]}, ${p[2 * i + 1]})`);
    }
  });

  it('checkerboard samples all lie on dark squares, about 1/8 on each', () => {
    const n = 80_000;
    const p = sampleToy('checkerboard', n, new Rng(2));
    const counts = new Map<string, number>();
    for (let k = 0; k < n; k++) {
      const x = p[2 * k], y = p[2 * k + 1];
      assert.ok(x >= -2 && x < 2 && y >= -2 && y < 2, `(${x}, ${y}) off the board`);
      const i = Math.floor(x + 2), j = Math.floor(y + 2);
      assert.equal((i + j) % 2, 0, `(${x}, ${y}) on light square (${i}, ${j})`);
      counts.set(`${i},${j}`, (counts.get(`${i},${j}`) ?? 0) + 1);
    }
    assert.equal(counts.size, 8);
    // binomial(80000, 1/8): standard deviation about 94
    for (const [sq, c] of counts) assert.ok(Math.abs(c - n / 8) < 500, `square ${sq}: ${c}`);
    const logp = toyLogDensity('checkerboard')!;
    assert.equal(logp(-1.5, -1.5), -Math.log(8)); // (0, 0): dark
    assert.equal(logp(-0.5, -1.5), -Infinity); // (1, 0): light
    assert.equal(logp(0.5, 0.5), -Math.log(8)); // (2, 2): dark
    assert.equal(logp(2, -1.5), -Infinity); // right edge: outside (half-open)
    assert.equal(logp(-2, -2), -Math.log(8)); // bottom-left corner: inside
    assert.equal(logp(NaN, 0), -Infinity);
  });

  it('8gaussians: mean 0, covariance (2²/2 + 0.2²)·I = 2.04·I, eight equal modes', () => {
    const n = 40_000;
    const p = sampleToy('8gaussians', n, new Rng(1));
    const m = moments(p);
    // standard errors: mean √(2.04/n) ≈ 0.007; a variance about 0.01
    assert.ok(Math.abs(m.mx) < 0.04 && Math.abs(m.my) < 0.04, JSON.stringify(m));
    assert.ok(Math.abs(m.cxx - 2.04) < 0.06 && Math.abs(m.cyy - 2.04) < 0.06 && Math.abs(m.cxy) < 0.06, JSON.stringify(m));
    const counts = new Array<number>(8).fill(0);
    for (let i = 0; i < n; i++) {
      const k = ((Math.round(Math.atan2(p[2 * i + 1], p[2 * i]) / (Math.PI / 4)) % 8) + 8) % 8;
      counts[k]++;
      // every point within 6 standard deviations of its mode
      assert.ok(Math.hypot(p[2 * i] - 2 * Math.cos((k * Math.PI) / 4), p[2 * i + 1] - 2 * Math.sin((k * Math.PI) / 4)) < 1.2);
    }
    for (const c of counts) assert.ok(Math.abs(c - n / 8) < 300, `${counts}`);
  });

  it('gaussian: mean 0, covariance [[1, 0.8], [0.8, 1]]', () => {
    const m = moments(sampleToy('gaussian', 40_000, new Rng(1)));
    assert.ok(Math.abs(m.mx) < 0.025 && Math.abs(m.my) < 0.025, JSON.stringify(m));
    assert.ok(Math.abs(m.cxx - 1) < 0.04 && Math.abs(m.cyy - 1) < 0.04 && Math.abs(m.cxy - 0.8) < 0.04, JSON.stringify(m));
  });

  it('rings: radius proportional to circumference, points within noise of a ring', () => {
    const n = 40_000;
    const p = sampleToy('rings', n, new Rng(1));
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < n; i++) {
      const rho = Math.hypot(p[2 * i], p[2 * i + 1]);
      const k = Math.min(3, Math.max(0, Math.round(rho / 0.5) - 1));
      counts[k]++;
    }
    // probabilities 0.1, 0.2, 0.3, 0.4 (the rings are 6σ apart: misassignment is negligible)
    counts.forEach((c, k) => assert.ok(Math.abs(c / n - (k + 1) / 10) < 0.01, `${counts}`));
  });
});

describe('toy data sets: densities', () => {
  it('besselI0e matches reference values and the integral (1/π)∫₀^π e^{z(cos θ − 1)} dθ', () => {
    assert.equal(besselI0e(0), 1);
    assert.ok(Math.abs(besselI0e(1) * Math.E / 1.2660658777520082 - 1) < 1e-14); // I0(1)
    assert.ok(Math.abs(besselI0e(10) * Math.exp(10) / 2815.716628466254 - 1) < 1e-13); // I0(10)
    assert.equal(besselI0e(-3), besselI0e(3));
    assert.equal(besselI0e(Infinity), 0);
    assert.ok(Number.isNaN(besselI0e(NaN)));
    for (const z of [0.1, 2, 7.5, 19.999, 20, 20.001, 33, 100, 1000, 5000]) {
      const N = 4000;
      let s = 0;
      for (let k = 0; k < N; k++) s += Math.exp(z * (Math.cos((2 * Math.PI * k) / N) - 1));
      assert.ok(Math.abs(besselI0e(z) / (s / N) - 1) < 1e-12, `z = ${z}: ${besselI0e(z)} vs ${s / N}`);
    }
    // large z: the leading asymptotic term 1/√(2πz)
    assert.ok(Math.abs(besselI0e(1e8) * Math.sqrt(2 * Math.PI * 1e8) - 1) < 1e-8);
  });

  it('rings: the closed form matches brute-force integration over θ to < 1e-6 nats, near and far', () => {
    const logp = toyLogDensity('rings')!;
    // (10, −7): ρ·r/σ² ≈ 3,800 and log p ≈ −8,000, where I0 itself overflows a double
    for (const [x, y] of [[0, 0], [0.04, 0.03], [0.5, 0], [0.3, -0.4], [1, 1], [-1.2, 0.9], [0, -1.75], [2.1, 0], [-2.5, 1], [3, 4], [10, -7]]) {
      const exact = logp(x, y), brute = ringsBruteForce(x, y);
      assert.ok(Number.isFinite(exact), `(${x}, ${y}): ${exact}`);
      assert.ok(Math.abs(exact - brute) < 1e-6, `(${x}, ${y}): closed form ${exact}, brute force ${brute}`);
    }
  });

  it('gaussian: the closed form is the bivariate normal density', () => {
    const logp = toyLogDensity('gaussian')!;
    assert.ok(Math.abs(logp(0, 0) - (-Math.log(2 * Math.PI) - 0.5 * Math.log(0.36))) < 1e-14);
    // x = (1, −1): xᵀΣ⁻¹x = (1 + 1.6 + 1)/0.36 = 10
    assert.ok(Math.abs(logp(1, -1) - (logp(0, 0) - 5)) < 1e-12);
  });

  for (const name of KNOWN) {
    it(`${name}: the density integrates to 1 on a grid; its samples agree with it through E[log p]`, (t) => {
      const logp = toyLogDensity(name)!;
      const { L, h } = GRID[name];
      const { mass, meanLogP } = gridIntegrals(logp, L, h);
      assert.ok(Math.abs(mass - 1) < (name === 'checkerboard' ? 1e-12 : 1e-3), `mass ${mass}`);
      if (name === 'checkerboard') {
        // exactly: log p is −ln 8 on every cell of the dark squares (and −∞ on the rest), which cover area 8
        let cells = 0;
        for (let i = 0; i < 256; i++) for (let j = 0; j < 256; j++) {
          const lp = logp(-2 + (i + 0.5) / 64, -2 + (j + 0.5) / 64);
          if (lp !== -Infinity) { assert.equal(lp, -Math.log(8)); cells++; }
        }
        assert.equal((cells / 8) * h * h, 1);
      }
      // the true mean log-likelihood over 10,000 fresh points with seed 0, against −entropy from the grid
      const points = sampleToy(name, 10_000, new Rng(0));
      const mean = toyTrueLogLikelihood(name, points)!;
      let ss = 0;
      for (let i = 0; i < 10_000; i++) ss += (logp(points[2 * i], points[2 * i + 1]) - mean) ** 2;
      const se = Math.sqrt(ss / 10_000 / 10_000);
      t.diagnostic(`${name}: mean true log-likelihood over 10,000 points (seed 0) ${mean.toFixed(4)} ± ${se.toFixed(4)} nats; E[log p] on the grid ${meanLogP.toFixed(5)}`);
      assert.ok(Math.abs(mean - meanLogP) <= 5 * se + 1e-9, `sample mean ${mean} vs grid ${meanLogP} (standard error ${se})`);
    });
  }

  it('gaussian: the mean true log-density over 10,000 points is −entropy = −(1 + ln 2π + ½ ln det Σ)', () => {
    const negEntropy = -(1 + Math.log(2 * Math.PI) + 0.5 * Math.log(0.36));
    // log p = const − χ²₂/2 has standard deviation 1: the mean of 10,000 has standard error 0.01
    const mean = toyTrueLogLikelihood('gaussian', sampleToy('gaussian', 10_000, new Rng(0)))!;
    assert.ok(Math.abs(mean - negEntropy) < 0.04, `${mean} vs ${negEntropy}`);
    // and the grid integral agrees with the formula closely
    assert.ok(Math.abs(gridIntegrals(toyLogDensity('gaussian')!, 9, 0.02).meanLogP - negEntropy) < 1e-6);
  });

  it('toyTrueLogLikelihood: the mean of the log-densities; checks the shape; −Infinity off the checkerboard', () => {
    const pts = new Float32Array([0.5, 0, -1, 1.25, 3, 3]);
    const logp = toyLogDensity('8gaussians')!;
    const expected = (logp(0.5, 0) + logp(-1, 1.25) + logp(3, 3)) / 3;
    assert.ok(Math.abs(toyTrueLogLikelihood('8gaussians', pts)! - expected) < 1e-12);
    assert.equal(toyTrueLogLikelihood('checkerboard', new Float32Array([-1.5, -1.5, -0.5, -1.5])), -Infinity);
    assert.equal(toyTrueLogLikelihood('checkerboard', new Float32Array([-1.5, -1.5, 0.5, 0.5])), -Math.log(8));
    throwsUser(() => toyTrueLogLikelihood('rings', new Float32Array(3)), /points must be \[n, 2\]/);
    throwsUser(() => toyTrueLogLikelihood('rings', new Float32Array(0)), /points must be \[n, 2\]/);
  });
});
