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
)
from .module import Classifier, load_classifier
from .msnat import MSNAT
from .plain_data import method_from_config

__all__ = [
    "MAT", "MSNAT", "AConnect", "Classifier", "DropConnect", "FaultAwareMethod", "HWTransform", "RandomLevelNoise",
    "StraightThrough", "StuckAt", "Vanilla", "load_classifier", "method_from_config",
]
