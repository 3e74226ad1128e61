"""Which layers' ``.weight`` a fault is applied to.

    layers = select_layers(model, kinds=("conv", "linear"), exclude=["*.shortcut*"], first=False)

Kinds: ``conv`` (any Conv1d/2d/3d), ``depthwise`` (groups == in_channels > 1), ``pointwise`` (1x1,
groups == 1), ``conv3x3`` (3x3, groups == 1), ``linear`` (nn.Linear).

Groups (per-layer sensitivity by role): ``stem`` (the first weight layer), ``classifier`` (the last),
and for the others their kind: ``depthwise``, ``pointwise``, ``conv3x3``, ``conv``, ``linear``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence

from torch import nn

from faultlab import FaultlabError
from faultlab.registry import did_you_mean

KINDS = ("conv", "depthwise", "pointwise", "conv3x3", "linear")
_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_LISTED = 6  # layer names quoted in an error message


class LayerSelectionError(FaultlabError, ValueError):
    """No layer matches, or the selection is malformed; the message is one line."""


def layer_kind(module: nn.Module) -> str | None:
    """Most specific kind of a module: depthwise, pointwise, conv3x3, conv, linear; None otherwise."""
    if isinstance(module, nn.Linear):
        return "linear"
    if not isinstance(module, _CONVS):
        return None
    if module.groups == module.in_channels > 1:
        return "depthwise"
    if module.groups == 1 and all(k == 1 for k in module.kernel_size):
        return "pointwise"
    if module.groups == 1 and tuple(module.kernel_size) == (3, 3):
        return "conv3x3"
    return "conv"


def _is(module: nn.Module, kind: str) -> bool:
    specific = layer_kind(module)
    return specific is not None and (kind == specific or (kind == "conv" and specific != "linear"))


def _patterns(name: str, patterns: str | Iterable[str] | None) -> tuple[str, ...] | None:
    if patterns is None:
        return None
    out = (patterns,) if isinstance(patterns, str) else tuple(patterns)
    if not all(isinstance(p, str) for p in out):
        raise LayerSelectionError(f"{name} must be fnmatch patterns (strings), got {out!r}")
    return out


def weight_layers(model: nn.Module) -> list[tuple[str, str]]:
    """``(name, kind)`` of every conv and linear layer with a weight, in ``named_modules()`` order."""
    return [
        (name, kind)
        for name, module in model.named_modules()
        if (kind := layer_kind(module)) is not None and getattr(module, "weight", None) is not None
    ]


def select_layers(
    model: nn.Module,
    kinds: str | Sequence[str] = ("conv", "linear"),
    include: str | Iterable[str] | None = None,
    exclude: str | Iterable[str] | None = None,
    first: bool = True,
    last: bool = True,
) -> list[str]:
    """Qualified names of the layers whose ``.weight`` will be faulted, in ``named_modules()`` order.

    kinds: layer kinds to keep (see module doc). include / exclude: fnmatch patterns on module
    names (a layer must match some include pattern, when given, and no exclude pattern).
    first / last: keep the network's first / last weight layer (stem and classifier: the first and
    last conv or linear layer in registration order, which is forward order for the zoo models)
    when it is of a selected kind. Raises LayerSelectionError when nothing is selected.
    """
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    for kind in kinds:
        if kind not in KINDS:
            raise LayerSelectionError(
                f"unknown layer kind {kind!r}{did_you_mean(str(kind), KINDS)}; known: {', '.join(KINDS)}"
            )
    if not kinds:
        raise LayerSelectionError(f"kinds is empty; choose from {', '.join(KINDS)}")
    inc, exc = _patterns("include", include), _patterns("exclude", exclude)
    layers = weight_layers(model)
    modules = dict(model.named_modules())
    dropped = {layers[0][0]} if layers and not first else set()
    if layers and not last:
        dropped.add(layers[-1][0])
    selected = [
        name
        for name, _ in layers
        if any(_is(modules[name], k) for k in kinds)
        and name not in dropped
        and (inc is None or any(fnmatch.fnmatchcase(name, p) for p in inc))
        and not (exc and any(fnmatch.fnmatchcase(name, p) for p in exc))
    ]
    if not selected:
        shown = ", ".join(f"{n} ({k})" for n, k in layers[:_LISTED]) or "none"
        more = f" (+{len(layers) - _LISTED} more)" if len(layers) > _LISTED else ""
        raise LayerSelectionError(
            f"no layer matches kinds={kinds}, include={inc}, exclude={exc}, first={first}, last={last}; "
            f"conv/linear layers: {shown}{more}"
        )
    return selected


def layer_groups(model: nn.Module, layers: Sequence[str] | None = None) -> dict[str, str]:
    """The group of each of ``layers`` (default: every conv and linear layer): ``stem`` for the network's
    first weight layer, ``classifier`` for its last, otherwise the layer's kind (see module doc)."""
    found = weight_layers(model)
    if not found:
        return {}
    first, last = found[0][0], found[-1][0]
    kinds = dict(found)
    names = [n for n, _ in found] if layers is None else list(layers)
    unknown = [n for n in names if n not in kinds]
    if unknown:
        raise LayerSelectionError(f"not conv/linear layers of the model: {', '.join(unknown[:_LISTED])}")
    return {n: "stem" if n == first else "classifier" if n == last else kinds[n] for n in names}
