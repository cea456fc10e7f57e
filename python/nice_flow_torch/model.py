"""NICE (Dinh, Krueger & Bengio, arXiv 1410.8516) as PyTorch modules, in nice-flow's conventions.

    h = f(x),  f = scaling ∘ coupling_{K-1} ∘ … ∘ coupling_0 [∘ whitening],
    log p(x) = Σ_d log p_H(h_d) + log|det ∂f/∂x|.

A coupling layer splits the D coordinates into a kept set I1 and an updated set I2 (layer k even updates the
partition's "second" set from its "first", layer k odd the reverse) and applies a coupling law

    additive        y2 = x2 + m(x1)                       log|det| = 0
    multiplicative  y2 = x2 · exp(ℓ(a)),  a = m(x1)        log|det| = Σ ℓ(a)
    affine          y2 = x2 · exp(ℓ(a)) + t,  [a, t] = m(x1)

with the bounded log-scale ℓ(a) = 2·tanh(a/2). The coupling network m is an MLP on x1 (ReLU hidden layers, linear
output), or a convolutional net on the image with the updated coordinates zeroed (3×3 convolutions with ReLU, then
a 1×1 convolution to C channels per output group, read at the updated positions). The last layer is a diagonal
scaling h = exp(s) · z. An optional fixed ZCA whitening y = W (x − μ) comes first; its constant log|det W| is part
of log p(x), so likelihoods stay in data space.

Parameter names are those of nice-flow's weight files: `couplings.{k}.layers.{j}.weight|bias` (torch.nn.Linear or
torch.nn.Conv2d layouts), `scaling.scale`, and the whitening buffers `whitening.mean|matrix|inverse|logdet`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

COUPLING_LAWS = ("additive", "multiplicative", "affine")
PARTITIONS = ("alternate", "halves", "checkerboard", "channels")
PRIORS = ("logistic", "gaussian")
NETWORKS = ("mlp", "conv")
LOG_SCALE_BOUND = 2.0


class ConfigError(ValueError):
    """A model config that nice-flow would not accept (the message names the field)."""


def _num(v: float):
    """A number as JSON would write it in JavaScript: integral floats without a fraction."""
    return int(v) if float(v).is_integer() else float(v)


@dataclass
class NiceConfig:
    """The architecture of a model: what a weight file's `__metadata__.config` holds."""

    dim: int
    couplings: int = 4
    hidden: int = 1000
    depth: int = 5
    prior: str = "logistic"
    partition: str = "alternate"
    coupling: str = "additive"
    shape: Optional[Tuple[int, int, int]] = None
    network: str = "mlp"
    range: Tuple[float, float] = (0.0, 1.0)
    whiten: Optional[str] = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        def pos_int(name: str, lo: int) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ConfigError(f'model config: "{name}" must be an integer ≥ {lo}, got {v!r}')

        pos_int("dim", 2)
        pos_int("couplings", 1)
        pos_int("hidden", 1)
        pos_int("depth", 0)
        for name, allowed in (("prior", PRIORS), ("partition", PARTITIONS), ("coupling", COUPLING_LAWS), ("network", NETWORKS)):
            if getattr(self, name) not in allowed:
                raise ConfigError(f'model config: "{name}" must be one of {", ".join(allowed)}, got {getattr(self, name)!r}')
        if self.shape is not None:
            s = tuple(self.shape)
            if len(s) != 3 or not all(isinstance(v, int) and v > 0 for v in s) or s[0] * s[1] * s[2] != self.dim:
                raise ConfigError(f'model config: "shape" must be [C, H, W] with C·H·W = dim ({self.dim}), got {list(s)}')
            self.shape = s
        if self.network == "conv":
            if self.shape is None:
                raise ConfigError('model config: "network" conv needs "shape" [C, H, W]')
            if self.depth < 1:
                raise ConfigError(f'model config: "depth" must be an integer ≥ 1 for network conv, got {self.depth}')
        lo, hi = (float(v) for v in self.range)
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ConfigError(f'model config: "range" must be [lo, hi] with lo < hi, got {list(self.range)}')
        self.range = (lo, hi)
        if self.whiten == "none":
            self.whiten = None
        if self.whiten not in (None, "zca"):
            raise ConfigError(f'model config: "whiten" must be zca or none, got {self.whiten!r}')
        partition_sets(self.partition, self.dim, self.shape)  # raises for a partition that does not fit

    @property
    def groups(self) -> int:
        """Coupling-network outputs per updated coordinate: 2 for affine (a and t), else 1."""
        return 2 if self.coupling == "affine" else 1

    @classmethod
    def from_dict(cls, raw: dict) -> "NiceConfig":
        if not isinstance(raw, dict):
            raise ConfigError("model config is not a JSON object")
        if "dim" not in raw:
            raise ConfigError('model config: "dim" is missing')
        known = {"dim", "couplings", "hidden", "depth", "prior", "partition", "coupling", "shape", "network", "range", "whiten"}
        for required in ("couplings", "hidden", "depth", "prior", "partition"):
            if required not in raw:
                raise ConfigError(f'model config: "{required}" is missing')
        kw = {k: v for k, v in raw.items() if k in known}
        if kw.get("shape") is not None:
            kw["shape"] = tuple(kw["shape"])
        if kw.get("range") is not None:
            kw["range"] = tuple(kw["range"])
        else:
            kw.pop("range", None)
        if kw.get("coupling") is None:
            kw.pop("coupling", None)
        if kw.get("network") is None:
            kw.pop("network", None)
        return cls(**kw)

    def to_dict(self) -> dict:
        """The config as nice-flow stores it: `shape`, `network`, `range`, `whiten` only when not the defaults."""
        out: dict = {
            "dim": self.dim, "couplings": self.couplings, "hidden": self.hidden, "depth": self.depth,
            "prior": self.prior, "partition": self.partition, "coupling": self.coupling,
        }
        if self.shape is not None:
            out["shape"] = list(self.shape)
        if self.network != "mlp":
            out["network"] = self.network
        if tuple(self.range) != (0.0, 1.0):
            out["range"] = [_num(v) for v in self.range]
        if self.whiten:
            out["whiten"] = self.whiten
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))


def partition_sets(name: str, dim: int, shape: Optional[Sequence[int]] = None) -> Tuple[np.ndarray, np.ndarray]:
    """The partition's "first" and "second" index sets (ascending flat indices into the C×H×W image)."""
    i = np.arange(dim)
    if name == "alternate":  # even / odd flat indices: x[0::2], x[1::2]
        first = i % 2 == 0
    elif name == "halves":  # x[:D//2], x[D//2:]
        first = i < dim // 2
    elif name == "checkerboard":  # per channel, (row + col) even / odd
        if shape is not None:
            c, h, w = shape
        else:
            s = int(round(math.sqrt(dim)))
            if s * s != dim:
                raise ConfigError(f'model config: "partition": checkerboard partition needs an image shape; {dim} is not a square')
            c, h, w = 1, s, s
        p = i % (h * w)
        first = (p // w + p % w) % 2 == 0
    elif name == "channels":  # channels [0, ceil(C/2)) / the rest
        if shape is None:
            raise ConfigError('model config: "partition": channels partition needs an image shape [C, H, W]')
        c, h, w = shape
        if c < 2:
            raise ConfigError(f'model config: "partition": channels partition: a single-channel image ({c}x{h}x{w}) has no channel split; use checkerboard or alternate')
        first = i < ((c + 1) // 2) * h * w
    else:
        raise ConfigError(f"unknown partition {name!r} (use {', '.join(PARTITIONS)})")
    return i[first], i[~first]


def bounded_log_scale(a: torch.Tensor) -> torch.Tensor:
    """ℓ(a) = 2·tanh(a/2): the identity with unit slope at 0, never beyond ±2 (a factor e² per layer)."""
    return LOG_SCALE_BOUND * torch.tanh(a / LOG_SCALE_BOUND)


class Coupling(nn.Module):
    """One coupling layer y_I1 = x_I1, y_I2 = g(x_I2; m(x_I1)); `layers` is the coupling network m."""

    def __init__(self, config: NiceConfig, kept: np.ndarray, updated: np.ndarray):
        super().__init__()
        self.law = config.coupling
        self.network = config.network
        self.groups = config.groups
        self.register_buffer("kept", torch.as_tensor(kept, dtype=torch.long), persistent=False)
        self.register_buffer("updated", torch.as_tensor(updated, dtype=torch.long), persistent=False)
        du = len(updated)
        if config.network == "mlp":
            widths = [len(kept)] + [config.hidden] * config.depth + [self.groups * du]
            self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        else:
            c = config.shape[0]
            chans = [c] + [config.hidden] * config.depth
            convs: List[nn.Module] = [nn.Conv2d(a, b, 3, padding=1) for a, b in zip(chans[:-1], chans[1:])]
            convs.append(nn.Conv2d(config.hidden, self.groups * c, 1))
            self.layers = nn.ModuleList(convs)
            self.image_shape = tuple(config.shape)
            mask = torch.zeros(config.dim)
            mask[self.kept] = 1.0
            # The updated coordinates enter the convolutions as zeros: m cannot depend on them (triangular Jacobian).
            self.register_buffer("keep_mask", mask.view(1, *config.shape), persistent=False)

    def net(self, x: torch.Tensor) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """m(x_I1) as (a, t), each [n, |I2|] in the order of `updated`; t is None except for the affine law."""
        n = x.shape[0]
        du = self.updated.numel()
        if self.network == "mlp":
            h = x[:, self.kept]
            for layer in self.layers[:-1]:
                h = F.relu(layer(h))
            out = self.layers[-1](h).view(n, self.groups, du)
        else:
            h = x.view(n, *self.image_shape) * self.keep_mask
            for layer in self.layers[:-1]:
                h = F.relu(layer(h))
            # Output channel g·C + c belongs to group g, channel c: per group, a C×H×W image read at I2.
            out = self.layers[-1](h).reshape(n, self.groups, -1)[:, :, self.updated]
        return out[:, 0], (out[:, 1] if self.groups == 2 else None)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        a, t = self.net(x)
        x2 = x[:, self.updated]
        if self.law == "additive":
            y2, log_det = x2 + a, x.new_zeros(x.shape[0])
        else:
            ell = bounded_log_scale(a)
            y2 = x2 * torch.exp(ell)
            if t is not None:
                y2 = y2 + t
            log_det = ell.sum(dim=1)
        return x.index_copy(1, self.updated, y2), log_det

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        a, t = self.net(y)  # y_I1 = x_I1
        y2 = y[:, self.updated]
        if self.law == "additive":
            x2 = y2 - a
        else:
            x2 = (y2 - t if t is not None else y2) * torch.exp(-bounded_log_scale(a))
        return y.index_copy(1, self.updated, x2)


class DiagonalScaling(nn.Module):
    """h = exp(s) · z, log|det| = Σ_d s_d; s starts at 0."""

    def __init__(self, dim: int):
        super().__init__()
        self.scale = nn.Parameter(torch.zeros(dim))

    def forward(self, z: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return z * torch.exp(self.scale), self.scale.sum().expand(z.shape[0])

    def inverse(self, h: torch.Tensor) -> torch.Tensor:
        return h * torch.exp(-self.scale)


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
    """A NICE model built from a {@link NiceConfig}; batches are flat rows [n, dim] in the data range."""

    def __init__(self, config: NiceConfig):
        super().__init__()
        self.config = config
        self.whitening = Whitening(config.dim) if config.whiten == "zca" else None
        first, second = partition_sets(config.partition, config.dim, config.shape)
        self.couplings = nn.ModuleList(
            Coupling(config, *((first, second) if k % 2 == 0 else (second, first))) for k in range(config.couplings)
        )
        self.scaling = DiagonalScaling(config.dim)

    @property
    def dim(self) -> int:
        return self.config.dim

    @property
    def data_range(self) -> Tuple[float, float]:
        return self.config.range

    # -- the bijection -------------------------------------------------------------------------------------------

    def encode(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """h = f(x) and log|det ∂f/∂x| per example."""
        log_det = x.new_zeros(x.shape[0])
        if self.whitening is not None:
            x, ld = self.whitening(x)
            log_det = log_det + ld
        for c in self.couplings:
            x, ld = c(x)
            log_det = log_det + ld
        h, ld = self.scaling(x)
        return h, log_det + ld

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        """x = f⁻¹(h): undo the scaling, then the couplings in reverse order, then the whitening."""
        x = self.scaling.inverse(h)
        for c in reversed(self.couplings):
            x = c.inverse(x)
        if self.whitening is not None:
            x = self.whitening.invert(x)
        return x

    def prior_log_prob(self, h: torch.Tensor) -> torch.Tensor:
        density = logistic_log_density if self.config.prior == "logistic" else gaussian_log_density
        return density(h).sum(dim=1)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) in nats, one per row."""
        h, log_det = self.encode(x)
        return self.prior_log_prob(h) + log_det

    forward = log_prob

    def sample_prior(self, n: int, temperature: float = 1.0, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        p = self.scaling.scale
        if self.config.prior == "gaussian":
            h = torch.randn(n, self.dim, generator=generator, dtype=p.dtype, device=p.device)
        else:  # inverse CDF: log u − log(1 − u), u in (0, 1)
            u = torch.rand(n, self.dim, generator=generator, dtype=p.dtype, device=p.device).clamp(1e-7, 1 - 1e-7)
            h = torch.log(u) - torch.log1p(-u)
        return h * temperature

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """n samples x = f⁻¹(T·h), h ~ prior; T = 0 decodes the prior's mode."""
        return self.decode(self.sample_prior(n, temperature, generator))

    # -- initialisation ------------------------------------------------------------------------------------------

    def reset_parameters(self) -> None:
        """PyTorch's default initialisation of the nets (as nice-flow's), the scale at 0 (the identity)."""
        for c in self.couplings:
            for layer in c.layers:
                layer.reset_parameters()
        with torch.no_grad():
            self.scaling.scale.zero_()

    @torch.no_grad()
    def init_scale_from_data(self, x: torch.Tensor) -> None:
        """s_d = log(σ_prior / σ_d), σ_d the spread of coordinate d before the scaling layer on these examples."""
        z = x
        if self.whitening is not None:
            z, _ = self.whitening(z)
        for c in self.couplings:
            z, _ = c(z)
        prior_std = math.pi / math.sqrt(3) if self.config.prior == "logistic" else 1.0
        std = z.double().std(dim=0, unbiased=x.shape[0] > 1).clamp_min(1e-6)
        self.scaling.scale.copy_(torch.log(prior_std / std).to(self.scaling.scale.dtype))

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
