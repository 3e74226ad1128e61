"""Model registry: build any zoo network (or a timm model) by name.

    net = architectures.build("resnet20", num_classes=10)
    net = architectures.build("resnet20-lb[s2b3c2e6]")                  # variant names parse back
    net = architectures.build("mini_mobilenet-4x(8,1,6)-noshortcut")
    net = architectures.build("timm:resnet18", num_classes=10, in_channels=3)

The registry is faultlab's generic ``Registry``; each family files its builders with ``@register`` and its
variant-name grammar (the labels its networks carry as ``.variant``) with ``@variant_grammar``, in its own file.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

from torch import nn

from faultlab import FaultlabError
from faultlab.registry import Registry, did_you_mean

TIMM_PREFIX = "timm:"


class UnknownArchitectureError(FaultlabError, ValueError):
    """Raised for a model name that is neither registered, a variant name, nor a ``timm:`` name, and for
    arguments a builder does not take."""


MODELS: Registry[Callable[..., nn.Module]] = Registry("architecture", UnknownArchitectureError, "'timm:<name>'")


def register(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """File an entrypoint under its own ``__name__`` (timm style)."""
    return MODELS.register(fn)


def variant_grammar(parse: Callable[[str], tuple[str, dict[str, Any]] | None]) -> Callable:
    """File a family's variant-name parser: ``parse(label) -> (builder name, kwargs)`` or None."""
    return MODELS.add_grammar(parse)


def available(pattern: str = "*") -> list[str]:
    """Registered model names matching an fnmatch ``pattern``, sorted."""
    return MODELS.names(pattern)


list_models = available


def is_model(name: str) -> bool:
    """A registered name, a variant name of one, or a ``timm:`` name."""
    return name.startswith(TIMM_PREFIX) or MODELS.knows(name)


def entrypoint(name: str) -> Callable[..., nn.Module]:
    """The registered function for ``name`` (a plain registry name)."""
    return MODELS.get(name)


def _signature(name: str) -> tuple[str, dict[str, Any], dict[str, inspect.Parameter]]:
    base, named = MODELS.resolve(name)
    return base, named, dict(inspect.signature(MODELS.get(base)).parameters)


def parameters(name: str) -> list[str] | None:
    """The keyword arguments the builder of ``name`` accepts (None for ``timm:`` names and builders taking
    ``**kwargs``), so a spec can refuse a misspelled one before anything is built."""
    if name.startswith(TIMM_PREFIX):
        return None
    _, _, params = _signature(name)
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return None
    return [n for n, p in params.items() if p.kind is not p.VAR_POSITIONAL]


def build(name: str, **kwargs) -> nn.Module:
    """Build a model by registry name, variant name or ``timm:<name>``; ``None`` kwargs are dropped."""
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    if name.startswith(TIMM_PREFIX):
        return _build_timm(name[len(TIMM_PREFIX) :], **kwargs)
    base, named, params = _signature(name)
    if clash := sorted(set(named) & set(kwargs)):
        raise UnknownArchitectureError(f"{name!r} already sets {', '.join(clash)}; drop {', '.join(clash)}")
    unknown = sorted(set(kwargs) - set(params))
    if unknown and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        raise UnknownArchitectureError(
            f"{base}: unknown argument(s) {', '.join(unknown)}; allowed: {', '.join(params)}"
        )
    return MODELS.get(base)(**named, **kwargs)


def build_for_input(
    name: str, num_classes: int, input_shape: Sequence[int], **kwargs
) -> nn.Module:
    """Build ``name`` for a data set: pass ``num_classes`` and whichever of ``in_channels``,
    ``input_size`` and ``in_features`` the entrypoint accepts, derived from ``input_shape``."""
    shape = tuple(int(s) for s in input_shape)
    derived: dict[str, int] = {"num_classes": num_classes}
    if len(shape) == 3:
        derived.update(in_channels=shape[0], input_size=shape[1])
    feats = 1
    for s in shape:
        feats *= s
    derived["in_features"] = feats
    if name.startswith(TIMM_PREFIX):
        kw = {"num_classes": num_classes}
        if len(shape) == 3:
            kw["in_channels"] = shape[0]
        return build(name, **kw, **kwargs)
    _, named, params = _signature(name)
    for key, value in derived.items():
        if key in params and key not in kwargs and key not in named:
            kwargs[key] = value
    return build(name, **kwargs)


def _build_timm(name: str, num_classes: int = 1000, in_channels: int = 3, **kwargs) -> nn.Module:
    import timm

    if not timm.is_model(name):
        hint = did_you_mean(name, timm.list_models(), prefix=TIMM_PREFIX)
        raise UnknownArchitectureError(f"unknown timm architecture {name!r}{hint}")
    net = timm.create_model(name, pretrained=False, num_classes=num_classes, in_chans=in_channels, **kwargs)
    net.variant = TIMM_PREFIX + name
    return net
