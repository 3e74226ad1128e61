"""Fault-aware methods from plain data (checkpoint hparams, a study's ``methods[].fault_aware``): the
``{class_path, init_args}`` a method's ``config()`` writes, or the single mapping of earlier versions, read into
today's classes so checkpoints and study files written before them keep loading:

    {method: dropconnect, fault: "drop(p=0.3)", rescale: true, kinds: [linear]}
    ->  DropConnect(p=0.3, rescale=True, layers=LayerSelector(kinds=("linear",)))

An old field at its old default is dropped; a field the method's class does not have, or a fault that is not the
method's own single model (a chain), is one line saying what to write instead.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from faultlab import FaultlabError
from faultlab.faults import FaultModel, FaultSpecError, parse_fault
from faultlab.selector import LayerSelector

from .methods import HW_TRANSFORM_FAULT, FaultAwareMethod


def _subclasses(cls: type) -> list[type]:
    return [c for sub in cls.__subclasses__() for c in (sub, *_subclasses(sub))]


def method_class(class_path: str) -> type[FaultAwareMethod]:
    """The method class of ``class_path``: a short name (``DropConnect``) or ``package.module.Class``."""
    known = {c.__name__: c for c in _subclasses(FaultAwareMethod)}
    if class_path in known:
        return known[class_path]
    module, _, name = class_path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name) if module else None
    except ImportError:
        cls = None
    if not (isinstance(cls, type) and issubclass(cls, FaultAwareMethod)):
        close = difflib.get_close_matches(name or class_path, list(known), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise FaultlabError(f"fault_aware.class_path: {class_path!r} is not a fault-aware method{hint}; "
                            f"known: {', '.join(known)}")
    return cls


def method_from_config(data: FaultAwareMethod | Mapping[str, Any] | None) -> FaultAwareMethod | None:
    """A method from a checkpoint's or study's plain data: ``{class_path, init_args}``, or the single mapping of
    earlier versions (``{method: dropconnect, fault: drop(p=0.3), ...}``)."""
    if data is None or isinstance(data, FaultAwareMethod):
        return data
    if "class_path" in data:
        unknown = sorted(set(data) - {"class_path", "init_args"})
        if unknown:
            raise FaultlabError(f"fault_aware.{unknown[0]}: unknown key next to class_path; put it under init_args")
        cls = method_class(str(data["class_path"]))
        args = dict(data.get("init_args") or {})
        allowed = cls.parameters()
        for key in args:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise FaultlabError(f"fault_aware.init_args.{key}: not a parameter of {cls.__name__}{hint}; "
                                    f"allowed: {', '.join(allowed)}")
        return cls(**args)
    return legacy_method(data)


# ---------------------------------------------------------------------------------------------------- earlier versions

OLD_DEFAULTS: dict[str, Any] = {"fault": None, "eval_fault": None, "rescale": False, "clean_epochs": 0,
                                "clip_w": None, "levels": None, "levels_per_step": 1, "pool": 1, "layers": None,
                                "bn_reestimate_batches": 0, "gradient": "masked"}
SHARED = ("eval_fault", "clean_epochs", "clip_w", "bn_reestimate_batches", "layers")
CLASSES = {"vanilla": "Vanilla", "dropconnect": "DropConnect", "aconnect": "AConnect", "mat": "MAT",
           "stuck_at": "StuckAt", "multi_noise": "RandomLevelNoise", "hw_transform": "HWTransform"}
# old method -> (the fault model its fault must be, its parameters -> the class's fields)
FAULT_FIELDS = {"dropconnect": ("drop", {"p": "p"}), "aconnect": ("gaussian_mult", {"sigma": "sigma", "kind": "kind"}),
                "mat": ("gaussian_add", {"sigma": "sigma"}), "stuck_at": ("stuck_at", {"sa0": "sa0", "sa1": "sa1"})}


def _fail(method: str, message: str) -> FaultlabError:
    return FaultlabError(f"fault_aware: the old mapping {{method: {method}, ...}}: {message}; write it as "
                         f"{{class_path: {CLASSES.get(method, '...')}, init_args: {{...}}}} (docs/campaigns.md)")


def _fault_args(method: str, spec: str | None) -> dict[str, Any]:
    """The class fields held in the old ``fault`` string (``drop(p=0.3)`` -> ``{p: 0.3}``)."""
    name, params = FAULT_FIELDS[method]
    if spec is None:
        raise _fail(method, "has no fault")
    try:
        fault: FaultModel = parse_fault(spec)
    except FaultSpecError as err:
        raise FaultlabError(f"fault_aware.fault: {err}") from None
    defaults = type(fault)._defaults
    extra = [k for k, v in fault.params.items() if k not in params and v != defaults.get(k)]
    if fault.name != name or extra:
        raise _fail(method, f"fault {spec!r} is not a plain {name}(...); train a chain or a device with "
                            f"{{class_path: HWTransform, init_args: {{fault: {spec!r}}}}}")
    return {field: fault.params[param] for param, field in params.items() if param in fault.params}


def legacy_method(data: Mapping[str, Any]) -> FaultAwareMethod | None:
    """Today's method for an old mapping; None for a plain vanilla one (no fault-aware method at all)."""
    data = dict(data)
    method = str(data.pop("method", "vanilla"))
    if method not in CLASSES:
        raise FaultlabError(f"fault_aware.method: unknown method {method!r}; known: {', '.join(CLASSES)} "
                            "(or a class_path: DropConnect, AConnect, MAT, StuckAt, RandomLevelNoise, HWTransform)")
    flat = {k: data.pop(k) for k in [f.name for f in fields(LayerSelector)] if k in data}
    if flat:  # the selector keys of still earlier configs sat next to ``method``
        data["layers"] = {**flat, **(data.get("layers") or {})}
    unknown = [k for k in data if k not in OLD_DEFAULTS]
    if unknown:
        raise FaultlabError(f"fault_aware.{unknown[0]}: unknown key of the old mapping; allowed: "
                            f"{', '.join(OLD_DEFAULTS)}")
    given = {k: v for k, v in data.items() if v != OLD_DEFAULTS[k] and not (k == "layers" and _default_layers(v))}
    cls = method_class(CLASSES[method])
    args = {k: given.pop(k) for k in SHARED if k in given}
    if method in FAULT_FIELDS:
        args.update(_fault_args(method, given.pop("fault", None)))
    elif method == "multi_noise":
        args["levels"] = given.pop("levels", None) or []
        args.update({k: given.pop(k) for k in ("levels_per_step", "fault") if k in given})
    elif method == "hw_transform":
        args["fault"] = given.pop("fault", HW_TRANSFORM_FAULT)
    for key in ("rescale", "pool", "gradient"):
        if key in given and key in cls.parameters():
            args[key] = given.pop(key)
    if given:
        key = next(iter(given))
        raise _fail(method, f"{key}={given[key]!r} does not apply to {cls.__name__}")
    if method == "vanilla" and not args:
        return None
    return cls(**args)


def _default_layers(layers: Any) -> bool:
    try:
        selector = layers if isinstance(layers, LayerSelector) else LayerSelector(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in dict(layers).items()})
    except TypeError:
        return False
    return selector == LayerSelector()
