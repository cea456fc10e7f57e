// The blas backend's oneDNN path: it is really taken when libdnnl2 is installed (so the conv and kernel-spec tests
// on blas check oneDNN's kernels, not the fallback), the fallback stays available, and the primitive cache is bounded.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Backend } from '../src/core/Backend.js';
import { conv2dForward, conv2dRef, ConvScratch, type ConvShape } from '../src/nn/conv2d.js';
import { blasAvailable, createBlasBackend } from '../src/node/createBlasBackend.js';
import { MAX_ENTRIES, type OneDnnConv } from '../src/node/createOneDnnConv.js';
import { loadOneDnn } from '../src/node/loadOneDnn.js';
import { describeKernelSpec } from './kernelSpec.js';
import { assertAllClose, randn } from './helpers.js';

const dnn = blasAvailable() ? loadOneDnn() : null;
const why = !blasAvailable() ? 'OpenBLAS not installed' : 'oneDNN not installed (apt-get install libdnnl2)';

// The OpenBLAS multiplies stay tested when oneDNN is installed (then the plain blas spec runs oneDNN's sgemm).
describeKernelSpec('blas without oneDNN', async () => (blasAvailable() ? await createBlasBackend({ oneDnn: false }) : null), 'OpenBLAS not installed');

describe('blas with oneDNN', { skip: !dnn && why }, () => {
  const made: Backend[] = [];
  after(() => made.forEach((b) => b.dispose()));
  const make = async (oneDnn: boolean): Promise<Backend> => {
    const b = await createBlasBackend({ oneDnn });
    made.push(b);
    return b;
  };

  it('convolves directly on oneDNN (a named kernel), and without it builds columns', async () => {
    const on = await make(true), off = await make(false);
    assert.ok(on.conv, 'direct convolutions with oneDNN');
    assert.equal(off.conv, undefined, 'none without');
    const s: ConvShape = { inC: 16, outC: 16, height: 6, width: 5, kernel: 3 }, n = 2;
    const x = randn(n * 30 * 16, 1), W = randn(16 * 16 * 9, 2, 0.3), b = randn(16, 3);
    const want = new Float64Array(n * 30 * 16);
    conv2dRef(x, W, b, want, n, s, true);
    let im2col = 0;
    const counting = off.im2col.bind(off);
    for (const backend of [on, off]) {
      (backend as { im2col: Backend['im2col'] }).im2col = (...a) => {
        im2col++;
        counting(...a);
      };
      const put = (v: Float64Array) => {
        const a = backend.alloc(v.length);
        a.set(v);
        return a;
      };
      const y = backend.alloc(want.length);
      im2col = 0;
      conv2dForward(backend, put(x), put(W), put(b), y, n, s, true, new ConvScratch(backend));
      assertAllClose(y, want, 1e-5, 1e-5, backend.conv ? 'oneDNN' : 'im2col');
      assert.equal(im2col > 0, backend === off, backend === off ? 'the fallback writes columns' : 'oneDNN writes none');
    }
    const impls = [...(on.conv as OneDnnConv).implementations().values()];
    assert.equal(impls.length, 1);
    assert.ok(impls[0] !== 'unknown' && impls[0].length > 0, `oneDNN names its kernel (${impls[0]})`);
  });

  it(`keeps at most ${MAX_ENTRIES} primitives however many batch sizes it sees, and stays right after evicting`, async () => {
    const on = await make(true);
    const s: ConvShape = { inC: 2, outC: 3, height: 3, width: 3, kernel: 3 };
    const W = on.alloc(54), b = on.alloc(3);
    W.set(randn(54, 4)), b.set(randn(3, 5));
    const scratch = new ConvScratch(on);
    for (let n = 1; n <= MAX_ENTRIES + 6; n++) {
      const x = on.alloc(n * 18), y = on.alloc(n * 27);
      x.set(randn(n * 18, 6 + n));
      conv2dForward(on, x, W, b, y, n, s, false, scratch);
      if (n === 1 || n === MAX_ENTRIES + 6) {
        const want = new Float64Array(n * 27);
        conv2dRef(x, W, b, want, n, s, false);
        assertAllClose(y, want, 1e-5, 1e-5, `n=${n}`);
      }
      on.free(x);
      on.free(y);
    }
    assert.equal((on.conv as OneDnnConv).implementations().size, MAX_ENTRIES);
  });
});
