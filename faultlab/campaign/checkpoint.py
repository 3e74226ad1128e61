"""Turn a trained ``Classifier`` checkpoint into a network and its ``RunInfo`` for the store."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from faultlab import FaultlabError
from faultlab.faults import fault_seed
from faultlab.training import Classifier, load_classifier

from .engine import RunInfo
from .scale import WeightScale

RESCALED = "1/(1 - p) under drop(p) (trained with rescale: true)"


def eval_weight_scale(classifier: Classifier) -> WeightScale | None:
    """``classifier.eval_weight_scale`` when the model was trained with ``rescale: true`` (a campaign must then
    scale the faulted weights by 1/(1 - p) under drop(p)); None when every scale is 1."""
    return classifier.eval_weight_scale if classifier.eval_weight_scale(0.5) != 1.0 else None


def record_weight_scale(classifier: Classifier, config: dict) -> dict:
    """``config`` with ``eval_weight_scale`` naming the scale the campaigns of this run apply."""
    return {**config, "eval_weight_scale": RESCALED if eval_weight_scale(classifier) else 1.0}


def file_hash(path: str | Path, length: int = 16) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:length]


def load_run(
    path: str | Path, study: str = "default", method: str | None = None, train_seed: int | None = None,
    device: str = "cpu",
) -> tuple[Classifier, RunInfo]:
    """Load a checkpoint; the run id is a hash of (study, checkpoint contents), so the same checkpoint
    in the same study always lands on the same rows (resume), and in another study on new ones."""
    classifier = load_classifier(str(path), map_location=device)
    digest = file_hash(path)
    h = classifier.hparams
    run = RunInfo(
        run_id=f"{fault_seed(study, digest):016x}",
        study=study,
        architecture=h.get("arch", type(classifier.net).__name__),
        variant=getattr(classifier, "variant", h.get("arch", "")),
        method=method or getattr(classifier, "method", None) or "vanilla",
        train_seed=train_seed if train_seed is not None else h.get("train_seed"),
        checkpoint=str(path),
        checkpoint_hash=digest,
        config=record_weight_scale(classifier, json.loads(json.dumps(dict(h), default=str))),
    )
    return classifier, run


def check_data(classifier: Classifier, x, y, data_name: str, source: str = "the checkpoint") -> None:
    """Refuse test data the network was not built for, with one line, before anything is evaluated or stored:
    the input shape recorded in the checkpoint, then :func:`~faultlab.campaign.models.check_fits` (a probe
    pass; labels within the network's outputs)."""
    from .models import check_fits

    h = classifier.hparams
    want = tuple(int(s) for s in h["input_shape"]) if "input_shape" in h else None
    got = tuple(int(s) for s in x.shape[1:])
    if want is not None and want != got:
        raise FaultlabError(f"{source} was trained on inputs of shape {want}, but --data {data_name} has {got}; "
                            "pass the data set it was trained on")
    check_fits(classifier.net, x, y)
