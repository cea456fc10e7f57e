"""python -m nice_flow_torch.train --data D --out DIR [flags]      (or: torchrun --nproc_per_node N -m nice_flow_torch.train …)

Trains a NICE model by maximum likelihood with nice-flow's conventions: the paper's Adam (β1 0.9, β2 0.99, ε 1e-4),
batches of a fresh shuffle every epoch (the last partial batch dropped), dequantized pixels lo + (hi − lo)(pixel + u)/256,
the validation split = the last --valid-size images of the training file, validation after every epoch, the best
model by validation kept; optionally a learning-rate schedule (--lr-schedule, --warmup) and a weight average (--ema)
that is validated and saved in place of the live weights, with nice-flow's formulas. Models are the paper's flat
form or a described flow (--flow FILE, or --preset mnist-conv); ActNorm layers start from one training batch.
Writes to --out:

  model.safetensors       the best model so far (nice-flow's weight format: every `nice-flow` command reads it)
  checkpoint.safetensors  weights, Adam's moments (and the weight average), step and run settings: --resume
                          continues exactly (also with another number of processes); it also loads as a model
  log.jsonl               one line per epoch, the fields of nice-flow's log

Under torchrun each of the N processes takes 1/N of every batch (DistributedDataParallel, gloo on CPU, NCCL on
GPUs); the batch order and the dequantization noise depend only on --seed and the step, so N processes train the
same model as one, up to rounding.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import time
from typing import Dict, Optional

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from . import distributed, safetensors_io
from .average import WeightAverage
from .data import DataError, bits_per_dim, load_split, resolve
from .evaluation import evaluate
from .model import COUPLING_LAWS, ConfigError, NiceConfig, NiceFlow, describe, fit_zca
from .presets import PRESETS
from .schedule import LR_SCHEDULES, learning_rate_at, make_schedule

DEFAULTS = dict(couplings=4, hidden=1000, depth=5, prior="logistic", partition="alternate", coupling="additive", network="mlp", whiten="none")
ARCH_FLAGS = ("couplings", "hidden", "depth", "prior", "partition", "coupling", "network", "whiten")
FLAT_FLAGS = ("couplings", "hidden", "depth", "partition", "coupling", "network")
ADAM_BETAS, ADAM_EPS = (0.9, 0.99), 1e-4
# Settings a resumed run keeps (flags that would change them are refused).
RUN_KEYS = ("data", "limit", "valid_size", "valid_limit", "seed", "batch_size", "dequantize")
DIVERGED_BITS_PER_DIM = 16
# A recipe preset's training settings (nice-flow's names) and the flags they stand in for.
RECIPE_FLAGS = {"ema": "ema", "epochs": "epochs", "validSize": "valid_size", "batchSize": "batch_size", "lr": "lr",
                "lrSchedule": "lr_schedule", "warmup": "warmup", "clipGradNorm": "clip_grad"}


@torch.no_grad()
def clip_grad_norm(params, max_norm: float) -> float:
    """Scales every gradient by min(1, max / ‖g‖), ‖g‖ the global norm over all parameters (summed in float64), as
    nice-flow's Trainer does (torch.nn.utils.clip_grad_norm_ without its 1e-6); returns ‖g‖. Under DDP the gradients
    are the whole batch's by then, so every process clips alike."""
    grads = [p.grad for p in params if p.grad is not None]
    norm = math.sqrt(float(sum((g.double() ** 2).sum() for g in grads)))
    if norm > max_norm:
        for g in grads:
            g.mul_(max_norm / norm)
    return norm


class UsageError(ValueError):
    pass


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m nice_flow_torch.train", description=__doc__.split("\n\n")[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None, help="mnist (default), fashion-mnist, an IDX file (.gz too) or folder, a CIFAR-10 folder or .bin, a uint8 .npy, or a folder of PNGs")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--epochs", type=int, default=None, help="epochs (default 1500, the paper's)")
    ap.add_argument("--max-steps", type=int, default=None, help="stop after this many steps in total")
    ap.add_argument("--batch-size", type=int, default=None, help="examples per step, over all processes (default 200)")
    ap.add_argument("--preset", choices=list(PRESETS), help="the paper's settings for a data set (mnist-ema, mnist-conv and mnist-gated add their "
                    "measured training recipe); flags given explicitly win")
    ap.add_argument("--flow", metavar="FILE", help="the flow as a list of steps (JSON: a list, or an object with a \"flow\" list, "
                    "e.g. a model config); replaces --couplings, --hidden, --depth, --coupling, --network, --partition")
    ap.add_argument("--couplings", type=int)
    ap.add_argument("--hidden", type=int, help="hidden units per MLP layer (channels for --network conv); default 1000")
    ap.add_argument("--depth", type=int, help="hidden layers per coupling MLP (3×3 conv layers for conv); default 5")
    ap.add_argument("--coupling", choices=list(COUPLING_LAWS))
    ap.add_argument("--network", choices=["mlp", "conv"])
    ap.add_argument("--prior", choices=["logistic", "gaussian"])
    ap.add_argument("--partition", choices=["alternate", "halves", "checkerboard", "channels"])
    ap.add_argument("--whiten", choices=["none", "zca"])
    ap.add_argument("--whiten-limit", type=int, help="fit the whitening on the first N training images (default: all)")
    ap.add_argument("--range", help="data range lo,hi (default 0,1; -1,1 for CIFAR-10)")
    ap.add_argument("--lr", type=float, default=None, help="Adam learning rate (default 1e-3)")
    ap.add_argument("--lr-schedule", choices=LR_SCHEDULES, default=None,
                    help="learning rate over the run: constant (default, the paper), cosine (down to 0 at the last step), step (halved every --lr-step-epochs)")
    ap.add_argument("--warmup", type=int, default=None, help="raise the learning rate linearly from 0 over the first N steps (default 0)")
    ap.add_argument("--lr-step-epochs", type=int, default=None, help="with --lr-schedule step: epochs between halvings (default: a third of --epochs)")
    ap.add_argument("--clip-grad", type=float, default=None, metavar="NORM", help="clip the gradient's global norm to this before "
                    "each update (deep image flows need it; 0: off, the default)")
    ap.add_argument("--ema", type=float, default=None, help="keep an exponential moving average of the weights (e.g. 0.999): validation, "
                    "the best model and model.safetensors use it; 0: off (default)")
    ap.add_argument("--seed", type=int, default=None, help="initialisation, shuffling and noise (default 0)")
    ap.add_argument("--limit", type=int, help="use only the first N training images")
    ap.add_argument("--valid-size", type=int, default=None, help="images held out at the end of the training file (default 10000)")
    ap.add_argument("--valid-limit", type=int, help="validate on only the first N held-out images")
    ap.add_argument("--dequantize", choices=["uniform", "center"], default=None, help="default uniform")
    ap.add_argument("--scale-init", choices=["zero", "data"], default="zero")
    ap.add_argument("--init", metavar="MODEL", help="start from this model file (nice-flow's or the twin's): its config and weights")
    ap.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    ap.add_argument("--checkpoint-every", type=int, help="also write the checkpoint every N steps")
    ap.add_argument("--log-test", action="store_true", help="also evaluate the test split after each epoch and log it "
                    "(for learning curves; never used to choose the model)")
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    ap.add_argument("--log-every", type=int, default=0, help="print the running log-likelihood every N steps")
    ap.add_argument("--quiet", action="store_true")
    return ap.parse_args(argv)


def parse_range(text: str):
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise UsageError(f'--range "{text}" is not LOW,HIGH (e.g. 0,1 or -1,1)') from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise UsageError(f'--range "{text}" needs LOW < HIGH')
    return (lo, hi)


def read_flow_file(path: str) -> list:
    """A flow description file (--flow): JSON, a list of steps or an object with a "flow" list (a model config)."""
    try:
        with open(path, "rb") as f:
            data = f.read(16 * 2 ** 20 + 1)
    except OSError as e:
        raise UsageError(f"--flow {path}: {e.strerror or e}") from None
    if len(data) > 16 * 2 ** 20:
        raise UsageError(f"--flow {path}: too large for a flow description")
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise UsageError(f"--flow {path}: not valid JSON") from None
    flow = raw if isinstance(raw, list) else raw.get("flow") if isinstance(raw, dict) else None
    if not isinstance(flow, list):
        raise UsageError(f'--flow {path}: expected a JSON list of steps, or an object with a "flow" list')
    return flow


def model_config(a: argparse.Namespace, shape, default_range) -> NiceConfig:
    """Explicit flags win over the preset, which wins over the defaults (nice-flow's rule). A flow description
    (--flow, or the preset's) fixes every layer: a flat flag beside it is refused."""
    preset = PRESETS[a.preset] if a.preset else {}
    pick = lambda k: getattr(a, k) if getattr(a, k) is not None else preset.get(k, DEFAULTS[k])
    rng = parse_range(a.range) if a.range else tuple(preset.get("range", default_range))
    whiten = getattr(a, "whiten") or preset.get("whiten", "none")
    c, h, w = shape
    flow = read_flow_file(a.flow) if a.flow else preset.get("flow")
    if flow is not None:
        flat = [f"--{k}" for k in FLAT_FLAGS if getattr(a, k) is not None]
        if flat:
            by = "by --flow" if a.flow else f"by --preset {a.preset}"
            raise UsageError(f"{', '.join(flat)}: the flow is described {by}, which fixes every layer; change the description instead")
        return NiceConfig(dim=c * h * w, prior=pick("prior"), shape=(c, h, w), range=rng,
                          whiten=None if whiten == "none" else whiten, flow=json.loads(json.dumps(flow)))
    return NiceConfig(dim=c * h * w, couplings=pick("couplings"), hidden=pick("hidden"), depth=pick("depth"), prior=pick("prior"),
                      partition=a.partition or DEFAULTS["partition"], coupling=pick("coupling"), network=a.network or "mlp",
                      shape=(c, h, w), range=rng, whiten=None if whiten == "none" else whiten)


class Run:
    """One training run (single process or one rank of a process group)."""

    def __init__(self, a: argparse.Namespace, d: distributed.Dist):
        self.a, self.d = a, d
        self.say = (lambda m: print(m, file=sys.stderr, flush=True)) if d.main and not a.quiet else (lambda m: None)
        os.makedirs(a.out, exist_ok=True)
        self.ckpt_path = os.path.join(a.out, "checkpoint.safetensors")
        self.model_path = os.path.join(a.out, "model.safetensors")
        self.log_path = os.path.join(a.out, "log.jsonl")
        if a.resume:
            self._resume()
        else:
            self._create()
        self.train_images = load_split(self.run["data"], "train", self.run["valid_size"], self.run["limit"])
        self.valid_images = load_split(self.run["data"], "valid", self.run["valid_size"], self.run["valid_limit"])
        if self.train_images[0].size != self.model.dim:
            raise DataError(f"{self.run['data']} has {self.train_images[0].size} values per image, the model expects {self.model.dim}")
        self.batch = min(self.run["batch_size"], len(self.train_images))
        self.batches_per_epoch = len(self.train_images) // self.batch
        self.average = WeightAverage(self.model, self.run["ema"]) if self.run.get("ema") else None
        if self.average is not None and self.moments is not None:
            try:
                self.average.load(self.moments, f"checkpoint {self.ckpt_path}")
            except ValueError as e:
                raise UsageError(str(e)) from None
        schedule = self.run.get("lr_schedule")
        if a.resume and a.epochs is not None and schedule and schedule["kind"] == "cosine":
            # A cosine schedule spans the run's epochs: a longer (or shorter) run stretches it from here on.
            schedule["total"] = self.run["epochs"] * self.batches_per_epoch
        self.test_images = load_split(self.run["data"], "test", self.run["valid_size"]) if self.run.get("log_test") else None

    # -- setting up ----------------------------------------------------------------------------------------------

    def _create(self) -> None:
        a = self.a
        if os.path.exists(self.ckpt_path):
            raise UsageError(f"{a.out} already holds a run (checkpoint.safetensors): add --resume to continue it, or choose another --out")
        # A recipe preset's training settings stand in for the flags not given.
        recipe = PRESETS[a.preset].get("training", {}) if a.preset else {}
        for key, flag in RECIPE_FLAGS.items():
            if key in recipe and getattr(a, flag) is None:
                setattr(a, flag, recipe[key])
        ema = a.ema or 0.0
        if not 0 <= ema < 1:
            raise UsageError(f"--ema {a.ema}: the decay must be in [0, 1) (0: no average)")
        if a.warmup is not None and a.warmup < 0:
            raise UsageError(f"--warmup {a.warmup}: must be a number of steps ≥ 0")
        clip = a.clip_grad or 0.0
        if not (0 <= clip < math.inf):
            raise UsageError(f"--clip-grad {a.clip_grad}: must be a norm ≥ 0 (0: off)")
        if a.lr_step_epochs is not None and a.lr_step_epochs < 1:
            raise UsageError(f"--lr-step-epochs {a.lr_step_epochs}: must be ≥ 1")
        self.run = dict(data=a.data or "mnist", limit=a.limit, valid_size=10000 if a.valid_size is None else a.valid_size,
                        valid_limit=a.valid_limit, seed=a.seed or 0, batch_size=a.batch_size or 200,
                        dequantize=a.dequantize or "uniform", epochs=a.epochs or 1500, max_steps=a.max_steps,
                        lr=a.lr if a.lr is not None else 1e-3, step=0, best_valid=None, best_epoch=None, seconds=0.0,
                        epoch_sum=0.0, epoch_steps=0, init=a.init, ema=ema, clip_grad=clip, log_test=bool(a.log_test))
        train = load_split(self.run["data"], "train", self.run["valid_size"], self.run["limit"])
        # The schedule spans the run's epochs (a --max-steps stop, like a Ctrl-C, ends a run early without reshaping it).
        steps_per_epoch = len(train) // min(self.run["batch_size"], len(train))
        self.run["lr_schedule"] = make_schedule(a.lr_schedule or "constant", a.warmup or 0, self.run["epochs"], steps_per_epoch, a.lr_step_epochs)
        src = resolve(self.run["data"])
        torch.manual_seed(self.run["seed"])
        if a.init:
            tensors, meta = safetensors_io.parse(distributed.read_shared(a.init), f"model file {a.init}")
            model = NiceFlow.from_tensors(tensors, meta, f"model file {a.init}")
            file_cfg = {**(DEFAULTS if model.config.flow is None else {}), **model.config.to_dict(), "whiten": model.config.whiten or "none"}
            clash = [f"--{k} {getattr(a, k)} (the file has {file_cfg[k]})" if k in file_cfg else f"--{k} (the file describes its flow)"
                     for k in ARCH_FLAGS if getattr(a, k) is not None and (k not in file_cfg or str(getattr(a, k)) != str(file_cfg[k]))]
            clash += [f"--{k}" for k in ("preset", "range", "flow") if getattr(a, k) is not None]
            if clash:
                raise UsageError(f"--init takes the architecture from {a.init}, which cannot change {', '.join(clash)}")
            self.say(f"starting from {a.init}")
            if model.starts_from_data and self.d.main:
                # Only ActNorm layers the file holds as not started (a started layer never starts again).
                model.init_from_data(self._start_batch(train, self.run["batch_size"], model.config.range))
        else:
            model = NiceFlow(model_config(a, train.shape[1:], src.default_range))  # PyTorch's default init; s = 0
            cfg = model.config
            if cfg.flow is not None:
                # nice-flow's init of a described flow: zero-initialised convolutions, 1×1 convolutions at a random rotation.
                model.reset_parameters()
            # Rank 0 alone fits the whitening and the data-dependent scale: DistributedDataParallel broadcasts rank 0's
            # parameters and buffers to every process when it wraps the model.
            if cfg.whiten == "zca" and self.d.main:
                n = min(a.whiten_limit or len(train), len(train))
                self.say(f"fitting ZCA whitening on {n} training images…")
                x = torch.from_numpy(train[:n].reshape(n, -1).astype(np.float64))
                lo, hi = cfg.range
                mean, w, winv, logdet, eps = fit_zca(lo + (hi - lo) * (x + 0.5) / 256)
                model.whitening.set(mean, w, winv, logdet)
                self.say(f"whitening: log|det W| = {logdet:.1f} nats, ε = {eps:.2e}")
            if (a.scale_init == "data" or model.starts_from_data) and self.d.main:
                # The data-dependent start (ActNorm always, the scaling with --scale-init data), on centre-dequantized
                # training images: one batch for a flow with ActNorm (as Glow, and nice-flow), else 2,000.
                n = self.run["batch_size"] if model.starts_from_data else 2000
                model.init_from_data(self._start_batch(train, n, cfg.range), scaling=a.scale_init == "data")
        self.model = model.to(self.d.device)
        self.moments = None

    @staticmethod
    def _start_batch(train: np.ndarray, n: int, data_range) -> torch.Tensor:
        """The first n training images dequantized at pixel centres, in the model's range."""
        n = min(n, len(train))
        lo, hi = data_range
        return lo + (hi - lo) * (torch.from_numpy(train[:n].reshape(n, -1).astype(np.float32)) + 0.5) / 256

    def _resume(self) -> None:
        a = self.a
        try:
            data = distributed.read_shared(self.ckpt_path)
        except FileNotFoundError:
            raise UsageError(f"--resume: no checkpoint at {self.ckpt_path}") from None
        tensors, meta = safetensors_io.parse(data, f"checkpoint {self.ckpt_path}")
        if "twin" not in meta:
            raise UsageError(f"{self.ckpt_path} is not a checkpoint of nice_flow_torch.train (nice-flow's own runs resume with `nice-flow train --resume`; "
                             "to continue one of its models here, use --init model.safetensors)")
        self.run = json.loads(meta["twin"])
        given = {"data": a.data, "limit": a.limit, "valid_size": a.valid_size, "valid_limit": a.valid_limit, "seed": a.seed,
                 "batch_size": a.batch_size, "dequantize": a.dequantize}
        schedule = self.run.get("lr_schedule") or {}
        given.update(ema=a.ema, lr_schedule=a.lr_schedule, warmup=a.warmup, clip_grad=a.clip_grad)
        has = {**self.run, "ema": self.run.get("ema") or 0.0, "clip_grad": self.run.get("clip_grad") or 0.0, "lr_schedule": schedule.get("kind", "constant"), "warmup": schedule.get("warmup", 0)}
        bad = [f"--{k.replace('_', '-')} {v} (the run has {has[k]})" for k, v in given.items() if v is not None and v != has[k]]
        bad += [f"--{k.replace('_', '-')}" for k in ARCH_FLAGS + ("preset", "range", "init", "flow", "lr_step_epochs") if getattr(a, k) is not None]
        if bad:
            raise UsageError(f"--resume continues {self.ckpt_path} as it was started and cannot change {', '.join(bad)}; "
                             "only --epochs, --max-steps, --lr, --checkpoint-every and --log-test may change")
        for k in ("epochs", "max_steps", "lr"):
            if getattr(a, k) is not None:
                self.run[k] = getattr(a, k)
        if a.log_test:
            self.run["log_test"] = True
        self.model = NiceFlow.from_tensors(tensors, meta, f"checkpoint {self.ckpt_path}").to(self.d.device)
        self.moments = tensors
        self.say(f"resuming {a.out} at step {self.run['step']}")

    # -- the run -------------------------------------------------------------------------------------------------

    def checkpoint_bytes(self, opt: torch.optim.Optimizer) -> bytes:
        tensors = self.model.tensors()
        for name, p in self.model.named_parameters():
            st = opt.state.get(p, {})
            z = np.zeros(tuple(p.shape), np.float32)
            tensors[f"train.adam.m.{name}"] = st["exp_avg"].detach().float().cpu().numpy() if st else z
            tensors[f"train.adam.v.{name}"] = st["exp_avg_sq"].detach().float().cpu().numpy() if st else z
        if self.average is not None:
            tensors.update(self.average.tensors())
        return safetensors_io.dumps(tensors, {"config": self.model.config.to_json(), "twin": json.dumps(self.run)})

    def _restore_moments(self, opt: torch.optim.Optimizer) -> None:
        if self.moments is None or self.run["step"] == 0:
            return
        for name, p in self.model.named_parameters():
            m, v = (self.moments.get(f"train.adam.{k}.{name}") for k in ("m", "v"))
            if m is None or v is None:
                raise UsageError(f"checkpoint {self.ckpt_path}: Adam moments of {name} are missing")
            opt.state[p] = {"step": torch.tensor(float(self.run["step"])),
                            "exp_avg": torch.from_numpy(m).to(p), "exp_avg_sq": torch.from_numpy(v).to(p)}

    def stop_at(self) -> int:
        return min(self.run["epochs"] * self.batches_per_epoch, self.run["max_steps"] or math.inf)

    def batch_indices(self, step: int) -> np.ndarray:
        """Image indices of the whole (all-process) batch of a step: batch b of epoch e's shuffle."""
        epoch, b = divmod(step, self.batches_per_epoch)
        order = np.random.default_rng([self.run["seed"], 2, epoch]).permutation(len(self.train_images))
        return order[b * self.batch : (b + 1) * self.batch]

    def local_batch(self, step: int) -> torch.Tensor:
        idx = self.batch_indices(step)
        lo_r, hi_r = self.d.rank * self.batch // self.d.world, (self.d.rank + 1) * self.batch // self.d.world
        px = self.train_images[idx[lo_r:hi_r]].reshape(hi_r - lo_r, -1).astype(np.float64)
        if self.run["dequantize"] == "uniform":
            # The whole batch's noise, then this process's rows: the same numbers whatever the number of processes.
            u = np.random.default_rng([self.run["seed"], 3, step]).random((len(idx), px.shape[1]))[lo_r:hi_r]
        else:
            u = 0.5
        lo, hi = self.model.data_range
        return torch.from_numpy(lo + (hi - lo) / 256.0 * (px + u)).to(self.d.device, torch.float32)

    def main(self) -> int:
        a, d, run, model = self.a, self.d, self.run, self.model
        stop_at = self.stop_at()
        if run["step"] >= stop_at:
            self.say(f"nothing to do: the run is at step {run['step']}, its end")
            return 0
        c = model.config
        nparams = sum(p.numel() for p in model.parameters())
        self.say(f"training NICE ({describe(c)}, {nparams / 1e6:.2f}M parameters, "
                 f"{c.prior} prior{', ZCA whitening' if c.whiten else ''}, data range {list(c.range)}) on {len(self.train_images)} images of "
                 f"{run['data']}, batch {self.batch} over {d.world} process{'es' if d.world > 1 else ''} ({d.device})")
        # broadcast_buffers=False: the buffers are fixed (whitening, partitions, ActNorm's started flags, 1×1
        # convolutions' permutations and signs), synchronised once when DDP wraps the model (sending a D×D matrix
        # every step would cost more than the step).
        if d.active:
            net = DDP(model, device_ids=[d.device.index] if d.device.type == "cuda" else None, broadcast_buffers=False)
        else:
            net = model
        opt = torch.optim.Adam(model.parameters(), lr=run["lr"], betas=ADAM_BETAS, eps=ADAM_EPS)
        self._restore_moments(opt)
        stop = {"requested": False}

        def on_signal(signum, frame):
            if stop["requested"]:
                sys.exit(130)
            stop["requested"] = True
            if d.main:
                print("\nstopping after this step, with a checkpoint (again to quit at once)", file=sys.stderr, flush=True)

        old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        t0, seconds0 = time.perf_counter(), run["seconds"]
        smooth = None
        try:
            while run["step"] < stop_at:
                step = run["step"]
                x = self.local_batch(step)
                logp = net(x)
                # Each process's share of −(1/B) Σ log p, times world: DDP averages over the processes, so the
                # gradient is exactly that of the whole batch's mean negative log-likelihood.
                loss = -logp.sum() * (d.world / self.batch)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                grad_check = sum(p.grad.sum() for p in model.parameters() if p.dim() == 1)
                stats = torch.stack([logp.detach().double().sum().cpu(), torch.tensor(float(stop["requested"]), dtype=torch.float64)])
                distributed.all_reduce_(stats)
                mean_ll = float(stats[0]) / self.batch
                if not math.isfinite(mean_ll) or not torch.isfinite(grad_check):
                    what = f"the log-likelihood is {mean_ll}" if not math.isfinite(mean_ll) else "a gradient is not finite"
                    return self._diverged(f"training stopped at step {step + 1}: {what}")
                if run.get("clip_grad"):
                    clip_grad_norm(model.parameters(), run["clip_grad"])
                for group in opt.param_groups:
                    group["lr"] = learning_rate_at(run.get("lr_schedule"), run["lr"], step)
                opt.step()
                if self.average is not None:
                    self.average.update(step)
                run["step"] = step + 1
                run["epoch_sum"] += mean_ll
                run["epoch_steps"] += 1
                run["seconds"] = seconds0 + time.perf_counter() - t0
                smooth = mean_ll if smooth is None else 0.95 * smooth + 0.05 * mean_ll
                if a.log_every and run["step"] % a.log_every == 0:
                    self.say(f"step {run['step']}/{stop_at}: LL {smooth:.1f} nats")
                end_of_epoch = run["step"] % self.batches_per_epoch == 0
                if end_of_epoch or run["step"] >= stop_at:
                    status = self._end_of_epoch(opt)
                    if status is not None:
                        return status
                    t0, seconds0 = time.perf_counter(), run["seconds"]
                elif a.checkpoint_every and run["step"] % a.checkpoint_every == 0:
                    self._save_checkpoint(opt)
                if stats[1] > 0:
                    if run["step"] % self.batches_per_epoch != 0 and run["step"] < stop_at:
                        self._save_checkpoint(opt)
                    self.say(f"interrupted at step {run['step']}: checkpoint saved to {self.ckpt_path}; continue with --resume")
                    return 130
        finally:
            for s, h in old.items():
                signal.signal(s, h)
        best = run["best_valid"]
        self.say(f"done: {run['step']} steps in {run['seconds']:.1f} s; best valid LL {best:.2f} nats "
                 f"({bits_per_dim(best, model.dim, model.data_range):.3f} bits/dim) at epoch {run['best_epoch']}; model: {self.model_path}")
        return 0

    def _diverged(self, message: str) -> int:
        kept = (f"the checkpoint {self.ckpt_path} is the last good state: continue it with --resume --lr <lower>"
                if os.path.exists(self.ckpt_path) else "no checkpoint was saved yet: start again with a lower --lr")
        if self.d.main:
            print(f"nice_flow_torch.train: {message}; {kept}", file=sys.stderr)
        return 1

    def _save_checkpoint(self, opt) -> None:
        if self.d.main:
            safetensors_io.write_atomic(self.ckpt_path, self.checkpoint_bytes(opt))

    def _evaluate(self, images: np.ndarray, seed: int):
        return evaluate(self.model, images, "uniform", seed, self.batch, self.d.device, torch.float32, group=self.d.active)

    def _end_of_epoch(self, opt) -> Optional[int]:
        """Validation (and the test split with --log-test): with a weight average, the average is validated, chosen
        and saved, and the live weights are measured too; then the log line and the checkpoint (live weights)."""
        run, model = self.run, self.model
        test_seed = run["seed"] + 3
        live = self._evaluate(self.valid_images, run["seed"] + 1) if self.average is not None else None
        live_test = self._evaluate(self.test_images, test_seed) if self.average is not None and self.test_images is not None else None
        if self.average is not None:
            self.average.install(run["step"])
        try:
            r = self._evaluate(self.valid_images, run["seed"] + 1)
            test = self._evaluate(self.test_images, test_seed) if self.test_images is not None else None
            epoch = math.ceil(run["step"] / self.batches_per_epoch)
            if not math.isfinite(r.log_likelihood):
                return self._diverged(f"training stopped at step {run['step']}: the validation log-likelihood is {r.log_likelihood}")
            train_ll = run["epoch_sum"] / max(1, run["epoch_steps"])
            improved = run["best_valid"] is None or r.log_likelihood > run["best_valid"]
            if r.bits_per_dim > DIVERGED_BITS_PER_DIM:
                self.say(f"warning: training looks diverged: validation is at {r.bits_per_dim:.2f} bits/dim; try a lower --lr")
            if improved:
                run["best_valid"], run["best_epoch"] = r.log_likelihood, epoch
                if self.d.main:
                    model.save(self.model_path, {"step": str(run["step"]), "epoch": str(epoch), "validLogLikelihood": repr(r.log_likelihood),
                                                 "trainedBy": "nice_flow_torch"})
        finally:
            if self.average is not None:
                self.average.restore()
        entry = {"step": run["step"], "epoch": epoch, "trainLogLikelihood": train_ll,
                 "trainBitsPerDim": bits_per_dim(train_ll, model.dim, model.data_range), "validLogLikelihood": r.log_likelihood,
                 "validBitsPerDim": r.bits_per_dim}
        if live is not None:
            entry.update(liveValidLogLikelihood=live.log_likelihood, liveValidBitsPerDim=live.bits_per_dim)
        if test is not None:
            entry.update(testLogLikelihood=test.log_likelihood, testBitsPerDim=test.bits_per_dim)
        if live_test is not None:
            entry.update(liveTestLogLikelihood=live_test.log_likelihood, liveTestBitsPerDim=live_test.bits_per_dim)
        entry["seconds"] = round(run["seconds"], 1)
        if run["step"] % self.batches_per_epoch == 0:
            run["epoch_sum"], run["epoch_steps"] = 0.0, 0
        if self.d.main:
            with open(self.log_path, "a") as f:
                f.write(json.dumps(entry) + "\n")
        self._save_checkpoint(opt)
        self.say(f"epoch {epoch} (step {run['step']}): train LL {train_ll:.2f}, valid LL {r.log_likelihood:.2f} nats "
                 f"({r.bits_per_dim:.3f} bits/dim){f', live weights {live.log_likelihood:.2f}' if live is not None else ''}"
                 f"{f', test {test.log_likelihood:.2f}' if test is not None else ''}"
                 f"{', best so far: saved model.safetensors' if improved else ''}")
        return None


def main(argv=None) -> int:
    a = parse_args(argv)
    try:
        d = distributed.setup(a.device)
    except RuntimeError as e:
        print(f"nice_flow_torch.train: {e}", file=sys.stderr)
        return 1
    try:
        return Run(a, d).main()
    except (UsageError, DataError, ConfigError, safetensors_io.SafetensorsError, OSError) as e:
        print(f"nice_flow_torch.train: {e}", file=sys.stderr)
        return 1
    finally:
        distributed.teardown()


if __name__ == "__main__":
    sys.exit(main())
