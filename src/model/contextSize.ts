import type { NiceConfig } from './NiceConfig.js';

/** Values of context per example a config's model takes: K for a class-conditional model, `context`, or 0. */
export function contextSize(config: Pick<NiceConfig, 'classes' | 'context'>): number {
  return config.classes ?? config.context ?? 0;
}
