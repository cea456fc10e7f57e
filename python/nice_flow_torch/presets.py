"""nice-flow's presets (src/model/presets.ts), for `python -m nice_flow_torch.train --preset NAME`.

A preset fixes the architecture, prior and preprocessing for one data set (NICE §5.1), in the paper's flat form or
as a described flow (`flow`); a recipe preset adds the training settings measured for it (`training`: ema, epochs,
validSize, batchSize, lr, lrSchedule, warmup, clipGradNorm), which stand in for the flags not given. Flags given explicitly win
over both. `python -m nice_flow_torch.presets` prints them as JSON (the test compares them with nice-flow's).
"""

from __future__ import annotations

import copy
import json
import sys
from typing import Dict, List


def glow_level(couplings: int, hidden: int, depth: int, network: str = "conv") -> List[dict]:
    """One level of a multi-scale flow: K × (ActNorm, invertible 1×1 convolution, affine channel coupling), the
    couplings' networks conv (depth = 3×3 layers) or gated (depth = gated residual blocks)."""
    step = [
        {"type": "actnorm"},
        {"type": "invconv"},
        {"type": "coupling", "law": "affine", "partition": "channels", "network": network, "hidden": hidden, "depth": depth, "zeroInit": True},
    ]
    return [dict(s) for _ in range(couplings) for s in step]


# The image flow of mnist-conv: logit, squeeze to 4×14×14, a level of couplings, split (half the channels to the
# prior), squeeze to 8×7×7, a second level. Any C×H×W with H and W divisible by 4.
MNIST_CONV_FLOW: List[dict] = [
    {"type": "logit", "alpha": 0.05},
    {"type": "squeeze"},
    *glow_level(8, 64, 2),
    {"type": "split"},
    {"type": "squeeze"},
    *glow_level(8, 64, 2),
]

# mnist-gated: the same flow, each coupling network one gated residual block of 48 channels.
MNIST_GATED_FLOW: List[dict] = [
    {"type": "logit", "alpha": 0.05},
    {"type": "squeeze"},
    *glow_level(8, 48, 1, "gated"),
    {"type": "split"},
    {"type": "squeeze"},
    *glow_level(8, 48, 1, "gated"),
]

PRESETS: Dict[str, dict] = {
    "mnist": dict(couplings=4, hidden=1000, depth=5, prior="logistic", coupling="additive"),
    # The paper's MNIST model with the recipe measured in nice-flow's README: a weight average (decay 0.999), 59,000
    # training images (1,000 held out to choose the best epoch), 50 epochs.
    "mnist-ema": dict(couplings=4, hidden=1000, depth=5, prior="logistic", coupling="additive",
                      training=dict(ema=0.999, epochs=50, validSize=1000)),
    "tfd-like": dict(couplings=4, hidden=5000, depth=4, prior="gaussian", coupling="additive", whiten="zca"),
    "svhn": dict(couplings=4, hidden=2000, depth=4, prior="logistic", coupling="additive", whiten="zca"),
    "cifar10": dict(couplings=4, hidden=2000, depth=4, prior="logistic", coupling="additive", whiten="zca", range=[-1, 1]),
    # Beyond the paper: a multi-scale convolutional flow (RealNVP/Glow pieces) and the recipe measured for it on MNIST.
    "mnist-conv": dict(prior="logistic", flow=MNIST_CONV_FLOW,
                       training=dict(batchSize=64, lr=1e-3, lrSchedule="cosine", warmup=200, epochs=17, validSize=1000, ema=0.999,
                                     clipGradNorm=50000)),
    # The same recipe with gated residual coupling networks, 16 epochs.
    "mnist-gated": dict(prior="logistic", flow=MNIST_GATED_FLOW,
                        training=dict(batchSize=64, lr=1e-3, lrSchedule="cosine", warmup=200, epochs=16, validSize=1000, ema=0.999,
                                      clipGradNorm=50000)),
}

PRESET_NAMES = tuple(PRESETS)


def get_preset(name: str) -> dict:
    """A copy of the preset of that name (KeyError for others)."""
    return copy.deepcopy(PRESETS[name])


if __name__ == "__main__":
    json.dump(PRESETS, sys.stdout)
    sys.stdout.write("\n")
