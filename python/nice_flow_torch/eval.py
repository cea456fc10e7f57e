"""python -m nice_flow_torch.eval --model M --data D [--split test] [--limit N] [--dequantize uniform|center] [--draws K] [--json]

Prints what `nice-flow eval` prints: the mean log-likelihood in nats per image with its standard error and the
bits/dim of the 256-level data, and with --json, as the last line, one JSON object with the same fields
(logLikelihood, bitsPerDim, stdError, n, split, dequantize, draws, model, data, seconds). With --dequantize center both
programs see exactly the same numbers; with uniform each draws its own noise (the results differ by about the
standard error's share of the noise, a fraction of a nat).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from . import distributed
from .data import DataError, load_labels, load_split
from .evaluation import MAX_DRAWS, evaluate
from .model import ConfigError, NiceFlow
from .safetensors_io import SafetensorsError


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m nice_flow_torch.eval", description="log-likelihood of a data split under a nice-flow model")
    ap.add_argument("--model", required=True, help="model.safetensors (nice-flow's or the twin's)")
    ap.add_argument("--data", default="mnist", help="mnist, fashion-mnist, an IDX file (.gz too) or folder, a CIFAR-10 folder or .bin, a uint8 .npy, or a folder of PNGs")
    ap.add_argument("--split", choices=["test", "train", "valid"], default="test")
    ap.add_argument("--limit", type=int, help="first N images of the split")
    ap.add_argument("--valid-size", type=int, default=10000, help="held-out images at the end of the training file")
    ap.add_argument("--dequantize", choices=["uniform", "center"], default="uniform")
    ap.add_argument("--seed", type=int, default=0, help="seed of the dequantization noise")
    ap.add_argument("--draws", type=int, default=1, help="dequantization draws per image: each likelihood (each class's) is log (1/k) Σ p(x + u)")
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    ap.add_argument("--json", action="store_true", help="also print one JSON object as the last line")
    a = ap.parse_args(argv)
    if not 1 <= a.draws <= MAX_DRAWS:
        print(f"nice_flow_torch.eval: draws must be a whole number from 1 to {MAX_DRAWS}, got {a.draws}", file=sys.stderr)
        return 1
    try:
        d = distributed.setup(a.device)
    except RuntimeError as e:
        print(f"nice_flow_torch.eval: {e}", file=sys.stderr)
        return 1
    try:
        model = NiceFlow.load(a.model)
        dtype = torch.float64 if a.dtype == "float64" else torch.float32
        model = model.to(device=d.device, dtype=dtype).eval()
        images = load_split(a.data, a.split, a.valid_size, a.limit)
        dim = images[0].size
        if dim != model.dim:
            raise DataError(f"{a.data} has {dim} values per image, the model {a.model} expects {model.dim}")
        # A class-conditional model: the labels give its conditional likelihood and the classifier's accuracy.
        labels = load_labels(a.data, a.split, a.valid_size, a.limit) if model.config.classes else None
        t0 = time.perf_counter()
        r = evaluate(model, images, a.dequantize, a.seed, a.batch_size, d.device, dtype, group=d.active, labels=labels, draws=a.draws)
        seconds = time.perf_counter() - t0
    except (DataError, ConfigError, SafetensorsError, OSError) as e:
        print(f"nice_flow_torch.eval: {e}", file=sys.stderr)
        return 1
    finally:
        distributed.teardown()
    if d.main:
        what = "marginal log-likelihood log Σ_y p(x|y)p(y)" if model.config.classes else "log-likelihood"
        print(f"{a.split} {what}: {r.log_likelihood:.2f} ± {r.std_error:.2f} nats per image ({r.bits_per_dim:.4f} bits/dim) "
              f"over {r.n} images, {a.dequantize} dequantization, torch {d.device.type} {a.dtype}")
        if r.accuracy is not None:
            print(f"{a.split} log-likelihood given the true label: {r.conditional_log_likelihood:.2f} nats "
                  f"({r.conditional_bits_per_dim:.4f} bits/dim); likelihood classifier accuracy {100 * r.accuracy:.2f}%")
        if a.json:
            print(json.dumps({**r.as_json(), "split": a.split, "dequantize": a.dequantize, "draws": a.draws, "model": a.model, "data": a.data, "seconds": seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
