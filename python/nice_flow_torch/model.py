"""NICE (Dinh, Krueger & Bengio, arXiv 1410.8516) as PyTorch modules, in nice-flow's conventions.

    h = f(x),  f = scaling ∘ coupling_{K-1} ∘ … ∘ coupling_0 [∘ whitening],
    log p(x) = Σ_d log p_H(h_d) + log|det ∂f/∂x|.

A coupling layer splits the D coordinates into a kept set I1 and an updated set I2 (layer k even updates the
partition's "second" set from its "first", layer k odd the reverse) and applies a coupling law

    additive        y2 = x2 + m(x1)                       log|det| = 0
    multiplicative  y2 = x2 · exp(ℓ(a)),  a = m(x1)        log|det| = Σ ℓ(a)
    affine          y2 = x2 · exp(ℓ(a)) + t,  [a, t] = m(x1)
    bounded-affine  y2 = x2 · σ(a + 2) + 4·tanh(t/4),  [a, t] = m(x1)     log|det| = Σ log σ(a + 2)
    glow-affine     y2 = x2 · s + 64·tanh(t/64), s = e⁻² + (1 − e⁻²)·σ(a + 2)     log|det| = Σ log s

with the bounded log-scale ℓ(a) = 2·tanh(a/2). The coupling network m is an MLP on x1 (ReLU hidden layers, linear
output), or a convolutional net on the image with the updated coordinates zeroed (3×3 convolutions with ReLU, then
a 1×1 convolution to C channels per output group, read at the updated positions). The last layer is a diagonal
scaling h = exp(s) · z. An optional fixed ZCA whitening y = W (x − μ) comes first; its constant log|det W| is part
of log p(x), so likelihoods stay in data space.

Parameter names are those of nice-flow's weight files: `couplings.{k}.layers.{j}.weight|bias` (torch.nn.Linear or
torch.nn.Conv2d layouts), `scaling.scale`, and the whitening buffers `whitening.mean|matrix|inverse|logdet`.

A config may instead describe its flow as a list of steps (`flow`: coupling, scaling, logit, actnorm, invconv,
squeeze, split; steps.py), as nice-flow's multi-scale models do; step i's tensors are then `flow.{i}.…`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from .errors import ConfigError, StepError
from .layers import (LAW_GROUPS, LOG_SCALE_BOUND, PARTITIONS, ActNorm, ContextAffine, Coupling, DiagonalScaling, InvConv1x1, Split,
                     bounded_log_scale, coupling_sets, partition_sets)
from .steps import COUPLING_LAWS, MAX_CONTEXT, count_planned_params, plan_flow, validate_flow

PRIORS = ("logistic", "gaussian")
NETWORKS = ("mlp", "conv")
FLAT_KEYS = ("couplings", "hidden", "depth", "partition", "coupling", "network")
PRIOR_STD = {"logistic": math.pi / math.sqrt(3), "gaussian": 1.0}

__all__ = ["ConfigError", "StepError", "NiceConfig", "NiceFlow", "Coupling", "DiagonalScaling", "Whitening", "load", "save",
           "fit_zca", "partition_sets", "bounded_log_scale", "image_shape", "describe", "COUPLING_LAWS", "PARTITIONS",
           "PRIORS", "NETWORKS", "LOG_SCALE_BOUND"]


def _num(v: float):
    """A number as JSON would write it in JavaScript: integral floats without a fraction."""
    return int(v) if float(v).is_integer() else float(v)


def image_shape(shape: Optional[Sequence[int]], dim: int) -> Tuple[int, int, int]:
    """A config's image shape: its `shape`, else square single-channel when dim is a square, else one row."""
    if shape is not None:
        return tuple(shape)
    s = int(round(math.sqrt(dim)))
    return (1, s, s) if s * s == dim else (1, 1, dim)


@dataclass
class NiceConfig:
    """The architecture of a model: what a weight file's `__metadata__.config` holds.

    Two forms, as in nice-flow: the paper's flat form (`couplings`, `hidden`, `depth`, `partition`, `coupling`,
    `network`: K couplings then the diagonal scaling), or a described flow, `flow`: a list of registered steps
    (steps.py), for multi-scale image flows and the like. A described config has the flat fields set to None."""

    dim: int
    couplings: Optional[int] = 4
    hidden: Optional[int] = 1000
    depth: Optional[int] = 5
    prior: str = "logistic"
    partition: Optional[str] = "alternate"
    coupling: Optional[str] = "additive"
    shape: Optional[Tuple[int, int, int]] = None
    network: Optional[str] = "mlp"
    range: Tuple[float, float] = (0.0, 1.0)
    whiten: Optional[str] = None
    flow: Optional[List[dict]] = None
    classes: Optional[int] = None
    class_prior: Optional[List[float]] = None  # "classPrior" in files
    context: Optional[int] = None
    conditioning: Optional[str] = None  # flat form: "prior" (None), "couplings" or "both"

    def __post_init__(self) -> None:
        self.validate()

    @property
    def context_size(self) -> int:
        """Context values per example: K for a class-conditional model (one-hot labels), `context`, or 0."""
        return self.classes or self.context or 0

    def _validate_context(self) -> None:
        for name, lo in (("classes", 2), ("context", 1)):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= MAX_CONTEXT):
                raise ConfigError(f'model config: "{name}" must be an integer from {lo} to {MAX_CONTEXT}, got {v!r}')
        if self.classes is not None and self.context is not None and self.context != self.classes:
            raise ConfigError(f'model config: "context" ({self.context}) must equal "classes" ({self.classes}): a label\'s context is its one-hot code')
        if self.conditioning is not None:
            if not self.context_size:
                raise ConfigError('model config: "conditioning" needs "classes" or "context"')
            if self.conditioning not in ("prior", "couplings", "both"):
                raise ConfigError(f'model config: "conditioning" must be one of prior, couplings, both, got {self.conditioning!r}')
            if self.flow is not None:
                raise ConfigError('model config: "conditioning" is for the flat form; a flow description says which steps read the context')
            if self.conditioning == "prior":
                self.conditioning = None
        if self.class_prior is not None:
            p = self.class_prior
            if self.classes is None:
                raise ConfigError('model config: "classPrior" needs "classes"')
            if not isinstance(p, (list, tuple)) or len(p) != self.classes or not all(isinstance(v, (int, float)) and 0 < v <= 1 for v in p):
                raise ConfigError(f'model config: "classPrior" must be {self.classes} probabilities in (0, 1]')
            if abs(sum(p) - 1) > 1e-6:
                raise ConfigError(f'model config: "classPrior" must sum to 1, got {sum(p)}')
            self.class_prior = [float(v) for v in p]
        if self.flow is not None:
            c = self.context_size
            steps = [s for s in self.flow if s["type"] == "context-affine" or (s["type"] == "coupling" and "context" in s)]
            for s in steps:
                if s["context"] != c:
                    raise ConfigError(f'model config: the flow has a {s["type"]} step that reads a context but the model has no context ("classes" or "context")' if c == 0
                                      else f"model config: a {s['type']} step takes {s['context']} context values, the model's context has {c}")
            if c > 0 and not steps:
                raise ConfigError('model config: a conditional model ("classes" or "context") needs a step that reads the context (context-affine, or a coupling with "context")')

    @property
    def described(self) -> bool:
        """Whether the flow is a list of steps (`flow`) rather than the paper's flat form."""
        return self.flow is not None

    def validate(self) -> None:
        def pos_int(name: str, lo: int) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ConfigError(f'model config: "{name}" must be an integer ≥ {lo}, got {v!r}')

        pos_int("dim", 2)
        if self.prior not in PRIORS:
            raise ConfigError(f'model config: "prior" must be one of {", ".join(PRIORS)}, got {self.prior!r}')
        if self.shape is not None:
            s = tuple(self.shape)
            if len(s) != 3 or not all(isinstance(v, int) and v > 0 for v in s) or s[0] * s[1] * s[2] != self.dim:
                raise ConfigError(f'model config: "shape" must be [C, H, W] with C·H·W = dim ({self.dim}), got {list(s)}')
            self.shape = s
        lo, hi = (float(v) for v in self.range)
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ConfigError(f'model config: "range" must be [lo, hi] with lo < hi, got {list(self.range)}')
        self.range = (lo, hi)
        if self.whiten == "none":
            self.whiten = None
        if self.whiten not in (None, "zca"):
            raise ConfigError(f'model config: "whiten" must be zca or none, got {self.whiten!r}')
        if self.flow is not None:
            for k in FLAT_KEYS:
                setattr(self, k, None)
            try:
                self.flow = validate_flow(self.flow, image_shape(self.shape, self.dim))
            except StepError as e:
                raise ConfigError(f"model config: {e}") from None
            self._validate_context()
            return
        self._validate_context()
        pos_int("couplings", 1)
        pos_int("hidden", 1)
        pos_int("depth", 0)
        for name, allowed in (("partition", PARTITIONS), ("coupling", COUPLING_LAWS), ("network", NETWORKS)):
            if getattr(self, name) not in allowed:
                raise ConfigError(f'model config: "{name}" must be one of {", ".join(allowed)}, got {getattr(self, name)!r}')
        if self.network == "conv":
            if self.shape is None:
                raise ConfigError('model config: "network" conv needs "shape" [C, H, W]')
            if self.depth < 1:
                raise ConfigError(f'model config: "depth" must be an integer ≥ 1 for network conv, got {self.depth}')
        try:
            partition_sets(self.partition, self.dim, self.shape)  # raises for a partition that does not fit
        except StepError as e:
            raise ConfigError(f'model config: "partition": {e}') from None

    @property
    def groups(self) -> int:
        """Coupling-network outputs per updated coordinate (flat form): 2 for affine (a and t), else 1."""
        return LAW_GROUPS[self.coupling]

    @classmethod
    def from_dict(cls, raw: dict) -> "NiceConfig":
        if not isinstance(raw, dict):
            raise ConfigError("model config is not a JSON object")
        if "dim" not in raw:
            raise ConfigError('model config: "dim" is missing')
        common = {"dim", "prior", "shape", "range", "whiten", "classes", "context", "conditioning"}
        if raw.get("flow") is not None:
            flat = [k for k in FLAT_KEYS if k in raw]
            if flat:
                raise ConfigError(f'model config: "flow" describes the whole flow; drop {", ".join(chr(34) + k + chr(34) for k in flat)} (the paper\'s flat form)')
            if "prior" not in raw:
                raise ConfigError('model config: "prior" is missing')
            kw = {k: v for k, v in raw.items() if k in common}
            kw["flow"] = raw["flow"]
        else:
            for required in ("couplings", "hidden", "depth", "prior", "partition"):
                if required not in raw:
                    raise ConfigError(f'model config: "{required}" is missing')
            kw = {k: v for k, v in raw.items() if k in common or k in FLAT_KEYS}
            if kw.get("coupling") is None:
                kw.pop("coupling", None)
            if kw.get("network") is None:
                kw.pop("network", None)
        if "classPrior" in raw:
            kw["class_prior"] = raw["classPrior"]
        if kw.get("shape") is not None:
            kw["shape"] = tuple(kw["shape"])
        if kw.get("range") is not None:
            kw["range"] = tuple(kw["range"])
        else:
            kw.pop("range", None)
        return cls(**kw)

    def to_dict(self) -> dict:
        """The config as nice-flow stores it: `shape`, `network`, `range`, `whiten` only when not the defaults; a
        described flow as its complete `flow` list in place of the flat keys."""
        if self.flow is not None:
            out: dict = {"dim": self.dim, "prior": self.prior, "flow": [dict(s) for s in self.flow]}
        else:
            out = {
                "dim": self.dim, "couplings": self.couplings, "hidden": self.hidden, "depth": self.depth,
                "prior": self.prior, "partition": self.partition, "coupling": self.coupling,
            }
        if self.shape is not None:
            out["shape"] = list(self.shape)
        if self.network not in (None, "mlp"):
            out["network"] = self.network
        if tuple(self.range) != (0.0, 1.0):
            out["range"] = [_num(v) for v in self.range]
        if self.whiten:
            out["whiten"] = self.whiten
        if self.classes is not None:
            out["classes"] = self.classes
        if self.class_prior is not None:
            out["classPrior"] = [_num(v) for v in self.class_prior]
        if self.context is not None:
            out["context"] = self.context
        if self.conditioning is not None:
            out["conditioning"] = self.conditioning
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    def count_params(self) -> int:
        """Trainable values of a model of this config, counted from the shapes (nothing is built)."""
        if self.flow is not None:
            return count_planned_params(plan_flow(self.flow, image_shape(self.shape, self.dim)))
        return sum(p.numel() for p in NiceFlow(self).parameters())


def describe(config: NiceConfig) -> str:
    """One line saying what a model's flow is (nice-flow's describeModel): "4 additive couplings of 5×1000 MLP", or
    a described flow's steps with repeated groups written once with their count."""
    if config.flow is None:
        net = f"conv {config.depth}×{config.hidden} channels" if config.network == "conv" else f"{config.depth}×{config.hidden} MLP"
        return f"{config.couplings} {config.coupling} couplings of {net}"
    words = []
    for p in plan_flow(config.flow, image_shape(config.shape, config.dim)):
        s = p.spec
        if s["type"] == "coupling":
            words.append(f"{s['law']} coupling ({s['partition']}, {s['network']} {s['depth']}×{s['hidden']})")
        elif s["type"] in ("squeeze", "split"):
            words.append(f"{s['type']} → {'×'.join(map(str, p.kind.out_shape(s, p.shape)))}")
        else:
            words.append(s["type"])
    out, i = [], 0
    while i < len(words):
        best_len, best_reps = 1, 1
        for ln in range(1, 5):
            if i + ln > len(words):
                break
            reps = 1
            while i + (reps + 1) * ln <= len(words) and words[i + reps * ln: i + (reps + 1) * ln] == words[i: i + ln]:
                reps += 1
            if reps > 1 and reps * ln > best_reps * best_len:
                best_len, best_reps = ln, reps
        group = ", ".join(words[i: i + best_len])
        out.append(f"{best_reps} × ({group})" if best_reps > 1 else group)
        i += best_len * best_reps
    return " · ".join(out)


class Whitening(nn.Module):
    """A fixed affine whitening y = W (x − μ) with its constant log|det W| (nothing trained)."""

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("matrix", torch.eye(dim))
        self.register_buffer("inverse", torch.eye(dim))
        self.register_buffer("logdet", torch.zeros(1))

    def set(self, mean, matrix, inverse, logdet: float) -> None:
        with torch.no_grad():
            self.mean.copy_(torch.as_tensor(mean))
            self.matrix.copy_(torch.as_tensor(matrix))
            self.inverse.copy_(torch.as_tensor(inverse))
            self.logdet.fill_(float(logdet))

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        # Centre first: x·Wᵀ − μ·Wᵀ would cancel badly in float32 for W with large entries.
        return (x - self.mean) @ self.matrix.T, self.logdet.expand(x.shape[0])

    def invert(self, y: torch.Tensor) -> torch.Tensor:
        return y @ self.inverse.T + self.mean


def logistic_log_density(h: torch.Tensor) -> torch.Tensor:
    """Standard logistic: −softplus(h) − softplus(−h), written −|h| − 2·log1p(e^−|h|) (no overflow)."""
    a = h.abs()
    return -a - 2.0 * torch.log1p(torch.exp(-a))


def gaussian_log_density(h: torch.Tensor) -> torch.Tensor:
    return -0.5 * h * h - 0.5 * math.log(2 * math.pi)


class NiceFlow(nn.Module):
    """A NICE model built from a {@link NiceConfig}; batches are flat rows [n, dim] in the data range.

    The flat form holds `couplings` (a ModuleList) and `scaling`, named `couplings.{k}.…` and `scaling.scale` as in
    the paper's weight files. A described form holds its steps in one ModuleList `flow` (step i's tensors are
    `flow.{i}.…`); `couplings` then lists its coupling layers and `scaling` is its last step when that is a diagonal
    scaling over all values, else None. The latent is one flat row in both forms."""

    def __init__(self, config: NiceConfig):
        super().__init__()
        self.config = config
        self.whitening = Whitening(config.dim) if config.whiten == "zca" else None
        if config.flow is None:
            self.plan = None
            # A conditional flat model reads its class (or context) in the prior (a last step that moves and scales it),
            # in every coupling network, or both (config.conditioning).
            c = config.context_size
            where = config.conditioning or "prior"
            self.couplings = nn.ModuleList(
                Coupling(config.coupling, config.network, config.hidden, config.depth, config.dim, config.shape,
                         *coupling_sets(config.partition, k, config.dim, config.shape),
                         context=c if where != "prior" else 0)
                for k in range(config.couplings)
            )
            self.scaling = DiagonalScaling(config.dim)
            self.conditional = ContextAffine(config.dim, c) if c and where != "couplings" else None
        else:
            self.plan = plan_flow(config.flow, image_shape(config.shape, config.dim))
            self.flow = nn.ModuleList(p.kind.build(p.spec, p.shape, p.parity, config.range) for p in self.plan)
            # Plain attributes (not registered again: the modules are the flow's, named `flow.{i}.…` only).
            last = self.flow[-1]
            top_level = not any(isinstance(m, Split) for m in self.flow)
            object.__setattr__(self, "couplings", [m for m in self.flow if isinstance(m, Coupling)])
            tail = [m for m in self.flow if not isinstance(m, ContextAffine)]
            last = tail[-1] if tail else last
            object.__setattr__(self, "scaling", last if top_level and isinstance(last, DiagonalScaling) and last.scale.numel() == config.dim else None)

    @property
    def dim(self) -> int:
        return self.config.dim

    @property
    def data_range(self) -> Tuple[float, float]:
        return self.config.range

    @property
    def steps(self) -> List[nn.Module]:
        """The flow's step modules, data side first (without the whitening; a split is a step)."""
        if self.plan is not None:
            return list(self.flow)
        return [*self.couplings, self.scaling] + ([self.conditional] if self.conditional is not None else [])

    @property
    def starts_from_data(self) -> bool:
        """Whether a new model starts some layers from data (ActNorm) before training (see init_from_data)."""
        return any(isinstance(m, ActNorm) for m in self.steps)

    # -- the bijection -------------------------------------------------------------------------------------------

    def _check_context(self, context: Optional[torch.Tensor], n: int) -> None:
        c = self.config.context_size
        if c == 0:
            if context is not None:
                raise ConfigError("this model is not conditional: it takes no context (label)")
            return
        if context is None:
            raise ConfigError(f"this model is class-conditional: give a label (0 to {self.config.classes - 1}) for each example"
                              if self.config.classes else f"this model is conditional: give a context of {c} values for each example")
        if tuple(context.shape) != (n, c):
            raise ConfigError(f"context: expected {n} × {c} values, got shape {list(context.shape)}")

    def _forward_from(self, steps: List[nn.Module], start: int, x: torch.Tensor,
                      context: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        log_det = x.new_zeros(x.shape[0])
        for i in range(start, len(steps)):
            m = steps[i]
            if isinstance(m, Split):
                # The steps after a split act on the first half of each row; the rest goes to the prior as it is.
                k = m.inner_dim
                head, ld = self._forward_from(steps, i + 1, x[:, :k], context)
                return torch.cat([head, x[:, k:]], dim=1), log_det + ld
            x, ld = m(x, context) if isinstance(m, (ContextAffine, Coupling)) else m(x)
            log_det = log_det + ld
        return x, log_det

    def _inverse_from(self, steps: List[nn.Module], start: int, h: torch.Tensor,
                      context: Optional[torch.Tensor] = None) -> torch.Tensor:
        end = len(steps)
        for i in range(start, len(steps)):
            if isinstance(steps[i], Split):
                k = steps[i].inner_dim
                h = torch.cat([self._inverse_from(steps, i + 1, h[:, :k], context), h[:, k:]], dim=1)
                end = i
                break
        for i in reversed(range(start, end)):
            m = steps[i]
            h = m.inverse(h, context) if isinstance(m, (ContextAffine, Coupling)) else m.inverse(h)
        return h

    def _body_and_latent(self) -> Tuple[List[nn.Module], Optional[nn.Module]]:
        """The steps inside the levels, and the last step when it acts on the whole latent ("latent": true), else None."""
        steps = self.steps
        if self.plan is not None and self.plan[-1].spec.get("latent") is True:
            return steps[:-1], steps[-1]
        return steps, None

    def encode(self, x: torch.Tensor, context: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """h = f(x) (f(x; c) for a conditional model, context [n, C]) and log|det ∂f/∂x| per example."""
        self._check_context(context, x.shape[0])
        log_det = x.new_zeros(x.shape[0])
        if self.whitening is not None:
            x, ld = self.whitening(x)
            log_det = log_det + ld
        steps, latent = self._body_and_latent()
        h, ld = self._forward_from(steps, 0, x, context)
        log_det = log_det + ld
        if latent is not None:
            h, ld = latent(h, context)
            log_det = log_det + ld
        return h, log_det

    def decode(self, h: torch.Tensor, context: Optional[torch.Tensor] = None) -> torch.Tensor:
        """x = f⁻¹(h): the steps undone in reverse order (the inner levels of a split first), then the whitening."""
        self._check_context(context, h.shape[0])
        steps, latent = self._body_and_latent()
        if latent is not None:
            h = latent.inverse(h, context)
        x = self._inverse_from(steps, 0, h, context)
        if self.whitening is not None:
            x = self.whitening.invert(x)
        return x

    def prior_log_prob(self, h: torch.Tensor) -> torch.Tensor:
        density = logistic_log_density if self.config.prior == "logistic" else gaussian_log_density
        return density(h).sum(dim=1)

    def log_prob(self, x: torch.Tensor, context: Optional[torch.Tensor] = None) -> torch.Tensor:
        """log p(x) in nats, one per row (log p(x | c) for a conditional model, context c [n, C])."""
        h, log_det = self.encode(x, context)
        return self.prior_log_prob(h) + log_det

    forward = log_prob

    def _reference(self) -> torch.Tensor:
        for t in self.parameters():
            return t
        for t in self.buffers():
            if t.is_floating_point():
                return t
        return torch.zeros(())

    def sample_prior(self, n: int, temperature: float = 1.0, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        p = self._reference()
        if self.config.prior == "gaussian":
            h = torch.randn(n, self.dim, generator=generator, dtype=p.dtype, device=p.device)
        else:  # inverse CDF: log u − log(1 − u), u in (0, 1)
            u = torch.rand(n, self.dim, generator=generator, dtype=p.dtype, device=p.device).clamp(1e-7, 1 - 1e-7)
            h = torch.log(u) - torch.log1p(-u)
        return h * temperature

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0, generator: Optional[torch.Generator] = None,
               context: Optional[torch.Tensor] = None) -> torch.Tensor:
        """n samples x = f⁻¹(T·h), h ~ prior; T = 0 decodes the prior's mode."""
        return self.decode(self.sample_prior(n, temperature, generator), context)

    # -- initialisation ------------------------------------------------------------------------------------------

    def reset_parameters(self) -> None:
        """nice-flow's initialisation: PyTorch's defaults for the coupling nets (a conv step with `zeroInit` starts its
        last layer at 0), every scale at 0 (the identity), ActNorm not started, 1×1 convolutions at a random
        rotation (from torch's generator)."""
        for m in self.steps:
            if hasattr(m, "reset_parameters"):
                m.reset_parameters()

    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor, scaling: bool = False, context: Optional[torch.Tensor] = None) -> None:
        """The data-dependent start on a batch x [n, dim] (dequantized data), in order, each layer on what the layers
        before it make of x: ActNorm layers that have not started yet (their `started` buffer is 0) set their outputs'
        mean to 0 and spread to the prior's; with `scaling` the diagonal scaling sets s_d = log(σ_prior / σ_d)."""
        prior_std = PRIOR_STD[self.config.prior]
        if self.whitening is not None:
            x, _ = self.whitening(x)
        steps, _ = self._body_and_latent()  # a step on the whole latent comes last and starts from nothing
        i = 0
        while i < len(steps):
            m = steps[i]
            if isinstance(m, Split):
                x = x[:, : m.inner_dim]
            else:
                if hasattr(m, "init_from_data"):
                    m.init_from_data(x, prior_std, scaling)
                if isinstance(m, (ContextAffine, Coupling)) and getattr(m, "context", 0):
                    if context is None:
                        if any(hasattr(later, "init_from_data") for later in steps[i + 1:]):
                            raise ConfigError("this model is conditional: its data-dependent start needs the batch's context")
                        break
                    x, _ = m(x, context)
                else:
                    x, _ = m(x)
            i += 1

    @torch.no_grad()
    def init_scale_from_data(self, x: torch.Tensor) -> None:
        """`--scale-init data`: s_d = log(σ_prior / σ_d), σ_d the spread of coordinate d before the scaling layer on
        these examples (init_from_data with the scaling started too)."""
        self.init_from_data(x, scaling=True)

    # -- weight files --------------------------------------------------------------------------------------------

    def tensors(self) -> Dict[str, np.ndarray]:
        """The weight file's tensors: parameters and whitening buffers as float32 arrays, by file name."""
        return {name: t.detach().to("cpu", torch.float32).numpy() for name, t in self.state_dict().items()}

    def save(self, path, metadata: Optional[Dict[str, str]] = None) -> None:
        from . import safetensors_io

        safetensors_io.write(path, self.tensors(), {**(metadata or {}), "config": self.config.to_json()})

    @classmethod
    def from_tensors(cls, tensors: Dict[str, np.ndarray], metadata: Dict[str, str], what: str = "model file",
                     ignore_prefix: Optional[str] = "train.") -> "NiceFlow":
        if "config" not in metadata:
            raise ConfigError(f"{what}: no model config in the file's __metadata__ (not a nice-flow model?)")
        try:
            config = NiceConfig.from_dict(json.loads(metadata["config"]))
        except json.JSONDecodeError:
            raise ConfigError(f"{what}: the model config in __metadata__ is not valid JSON") from None
        except (ConfigError, TypeError) as e:
            raise ConfigError(f"{what}: {e}") from None
        model = cls(config)
        own = model.state_dict()
        state = {}
        for name, ref in own.items():
            if name not in tensors:
                if name == "whitening.logdet":
                    state[name] = torch.tensor([_logdet(tensors["whitening.matrix"])], dtype=torch.float32)
                    continue
                raise ConfigError(f'{what}: tensor "{name}" is missing (the file does not match its config)')
            t = tensors[name]
            if tuple(t.shape) != tuple(ref.shape):
                raise ConfigError(f'{what}: tensor "{name}" has shape {list(t.shape)}, the config needs {list(ref.shape)}')
            if not np.all(np.isfinite(t)):
                raise ConfigError(f'{what}: tensor "{name}" holds NaN or infinite values')
            state[name] = torch.from_numpy(np.asarray(t, dtype=np.float32))
        extra = [n for n in tensors if n not in own and not (ignore_prefix and n.startswith(ignore_prefix))]
        if extra:
            raise ConfigError(f'{what}: unexpected tensor "{extra[0]}" (the file is of another architecture than its config says)')
        model.load_state_dict(state)
        for m in model.steps:
            if isinstance(m, InvConv1x1):
                try:
                    m.check_buffers()
                except StepError as e:
                    raise ConfigError(f"{what}: {e}") from None
        return model

    @classmethod
    def load(cls, path, map_location=None) -> "NiceFlow":
        """Builds the model a nice-flow weight file (or checkpoint) describes."""
        from . import safetensors_io

        tensors, metadata = safetensors_io.read(path)
        model = cls.from_tensors(tensors, metadata, f"model file {path}")
        return model.to(map_location) if map_location is not None else model


def _logdet(matrix: np.ndarray) -> float:
    return float(np.linalg.slogdet(np.asarray(matrix, dtype=np.float64))[1])


def load(path, map_location=None) -> NiceFlow:
    """A model from a nice-flow weight file."""
    return NiceFlow.load(path, map_location)


def save(model: NiceFlow, path, metadata: Optional[Dict[str, str]] = None) -> None:
    """Writes a weight file every `nice-flow` command reads."""
    model.save(path, metadata)


ZCA_DEFAULT_REL_EPS = 1e-2


def fit_zca(x: torch.Tensor, eps: Optional[float] = None) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, float, float]:
    """ZCA whitening of rows x [n, D]: (μ, W, W⁻¹, log|det W|, ε), computed in float64.

    Σ = (1/n) Σ_i (x_i − μ)(x_i − μ)ᵀ = U diag(λ) Uᵀ, W = U diag((λ + ε)^−½) Uᵀ, W⁻¹ = U diag((λ + ε)^½) Uᵀ,
    with ε = 0.01 × the mean eigenvalue by default: without it the directions that carry only dequantization noise
    would be amplified ~900× and dominate the log-determinant.
    """
    x = x.to(torch.float64)
    n, d = x.shape
    if n < 2:
        raise ValueError("fit_zca: need at least 2 examples")
    mean = x.mean(dim=0)
    xc = x - mean
    cov = xc.T @ xc / n
    trace = float(torch.diagonal(cov).sum())
    if not trace > 0:
        raise ValueError("fit_zca: the data has zero variance in every coordinate; nothing to whiten")
    e = ZCA_DEFAULT_REL_EPS * trace / d if eps is None else float(eps)
    lam, u = torch.linalg.eigh(cov)
    v = lam.clamp_min(0) + e
    matrix = (u * v.rsqrt()) @ u.T
    inverse = (u * v.sqrt()) @ u.T
    return mean, matrix, inverse, float(-0.5 * torch.log(v).sum()), e
