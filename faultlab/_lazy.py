"""A package's names loaded on first use (PEP 562 ``__getattr__``), so importing the package imports nothing its
names need (torch, Lightning) until one is used:

    _LAZY = {"run": "api", "FaultCampaign": "lightning"}    # name -> its module, relative to the package
    __getattr__, __dir__ = lazy_names(__name__, _LAZY)
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(package: str, homes: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``: each name of ``homes`` is imported from its module the
    first time it is asked for; any other name is an AttributeError."""

    def __getattr__(name: str) -> Any:
        if name in homes:
            return getattr(importlib.import_module(f".{homes[name]}", package), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *homes})

    return __getattr__, __dir__
