"""Mean log-likelihood of a set of 8-bit images, single-process or shared out over a process group."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
import torch.distributed as dist

from .distributed import all_reduce_

from .data import bits_per_dim
from .model import NiceFlow

# Dequantization noise is drawn per chunk of this many images from a generator seeded by (seed, first image), so
# the numbers do not depend on the batch size or on how many processes share the work.
NOISE_CHUNK = 100


@dataclass
class EvalResult:
    log_likelihood: float  # mean log p(x), nats per image, in the model's data range
    bits_per_dim: float
    std_error: float
    n: int

    def as_json(self) -> dict:
        """The fields of `nice-flow eval --json`."""
        return {"logLikelihood": self.log_likelihood, "bitsPerDim": self.bits_per_dim, "stdError": self.std_error, "n": self.n}


def noise_for(seed: int, start: int, count: int, dim: int) -> np.ndarray:
    """U(0,1) noise [count, dim] for images start … start+count−1 (chunk-aligned start)."""
    return np.random.default_rng([seed, start]).random((count, dim))


@torch.no_grad()
def evaluate(model: NiceFlow, images: np.ndarray, dequantize: str = "uniform", seed: int = 0, batch_size: int = 500,
             device: Optional[torch.device] = None, dtype: torch.dtype = torch.float32,
             group: bool = False) -> EvalResult:
    """Evaluates every image (uint8 [N, C, H, W] or [N, D]); with `group`, each process of the default process group
    takes every world-th chunk and the sums are all-reduced (every process gets the result)."""
    rank, world = (dist.get_rank(), dist.get_world_size()) if group else (0, 1)
    device = device or next(model.parameters()).device
    n_img = len(images)
    flat = images.reshape(n_img, -1)
    dim = flat.shape[1]
    lo, hi = model.data_range
    sums = torch.zeros(2, dtype=torch.float64)
    chunks = range(0, n_img, NOISE_CHUNK)
    per_batch = max(1, batch_size // NOISE_CHUNK)
    mine = [c for i, c in enumerate(chunks) if i % world == rank]
    for b in range(0, len(mine), per_batch):
        parts = []
        for start in mine[b : b + per_batch]:
            count = min(NOISE_CHUNK, n_img - start)
            px = flat[start : start + count].astype(np.float64)
            u = noise_for(seed, start, count, dim) if dequantize == "uniform" else 0.5
            parts.append(lo + (hi - lo) / 256.0 * (px + u))
        x = torch.from_numpy(np.concatenate(parts)).to(device=device, dtype=dtype)
        lp = model.log_prob(x).to(torch.float64).cpu()
        sums += torch.stack([lp.sum(), (lp * lp).sum()])
    if group:
        all_reduce_(sums)
    mean = float(sums[0]) / n_img
    var = max(0.0, float(sums[1]) / n_img - mean * mean)
    return EvalResult(mean, bits_per_dim(mean, dim, model.data_range), math.sqrt(var / max(1, n_img - 1)), n_img)
