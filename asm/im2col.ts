// im2col and its adjoint, for the convolutions of backends without direct kernels (layouts in src/nn/conv2d.ts).

/**
 * im2col for a stride-1, 'same'-padded k×k convolution (layouts in src/nn/conv2d.ts), images [img0, img1) of an NHWC
 * batch: x [m·H·W, C] → cols [m·H·W, k·k·C], column order (ky, kx, c), zeros where the window leaves the image.
 * With back ≠ 0 the adjoint (col2im): x[pixel, c] += every column entry copied from it.
 */
export function im2col(x: usize, cols: usize, H: i32, W: i32, C: i32, k: i32, back: i32, img0: i32, img1: i32): void {
  const pad = (k - 1) >> 1;
  const tapBytes = <usize>C * 4;
  const vecBytes = <usize>(C & ~3) * 4;
  for (let img = img0; img < img1; img++) {
    const imgBase = img * H * W;
    for (let yy = 0; yy < H; yy++) {
      for (let xx = 0; xx < W; xx++) {
        let t = cols + <usize>(imgBase + yy * W + xx) * <usize>k * <usize>k * tapBytes;
        for (let ky = 0; ky < k; ky++) {
          const sy = yy + ky - pad;
          for (let kx = 0; kx < k; kx++, t += tapBytes) {
            const sx = xx + kx - pad;
            if (sy < 0 || sy >= H || sx < 0 || sx >= W) {
              if (!back) for (let o: usize = 0; o < tapBytes; o += 4) store<f32>(t + o, 0);
              continue;
            }
            const src = x + <usize>(imgBase + sy * W + sx) * tapBytes;
            let o: usize = 0;
            if (back) {
              for (; o < vecBytes; o += 16) v128.store(src + o, f32x4.add(v128.load(src + o), v128.load(t + o)));
              for (; o < tapBytes; o += 4) store<f32>(src + o, load<f32>(src + o) + load<f32>(t + o));
            } else {
              for (; o < vecBytes; o += 16) v128.store(t + o, v128.load(src + o));
              for (; o < tapBytes; o += 4) store<f32>(t + o, load<f32>(src + o));
            }
          }
        }
      }
    }
  }
}

