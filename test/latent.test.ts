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
  const s = model.scaling.scale.data;
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

  it('temperature 0 decodes the prior mode whatever the seed; other temperatures scale the draw', () => {
    assert.deepEqual(model.sample(3, new Rng(1), 0), model.sample(3, new Rng(2), 0));
    const mode = model.decode(new Float32Array(784), 1);
    assert.deepEqual(model.sample(1, new Rng(5), 0), mode);
    assert.notDeepEqual(model.sample(1, new Rng(5), 0.5), mode);
  });

  it('the spectrum is exp(−s) sorted from largest to smallest, drawn as a 640×320 PNG', () => {
    const sp = scaleSpectrum(model);
    assert.equal(sp.length, 784);
    for (let i = 1; i < sp.length; i++) assert.ok(sp[i] <= sp[i - 1]);
    const s = Array.from(model.scaling.scale.data);
    assert.ok(Math.abs(sp[0] - Math.exp(-Math.min(...s))) < 1e-12);
    assert.ok(Math.abs(sp[783] - Math.exp(-Math.max(...s))) < 1e-12);
    const png = decode(spectrumPng(sp));
    assert.equal(png.width, 640);
    assert.equal(png.height, 320);
    assert.ok(png.data.some((v) => v === 0), 'the curve is drawn in black');
    // A flat spectrum (an untrained scale) still draws without dividing by zero.
    assert.equal(decode(spectrumPng(new Float64Array(10).fill(1))).width, 640);
  });
});
