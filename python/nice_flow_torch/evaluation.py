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
    log_likelihood: float  # mean log p(x), nats per image, in the model's data range (class-conditional: the marginal)
    bits_per_dim: float
    std_error: float
    n: int
    conditional_log_likelihood: Optional[float] = None  # class-conditional with labels: mean log p(x | y)
    conditional_bits_per_dim: Optional[float] = None
    accuracy: Optional[float] = None  # the likelihood classifier's (Bayes' rule with the class prior)

    def as_json(self) -> dict:
        """The fields of `nice-flow eval --json`."""
        out = {"logLikelihood": self.log_likelihood, "bitsPerDim": self.bits_per_dim, "stdError": self.std_error, "n": self.n}
        if self.accuracy is not None:
            out.update(conditionalLogLikelihood=self.conditional_log_likelihood, conditionalBitsPerDim=self.conditional_bits_per_dim,
                       accuracy=self.accuracy)
        return out


def class_log_likelihoods(model: NiceFlow, x: torch.Tensor) -> torch.Tensor:
    """log p(x_i | k) [n, K] of a class-conditional model: the flow once per class, every row under one-hot k."""
    k_count = model.config.classes
    eye = torch.eye(k_count, dtype=x.dtype, device=x.device)
    return torch.stack([model.log_prob(x, eye[k].expand(x.shape[0], k_count)) for k in range(k_count)], dim=1)


def class_log_prior(model: NiceFlow) -> torch.Tensor:
    """log p(y): the config's classPrior, or uniform."""
    k_count = model.config.classes
    p = model.config.class_prior or [1.0 / k_count] * k_count
    return torch.log(torch.tensor(p, dtype=torch.float64))


MAX_DRAWS = 1000


def noise_for(seed: int, start: int, count: int, dim: int, draw: int = 0) -> np.ndarray:
    """U(0,1) noise [count, dim] for images start … start+count−1 (chunk-aligned start); draw d > 0 of several per
    image (evaluate's `draws`) has its own stream."""
    return np.random.default_rng([seed, start] if draw == 0 else [seed, start, draw]).random((count, dim))


@torch.no_grad()
def evaluate(model: NiceFlow, images: np.ndarray, dequantize: str = "uniform", seed: int = 0, batch_size: int = 500,
             device: Optional[torch.device] = None, dtype: torch.dtype = torch.float32,
             group: bool = False, labels: Optional[np.ndarray] = None, draws: int = 1) -> EvalResult:
    """Evaluates every image (uint8 [N, C, H, W] or [N, D]); with `group`, each process of the default process group
    takes every world-th chunk and the sums are all-reduced (every process gets the result). A class-conditional
    model is scored under every class: the marginal log Σ_y p(x|y) p(y), and with `labels` the conditional and the
    accuracy (as nice-flow's evaluate). With `draws` K > 1 each image's likelihood (each class's) is
    log (1/K) Σ_k p(x + u_k) over K noise draws, as nice-flow's `--draws` (its own noise, as always)."""
    if not (isinstance(draws, int) and 1 <= draws <= MAX_DRAWS):
        raise ValueError(f"draws must be a whole number from 1 to {MAX_DRAWS}, got {draws}")
    rank, world = (dist.get_rank(), dist.get_world_size()) if group else (0, 1)
    device = device or next(model.parameters()).device
    n_img = len(images)
    flat = images.reshape(n_img, -1)
    dim = flat.shape[1]
    lo, hi = model.data_range
    sums = torch.zeros(4, dtype=torch.float64)  # Σ lp, Σ lp², Σ log p(x | y), correct
    conditional = bool(model.config.classes)
    log_prior = class_log_prior(model) if conditional else None
    chunks = range(0, n_img, NOISE_CHUNK)
    per_batch = max(1, batch_size // NOISE_CHUNK)
    mine = [c for i, c in enumerate(chunks) if i % world == rank]
    for b in range(0, len(mine), per_batch):
        def score(draw: int) -> torch.Tensor:
            parts = []
            for start in mine[b : b + per_batch]:
                count = min(NOISE_CHUNK, n_img - start)
                px = flat[start : start + count].astype(np.float64)
                u = noise_for(seed, start, count, dim, draw) if dequantize == "uniform" else 0.5
                parts.append(lo + (hi - lo) / 256.0 * (px + u))
            x = torch.from_numpy(np.concatenate(parts)).to(device=device, dtype=dtype)
            return (class_log_likelihoods(model, x) if conditional else model.log_prob(x)).to(torch.float64).cpu()

        # Averaged over the draws in probability: log (1/K) Σ_k p(x + u_k), per image (and class).
        scores = score(0) if draws == 1 else torch.logsumexp(torch.stack([score(k) for k in range(draws)]), dim=0) - math.log(draws)
        if conditional:
            joint = scores
            lp = torch.logsumexp(joint + log_prior, dim=1)
            if labels is not None:
                rows = np.concatenate([np.arange(start, min(start + NOISE_CHUNK, n_img)) for start in mine[b : b + per_batch]])
                y = torch.from_numpy(labels[rows])
                sums[2] += joint.gather(1, y[:, None]).sum()
                sums[3] += ((joint + log_prior).argmax(dim=1) == y).sum()
        else:
            lp = scores
        sums[:2] += torch.stack([lp.sum(), (lp * lp).sum()])
    if group:
        all_reduce_(sums)
    mean = float(sums[0]) / n_img
    var = max(0.0, float(sums[1]) / n_img - mean * mean)
    r = EvalResult(mean, bits_per_dim(mean, dim, model.data_range), math.sqrt(var / max(1, n_img - 1)), n_img)
    if conditional and labels is not None:
        r.conditional_log_likelihood = float(sums[2]) / n_img
        r.conditional_bits_per_dim = bits_per_dim(r.conditional_log_likelihood, dim, model.data_range)
        r.accuracy = float(sums[3]) / n_img
    return r
