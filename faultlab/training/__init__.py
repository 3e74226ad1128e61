"""Training: the ``Classifier`` LightningModule and its fault-aware methods (``FaultAware``)."""

from .methods import METHODS, FaultAware
from .module import Classifier, count_parameters, load_classifier

__all__ = ["METHODS", "Classifier", "FaultAware", "count_parameters", "load_classifier"]
