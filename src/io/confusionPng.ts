import { encode } from 'fast-png';
import { CHAR_H, CHAR_W, drawText } from './pixelFont.js';

/**
 * A confusion matrix as a PNG (8-bit gray): one square cell per (true class, predicted class), rows the true class
 * (labelled on the left), columns the predicted class (labelled on top); a cell's darkness is its share of its
 * row (white 0, black all of the row), so the diagonal is dark when the classifier is right. Cells of at least 0.5%
 * of their row are printed in percent. `cell` is the cell side in pixels.
 */
export function confusionPng(confusion: readonly (readonly number[])[], cell = 40): Uint8Array {
  const K = confusion.length;
  const margin = 2 * CHAR_W + 8;
  const width = margin + K * cell + 4;
  const height = margin + K * cell + 4;
  const img = new Uint8Array(width * height).fill(255);
  for (let t = 0; t < K; t++) {
    const total = confusion[t].reduce((a, b) => a + b, 0);
    drawText(img, width, height, String(t), margin - CHAR_W * String(t).length - 6, margin + t * cell + (cell - CHAR_H) / 2);
    for (let p = 0; p < K; p++) {
      const share = total > 0 ? confusion[t][p] / total : 0;
      const gray = Math.round(255 * (1 - share));
      for (let y = 1; y < cell; y++) img.fill(gray, (margin + t * cell + y) * width + margin + p * cell + 1, (margin + t * cell + y) * width + margin + (p + 1) * cell);
      if (share >= 0.005) {
        const label = share >= 0.995 ? '100' : (100 * share).toFixed(share < 0.1 ? 1 : 0);
        drawText(img, width, height, label, margin + p * cell + (cell - label.length * CHAR_W) / 2 + 1, margin + t * cell + (cell - CHAR_H) / 2, gray < 128 ? 255 : 0);
      }
    }
  }
  for (let p = 0; p < K; p++) drawText(img, width, height, String(p), margin + p * cell + (cell - CHAR_W * String(p).length) / 2, margin - CHAR_H - 6);
  return encode({ width, height, data: img, channels: 1, depth: 8 });
}
