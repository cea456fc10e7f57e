// Zero-padded bands of image rows, the input the convolution kernels read (conv.ts, winograd.ts).

/**
 * Band rows r0 ≤ r < r1 of an image (src: its first pixel, H×W×S): row r of the image with padL zeros before and
 * padR after, or a zero row where r is outside the image.
 */
export function padBand(src: usize, band: usize, H: i32, W: i32, S: i32, padL: i32, padR: i32, r0: i32, r1: i32): void {
  const inBytes = <usize>(W * S) * 4;
  const leftBytes = <usize>(padL * S) * 4;
  const rightBytes = <usize>(padR * S) * 4;
  const rowBytes = leftBytes + inBytes + rightBytes;
  for (let r = r0; r < r1; r++) {
    const dst = band + <usize>(r - r0) * rowBytes;
    if (r < 0 || r >= H) {
      memory.fill(dst, 0, rowBytes);
      continue;
    }
    if (padL) memory.fill(dst, 0, leftBytes);
    memory.copy(dst + leftBytes, src + <usize>r * inBytes, inBytes);
    if (padR) memory.fill(dst + leftBytes + inBytes, 0, rightBytes);
  }
}
