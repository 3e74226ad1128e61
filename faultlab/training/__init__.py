"""Training: the ``Classifier`` LightningModule (fault-aware methods plug into it)."""

from .module import Classifier, count_parameters, load_classifier

__all__ = ["Classifier", "count_parameters", "load_classifier"]
