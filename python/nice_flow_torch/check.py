"""python -m nice_flow_torch.check: what the twin computes on given inputs, for comparison with nice-flow.

    python -m nice_flow_torch.check --model M.safetensors --x X.npy [--codes H.npy] --out DIR [--dtype float64]
    python -m nice_flow_torch.check --manifest cases.json        # {"dtype": …, "cases": [{"model", "x", "codes", "out"}]}

For each case writes to its `out` folder (float64 unless said otherwise):
  logp.npy          log p(x) per row of X, in --dtype
  logp32.npy        the same computed in float32
  grads.safetensors gradient of the mean log-likelihood (1/n) Σ_i log p(x_i) w.r.t. every parameter, by weight-file name (F64)
  encoded.npy       h = f(x)
  decoded.npy       x = f⁻¹(h) for the codes H (when given)
  resaved.safetensors  the model as the twin saves it (nice-flow must read it back unchanged)
Runs many cases in one process (one PyTorch start-up) with --manifest.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import torch

from . import safetensors_io
from .model import NiceFlow


def run_case(model_path: str, x_path: str, codes_path: str | None, out: str, dtype: torch.dtype) -> None:
    os.makedirs(out, exist_ok=True)
    base = NiceFlow.load(model_path)
    x_np = np.load(x_path)
    model = base.to(dtype)
    x = torch.from_numpy(x_np).to(dtype)
    model.zero_grad(set_to_none=True)
    logp = model.log_prob(x)
    logp.mean().backward()
    grads = {name: p.grad.detach().to(torch.float64).numpy() for name, p in model.named_parameters()}
    safetensors_io.write(os.path.join(out, "grads.safetensors"), grads)
    np.save(os.path.join(out, "logp.npy"), logp.detach().to(torch.float64).numpy())
    with torch.no_grad():
        h, _ = model.encode(x)
        np.save(os.path.join(out, "encoded.npy"), h.to(torch.float64).numpy())
        if codes_path:
            codes = torch.from_numpy(np.load(codes_path)).to(dtype)
            np.save(os.path.join(out, "decoded.npy"), model.decode(codes).to(torch.float64).numpy())
        m32 = NiceFlow.load(model_path)
        np.save(os.path.join(out, "logp32.npy"), m32.log_prob(torch.from_numpy(x_np).float()).double().numpy())
        m32.save(os.path.join(out, "resaved.safetensors"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m nice_flow_torch.check", description=__doc__.split("\n\n")[0])
    ap.add_argument("--manifest")
    ap.add_argument("--model")
    ap.add_argument("--x")
    ap.add_argument("--codes")
    ap.add_argument("--out")
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    a = ap.parse_args(argv)
    if a.manifest:
        with open(a.manifest) as f:
            m = json.load(f)
        dtype = torch.float64 if m.get("dtype", a.dtype) == "float64" else torch.float32
        cases = m["cases"]
    else:
        if not (a.model and a.x and a.out):
            ap.error("give --manifest, or --model, --x and --out")
        dtype = torch.float64 if a.dtype == "float64" else torch.float32
        cases = [{"model": a.model, "x": a.x, "codes": a.codes, "out": a.out}]
    for c in cases:
        run_case(c["model"], c["x"], c.get("codes"), c["out"], dtype)
    print(f"checked {len(cases)} model{'s' if len(cases) != 1 else ''} ({'float64' if dtype == torch.float64 else 'float32'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
