"""Training: the ``Classifier`` LightningModule, its fault-aware methods (one class each, chosen by ``class_path``)
and the LightningCLI construction ``faultlab fit`` and the sweep share (``faultlab.training.cli``)."""

from .methods import (
    MAT,
    AConnect,
    DropConnect,
    FaultAwareMethod,
    HWTransform,
    RandomLevelNoise,
    StraightThrough,
    StuckAt,
    Vanilla,
    method_from_config,
)
from .module import Classifier, load_classifier

__all__ = [
    "MAT", "AConnect", "Classifier", "DropConnect", "FaultAwareMethod", "HWTransform", "RandomLevelNoise",
    "StraightThrough", "StuckAt", "Vanilla", "load_classifier", "method_from_config",
]
