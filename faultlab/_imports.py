"""User code by name: ``package.module:attribute`` paths and ``key=value`` argument lists (no torch here).

    make = import_object("mypkg.nets:build_net")          # the object, or a one-line FaultlabError
    parse_kwargs('num_classes=10,shape=[3,32,32]')        # {"num_classes": 10, "shape": [3, 32, 32]}
    parse_kwargs('{"num_classes": 10}')                   # JSON works too
"""

from __future__ import annotations

import importlib
import json
import re
from typing import Any

from faultlab import FaultlabError

_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def is_object_path(text: str) -> bool:
    """Whether ``text`` reads as ``package.module:attribute``."""
    return bool(_PATH.match(text))


def import_object(path: str, what: str = "object") -> Any:
    """The attribute named by ``package.module:attribute`` (dotted attributes allowed after the colon)."""
    if not is_object_path(path):
        raise FaultlabError(f"{what} {path!r} is not of the form package.module:name")
    module_name, attr = path.split(":", 1)
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as err:
        raise FaultlabError(f"cannot import {module_name!r} for {what} {path!r}: {err} "
                            "(is the package installed or on PYTHONPATH?)") from err
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise FaultlabError(f"module {module_name!r} has no {attr!r} ({what} {path!r})")
        obj = getattr(obj, part)
    return obj


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside brackets, braces and quotes."""
    parts, depth, quote, buf = [], 0, None, ""
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(buf)
            buf = ""
            continue
        buf += ch
    parts.append(buf)
    return [p.strip() for p in parts if p.strip()]


def _value(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def parse_kwargs(text: str | None, what: str = "arguments") -> dict[str, Any]:
    """A JSON object, or comma-separated ``key=value`` pairs whose values are read as YAML scalars or
    lists (``10``, ``true``, ``[3, 32, 32]``, ``none`` stays a string unless written ``null``)."""
    if text is None or not text.strip():
        return {}
    text = text.strip()
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as err:
            raise FaultlabError(f"{what}: not valid JSON ({err.msg} at character {err.pos})") from err
        if not isinstance(value, dict):
            raise FaultlabError(f"{what}: expected a JSON object, got {type(value).__name__}")
        return value
    out = {}
    for item in _split_top_level(text):
        key, sep, value = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise FaultlabError(f"{what}: expected key=value pairs or a JSON object, got {item!r}")
        out[key.strip()] = _value(value.strip())
    return out
