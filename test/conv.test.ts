// Convolutions (im2col + gemm, or a backend's own kernels) against a naive direct loop and finite differences; ConvNet
// as a coupling function.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Backend } from '../src/core/Backend.js';
import { createRefBackend } from '../src/core/createRefBackend.js';
import { Rng } from '../src/core/Rng.js';
import { partitionFor } from '../src/flows/Partition.js';
import { conv2dBackward, conv2dForward, conv2dRef, ConvScratch, type ConvShape } from '../src/nn/conv2d.js';
import { ConvNet } from '../src/nn/ConvNet.js';
import { blasAvailable, createBlasBackend } from '../src/node/createBlasBackend.js';
import type { OneDnnConv } from '../src/node/createOneDnnConv.js';
import { createWasmBackendNode } from '../src/node/createWasmBackendNode.js';
import { loadOneDnn } from '../src/node/loadOneDnn.js';
import { assertAllClose, numericGrad, randn } from './helpers.js';

const b64 = createRefBackend({ dtype: 'float64' });
const shape = (inC: number, outC: number, height: number, width: number, kernel: number): ConvShape => ({ inC, outC, height, width, kernel });
/** A scratch whose column buffer holds exactly `images` images of shape s, so larger batches are chunked. */
const smallScratch = (backend: Backend, s: ConvShape, images: number): ConvScratch =>
  new ConvScratch(backend, images * s.height * s.width * s.inC * s.kernel ** 2 * (backend.dtype === 'float64' ? 8 : 4));
const dot = (a: ArrayLike<number>, w: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < w.length; i++) s += a[i] * w[i];
  return s;
};

describe('conv2dRef (the oracle)', () => {
  it("zero-pads at the borders: a 3×3 all-ones kernel counts each pixel's in-image neighbours", () => {
    const s = shape(1, 1, 4, 5, 3);
    const out = new Float64Array(20);
    conv2dRef(new Float64Array(20).fill(1), new Float64Array(9).fill(1), [0], out, 1, s, false);
    assert.deepEqual(Array.from(out), [4, 6, 6, 6, 4, 6, 9, 9, 9, 6, 6, 9, 9, 9, 6, 4, 6, 6, 6, 4]);
  });
  it('is a cross-correlation in PyTorch layout W[out, in, ky, kx], NHWC activations', () => {
    // Only W[1, 1, 0, 0] = 1: output channel 1 at (y, x) is input channel 1 at (y−1, x−1); channel 0 is the bias.
    const s = shape(2, 2, 3, 4, 3);
    const W = new Float64Array(36);
    W[((1 * 2 + 1) * 3 + 0) * 3 + 0] = 1;
    const x = randn(24, 1);
    const out = new Float64Array(24);
    conv2dRef(x, W, [0.5, 0], out, 1, s, false);
    for (let y = 0; y < 3; y++) {
      for (let xx = 0; xx < 4; xx++) {
        const p = y * 4 + xx;
        assert.equal(out[p * 2], 0.5);
        assert.equal(out[p * 2 + 1], y > 0 && xx > 0 ? x[(p - 5) * 2 + 1] : 0);
      }
    }
  });
});

// [name, make, which convolutions it runs: its own direct kernels (wasm), oneDNN's, or im2col + gemm]
const fast: Array<[string, () => Promise<Backend> | Backend, 'wasm' | 'oneDNN' | 'im2col']> = [
  ['ref float32', () => createRefBackend(), 'im2col'],
  ['wasm (1 thread)', () => createWasmBackendNode({ threads: 1 }), 'wasm'],
];
if (blasAvailable()) {
  fast.push(['blas', () => createBlasBackend(), loadOneDnn() ? 'oneDNN' : 'im2col'], ['blas without oneDNN (im2col + OpenBLAS)', () => createBlasBackend({ oneDnn: false }), 'im2col']);
}
const made: Backend[] = [];
after(() => made.forEach((b) => b.dispose()));
// [inC, outC, H, W, kernel, n, images per chunk (0: default buffer)]
const cases: Array<[number, number, number, number, number, number, number]> = [
  [1, 4, 5, 7, 3, 1, 0], [3, 2, 5, 7, 3, 3, 0], [4, 3, 7, 5, 3, 5, 2], [3, 4, 5, 7, 1, 3, 0], [1, 1, 1, 1, 3, 2, 1], [4, 4, 6, 3, 3, 3, 1],
];

for (const [name, make, path] of fast) {
  describe(`conv2d on ${name}`, () => {
    let backend: Backend;
    before(async () => {
      backend = await make();
      made.push(backend);
    });
    it(`convolves with ${path === 'im2col' ? 'im2col + gemm (no backend.conv)' : `${path}'s direct kernels (backend.conv)`}`, () => {
      if (path === 'im2col') assert.equal(backend.conv, undefined);
      else assert.ok(backend.conv, 'backend.conv is defined');
      // The blas backend builds on the wasm backend but convolves on oneDNN, never on the wasm kernels.
      if (path === 'oneDNN') assert.equal(typeof (backend.conv as Partial<OneDnnConv>).implementations, 'function', 'the blas backend convolves on oneDNN');
      if (path === 'wasm') assert.equal((backend.conv as Partial<OneDnnConv>).implementations, undefined);
    });
    for (const [inC, outC, H, W, k, n, per] of cases) {
      const label = `${inC}→${outC}, ${H}×${W}, ${k}×${k}, n=${n}${per ? `, ${per} image(s) per chunk` : ''}`;
      it(`forward and backward match the float64 reference: ${label}`, () => {
        const s = shape(inC, outC, H, W, k);
        const scratch = per ? smallScratch(backend, s, per) : new ConvScratch(backend);
        if (per) assert.ok(scratch.chunk(n, s) < n, 'the batch crosses a chunk boundary');
        const P = H * W, K = inC * k * k;
        const put = (v: Float64Array): ReturnType<Backend['alloc']> => {
          const a = backend.alloc(v.length);
          a.set(v);
          return a;
        };
        const x64 = randn(n * P * inC, 2), W64 = randn(outC * K, 3, 0.5), bias64 = randn(outC, 4), dy64 = randn(n * P * outC, 5);
        for (const relu of [false, true]) {
          const expected = new Float64Array(n * P * outC);
          conv2dRef(x64, W64, bias64, expected, n, s, relu);
          const out = backend.alloc(n * P * outC);
          conv2dForward(backend, put(x64), put(W64), put(bias64), out, n, s, relu, scratch);
          assertAllClose(out, expected, 1e-5, 1e-5, `forward relu=${relu}`);
          if (relu && expected.length >= 8) assert.ok(expected.some((v) => v === 0) && expected.some((v) => v > 0), 'ReLU is active somewhere, not everywhere');
        }
        // Backward: the float64 ref backend's result (checked by finite differences below) is the expectation.
        const want = [new Float64Array(outC * K), new Float64Array(outC), new Float64Array(n * P * inC)];
        conv2dBackward(b64, x64, W64, dy64, n, s, want[0], want[1], want[2], new ConvScratch(b64));
        const got = [backend.alloc(outC * K), backend.alloc(outC), backend.alloc(n * P * inC)];
        got.forEach((g) => g.fill(7)); // outputs are overwritten, not accumulated into
        conv2dBackward(backend, put(x64), put(W64), put(dy64), n, s, got[0], got[1], got[2], scratch);
        ['dW', 'db', 'dx'].forEach((what, i) => assertAllClose(got[i], want[i], 1e-4, 1e-4, what));
      });
    }
  });
}

describe('conv2dBackward (float64)', () => {
  for (const k of [3, 1]) {
    for (const relu of [false, true]) {
      it(`matches central finite differences for W, b, x: ${k}×${k}, relu=${relu}, chunked batch`, () => {
        const n = 3, s = shape(2, 3, 4, 5, k), P = 20, K = 2 * k * k;
        const x = randn(n * P * 2, 11), W = randn(3 * K, 12, 0.7), bias = randn(3, 13, 0.5), w = randn(n * P * 3, 14);
        const scratch = smallScratch(b64, s, 2);
        const y = new Float64Array(n * P * 3);
        const loss = (): number => {
          conv2dForward(b64, x, W, bias, y, n, s, relu, scratch);
          return dot(y, w);
        };
        loss();
        const dy = Float64Array.from(w);
        if (relu) b64.reluBackward(dy, y, dy.length);
        const gW = new Float64Array(W.length).fill(3), gb = new Float64Array(3).fill(3), dx = new Float64Array(x.length).fill(3);
        conv2dBackward(b64, x, W, dy, n, s, gW, gb, dx, scratch);
        for (let i = 0; i < W.length; i++) assert.ok(Math.abs(gW[i] - numericGrad(W, i, loss)) < 1e-6, `dW[${i}]`);
        for (let i = 0; i < 3; i++) assert.ok(Math.abs(gb[i] - numericGrad(bias, i, loss)) < 1e-6, `db[${i}]`);
        for (let i = 0; i < x.length; i++) assert.ok(Math.abs(dx[i] - numericGrad(x, i, loss)) < 1e-6, `dx[${i}]`);
        // Each output is optional: dx alone is the same.
        const dxOnly = new Float64Array(x.length);
        conv2dBackward(b64, x, W, dy, n, s, null, null, dxOnly, scratch);
        assertAllClose(dxOnly, dx, 0, 0, 'dx without dW, db');
      });
    }
  }
});

const C = 2, H = 4, Wd = 5, D = C * H * Wd;
const channelSplit = (k: number): { kept: Int32Array; updated: Int32Array } => {
  const lo = Int32Array.from({ length: D / 2 }, (_, i) => i), hi = Int32Array.from({ length: D / 2 }, (_, i) => D / 2 + i);
  return k % 2 === 0 ? { kept: lo, updated: hi } : { kept: hi, updated: lo };
};
const partitions: Array<[string, { kept: Int32Array; updated: Int32Array }]> = [
  ['checkerboard', partitionFor('checkerboard', 0, D, [C, H, Wd])],
  ['checkerboard (swapped)', partitionFor('checkerboard', 1, D, [C, H, Wd])],
  ['channel split', channelSplit(1)],
];

function makeNet(part: { kept: Int32Array; updated: Int32Array }, groups: number, depth = 2, seed = 5): ConvNet {
  const net = new ConvNet(b64, [C, H, Wd], part.kept, part.updated, groups, 3, depth, 'couplings.1.');
  net.init(new Rng(seed));
  return net;
}
const gather = (z: Float64Array, idx: Int32Array, n: number): Float64Array => {
  const out = new Float64Array(n * idx.length);
  for (let i = 0; i < n; i++) for (let j = 0; j < idx.length; j++) out[i * idx.length + j] = z[i * D + idx[j]];
  return out;
};

/** The spec written out independently: conv stack (conv2dRef) on the channel-major image z (NCHW → NHWC). */
function specOutput(net: ConvNet, z: Float64Array, n: number, groups: number): Float64Array {
  const P = H * Wd;
  let cur = new Float64Array(n * D);
  for (let i = 0; i < n; i++) for (let c = 0; c < C; c++) for (let p = 0; p < P; p++) cur[(i * P + p) * C + c] = z[i * D + c * P + p];
  net.layers.forEach((s, j) => {
    const y = new Float64Array(n * P * s.outC);
    conv2dRef(cur, net.params[2 * j].data, net.params[2 * j + 1].data, y, n, s, j < net.depth);
    cur = y;
  });
  const U = net.updated.length, out = new Float64Array(n * groups * U);
  for (let i = 0; i < n; i++) {
    for (let g = 0; g < groups; g++) {
      for (let j = 0; j < U; j++) {
        const u = net.updated[j], c = Math.floor(u / P), p = u % P;
        out[i * groups * U + g * U + j] = cur[(i * P + p) * groups * C + g * C + c];
      }
    }
  }
  return out;
}

describe('ConvNet', () => {
  it('parameter names and shapes follow torch.nn.Conv2d; dimensions follow the partition', () => {
    const net = makeNet(partitions[0][1], 2);
    assert.deepEqual(net.params.map((p) => [p.name, p.shape]), [
      ['couplings.1.layers.0.weight', [3, 2, 3, 3]], ['couplings.1.layers.0.bias', [3]],
      ['couplings.1.layers.1.weight', [3, 3, 3, 3]], ['couplings.1.layers.1.bias', [3]],
      ['couplings.1.layers.2.weight', [4, 3, 1, 1]], ['couplings.1.layers.2.bias', [4]],
    ]);
    net.params.forEach((p) => assert.equal(p.data.length, p.shape.reduce((a, b) => a * b)));
    assert.equal(net.inDim, 20);
    assert.equal(net.outDim, 40);
    assert.throws(() => new ConvNet(b64, [C, H, Wd], Int32Array.of(0, 1), Int32Array.of(1), 1, 3, 1), /partition/);
  });

  it('init draws uniform on ±1/sqrt(in·k·k) per layer', () => {
    const net = new ConvNet(b64, [C, H, Wd], partitions[0][1].kept, partitions[0][1].updated, 1, 16, 2);
    net.init(new Rng(3));
    for (const [j, fanIn] of [18, 144, 16].entries()) {
      const bound = 1 / Math.sqrt(fanIn);
      for (const p of [net.params[2 * j], net.params[2 * j + 1]]) {
        const max = Array.from(p.data).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        assert.ok(max <= bound, `${p.name}: ${max} > ${bound}`);
        if (p.data.length > 100) assert.ok(max > 0.9 * bound, `${p.name} spans its range`);
      }
    }
  });

  for (const [pname, part] of partitions) {
    it(`${pname}: output is the conv stack on the image with updated coordinates zeroed, and ignores them`, () => {
      const n = 3, net = makeNet(part, 2);
      const z = randn(n * D, 21);
      const out = Float64Array.from(net.forward(gather(z, part.kept, n), n));
      const zeroed = Float64Array.from(z);
      for (let i = 0; i < n; i++) for (const u of part.updated) zeroed[i * D + u] = 0;
      assertAllClose(out, specOutput(net, zeroed, n, 2), 1e-12, 1e-12, 'ConvNet vs spec on the zeroed image');
      // Not vacuous: the same conv stack on the unmasked image does see the updated coordinates.
      const leaky = specOutput(net, z, n, 2);
      assert.ok(leaky.some((v, i) => Math.abs(v - out[i]) > 1e-3), 'updated coordinates would matter without the masking');
      // Batch independence: one example alone gives its row of the batch (no state kept between calls).
      const one = net.forward(gather(z.subarray(D, 2 * D), part.kept, 1), 1);
      assertAllClose(one, out.subarray(net.outDim, 2 * net.outDim), 1e-12, 1e-12, 'example 1 alone');
    });

    for (const groups of [1, 2]) {
      it(`${pname}, outGroups ${groups}: parameter and input gradients match finite differences`, () => {
        const n = 2, net = makeNet(part, groups, 2, 7 + groups);
        const x = randn(n * net.inDim, 31), w = randn(n * net.outDim, 32);
        const loss = (): number => dot(net.forward(x, n), w);
        loss();
        const dx = Float64Array.from(net.backward(w, true, true)!);
        for (const p of net.params) {
          const g = Float64Array.from(p.grad);
          assert.ok(g.some((v) => v !== 0), `${p.name} has a gradient`);
          for (let i = 0; i < p.data.length; i++) {
            assert.ok(Math.abs(g[i] - numericGrad(p.data, i, loss)) < 1e-6, `${p.name}[${i}]`);
          }
        }
        for (let i = 0; i < x.length; i++) assert.ok(Math.abs(dx[i] - numericGrad(x, i, loss)) < 1e-6, `dx[${i}]`);
        // The flags: input gradient alone is the same; parameter gradients alone return null.
        loss();
        assertAllClose(net.backward(w, false, true)!, dx, 0, 0, 'dx without parameter gradients');
        assert.equal(net.backward(w, true, false), null);
      });
    }
  }
});
