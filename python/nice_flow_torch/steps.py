"""The registered kinds of flow step of a described model (a config with `flow`, nice-flow's src/flows/steps).

A described config lists its flow as steps, data side first: `{"dim", "prior", "shape", "range"?, "whiten"?,
"flow": [{"type": …, settings…}, …]}`. Each kind here mirrors one file of src/flows/steps: `validate` (the settings
with their defaults filled in, as nice-flow stores them), `out_shape`, `param_shapes` and `build` (a torch module).
One class per kind, registered in STEP_KINDS by `type`.

The modules `build` makes are the layers of layers.py. Step i of the list holds its tensors under `flow.{i}.` in
the weight file: the model keeps the modules in one flat `nn.ModuleList` named `flow`, so torch's state_dict names
are the file's.

Placement (nice-flow's src/model/planFlow.ts): the shape each step sees is the previous step's output shape;
couplings without an explicit `parity` alternate with a counter over all couplings of the list (0, 1, 0, …); a
`split` encloses every step after it (they act on the first half of its channels, which in channel-major rows is
the first half of each row; the second half goes to the prior as it is), so a multi-scale latent is still one flat
row: what each level let go sits after what stayed.
"""

from __future__ import annotations

import json
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from torch import nn

from .errors import StepError
from .layers import (COUPLING_LAWS, LAW_GROUPS, PARTITIONS, ActNorm, ContextAffine, Coupling, DiagonalScaling, InvConv1x1, Logit, Shape3, Split, Squeeze,
                     coupling_sets, partition_sets)

COUPLING_NETWORKS = ("mlp", "conv", "gated")
LOGIT_DEFAULT_ALPHA = 0.05
MAX_FLOW_STEPS = 4096
MAX_CHANNELS = 4096  # ActNorm and invconv


def _js(v) -> str:
    """A value as JSON.stringify would show it in nice-flow's messages."""
    try:
        return json.dumps(v)
    except (TypeError, ValueError):
        return repr(v)


class SpecReader:
    """Reads an untrusted step spec's settings one by one (src/flows/steps/readSpec.ts); `done` refuses the rest."""

    def __init__(self, raw: dict, what: str):
        self.raw, self.what, self.seen = raw, what, {"type"}

    def _get(self, key: str):
        self.seen.add(key)
        return self.raw.get(key)

    def int(self, key: str, lo: int, hi: int, fallback: Optional[int] = None) -> int:
        v = self._get(key)
        v = fallback if v is None else v
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not float(v).is_integer() or not lo <= v <= hi:
            raise StepError(f'{self.what}: "{key}" must be an integer from {lo} to {hi}, got {_js(v)}')
        return int(v)

    def number(self, key: str, lo: float, hi: float, fallback: Optional[float] = None) -> float:
        v = self._get(key)
        v = fallback if v is None else v
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (lo < v < hi):
            raise StepError(f'{self.what}: "{key}" must be a number in ({lo}, {hi}), got {_js(v)}')
        return v

    def one_of(self, key: str, names: Sequence[str], fallback: Optional[str] = None) -> str:
        v = self._get(key)
        v = fallback if v is None else v
        if v not in names:
            raise StepError(f'{self.what}: "{key}" must be one of {", ".join(names)}, got {_js(v)}')
        return v

    def bool(self, key: str, fallback: bool) -> bool:
        v = self._get(key)
        v = fallback if v is None else v
        if not isinstance(v, bool):
            raise StepError(f'{self.what}: "{key}" must be true or false, got {_js(v)}')
        return v

    def done(self) -> None:
        extra = [k for k in self.raw if k not in self.seen]
        if extra:
            raise StepError(f"{self.what}: unknown setting{'s' if len(extra) > 1 else ''} {', '.join(_js(k) for k in extra)}")


def _check_image_shape(shape: Sequence[int], what: str) -> None:
    if len(shape) != 3 or not all(isinstance(v, int) and v >= 1 for v in shape):
        raise StepError(f"{what}: the shape must be [C, H, W] with positive integers, got {list(shape)}")
    if shape[0] > MAX_CHANNELS:
        raise StepError(f"{what}: {shape[0]} channels, at most {MAX_CHANNELS} are supported")
    if shape[0] * shape[1] * shape[2] >= 2 ** 31:
        raise StepError(f"{what}: shape {list(shape)} has too many values per example")


# --- the step kinds ------------------------------------------------------------------------------------------------

class StepKind:
    """One kind of step: what nice-flow's StepKind (src/flows/steps/StepKind.ts) does, for the twin."""

    type = ""
    encloses = False

    def validate(self, raw: dict, shape: Shape3) -> dict:
        raise NotImplementedError

    def out_shape(self, spec: dict, shape: Shape3) -> Shape3:
        return shape

    def param_shapes(self, spec: dict, shape: Shape3) -> List[Tuple[str, List[int]]]:
        return []

    def build(self, spec: dict, shape: Shape3, parity: int, data_range: Tuple[float, float]) -> nn.Module:
        raise NotImplementedError


class CouplingStep(StepKind):
    type = "coupling"

    def validate(self, raw, shape):
        r = SpecReader(raw, "coupling step")
        spec = {"type": "coupling", "law": r.one_of("law", COUPLING_LAWS, "additive"),
                "partition": r.one_of("partition", PARTITIONS, "alternate"),
                "network": r.one_of("network", COUPLING_NETWORKS, "mlp"), "hidden": r.int("hidden", 1, 2 ** 20)}
        spec["depth"] = r.int("depth", 0 if spec["network"] == "mlp" else 1, 1024)
        if "parity" in raw:
            spec["parity"] = r.int("parity", 0, 1)
        if r.bool("zeroInit", False):
            spec["zeroInit"] = True
        if "context" in raw:
            spec["context"] = r.int("context", 1, MAX_CONTEXT)
        r.done()
        partition_sets(spec["partition"], shape[0] * shape[1] * shape[2], shape)  # the partition must fit the shape
        return spec

    def param_shapes(self, spec, shape):
        groups = LAW_GROUPS[spec["law"]]
        out = []
        if spec["network"] == "gated":  # nice-flow's src/nn/GatedConvNet.ts
            c, f = shape[0], spec["hidden"]
            convs = [("first", f, c, 3)]
            for b in range(spec["depth"]):
                convs += [(f"blocks.{b}.conv", f, f, 3), (f"blocks.{b}.gate", 2 * f, f, 1)]
            convs.append(("last", groups * c, f, 1))
            for name, out_c, in_c, k in convs:
                out += [(f"{name}.weight", [out_c, in_c, k, k]), (f"{name}.bias", [out_c])]
            if "context" in spec:
                out.append(("context.weight", [f, spec["context"]]))
        elif spec["network"] == "conv":
            c = shape[0]
            for j in range(spec["depth"] + 1):
                last = j == spec["depth"]
                k, out_c = (1, groups * c) if last else (3, spec["hidden"])
                out += [(f"layers.{j}.weight", [out_c, c if j == 0 else spec["hidden"], k, k]), (f"layers.{j}.bias", [out_c])]
            if "context" in spec:
                out.append(("context.weight", [spec["hidden"], spec["context"]]))
        else:
            kept, updated = partition_sets(spec["partition"], shape[0] * shape[1] * shape[2], shape)
            widths = [len(kept) + spec.get("context", 0)] + [spec["hidden"]] * spec["depth"] + [groups * len(updated)]
            for j in range(len(widths) - 1):
                out += [(f"layers.{j}.weight", [widths[j + 1], widths[j]]), (f"layers.{j}.bias", [widths[j + 1]])]
        return out

    def build(self, spec, shape, parity, data_range):
        dim = shape[0] * shape[1] * shape[2]
        kept, updated = coupling_sets(spec["partition"], spec.get("parity", parity), dim, shape)
        return Coupling(spec["law"], spec["network"], spec["hidden"], spec["depth"], dim, shape, kept, updated,
                        spec.get("zeroInit", False), spec.get("context", 0))


class ScalingStep(StepKind):
    type = "scaling"

    def validate(self, raw, shape):
        SpecReader(raw, "scaling step").done()
        return {"type": "scaling"}

    def param_shapes(self, spec, shape):
        return [("scale", [shape[0] * shape[1] * shape[2]])]

    def build(self, spec, shape, parity, data_range):
        return DiagonalScaling(shape[0] * shape[1] * shape[2])


class LogitStep(StepKind):
    type = "logit"

    def validate(self, raw, shape):
        r = SpecReader(raw, "logit step")
        alpha = r.number("alpha", 0, 0.5, LOGIT_DEFAULT_ALPHA)
        r.done()
        return {"type": "logit", "alpha": alpha}

    def build(self, spec, shape, parity, data_range):
        return Logit(spec["alpha"], data_range)


class _NoSettings(StepKind):
    def validate(self, raw, shape):
        extra = [k for k in raw if k != "type"]
        if extra:
            raise StepError(f"{self.type} step: unknown setting{'s' if len(extra) > 1 else ''} "
                            f"{', '.join(_js(k) for k in extra)} ({self.type} takes none)")
        _check_image_shape(shape, self.type)
        return {"type": self.type}


class ActNormStep(_NoSettings):
    type = "actnorm"

    def param_shapes(self, spec, shape):
        return [("bias", [shape[0]]), ("logScale", [shape[0]])]

    def build(self, spec, shape, parity, data_range):
        return ActNorm(shape)


class InvConvStep(_NoSettings):
    type = "invconv"

    def param_shapes(self, spec, shape):
        return [("lower", [shape[0], shape[0]]), ("upper", [shape[0], shape[0]]), ("logScale", [shape[0]])]

    def build(self, spec, shape, parity, data_range):
        return InvConv1x1(shape)


class SqueezeStep(StepKind):
    type = "squeeze"

    def validate(self, raw, shape):
        SpecReader(raw, "squeeze step").done()
        if shape[1] % 2 or shape[2] % 2:
            raise StepError(f"squeeze step: needs an even height and width, the shape here is {'×'.join(map(str, shape))}")
        return {"type": "squeeze"}

    def out_shape(self, spec, shape):
        c, h, w = shape
        return (4 * c, h // 2, w // 2)

    def build(self, spec, shape, parity, data_range):
        return Squeeze(shape)


class SplitStep(StepKind):
    type = "split"
    encloses = True

    def validate(self, raw, shape):
        SpecReader(raw, "split step").done()
        if shape[0] < 2 or shape[0] % 2:
            raise StepError(f"split step: needs an even number of channels, the shape here is {'×'.join(map(str, shape))} (squeeze first)")
        return {"type": "split"}

    def out_shape(self, spec, shape):
        c, h, w = shape
        return (c // 2, h, w)

    def build(self, spec, shape, parity, data_range):
        return Split(shape)


MAX_CONTEXT = 2 ** 16


class ContextAffineStep(StepKind):
    type = "context-affine"

    def validate(self, raw, shape):
        r = SpecReader(raw, "context-affine step")
        spec = {"type": "context-affine", "context": r.int("context", 1, MAX_CONTEXT)}
        # "latent": true (the flow's last step only): on the whole latent, every level's values, after the flow.
        if r.bool("latent", False):
            spec["latent"] = True
        r.done()
        return spec

    def param_shapes(self, spec, shape):
        d = shape[0] * shape[1] * shape[2]
        return [("weight", [2 * d, spec["context"]]), ("bias", [2 * d])]

    def build(self, spec, shape, parity, data_range):
        return ContextAffine(shape[0] * shape[1] * shape[2], spec["context"])


# The registered kinds, in nice-flow's registry order (src/flows/steps/stepRegistry.ts).
STEP_KINDS: Dict[str, StepKind] = {k.type: k for k in (CouplingStep(), ScalingStep(), LogitStep(), ActNormStep(),
                                                        InvConvStep(), SqueezeStep(), SplitStep(), ContextAffineStep())}
STEP_TYPES = tuple(STEP_KINDS)


def get_step_kind(type_) -> StepKind:
    if not isinstance(type_, str) or type_ not in STEP_KINDS:
        raise StepError(f"unknown flow step type {_js(type_)} (use one of {', '.join(STEP_TYPES)})")
    return STEP_KINDS[type_]


def validate_flow(raw, shape: Shape3) -> List[dict]:
    """An untrusted flow description checked for data of `shape`: the complete specs (defaults filled in), as
    nice-flow's validateFlow returns them; errors name the step by its index."""
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_FLOW_STEPS:
        got = f"{len(raw)} steps" if isinstance(raw, list) else _js(raw)[:40]
        raise StepError(f'"flow" must be a list of 1 to {MAX_FLOW_STEPS} steps, got {got}')
    out: List[dict] = []
    cur = tuple(shape)
    for i, step in enumerate(raw):
        if not isinstance(step, dict):
            raise StepError(f"flow step {i}: not a JSON object")
        try:
            kind = get_step_kind(step.get("type"))
            spec = kind.validate(step, cur)
            if kind.encloses and i == len(raw) - 1:
                raise StepError(f"{spec['type']} step: nothing follows it (the steps of the next level must come after it)")
            if spec.get("latent") is True and i != len(raw) - 1:
                raise StepError(f'{spec["type"]} step: "latent": true only for the flow\'s last step (it acts on the whole latent, after every level)')
            out.append(spec)
            cur = kind.out_shape(spec, cur)
        except StepError as e:
            raise StepError(f"flow step {i}: {e}") from None
    return out


class PlannedStep:
    """A step placed in a model's flow: its kind, complete spec, input shape, weight-file prefix and parity."""

    def __init__(self, kind: StepKind, spec: dict, shape: Shape3, prefix: str, parity: int):
        self.kind, self.spec, self.shape, self.prefix, self.parity = kind, spec, shape, prefix, parity


def plan_flow(specs: List[dict], shape: Shape3) -> List[PlannedStep]:
    """Checked specs placed as nice-flow's planFlow places them: step i under `flow.{i}.`, couplings without a
    `parity` alternating with a counter over all couplings of the list."""
    planned, couplings, cur = [], 0, tuple(shape)
    for i, spec in enumerate(specs):
        kind = get_step_kind(spec["type"])
        if spec.get("latent") is True:
            cur = tuple(shape)  # on the whole latent: as many values as the flow's input, in the latent's order
        parity = 0
        if spec["type"] == "coupling":
            parity, couplings = couplings % 2, couplings + 1
        planned.append(PlannedStep(kind, spec, cur, f"flow.{i}.", parity))
        cur = kind.out_shape(spec, cur)
    return planned


def count_planned_params(plan: List[PlannedStep]) -> int:
    return sum(int(np.prod(s)) for p in plan for _, s in p.kind.param_shapes(p.spec, p.shape))
