"""Data modules (LightningDataModule) with in-memory tensors; build one by name with ``build_data``.
``DATASETS`` is the data sets' registry (faultlab's generic ``Registry``: ``DATASETS[name]``, ``in``, iteration).

Names are imported on first use (as in ``faultlab.campaign``): ``faultlab.data.specs`` and
``faultlab.data.normalize`` (a campaign on tensors, ``faultlab.run``) import neither the data modules nor Lightning,
whose import costs about 2.5 s.
"""

from faultlab._lazy import lazy_names

_LAZY = {
    **dict.fromkeys(("DataNotFoundError", "TensorDataModule", "random_crop_flip", "stratified_split"), "base"),
    **dict.fromkeys(("DATASETS", "build_data"), "builtin"),
    **dict.fromkeys(("CIFAR10", "CIFAR100", "MNIST", "SVHN", "Digits", "FashionMNIST", "MNIST5k", "Moons",
                     "Synthetic"), "datasets"),
}
__all__ = sorted(_LAZY)
__getattr__, __dir__ = lazy_names(__name__, _LAZY)
