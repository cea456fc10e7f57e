"""nice_flow_torch: a PyTorch twin of nice-flow (NICE normalizing flows, Dinh, Krueger & Bengio, arXiv 1410.8516).

It builds exactly nice-flow's models from the config in a weight file (the paper's flat configs and described flows:
coupling, scaling, logit, actnorm, invconv, squeeze and split steps, multi-scale flows included), reads and writes
nice-flow's safetensors files (same tensor names, layouts and metadata), and trains them on GPUs and clusters
(DistributedDataParallel).

    from nice_flow_torch import load
    model = load("runs/mnist/model.safetensors")   # a NiceFlow (torch.nn.Module)
    logp = model.log_prob(x)                          # x: float32 [n, D] in the model's data range
    h, logdet = model.encode(x); x2 = model.decode(h); samples = model.sample(16)
    model.save("copy.safetensors")                    # every `nice-flow` command reads it
"""

from .data import bits_per_dim, dequantize, load_split
from .evaluation import EvalResult, evaluate
from .model import ConfigError, NiceConfig, NiceFlow, describe, fit_zca, load, partition_sets, save
from .steps import STEP_KINDS, STEP_TYPES, validate_flow

__all__ = ["NiceConfig", "NiceFlow", "ConfigError", "load", "save", "describe", "fit_zca", "partition_sets", "evaluate",
           "EvalResult", "load_split", "dequantize", "bits_per_dim", "STEP_KINDS", "STEP_TYPES", "validate_flow"]
__version__ = "0.1.0"
