"""Data modules (LightningDataModule) with in-memory tensors; build one by name with ``build_data``.
``DATASETS`` is the data sets' registry (faultlab's generic ``Registry``: ``DATASETS[name]``, ``in``, iteration).

Names are imported on first use (as in ``faultlab.campaign``): ``faultlab.data.specs`` and
``faultlab.data.normalize`` (a campaign on tensors, ``faultlab.run``) import neither the data modules nor Lightning,
whose import costs about 2.5 s.
"""

_LAZY = {
    **dict.fromkeys(("DataNotFoundError", "TensorDataModule", "random_crop_flip", "stratified_split"), "base"),
    **dict.fromkeys(("DATASETS", "build_data"), "builtin"),
    **dict.fromkeys(("CIFAR10", "CIFAR100", "MNIST", "SVHN", "Digits", "FashionMNIST", "MNIST5k", "Moons",
                     "Synthetic"), "datasets"),
}
__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'faultlab.data' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
