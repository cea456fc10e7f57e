// Latent-space editing through the library: encode/decode, interpolation, temperature, the scale spectrum.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decode } from 'fast-png';
import { createRefBackend } from '../src/core/createRefBackend.js';
import { Rng } from '../src/core/Rng.js';
import { spectrumPng } from '../src/io/spectrumPng.js';
import { interpolate } from '../src/model/interpolate.js';
import { NiceModel } from '../src/model/NiceModel.js';
import { scaleSpectrum } from '../src/model/scaleSpectrum.js';

// An untrained model with spread-out scales is as good as a trained one for checking that f and f⁻¹ agree.
const model = new NiceModel(createRefBackend(), { dim: 784, couplings: 4, hidden: 32, depth: 2, prior: 'logistic', partition: 'alternate', coupling: 'additive', shape: [1, 28, 28] });
model.init(new Rng(1));
{
  const rng = new Rng(2);
  const s = model.scaling!.scale.data;
  for (let d = 0; d < s.length; d++) s[d] = 4 * rng.uniform() - 1;
}
const n = 4;
const x = new Float32Array(n * 784);
{
  const rng = new Rng(3);
  for (let i = 0; i < x.length; i++) x[i] = rng.uniform();
}

describe('latent space', () => {
  it('decode(encode(x)) is x to float32 rounding', () => {
    const { h } = model.encode(x, n);
    const back = model.decode(h, n);
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(back[i] - x[i]));
    assert.ok(worst < 1e-5, `largest round-trip error ${worst}`);
  });

  it('interpolation starts and ends at the two images and passes through neither in between', () => {
    const a = x.subarray(0, 784), b = x.subarray(784, 1568);
    const strip = interpolate(model, a, b, 5);
    assert.equal(strip.length, 5 * 784);
    for (let d = 0; d < 784; d++) {
      assert.ok(Math.abs(strip[d] - a[d]) < 1e-5, `first image, pixel ${d}`);
      assert.ok(Math.abs(strip[4 * 784 + d] - b[d]) < 1e-5, `last image, pixel ${d}`);
    }
    const mid = strip.subarray(2 * 784, 3 * 784);
    assert.ok(mid.some((v, d) => Math.abs(v - a[d]) > 1e-3) && mid.some((v, d) => Math.abs(v - b[d]) > 1e-3));
    // The midpoint's code is the mean of the two codes.
    const { h } = model.encode(Float32Array.from([...a, ...b, ...mid]), 3);
    for (let d = 0; d < 784; d++) assert.ok(Math.abs(h[1568 + d] - (h[d] + h[784 + d]) / 2) < 1e-3);
  });

  it('temperature 0 decodes the prior mode whatever the seed: its code is all zeros', () => {
    assert.deepEqual(model.sample(3, new Rng(1), 0), model.sample(3, new Rng(2), 0));
    const mode = model.decode(new Float32Array(784), 1);
    assert.deepEqual(model.sample(1, new Rng(5), 0), mode);
    const { h } = model.encode(model.sample(3, new Rng(1), 0), 3);
    assert.ok(h.every((v) => Math.abs(v) < 1e-5), `largest |h| at temperature 0: ${Math.max(...h.map(Math.abs))}`);
  });

  it('temperature T draws codes f(x) with T times the prior\'s spread (logistic: T·π/√3)', () => {
    // 16 samples × 784 dimensions = 12,544 independent logistic draws scaled by T. The standard deviation of the
    // sample standard deviation is σ·√((κ − 1)/N)/2 with kurtosis κ = 4.2, i.e. 0.8% of σ, and the sample mean's is
    // σ/√N = 0.9% of σ: the tolerances below (5% and 6% of T·σ) are 6 of those standard errors.
    const N = 16;
    const sigma = Math.PI / Math.sqrt(3);
    const unit = model.encode(model.sample(N, new Rng(5), 1), N).h;
    for (const T of [0.5, 2]) {
      const { h } = model.encode(model.sample(N, new Rng(5), T), N);
      // The same seed gives the same prior draws, so the code is exactly T times temperature 1's (f⁻¹ then f in float32).
      let worst = 0;
      for (let i = 0; i < h.length; i++) worst = Math.max(worst, Math.abs(h[i] - T * unit[i]) / (1 + Math.abs(T * unit[i])));
      assert.ok(worst < 1e-4, `T = ${T}: codes differ from T × the temperature-1 codes by up to ${worst} (relative)`);
      const mean = h.reduce((a, v) => a + v, 0) / h.length;
      const std = Math.sqrt(h.reduce((a, v) => a + (v - mean) ** 2, 0) / (h.length - 1));
      assert.ok(Math.abs(std / (T * sigma) - 1) < 0.05, `T = ${T}: codes have standard deviation ${std}, expected T·π/√3 = ${T * sigma}`);
      assert.ok(Math.abs(mean) < 0.06 * T * sigma, `T = ${T}: codes have mean ${mean}, expected 0`);
    }
  });

  it('the spectrum is exp(−s) sorted from largest to smallest, drawn as a 640×320 PNG', () => {
    const sp = scaleSpectrum(model);
    assert.equal(sp.length, 784);
    for (let i = 1; i < sp.length; i++) assert.ok(sp[i] <= sp[i - 1]);
    const s = Array.from(model.scaling!.scale.data);
    assert.ok(Math.abs(sp[0] - Math.exp(-Math.min(...s))) < 1e-12);
    assert.ok(Math.abs(sp[783] - Math.exp(-Math.max(...s))) < 1e-12);
    const png = decode(spectrumPng(sp));
    assert.equal(png.width, 640);
    assert.equal(png.height, 320);
    // The curve: one point per dimension across the whole plot, falling from left to right, over the 1.7 decades
    // from e¹ to e⁻³ (more than a quarter of the axis, which spans whole decades: 1e-2 to 1e1).
    const curve = chartCurve(png);
    assert.ok(curve.drawnColumns >= 0.95 * curve.rows.length, `the curve has black pixels in ${curve.drawnColumns} of ${curve.rows.length} plot columns`);
    const drawn = curve.rows.filter((r) => !Number.isNaN(r));
    let lowest = drawn[0];
    for (let i = 1; i < drawn.length; i++) {
      assert.ok(drawn[i] >= lowest - 1, `the curve rises at plot column ${i}: row ${drawn[i]}, after row ${lowest}`);
      lowest = Math.max(lowest, drawn[i]);
    }
    assert.ok(drawn.at(-1)! - drawn[0] > 0.25 * curve.plotHeight, `the curve falls by ${drawn.at(-1)! - drawn[0]} of ${curve.plotHeight} rows`);
    // A flat spectrum (an untrained scale) draws a horizontal line across the plot, without dividing by zero.
    const flat = chartCurve(decode(spectrumPng(new Float64Array(10).fill(1))));
    assert.ok(flat.drawnColumns >= 0.95 * flat.rows.length, `flat spectrum: black pixels in ${flat.drawnColumns} of ${flat.rows.length} plot columns`);
    const flatRows = flat.rows.filter((r) => !Number.isNaN(r));
    assert.ok(Math.max(...flatRows) - Math.min(...flatRows) <= 1, 'a flat spectrum is a horizontal line');
  });
});

/**
 * The curve of a spectrum chart (8-bit gray PNG: white background, gray (128) axes, black curve), found without
 * knowing its layout: the y axis is the column with the most gray pixels, the x axis the lowest of the rows with the
 * most non-white pixels right of it (a flat curve may be drawn over the x axis). The plot is what lies right of the
 * one and above the other, the x axis included. Fails when there are no axes (e.g. a blank picture). Returns for each
 * plot column the mean row of its black pixels (NaN when it has none).
 */
function chartCurve(png: { width: number; height: number; data: ArrayLike<number>; channels?: number }): { rows: number[]; drawnColumns: number; plotHeight: number } {
  const { width, height, data } = png;
  assert.equal(png.channels ?? 1, 1, 'a gray picture');
  const at = (x: number, y: number): number => data[y * width + x];
  const count = (from: number, to: number, f: (i: number) => boolean): number => {
    let k = 0;
    for (let i = from; i < to; i++) if (f(i)) k++;
    return k;
  };
  const grayIn = (x: number): number => count(0, height, (y) => at(x, y) === 128);
  let axisX = 0;
  for (let x = 1; x < width; x++) if (grayIn(x) > grayIn(axisX)) axisX = x;
  assert.ok(grayIn(axisX) > height / 2, `the chart has a gray y axis (the grayest column has ${grayIn(axisX)} gray pixels)`);
  const inkAcross = (y: number): number => count(axisX + 1, width, (x) => at(x, y) !== 255);
  let axisY = 0;
  for (let y = 1; y < height; y++) if (inkAcross(y) >= inkAcross(axisY)) axisY = y;
  assert.ok(inkAcross(axisY) > width / 2, 'the chart has an x axis');
  let top = 0;
  while (top < axisY && at(axisX, top) === 255) top++;
  const rows: number[] = [];
  for (let x = axisX + 1; x < width && at(x, axisY) !== 255; x++) {
    let sum = 0, k = 0;
    for (let y = top; y <= axisY; y++) {
      if (at(x, y) === 0) {
        sum += y;
        k++;
      }
    }
    rows.push(k > 0 ? sum / k : Number.NaN);
  }
  return { rows, drawnColumns: count(0, rows.length, (i) => !Number.isNaN(rows[i])), plotHeight: axisY - top };
}
