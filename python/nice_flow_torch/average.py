"""An exponential moving average of the weights (Polyak averaging, `--ema DECAY`), as nice-flow's Trainer keeps it.

The average takes in the weights every AVERAGE_EVERY = 4 steps with the decay raised to that power (the same time
constant, 1/(1 − decay) steps); it starts at zero, and `install` puts it into the model divided by 1 − decay^t after
t steps (whole updates), so it is an average of the weights seen rather than pulled towards zero. Validation, the
best-model choice and model.safetensors use it; training goes on with the live weights (`restore`). Only parameters
are averaged (buffers such as ActNorm's `started` stay as they are). Checkpoints hold it as `train.ema.<name>`
(zero-started, before the correction), as nice-flow's do.
"""

from __future__ import annotations

from typing import Dict, List, Optional

import numpy as np
import torch

AVERAGE_EVERY = 4


class WeightAverage:
    def __init__(self, model: torch.nn.Module, decay: float):
        if not 0 < decay < 1:
            raise ValueError(f"the weight average's decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.params = list(model.named_parameters())
        self.avg: List[torch.Tensor] = [torch.zeros_like(p, dtype=torch.float32) for _, p in self.params]
        self.live: Optional[List[torch.Tensor]] = None

    @torch.no_grad()
    def update(self, step: int) -> None:
        """After the update of step number `step` (from 0): folds the weights in every AVERAGE_EVERY steps."""
        if (step + 1) % AVERAGE_EVERY != 0:
            return
        d = self.decay ** AVERAGE_EVERY
        for a, (_, p) in zip(self.avg, self.params):
            a.mul_(d).add_(p.detach().float(), alpha=1 - d)

    @torch.no_grad()
    def install(self, steps: int) -> bool:
        """Puts the average into the model after `steps` steps (live weights kept aside); False when there is none yet."""
        updates = steps // AVERAGE_EVERY
        if updates == 0 or self.live is not None:
            return False
        correction = 1 / (1 - self.decay ** (AVERAGE_EVERY * updates))
        self.live = [p.detach().clone() for _, p in self.params]
        for a, (_, p) in zip(self.avg, self.params):
            p.copy_((a * correction).to(p.dtype))
        return True

    @torch.no_grad()
    def restore(self) -> None:
        """Puts the live weights back after `install`."""
        if self.live is None:
            return
        for kept, (_, p) in zip(self.live, self.params):
            p.copy_(kept)
        self.live = None

    def tensors(self) -> Dict[str, np.ndarray]:
        """`train.ema.<name>` for the checkpoint."""
        return {f"train.ema.{name}": a.detach().float().cpu().numpy() for a, (name, _) in zip(self.avg, self.params)}

    @torch.no_grad()
    def load(self, tensors: Dict[str, np.ndarray], what: str) -> None:
        for a, (name, _) in zip(self.avg, self.params):
            t = tensors.get(f"train.ema.{name}")
            if t is None:
                raise ValueError(f"{what}: the run averages its weights but the checkpoint holds no average of {name}")
            a.copy_(torch.from_numpy(np.asarray(t, dtype=np.float32)))
