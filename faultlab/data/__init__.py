"""Data modules (LightningDataModule) with in-memory tensors; build one by name with ``build_data``."""

from __future__ import annotations

import difflib

from faultlab import FaultlabError

from .base import DataNotFoundError, TensorDataModule, random_crop_flip, stratified_split
from .datasets import CIFAR10, CIFAR100, MNIST, SVHN, Digits, FashionMNIST, MNIST5k, Moons, Synthetic

DATASETS: dict[str, type[TensorDataModule]] = {
    cls.name: cls for cls in (MNIST5k, Digits, Moons, Synthetic, MNIST, FashionMNIST, CIFAR10, CIFAR100, SVHN)
}


def build_data(name: str, **kwargs) -> TensorDataModule:
    """A data module by registry name (``mnist5k``, ``digits``, ``moons``, ``synthetic``, ``mnist``,
    ``fashionmnist``, ``cifar10``, ``cifar100``, ``svhn``)."""
    if name not in DATASETS:
        close = difflib.get_close_matches(name, list(DATASETS), n=2)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise FaultlabError(f"unknown dataset {name!r}{hint}; known: {', '.join(DATASETS)}")
    return DATASETS[name](**kwargs)


__all__ = [
    "CIFAR10", "CIFAR100", "DATASETS", "MNIST", "SVHN", "DataNotFoundError", "Digits", "FashionMNIST", "MNIST5k",
    "Moons", "Synthetic",
    "TensorDataModule", "build_data", "random_crop_flip", "stratified_split",
]
