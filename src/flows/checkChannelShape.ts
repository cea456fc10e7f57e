import { NiceFlowError } from '../core/NiceFlowError.js';

/** The most channels a per-channel layer (ActNorm, the invertible 1×1 convolution) accepts. */
export const MAX_LAYER_CHANNELS = 4096;

/**
 * Checks the [C, H, W] shape a per-channel layer is built for: positive integers, at most MAX_LAYER_CHANNELS
 * channels, fewer than 2^31 values per example. `what` names the layer in the one-line error.
 */
export function checkChannelShape(shape: readonly number[], what: string): void {
  if (!Array.isArray(shape) || shape.length !== 3 || !shape.every((v) => Number.isInteger(v) && v >= 1)) {
    throw new NiceFlowError(`${what}: the shape must be [C, H, W] with positive integers, got ${JSON.stringify(shape)}`);
  }
  if (shape[0] > MAX_LAYER_CHANNELS) throw new NiceFlowError(`${what}: ${shape[0]} channels, at most ${MAX_LAYER_CHANNELS} are supported`);
  if (shape[0] * shape[1] * shape[2] >= 2 ** 31) throw new NiceFlowError(`${what}: shape ${JSON.stringify(shape)} has too many values per example`);
}
