// Pictures as model inputs: gray from colour, nearest-neighbour resizing, the data range.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { imageToModelInput } from '../src/data/imageToModelInput.js';

describe('imageToModelInput', () => {
  it('maps [0, 1] onto the data range at the model size, saying what it changed', () => {
    const rgb = { channels: 3, height: 2, width: 2, data: Float32Array.of(1, 0, 0, 0, /* G */ 0, 1, 0, 0, /* B */ 0, 0, 1, 0) };
    const out = new Float32Array(4 + 16);
    const notes = imageToModelInput(rgb, [1, 4, 4], [-1, 1], out, 4);
    assert.deepEqual(notes, ['in colour; converted to gray', '2×2; resized to 4×4 (nearest neighbour)']);
    assert.deepEqual([...out.subarray(0, 4)], [0, 0, 0, 0], 'wrote before its offset');
    // Top-left 2×2 block is the red pixel: gray 0.299 → −1 + 2·0.299.
    const red = -1 + 2 * Math.fround(0.299);
    assert.ok(Math.abs(out[4] - red) < 1e-6 && Math.abs(out[4 + 5] - red) < 1e-6, `${out[4]}`);
    assert.ok(Math.abs(out[4 + 15] - -1) < 1e-6, 'the black pixel maps to the low end');
    const same = new Float32Array(4);
    assert.deepEqual(imageToModelInput({ channels: 1, height: 2, width: 2, data: Float32Array.of(0, 0.5, 1, 0.25) }, [1, 2, 2], [0, 1], same), []);
    assert.deepEqual([...same], [0, 0.5, 1, 0.25]);
    assert.throws(() => imageToModelInput(rgb, [2, 2, 2], [0, 1], new Float32Array(8)), /has 3 channels, the model's images have 2/);
  });
});
