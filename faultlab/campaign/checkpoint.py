"""What a trained ``Classifier`` checkpoint adds to its run: the evaluation weight scale of a network trained
with ``rescale: true``, recorded in the run's config. Checkpoints are opened by
:func:`faultlab.campaign.session.open_checkpoint`."""

from __future__ import annotations

from faultlab.training import Classifier

from .scale import WeightScale

RESCALED = "1/(1 - p) under drop(p) (trained with rescale: true)"


def eval_weight_scale(classifier: Classifier) -> WeightScale | None:
    """``classifier.eval_weight_scale`` when the model was trained with ``rescale: true`` (a campaign must then
    scale the faulted weights by 1/(1 - p) under drop(p)); None when every scale is 1."""
    return classifier.eval_weight_scale if classifier.eval_weight_scale(0.5) != 1.0 else None


def record_weight_scale(classifier: Classifier, config: dict) -> dict:
    """``config`` with ``eval_weight_scale`` naming the scale the campaigns of this run apply."""
    return {**config, "eval_weight_scale": RESCALED if eval_weight_scale(classifier) else 1.0}
