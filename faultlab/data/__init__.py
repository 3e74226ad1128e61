"""Data modules (LightningDataModule) with in-memory tensors; build one by name with ``build_data``.
``DATASETS`` is the data sets' registry (faultlab's generic ``Registry``: ``DATASETS[name]``, ``in``, iteration).

The names below are imported on first use: ``faultlab.data.specs`` and ``faultlab.data.normalize`` (a campaign on
tensors, ``faultlab.run``) import neither the data modules nor Lightning, whose import costs about 2.5 s.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import DataNotFoundError, TensorDataModule, random_crop_flip, stratified_split
    from .builtin import DATASETS, build_data
    from .datasets import CIFAR10, CIFAR100, MNIST, SVHN, Digits, FashionMNIST, MNIST5k, Moons, Synthetic

_HOME = {
    **dict.fromkeys(("DataNotFoundError", "TensorDataModule", "random_crop_flip", "stratified_split"), "base"),
    **dict.fromkeys(("DATASETS", "build_data"), "builtin"),
    **dict.fromkeys(("CIFAR10", "CIFAR100", "MNIST", "SVHN", "Digits", "FashionMNIST", "MNIST5k", "Moons",
                     "Synthetic"), "datasets"),
}

__all__ = [
    "CIFAR10", "CIFAR100", "DATASETS", "MNIST", "SVHN", "DataNotFoundError", "Digits", "FashionMNIST", "MNIST5k",
    "Moons", "Synthetic", "TensorDataModule", "build_data", "random_crop_flip", "stratified_split",
]  # each with its home module in _HOME


def __getattr__(name: str) -> Any:
    if name in _HOME:
        value = getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
        globals()[name] = value  # once: later lookups find it without this hook
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOME])
