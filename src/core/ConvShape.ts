/** Geometry of one convolution (stride 1, 'same' zero padding): input channels, output channels, image height and
 * width, kernel size (odd). See src/nn/conv2d.ts for the layouts. */
export interface ConvShape {
  inC: number;
  outC: number;
  height: number;
  width: number;
  kernel: number;
}
