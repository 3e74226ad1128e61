"""Model registry: build any zoo network (or a timm model) by name.

    net = architectures.build("resnet20", num_classes=10)
    net = architectures.build("resnet20-lb[s2b3c2e6]")       # variant names parse back
    net = architectures.build("timm:resnet18", num_classes=10, in_channels=3)
"""

from __future__ import annotations

import difflib
import fnmatch
import inspect
import re
from collections.abc import Callable, Sequence

from torch import nn

TIMM_PREFIX = "timm:"
_MODELS: dict[str, Callable[..., nn.Module]] = {}
_VARIANT = re.compile(r"^(?P<base>[a-z0-9_]+)-lb\[(?P<items>[^\]]*)\]$")


class UnknownArchitectureError(ValueError):
    """Raised for a model name that is neither registered nor a ``timm:`` name."""


def register(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """File an entrypoint under its own ``__name__`` (timm style)."""
    _MODELS[fn.__name__] = fn
    return fn


def available(pattern: str = "*") -> list[str]:
    """Registered model names matching an fnmatch ``pattern``, sorted."""
    return sorted(n for n in _MODELS if fnmatch.fnmatch(n, pattern))


list_models = available


def is_model(name: str) -> bool:
    return name in _MODELS or name.startswith(TIMM_PREFIX) or bool(_VARIANT.match(name))


def _unknown(name: str) -> UnknownArchitectureError:
    close = difflib.get_close_matches(name, list(_MODELS), n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    return UnknownArchitectureError(
        f"unknown architecture {name!r}{hint}; known: {', '.join(available())}, or 'timm:<name>'"
    )


def entrypoint(name: str) -> Callable[..., nn.Module]:
    """The registered function for ``name`` (a plain registry name)."""
    if name not in _MODELS:
        raise _unknown(name)
    return _MODELS[name]


def parameters(name: str) -> list[str] | None:
    """The keyword arguments the builder of ``name`` accepts (None for ``timm:`` names and builders taking
    ``**kwargs``), so a spec can refuse a misspelled one before anything is built."""
    if name.startswith(TIMM_PREFIX):
        return None
    match = _VARIANT.match(name)
    params = inspect.signature(entrypoint(match["base"] if match else name)).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return None
    return [n for n, p in params.items() if p.kind is not p.VAR_POSITIONAL]


def build(name: str, **kwargs) -> nn.Module:
    """Build a model by registry name, variant name or ``timm:<name>``; ``None`` kwargs are dropped."""
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    if name.startswith(TIMM_PREFIX):
        return _build_timm(name[len(TIMM_PREFIX) :], **kwargs)
    match = _VARIANT.match(name)
    if match and match["base"] in _MODELS:
        if "bottlenecks" in kwargs:
            raise UnknownArchitectureError(f"{name!r} already names its bottlenecks; drop 'bottlenecks'")
        kwargs["bottlenecks"] = [s for s in match["items"].split(",") if s]
        name = match["base"]
    fn = entrypoint(name)
    params = inspect.signature(fn).parameters
    unknown = sorted(set(kwargs) - set(params))
    if unknown and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        raise UnknownArchitectureError(
            f"{name}: unknown argument(s) {', '.join(unknown)}; allowed: {', '.join(params)}"
        )
    return fn(**kwargs)


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
    base = _VARIANT.match(name)
    params = inspect.signature(entrypoint(base["base"] if base else name)).parameters
    for key, value in derived.items():
        if key in params and key not in kwargs:
            kwargs[key] = value
    return build(name, **kwargs)


def _build_timm(name: str, num_classes: int = 1000, in_channels: int = 3, **kwargs) -> nn.Module:
    import timm

    if not timm.is_model(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=3)
        hint = f" (did you mean {', '.join('timm:' + c for c in close)}?)" if close else ""
        raise UnknownArchitectureError(f"unknown timm architecture {name!r}{hint}")
    net = timm.create_model(name, pretrained=False, num_classes=num_classes, in_chans=in_channels, **kwargs)
    net.variant = TIMM_PREFIX + name
    return net
