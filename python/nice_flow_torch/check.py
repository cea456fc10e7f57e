"""python -m nice_flow_torch.check: what the twin computes on given inputs, for comparison with nice-flow.

    python -m nice_flow_torch.check --model M.safetensors --x X.npy [--codes H.npy] --out DIR [--dtype float64]
    python -m nice_flow_torch.check --manifest cases.json        # {"dtype": …, "cases": [{"model", "x", "codes", "out", "context"?}]}
    python -m nice_flow_torch.check --new CONFIG.json --x X.npy [--codes H.npy] --out DIR [--seed N]

For each case writes to its `out` folder (float64 unless said otherwise):
  logp.npy          log p(x) per row of X, in --dtype
  logp32.npy        the same computed in float32
  grads.safetensors gradient of the mean log-likelihood (1/n) Σ_i log p(x_i) w.r.t. every parameter, by weight-file name (F64)
  encoded.npy       h = f(x)
  decoded.npy       x = f⁻¹(h) for the codes H (when given)
  resaved.safetensors  the model as the twin saves it (nice-flow must read it back unchanged)
Runs many cases in one process (one PyTorch start-up) with --manifest. A conditional model's case gives its inputs'
context (an .npy of [n, C], `context` in the manifest or --context): every row of X and of the codes uses its row.

With --new (a model config as JSON, either form) the twin makes the model itself, then checks it as above: its own
initialisation from --seed (torch's generator), the data-dependent start on X (ActNorm, and the scaling), every
parameter then moved by N(0, 0.1²) so no layer is left at the identity; it writes it as model.safetensors. It then
loads that file again, asks the loaded model to start from data on X once more (a started ActNorm must not restart,
also after load_state_dict) and writes it as restarted.safetensors: nice-flow checks that both files hold the same
tensors.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import torch

from . import safetensors_io
from .model import NiceConfig, NiceFlow


def run_case(model_path: str, x_path: str, codes_path: str | None, out: str, dtype: torch.dtype,
             context_path: str | None = None) -> None:
    os.makedirs(out, exist_ok=True)
    base = NiceFlow.load(model_path)
    x_np = np.load(x_path)
    model = base.to(dtype)
    x = torch.from_numpy(x_np).to(dtype)
    c_np = np.load(context_path) if context_path else None
    c = torch.from_numpy(c_np).to(dtype) if c_np is not None else None
    c32 = torch.from_numpy(c_np).float() if c_np is not None else None
    model.zero_grad(set_to_none=True)
    logp = model.log_prob(x, c)
    if logp.requires_grad:  # a flow of steps without parameters (logit, squeeze) has no gradient
        logp.mean().backward()
    grads = {name: p.grad.detach().to(torch.float64).numpy() for name, p in model.named_parameters()}
    safetensors_io.write(os.path.join(out, "grads.safetensors"), grads)
    np.save(os.path.join(out, "logp.npy"), logp.detach().to(torch.float64).numpy())
    with torch.no_grad():
        h, _ = model.encode(x, c)
        np.save(os.path.join(out, "encoded.npy"), h.to(torch.float64).numpy())
        if codes_path:
            codes = torch.from_numpy(np.load(codes_path)).to(dtype)
            np.save(os.path.join(out, "decoded.npy"), model.decode(codes, c).to(torch.float64).numpy())
        m32 = NiceFlow.load(model_path)
        np.save(os.path.join(out, "logp32.npy"), m32.log_prob(torch.from_numpy(x_np).float(), c32).double().numpy())
        m32.save(os.path.join(out, "resaved.safetensors"))


def new_model(config_path: str, x_path: str, out: str, seed: int) -> str:
    """Makes, starts and saves a model of the config as the twin would (see --new); returns the file's path."""
    os.makedirs(out, exist_ok=True)
    with open(config_path) as f:
        config = NiceConfig.from_dict(json.load(f))
    torch.manual_seed(seed)
    model = NiceFlow(config)
    model.reset_parameters()
    x = torch.from_numpy(np.load(x_path)).float()
    model.init_from_data(x, scaling=True)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    path = os.path.join(out, "model.safetensors")
    model.save(path)
    again = NiceFlow(config)
    again.load_state_dict(model.state_dict())
    again.init_from_data(x, scaling=False)
    again.save(os.path.join(out, "restarted.safetensors"))
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m nice_flow_torch.check", description=__doc__.split("\n\n")[0])
    ap.add_argument("--manifest")
    ap.add_argument("--model")
    ap.add_argument("--x")
    ap.add_argument("--codes")
    ap.add_argument("--context", help="a conditional model's context for the rows of --x and --codes (.npy [n, C])")
    ap.add_argument("--out")
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    ap.add_argument("--new", metavar="CONFIG", help="make the model of this config (JSON) with the twin, then check it")
    ap.add_argument("--seed", type=int, default=0, help="with --new: torch's seed for the initialisation")
    a = ap.parse_args(argv)
    if a.manifest:
        with open(a.manifest) as f:
            m = json.load(f)
        dtype = torch.float64 if m.get("dtype", a.dtype) == "float64" else torch.float32
        cases = m["cases"]
    else:
        if not ((a.model or a.new) and a.x and a.out):
            ap.error("give --manifest, or --model (or --new), --x and --out")
        dtype = torch.float64 if a.dtype == "float64" else torch.float32
        model = new_model(a.new, a.x, a.out, a.seed) if a.new else a.model
        cases = [{"model": model, "x": a.x, "codes": a.codes, "out": a.out, "context": a.context}]
    for c in cases:
        run_case(c["model"], c["x"], c.get("codes"), c["out"], dtype, c.get("context"))
    print(f"checked {len(cases)} model{'s' if len(cases) != 1 else ''} ({'float64' if dtype == torch.float64 else 'float32'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
