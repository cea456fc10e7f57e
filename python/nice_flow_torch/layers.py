"""The layers of nice-flow's flows as torch modules, one class per layer (nice-flow's src/flows/*.ts).

Every layer works on flat channel-major rows [n, C·H·W] (value c·H·W + y·W + x) and has
`forward(x) -> (y, log|det| per row)` and `inverse(y) -> x`; layers with a data-dependent start have
`init_from_data(x, prior_std, scaling)`, and `reset_parameters()` is nice-flow's initialisation. Parameter and buffer
names are those of nice-flow's weight files after the layer's prefix (`couplings.{k}.`, `scaling.`, `flow.{i}.`).
The step kinds that place and build them from a flow description are in steps.py.
"""

from __future__ import annotations

import math
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .errors import StepError

PARTITIONS = ("alternate", "halves", "checkerboard", "channels")
LOG_SCALE_BOUND = 2.0
# The sigmoid-scale laws' shift bounds C in C·tanh(t/C) (nice-flow's src/flows/laws/boundedAffineLaw.ts and
# glowAffineLaw.ts).
SIGMOID_SHIFT_BOUNDS = {"bounded-affine": 4.0, "glow-affine": 64.0}
# Their scale floors f in s = f + (1 − f)·σ(a + 2) (glow-affine: e^−2; bounded-affine: none, s = σ(a + 2)).
SIGMOID_SCALE_FLOORS = {"bounded-affine": 0.0, "glow-affine": math.exp(-2)}
SHIFT_BOUND = SIGMOID_SHIFT_BOUNDS["bounded-affine"]
# The coupling laws and their network outputs per updated coordinate (nice-flow's src/flows/laws/lawRegistry.ts).
LAW_GROUPS = {"additive": 1, "multiplicative": 1, "affine": 2, "bounded-affine": 2, "glow-affine": 2}
COUPLING_LAWS = tuple(LAW_GROUPS)

Shape3 = Tuple[int, int, int]


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
                raise StepError(f"checkerboard partition needs an image shape; {dim} is not a square")
            c, h, w = 1, s, s
        p = i % (h * w)
        first = (p // w + p % w) % 2 == 0
    elif name == "channels":  # channels [0, ceil(C/2)) / the rest
        if shape is None:
            raise StepError("channels partition needs an image shape [C, H, W]")
        c, h, w = shape
        if c < 2:
            raise StepError(f"channels partition: a single-channel image ({c}x{h}x{w}) has no channel split; use checkerboard or alternate")
        first = i < ((c + 1) // 2) * h * w
    else:
        raise StepError(f"unknown partition {name!r} (use {', '.join(PARTITIONS)})")
    return i[first], i[~first]


def coupling_sets(partition: str, parity: int, dim: int, shape: Optional[Sequence[int]]) -> Tuple[np.ndarray, np.ndarray]:
    """(kept, updated) of a coupling: parity 0 updates the partition's second set from its first, 1 the reverse."""
    first, second = partition_sets(partition, dim, shape)
    return (first, second) if parity % 2 == 0 else (second, first)


def bounded_log_scale(a: torch.Tensor) -> torch.Tensor:
    """ℓ(a) = 2·tanh(a/2): the identity with unit slope at 0, never beyond ±2 (a factor e² per layer)."""
    return LOG_SCALE_BOUND * torch.tanh(a / LOG_SCALE_BOUND)


def needs_context(context: Optional[torch.Tensor]) -> torch.Tensor:
    """The context of a conditional layer, or the one-line error when none was given."""
    if context is None:
        raise StepError("this flow is conditional: give a context (a class label or a context vector) for each example")
    return context


class GatedBlock(nn.Module):
    """h + a ⊙ σ(g), [a | g] = conv1×1(ReLU(conv3×3(ReLU(h)))) (nice-flow's src/nn/GatedConvNet.ts)."""

    def __init__(self, hidden: int):
        super().__init__()
        self.hidden = hidden
        self.conv = nn.Conv2d(hidden, hidden, 3, padding=1)
        self.gate = nn.Conv2d(hidden, 2 * hidden, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        ag = self.gate(F.relu(self.conv(F.relu(h))))
        return h + ag[:, : self.hidden] * torch.sigmoid(ag[:, self.hidden:])


class Coupling(nn.Module):
    """One coupling layer y_I1 = x_I1, y_I2 = g(x_I2; m(x_I1)); `layers` is the coupling network m.

    `network` mlp: Linear layers |I1| → hidden ×depth (ReLU) → G·|I2|. conv: the kept values scattered into a zero
    C×H×W image, `depth` 3×3 convolutions (padding 1, ReLU) to `hidden` channels, then a 1×1 convolution to G·C
    channels; group g of an updated value at channel c is output channel g·C + c at its pixel. `zero_init` starts
    the last layer at zero (the coupling then starts as the identity). `gated`: `first` (3×3, C → hidden), `depth`
    GatedBlocks, `last` (1×1 after a ReLU, hidden → G·C), on the same masked image. A conditional network (`context` K > 0): an
    mlp reads [x_I1 | c]; a conv or gated network adds E·c to its first layer's pre-activation at every pixel, E the weight
    `context.weight` [hidden, K] (nice-flow's src/nn/ConvNet.ts)."""

    def __init__(self, law: str, network: str, hidden: int, depth: int, dim: int, shape: Optional[Sequence[int]],
                 kept: np.ndarray, updated: np.ndarray, zero_init: bool = False, context: int = 0):
        super().__init__()
        self.law = law
        self.context_size = context  # a conditional network reads the example's context c (K values)
        self.network = network
        self.groups = LAW_GROUPS[law]
        self.zero_init = zero_init
        self.register_buffer("kept", torch.as_tensor(kept, dtype=torch.long), persistent=False)
        self.register_buffer("updated", torch.as_tensor(updated, dtype=torch.long), persistent=False)
        du = len(updated)
        if network == "mlp":
            widths = [len(kept) + context] + [hidden] * depth + [self.groups * du]
            self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        elif network == "gated":  # nice-flow's src/nn/GatedConvNet.ts: gated residual blocks
            c = shape[0]
            self.first = nn.Conv2d(c, hidden, 3, padding=1)
            self.blocks = nn.ModuleList(GatedBlock(hidden) for _ in range(depth))
            self.last = nn.Conv2d(hidden, self.groups * c, 1)
        else:
            c = shape[0]
            chans = [c] + [hidden] * depth
            convs: List[nn.Module] = [nn.Conv2d(a, b, 3, padding=1) for a, b in zip(chans[:-1], chans[1:])]
            convs.append(nn.Conv2d(hidden, self.groups * c, 1))
            self.layers = nn.ModuleList(convs)
        if network != "mlp":
            if context:
                self.context = nn.Linear(context, hidden, bias=False)
            self.image_shape = tuple(shape)
            mask = torch.zeros(dim)
            mask[self.kept] = 1.0
            # The updated coordinates enter the convolutions as zeros: m cannot depend on them (triangular Jacobian).
            self.register_buffer("keep_mask", mask.view(1, *shape), persistent=False)

    def reset_parameters(self) -> None:
        """PyTorch's default init of the layers (nice-flow's too); with `zero_init` the last layer then zeroed."""
        convs = [self.first] + [m for b in self.blocks for m in (b.conv, b.gate)] + [self.last] if self.network == "gated" else self.layers
        for layer in convs:
            layer.reset_parameters()
        if self.network != "mlp" and self.context_size:
            self.context.reset_parameters()
        if self.zero_init:
            with torch.no_grad():
                convs[-1].weight.zero_()
                convs[-1].bias.zero_()

    def net(self, x: torch.Tensor, context: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """m(x_I1) as (a, t), each [n, |I2|] in the order of `updated`; t is None for laws without a shift."""
        n = x.shape[0]
        du = self.updated.numel()
        if self.network == "mlp":
            h = x[:, self.kept]
            if self.context_size:
                h = torch.cat([h, needs_context(context).to(h.dtype)], dim=1)
            for layer in self.layers[:-1]:
                h = F.relu(layer(h))
            out = self.layers[-1](h).view(n, self.groups, du)
        elif self.network == "gated":
            h = self.first(x.reshape(n, *self.image_shape) * self.keep_mask)
            if self.context_size:
                h = h + self.context(needs_context(context).to(h.dtype))[:, :, None, None]
            for block in self.blocks:
                h = block(h)
            out = self.last(F.relu(h)).reshape(n, self.groups, -1)[:, :, self.updated]
        else:
            h = x.reshape(n, *self.image_shape) * self.keep_mask
            for j, layer in enumerate(self.layers[:-1]):
                h = layer(h)
                if j == 0 and self.context_size:
                    h = h + self.context(needs_context(context).to(h.dtype))[:, :, None, None]
                h = F.relu(h)
            # Output channel g·C + c belongs to group g, channel c: per group, a C×H×W image read at I2.
            out = self.layers[-1](h).reshape(n, self.groups, -1)[:, :, self.updated]
        return out[:, 0], (out[:, 1] if self.groups == 2 else None)

    def forward(self, x: torch.Tensor, context: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        a, t = self.net(x, context)
        x2 = x[:, self.updated]
        if self.law == "additive":
            y2, log_det = x2 + a, x.new_zeros(x.shape[0])
        elif self.law in SIGMOID_SHIFT_BOUNDS:  # y2 = x2·s + C·tanh(t/C), s = f + (1 − f)·σ(a + 2), log|det| = Σ log s
            c, f = SIGMOID_SHIFT_BOUNDS[self.law], SIGMOID_SCALE_FLOORS[self.law]
            s = f + (1 - f) * torch.sigmoid(a + 2)
            y2 = x2 * s + c * torch.tanh(t / c)
            log_det = (F.logsigmoid(a + 2) if f == 0 else torch.log(s)).sum(dim=1)
        else:
            ell = bounded_log_scale(a)
            y2 = x2 * torch.exp(ell)
            if t is not None:
                y2 = y2 + t
            log_det = ell.sum(dim=1)
        return x.index_copy(1, self.updated, y2), log_det

    def inverse(self, y: torch.Tensor, context: Optional[torch.Tensor] = None) -> torch.Tensor:
        a, t = self.net(y, context)  # y_I1 = x_I1
        y2 = y[:, self.updated]
        if self.law == "additive":
            x2 = y2 - a
        elif self.law in SIGMOID_SHIFT_BOUNDS:
            c, f = SIGMOID_SHIFT_BOUNDS[self.law], SIGMOID_SCALE_FLOORS[self.law]
            x2 = (y2 - c * torch.tanh(t / c)) / (f + (1 - f) * torch.sigmoid(a + 2))
        else:
            x2 = (y2 - t if t is not None else y2) * torch.exp(-bounded_log_scale(a))
        return y.index_copy(1, self.updated, x2)


class ContextAffine(nn.Module):
    """y = x · exp(ℓ(a)) + t with [a | t] = W c + b linear in the example's context c [n, C] (nice-flow's
    src/flows/ContextAffine.ts); log|det| = Σ ℓ(a). As the last step with one-hot labels: a per-class prior location
    and scale. Parameters `weight` [2D, C] (rows 0…D−1 give a, D…2D−1 give t) and `bias` [2D], both 0 at init."""

    def __init__(self, dim: int, context: int):
        super().__init__()
        self.dim, self.context = dim, context
        self.weight = nn.Parameter(torch.zeros(2 * dim, context))
        self.bias = nn.Parameter(torch.zeros(2 * dim))

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.weight.zero_()
            self.bias.zero_()

    def _affine(self, context: Optional[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        at = needs_context(context).to(self.weight.dtype) @ self.weight.T + self.bias
        return bounded_log_scale(at[:, : self.dim]), at[:, self.dim:]

    def forward(self, x: torch.Tensor, context: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        ell, t = self._affine(context)
        return x * torch.exp(ell) + t, ell.sum(dim=1)

    def inverse(self, y: torch.Tensor, context: Optional[torch.Tensor] = None) -> torch.Tensor:
        ell, t = self._affine(context)
        return (y - t) * torch.exp(-ell)


class DiagonalScaling(nn.Module):
    """h = exp(s) · z, log|det| = Σ_d s_d; s starts at 0. Its data-dependent start (only when asked: `scaling`)
    sets s_d = log(σ_prior / σ_d), σ_d the (unbiased) spread of input d over the batch."""

    def __init__(self, dim: int):
        super().__init__()
        self.scale = nn.Parameter(torch.zeros(dim))

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.scale.zero_()

    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor, prior_std: float, scaling: bool) -> None:
        if not scaling:
            return
        std = x.double().std(dim=0, unbiased=x.shape[0] > 1).clamp_min(1e-6)
        self.scale.copy_(torch.log(prior_std / std).to(self.scale.dtype))

    def forward(self, z: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return z * torch.exp(self.scale), self.scale.sum().expand(z.shape[0])

    def inverse(self, h: torch.Tensor) -> torch.Tensor:
        return h * torch.exp(-self.scale)


class Logit(nn.Module):
    """y = log s − log(1 − s), s = α + k·(x − lo), k = (1 − 2α)/(hi − lo) (1 − s computed as α + k·(hi − x));
    log|det| = Σ_d [log(1 − 2α) − log(hi − lo) − log s_d − log(1 − s_d)]. No parameters."""

    def __init__(self, alpha: float, data_range: Tuple[float, float]):
        super().__init__()
        self.alpha = float(alpha)
        self.lo, self.hi = (float(v) for v in data_range)
        self.k = (1 - 2 * self.alpha) / (self.hi - self.lo)
        self.log_k = math.log1p(-2 * self.alpha) - math.log(self.hi - self.lo)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        ls = torch.log(self.alpha + self.k * (x - self.lo))
        lt = torch.log(self.alpha + self.k * (self.hi - x))
        return ls - lt, x.shape[1] * self.log_k - (ls + lt).sum(dim=1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return self.lo + (torch.sigmoid(y) - self.alpha) / self.k


class ActNorm(nn.Module):
    """Glow's ActNorm on [C, H, W]: y[c, p] = (x[c, p] + bias_c)·exp(logScale_c), log|det| = H·W·Σ logScale.
    Parameters `bias`, `logScale` [C] (0 at init); buffer `started` [1] (0 until started from data). The start sets
    bias = −mean_c, logScale = log(σ_prior / max(std_c, 1e-6)) over the batch's n·H·W values of channel c
    (population spread, float64), once: a started layer (also one loaded as started) never starts again."""

    def __init__(self, shape: Shape3):
        super().__init__()
        c, h, w = shape
        self.channels, self.pixels = c, h * w
        self.bias = nn.Parameter(torch.zeros(c))
        self.register_parameter("logScale", nn.Parameter(torch.zeros(c)))
        self.register_buffer("started", torch.zeros(1))

    @property
    def is_started(self) -> bool:
        return bool(self.started.item() != 0)

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.bias.zero_()
            self.logScale.zero_()
            self.started.zero_()

    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor, prior_std: float, scaling: bool) -> None:
        if self.is_started:
            return
        v = x.detach().double().reshape(x.shape[0], self.channels, self.pixels)
        mean = v.mean(dim=(0, 2))
        std = (v - mean[None, :, None]).pow(2).mean(dim=(0, 2)).sqrt()
        if not (torch.isfinite(mean).all() and torch.isfinite(std).all()):
            raise StepError("actnorm: the batch is not finite; cannot start from it")
        self.bias.copy_((-mean).to(self.bias.dtype))
        self.logScale.copy_(torch.log(prior_std / std.clamp_min(1e-6)).to(self.logScale.dtype))
        self.started.fill_(1)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        n = x.shape[0]
        v = x.reshape(n, self.channels, self.pixels)
        y = (v + self.bias[None, :, None]) * torch.exp(self.logScale)[None, :, None]
        return y.reshape(n, -1), (self.pixels * self.logScale.sum()).expand(n)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        n = y.shape[0]
        v = y.reshape(n, self.channels, self.pixels)
        x = v * torch.exp(-self.logScale)[None, :, None] - self.bias[None, :, None]
        return x.reshape(n, -1)


class InvConv1x1(nn.Module):
    """Glow's invertible 1×1 convolution in LU form on [C, H, W]: y[:, p] = W·x[:, p] at every pixel,
    W = P·L·(U + diag(sign·exp(logScale))), log|det| = H·W·Σ logScale.

    Parameters `lower` [C, C] (only its strictly lower part counts; L = that + I), `upper` [C, C] (only its strictly
    upper part) and `logScale` [C]; buffers `perm` [C] and `sign` [C] (±1), stored as floats in the file. The
    permutation is given as row indices, (P·v)[i] = v[perm[i]]: row i of W is row perm[i] of L·Ũ."""

    def __init__(self, shape: Shape3):
        super().__init__()
        c, h, w = shape
        self.channels, self.pixels = c, h * w
        self.lower = nn.Parameter(torch.zeros(c, c))
        self.upper = nn.Parameter(torch.zeros(c, c))
        self.register_parameter("logScale", nn.Parameter(torch.zeros(c)))
        self.register_buffer("perm", torch.arange(c, dtype=torch.float32))
        self.register_buffer("sign", torch.ones(c))

    @torch.no_grad()
    def reset_parameters(self, generator: Optional[torch.Generator] = None) -> None:
        """Glow's init: a random rotation Q (QR of standard normals, R's diagonal made positive), then its LU
        decomposition with partial pivoting gives perm, lower, upper, sign and logScale = log|diag U|."""
        c = self.channels
        a = torch.randn(c, c, generator=generator, dtype=torch.float64)
        q, r = torch.linalg.qr(a)
        q = (q * torch.sign(torch.diagonal(r))[None, :]).numpy().copy()
        row_of = list(range(c))
        for k in range(c):
            piv = k + int(np.argmax(np.abs(q[k:, k])))
            if piv != k:
                q[[k, piv]] = q[[piv, k]]
                row_of[k], row_of[piv] = row_of[piv], row_of[k]
            for r_ in range(k + 1, c):
                f = q[r_, k] / q[k, k]
                q[r_, k] = f
                q[r_, k + 1:] -= f * q[k, k + 1:]
        d = np.diag(q).copy()
        perm = np.zeros(c)
        for i in range(c):
            perm[row_of[i]] = i
        dt = self.lower.dtype
        self.lower.copy_(torch.from_numpy(np.tril(q, -1)).to(dt))
        self.upper.copy_(torch.from_numpy(np.triu(q, 1)).to(dt))
        self.logScale.copy_(torch.from_numpy(np.log(np.abs(d))).to(dt))
        self.sign.copy_(torch.from_numpy(np.where(d < 0, -1.0, 1.0)).to(self.sign.dtype))
        self.perm.copy_(torch.from_numpy(perm).to(self.perm.dtype))

    def check_buffers(self) -> None:
        """Checks perm and sign as a file gave them: a permutation of 0…C−1 and signs ±1 (StepError otherwise).
        NiceFlow.from_tensors calls it on loading, so forward and inverse need not (no device sync per step)."""
        c = self.channels
        p = self.perm.detach().cpu().double().numpy()
        if not (np.all(p == np.round(p)) and sorted(p.astype(np.int64).tolist()) == list(range(c))):
            raise StepError(f"invconv: buffer perm is not a permutation of 0…{c - 1}")
        if not np.all(np.abs(self.sign.detach().cpu().double().numpy()) == 1):
            raise StepError("invconv: buffer sign must hold ±1")

    def factors(self) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(perm, L, Ũ)."""
        c = self.channels
        eye = torch.eye(c, dtype=self.lower.dtype, device=self.lower.device)
        lower = torch.tril(self.lower, -1) + eye
        upper = torch.triu(self.upper, 1) + torch.diag(self.sign.to(self.logScale.dtype) * torch.exp(self.logScale))
        return self.perm.long(), lower, upper

    def weight(self) -> torch.Tensor:
        perm, lower, upper = self.factors()
        return (lower @ upper)[perm]

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        n = x.shape[0]
        y = torch.matmul(self.weight(), x.reshape(n, self.channels, self.pixels))
        return y.reshape(n, -1), (self.pixels * self.logScale.sum()).expand(n)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        # W⁻¹ = Ũ⁻¹ · L⁻¹ · Pᵀ, by two triangular solves of Pᵀ·y.
        n = y.shape[0]
        perm, lower, upper = self.factors()
        v = y.reshape(n, self.channels, self.pixels)
        pt = torch.empty_like(v)
        pt[:, perm] = v  # (Pᵀ·v)[perm[i]] = v[i]
        z = torch.linalg.solve_triangular(lower, pt, upper=False, unitriangular=True)
        x = torch.linalg.solve_triangular(upper, z, upper=True)
        return x.reshape(n, -1)


class Squeeze(nn.Module):
    """2×2 space-to-depth [C, H, W] → [4C, H/2, W/2]: torch's x.view(C, H/2, 2, W/2, 2).permute(0, 2, 4, 1, 3);
    output channel c·4 + dy·2 + dx at (y, x) holds input (c, 2y + dy, 2x + dx). log|det| = 0."""

    def __init__(self, shape: Shape3):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        n = x.shape[0]
        c, h, w = self.shape
        y = x.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(n, -1)
        return y, x.new_zeros(n)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        n = y.shape[0]
        c, h, w = self.shape
        return y.reshape(n, c, 2, 2, h // 2, w // 2).permute(0, 1, 4, 2, 5, 3).reshape(n, -1)


class Split(nn.Module):
    """The multi-scale split: the steps after it act on the first `inner_dim` values of each row (the first C/2
    channels); the rest leave the flow for the prior unchanged. The model runs it (it encloses the later steps)."""

    def __init__(self, shape: Shape3):
        super().__init__()
        c, h, w = shape
        self.dim, self.inner_dim = c * h * w, (c // 2) * h * w
