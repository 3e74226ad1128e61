"""Training: the ``Classifier`` LightningModule and its fault-aware methods (``FaultAware``)."""

from .methods import METHODS, FaultAware
from .module import Classifier, load_classifier

__all__ = ["METHODS", "Classifier", "FaultAware", "load_classifier"]
