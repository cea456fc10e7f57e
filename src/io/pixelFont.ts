// A 3×5 pixel font for the labels of the charts nice-flow draws (spectrum, confusion matrix), so they need no font
// or plotting library: five rows of three bits each, most significant bit on the left.
const GLYPHS: Record<string, number[]> = {
  '0': [7, 5, 5, 5, 7], '1': [2, 6, 2, 2, 7], '2': [7, 1, 7, 4, 7], '3': [7, 1, 7, 1, 7], '4': [5, 5, 7, 1, 1],
  '5': [7, 4, 7, 1, 7], '6': [7, 4, 7, 5, 7], '7': [7, 1, 1, 1, 1], '8': [7, 5, 7, 5, 7], '9': [7, 5, 7, 1, 7],
  e: [0, 7, 7, 4, 7], '-': [0, 0, 7, 0, 0], '.': [0, 0, 0, 0, 2], '%': [5, 1, 2, 4, 5],
};

/** Pixels per font pixel. */
export const FONT_SCALE = 2;
/** Width of one character cell (3 pixels and a space), scaled. */
export const CHAR_W = 4 * FONT_SCALE;
/** Height of a line of text, scaled. */
export const CHAR_H = 5 * FONT_SCALE;

/**
 * Draws `s` into an 8-bit gray image [height, width] with its top-left corner at (x, y), in gray level `value`;
 * characters without a glyph are blank, pixels outside the image are skipped.
 */
export function drawText(img: Uint8Array, width: number, height: number, s: string, x: number, y: number, value = 0): void {
  [...s].forEach((ch, k) => {
    const rows = GLYPHS[ch];
    if (!rows) return;
    for (let r = 0; r < CHAR_H; r++) {
      for (let c = 0; c < 3 * FONT_SCALE; c++) {
        if (!((rows[Math.floor(r / FONT_SCALE)] >> (2 - Math.floor(c / FONT_SCALE))) & 1)) continue;
        const xi = Math.round(x + k * CHAR_W + c), yi = Math.round(y + r);
        if (xi >= 0 && xi < width && yi >= 0 && yi < height) img[yi * width + xi] = value;
      }
    }
  });
}
