"""The built-in data sets' registry (faultlab's generic ``Registry``: ``DATASETS[name]``, ``in``, iteration) and
``build_data``, which builds one by name."""

from __future__ import annotations

from faultlab import FaultlabError
from faultlab.registry import Registry

from .base import TensorDataModule
from .datasets import CIFAR10, CIFAR100, MNIST, SVHN, Digits, FashionMNIST, MNIST5k, Moons, Synthetic

DATASETS: Registry[type[TensorDataModule]] = Registry("dataset", FaultlabError)
for _cls in (MNIST5k, Digits, Moons, Synthetic, MNIST, FashionMNIST, CIFAR10, CIFAR100, SVHN):
    DATASETS.register(_cls)  # under its ``name``
del _cls


def build_data(name: str, **kwargs) -> TensorDataModule:
    """A data module by registry name (``mnist5k``, ``digits``, ``moons``, ``synthetic``, ``mnist``,
    ``fashionmnist``, ``cifar10``, ``cifar100``, ``svhn``)."""
    return DATASETS.get(name)(**kwargs)
