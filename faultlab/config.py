"""Strict construction of typed dataclasses from parsed YAML or command-line values: the one loader of
study specs (``faultlab.sweep.spec``) and of campaign configs (``CampaignSpec``, from YAML and from
``faultlab campaign``'s flags). An unknown key (with the closest known one), a wrong type or a missing
required key is a ``ConfigError`` naming the key; values are checked by each config's own validator.

    spec = build(CampaignSpec, {"fault": "drop(p={rate})", "rates": [0.1], "layers": {"first": False}})

Types understood: dataclasses (nested), ``bool``/``int``/``float``/``str``, ``list[X]``, ``tuple[X, ...]``
and ``Sequence[X]`` (built as tuples), ``dict``, ``Literal[...]``, unions and ``Optional``, ``Any``.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import difflib
import types
import typing
from typing import Any

from faultlab import FaultlabError

SCALARS = {bool: (bool, "true or false"), int: (int, "an integer"), float: ((int, float), "a number"),
           str: (str, "a string")}  # type -> (accepted Python types, how a message names it)


class ConfigError(FaultlabError):
    """A config mapping does not fit its dataclass; the message names the key and the allowed values."""


def type_name(tp: Any) -> str:
    if typing.get_origin(tp) is typing.Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _sequence(value: Any, item: Any, key: str, build: type) -> Any:
    if not isinstance(value, list | tuple):
        raise ConfigError(f"{key}: expected a list, got {value!r}")
    return build(convert(v, item, f"{key}[{i}]") for i, v in enumerate(value))


def convert(value: Any, tp: Any, key: str) -> Any:
    """``value`` as type ``tp`` (strict: no str -> int, no int -> bool), or a ConfigError naming ``key``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return convert(value, arg, key)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0] if len(errors) == 1 else
                          f"{key}: {value!r} is none of {' | '.join(type_name(a) for a in args)}")
    if origin is typing.Literal:
        for allowed in args:  # True == 1, so the type must match too
            if value == allowed and type(value) is type(allowed):
                return allowed
        raise ConfigError(f"{key}: {value!r}; allowed: {', '.join(repr(a) for a in args)}")
    if dataclasses.is_dataclass(tp):
        return value if isinstance(value, tp) else build(tp, value, key)
    if origin is list:
        return _sequence(value, args[0], key, list)
    if origin is tuple or origin is collections.abc.Sequence:
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            raise ConfigError(f"{key}: unsupported type {type_name(tp)} (use tuple[X, ...])")
        return _sequence(value, args[0], key, tuple)
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return dict(value)
    if tp in SCALARS:
        accepted, what = SCALARS[tp]
        if not isinstance(value, accepted) or (isinstance(value, bool) and tp is not bool):  # bool is an int
            raise ConfigError(f"{key}: expected {what}, got {value!r}")
        return float(value) if tp is float else value
    raise ConfigError(f"{key}: unsupported type {type_name(tp)}")


def unknown_keys(key: str, given: Any, allowed: list[str]) -> None:
    """Refuse keys of ``given`` outside ``allowed``, naming the closest allowed one."""
    for k in given:
        if k not in allowed:
            close = difflib.get_close_matches(str(k), allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{key + '.' if key else ''}{k}: unknown key{hint}; allowed: {', '.join(allowed)}")


def build(cls: type, data: Any, key: str = "") -> Any:
    """An instance of the dataclass ``cls`` from the mapping ``data``; ``key`` prefixes every message."""
    if not isinstance(data, dict):
        raise ConfigError(f"{key or 'spec'}: expected a mapping of {cls.__name__} fields, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown_keys(key, data, list(fields))
    kwargs = {}
    for name, f in fields.items():
        sub = f"{key}.{name}" if key else name
        if name in data:
            kwargs[name] = convert(data[name], hints[name], sub)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{sub}: required key missing")
    return cls(**kwargs)


def default(f: dataclasses.Field) -> Any:
    """The default value of a dataclass field (MISSING for a required one)."""
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
