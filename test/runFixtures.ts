// Small training fixtures shared by the run tests: 4×4 images of a bright square, and a RunStorage in memory.
import { Rng } from '../src/core/Rng.js';
import type { ImageDataset } from '../src/data/ImageDataset.js';
import type { EpochLogEntry, RunStorage } from '../src/train/RunStorage.js';

/** 4×4 "images": a bright square at a random place, plus noise. */
export function squares(count: number, seed: number): ImageDataset {
  const rng = new Rng(seed);
  const pixels = new Uint8Array(count * 16);
  for (let i = 0; i < count; i++) {
    const x = Math.floor(rng.uniform() * 3);
    const y = Math.floor(rng.uniform() * 3);
    for (let p = 0; p < 16; p++) pixels[i * 16 + p] = Math.floor(rng.uniform() * 40);
    for (const [dy, dx] of [[0, 0], [0, 1], [1, 0], [1, 1]]) pixels[i * 16 + (y + dy) * 4 + x + dx] = 200 + Math.floor(rng.uniform() * 55);
  }
  return { pixels, count, dim: 16, shape: [1, 4, 4] };
}

export class MemoryStorage implements RunStorage {
  checkpoint: Uint8Array | null = null;
  checkpointAt: { step: number; epoch: number } | null = null;
  model: Uint8Array | null = null;
  log: EpochLogEntry[] = [];
  saveCheckpoint(bytes: Uint8Array, at: { step: number; epoch: number }): void {
    this.checkpoint = bytes;
    this.checkpointAt = at;
  }
  saveModel(bytes: Uint8Array): void {
    this.model = bytes;
  }
  appendLog(entry: EpochLogEntry): void {
    this.log.push(entry);
  }
}

