"""Turn a trained ``Classifier`` checkpoint into a network and its ``RunInfo`` for the store."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from faultlab.faults import fault_seed
from faultlab.training import Classifier, load_classifier

from .engine import RunInfo


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
        config=json.loads(json.dumps(dict(h), default=str)),
    )
    return classifier, run
