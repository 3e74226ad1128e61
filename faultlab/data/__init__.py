"""Data modules (LightningDataModule) with in-memory tensors; build one by name with ``build_data``."""

from __future__ import annotations

import difflib

from faultlab import FaultlabError

from .base import DataNotFoundError, TensorDataModule, random_crop_flip, stratified_split
from .datasets import CIFAR10, MNIST, Digits, MNIST5k, Moons, Synthetic

DATASETS: dict[str, type[TensorDataModule]] = {
    cls.name: cls for cls in (MNIST5k, Digits, Moons, Synthetic, MNIST, CIFAR10)
}


def build_data(name: str, **kwargs) -> TensorDataModule:
    """A data module by registry name (``mnist5k``, ``digits``, ``moons``, ``synthetic``, ``mnist``, ``cifar10``)."""
    if name not in DATASETS:
        close = difflib.get_close_matches(name, list(DATASETS), n=2)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise FaultlabError(f"unknown dataset {name!r}{hint}; known: {', '.join(DATASETS)}")
    return DATASETS[name](**kwargs)


__all__ = [
    "CIFAR10", "DATASETS", "MNIST", "DataNotFoundError", "Digits", "MNIST5k", "Moons", "Synthetic",
    "TensorDataModule", "build_data", "random_crop_flip", "stratified_split",
]
