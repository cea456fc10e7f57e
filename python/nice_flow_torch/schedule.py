"""Learning-rate schedules, exactly nice-flow's (src/train/learningRate.ts).

A linear warmup from 0 over `warmup` steps, then
  constant: the base rate (the paper);
  cosine:   from the base rate down to floor·base at step `total`, along half a cosine (constant after);
  step:     the base rate times `factor` after every `every` steps.
A schedule is a dict {"kind", "warmup", "total"?, "floor"?, "every"?, "factor"?} (None: constant, no warmup), stored
as such in the twin's checkpoints.
"""

from __future__ import annotations

import math
from typing import Optional

LR_SCHEDULES = ("constant", "cosine", "step")


def learning_rate_at(schedule: Optional[dict], base: float, step: int) -> float:
    """The learning rate of update number `step` (counted from 0), given the base rate."""
    if not schedule:
        return base
    warmup = schedule.get("warmup", 0)
    warm = (step + 1) / warmup if warmup > 0 and step < warmup else 1.0
    rate = base
    if schedule["kind"] == "cosine":
        total = schedule.get("total", 0)
        floor = schedule.get("floor", 0)
        span = total - warmup
        t = min(1.0, max(0.0, (step - warmup) / span)) if span > 0 else 1.0
        rate = base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t)))
    elif schedule["kind"] == "step":
        every = schedule.get("every", 0)
        rate = base * schedule.get("factor", 0.5) ** (step // every) if every > 0 else base
    return rate * warm


def make_schedule(kind: str, warmup: int, epochs: int, steps_per_epoch: int, step_epochs: Optional[int] = None) -> Optional[dict]:
    """The schedule of a new run, as `nice-flow train` makes it: cosine spans the run's epochs (a --max-steps stop
    ends a run early without reshaping it); step halves every `step_epochs` epochs (default a third of the run)."""
    if kind == "constant" and not warmup:
        return None
    if kind == "cosine":
        return {"kind": kind, "warmup": warmup, "total": epochs * steps_per_epoch}
    if kind == "step":
        every = step_epochs if step_epochs is not None else math.ceil(epochs / 3)
        return {"kind": kind, "warmup": warmup, "every": max(1, every * steps_per_epoch), "factor": 0.5}
    return {"kind": kind, "warmup": warmup}


if __name__ == "__main__":
    # python -m nice_flow_torch.schedule '[SCHEDULE, …]' '[STEP, …]' [BASE]: the rates as a JSON list of lists (tests).
    import json
    import sys

    schedules, steps = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    base = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-3
    print(json.dumps([[learning_rate_at(s, base, t) for t in steps] for s in schedules]))
