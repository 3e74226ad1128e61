"""The identity of a trained network in the store, derived rather than typed: run id = keyed hash of (study,
hash of the weights), whatever door opened it (a checkpoint, ``--model/--weights``, ``faultlab.run``, the
Lightning callback, a sweep run); and the checks that keep one run's rows one thing.

    run = module_run(net, study="default")     # RunInfo(run_id=..., weights_hash=..., variant="resnet20", ...)
    run, stored = checked_run(store, run, eval_hash, n_eval)   # refuses a mix, in one line

A run's trials never mix test sets (``eval_hash``: a hash of the evaluated samples), and a study never holds
two networks for one (label, method, training seed): either is refused in one line naming the difference.
A run first stored by one door keeps the description it was stored with (labels, method, seed, config);
later doors fill only what is empty.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from typing import Any

import torch
from torch import Tensor, nn

from faultlab.faults import fault_seed
from faultlab.store import ResultsStore

from .spec import CampaignError, RunInfo

HASH_LENGTH = 16  # hex digits kept


class IdentityError(CampaignError):
    """The store holds this run, or its study's run of the same seed, with other test data or other weights."""


# ------------------------------------------------------------------------------------ hashes


def _update(h: Any, name: str, tensor: Tensor) -> None:
    t = tensor.detach().to("cpu").contiguous()
    h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
    h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())


def weights_hash(model: nn.Module, length: int = HASH_LENGTH) -> str:
    """SHA-256 over the state_dict in key order: each entry's name, dtype, shape and bytes (memory
    format and device do not matter: a channels_last or CUDA copy hashes like the CPU original)."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        if isinstance(tensor, Tensor):
            _update(h, name, tensor)
    return h.hexdigest()[:length]


def tensors_hash(*tensors: Tensor, length: int = HASH_LENGTH) -> str:
    """SHA-256 over the tensors' dtypes, shapes and bytes (the test samples a run is evaluated on)."""
    h = hashlib.sha256()
    for i, tensor in enumerate(tensors):
        _update(h, str(i), tensor)
    return h.hexdigest()[:length]


def file_hash(path: str | os.PathLike, length: int = HASH_LENGTH) -> str:
    """SHA-256 of a file's bytes (how stores before migration 0004 identified a checkpoint's run)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:length]


def run_id(study: str, digest: str) -> str:
    """The run id of weights with hash ``digest`` in ``study`` (new rows in another study)."""
    return f"{fault_seed(study, digest):016x}"


# ------------------------------------------------------------------------------------ a network's run


def architecture_name(model: nn.Module) -> tuple[str, str]:
    """(architecture, variant): the class name, and the variant name the zoo builder set (``resnet20-lb[...]``)
    or timm recorded (``timm:<name>``, from the model's ``pretrained_cfg``); else the class name again."""
    arch = type(model).__name__
    variant = getattr(model, "variant", None)
    timm_cfg = getattr(model, "pretrained_cfg", None)
    if variant is None and isinstance(timm_cfg, dict) and timm_cfg.get("architecture"):
        variant = f"timm:{timm_cfg['architecture']}"
    return arch, str(variant or arch)


def module_run(
    model: nn.Module, study: str = "default", method: str = "vanilla", train_seed: int | None = None,
    checkpoint: str | None = None, config: dict[str, Any] | None = None, architecture: str | None = None,
    label: str | None = None, evaluation: dict[str, Any] | None = None, legacy_hashes: tuple[str, ...] = (),
) -> RunInfo:
    """A ``RunInfo`` for ``model``: run id from (study, weights hash); ``label`` (the variant column) defaults
    to :func:`architecture_name`'s variant (a zoo or timm name, else the class), ``architecture`` to the label."""
    digest = weights_hash(model)
    label = label or architecture_name(model)[1]
    return RunInfo(
        run_id=run_id(study, digest), study=study, architecture=architecture or label, variant=label,
        method=method, train_seed=train_seed, checkpoint=checkpoint, weights_hash=digest, config=config or {},
        evaluation=evaluation or {}, legacy_hashes=tuple(h for h in legacy_hashes if h != digest),
    )


def run_row(run: RunInfo) -> dict[str, Any]:
    """The store columns of ``run``."""
    row = dataclasses.asdict(run)
    del row["legacy_hashes"]
    return row


# ------------------------------------------------------------------------------------ differences, in words


def flat(d: dict, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys: ``{"options": {"momentum": 0.9}}`` -> ``{"options.momentum": 0.9}``."""
    out: dict[str, Any] = {}
    for key, value in d.items():
        if isinstance(value, dict) and value:
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def differences(old: dict, new: dict, skip: tuple[str, ...] = ()) -> list[tuple[str, Any, Any]]:
    """(dotted key, old value, new value) for every leaf that differs (a missing key counts as None), in
    ``new``'s key order; keys starting with one of ``skip`` are left out."""
    a, b = flat(old), flat(new)
    keys = [*b, *(k for k in a if k not in b)]
    return [(k, a.get(k), b.get(k)) for k in keys if a.get(k) != b.get(k) and not k.startswith(skip)]


def shown(value: Any) -> str:
    """A value as a message shows it: plain text for strings and numbers, JSON for the rest, 'unset' for None."""
    if value is None:
        return "unset"
    return value if isinstance(value, str) else json.dumps(value)


def store_name(store: ResultsStore) -> str:
    """The store's path as the user likely typed it (relative to the working folder when inside it)."""
    path = str(store.path)
    if path == ":memory:":
        return "the in-memory store"
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


# ------------------------------------------------------------------------------------ the run in a store


def bind(store: ResultsStore, run: RunInfo) -> RunInfo:
    """``run`` under the id ``store`` holds it by: its own, or that of a run stored before migration 0004
    with the same weights (its hash column then holds this weights hash or one of ``run.legacy_hashes``)."""
    if run.weights_hash is None or store.get_run(run.run_id) is not None:
        return run
    for digest in (run.weights_hash, *run.legacy_hashes):
        found = store.find_runs(run.study, weights_hash=digest)
        if found:
            return dataclasses.replace(run, run_id=found[0]["run_id"])
    return run


def _check_evaluation(store: ResultsStore, stored: dict, run: RunInfo, eval_hash: str, n_eval: int) -> None:
    if stored.get("eval_hash") is not None:
        if stored["eval_hash"] == eval_hash:
            return
    elif stored.get("n_eval") in (None, n_eval):  # a run stored before eval hashes: its sample count
        return
    diffs = [(k, a, b) for k, a, b in differences(stored.get("evaluation") or {}, run.evaluation)
             if a is not None and b is not None][:2]
    was = "".join(f", {k} {shown(a)}" for k, a, _ in diffs)
    now = "".join(f", {k} {shown(b)}" for k, _, b in diffs)
    same_n = "other samples, " if stored.get("n_eval") == n_eval else ""
    raise IdentityError(
        f"{store_name(store)} holds run {run.run_id} ({stored.get('variant')}, {stored.get('method')}) evaluated on "
        f"{stored.get('n_eval')} test samples{was}; this campaign evaluates {same_n}{n_eval}{now}: one run's "
        "trials never mix test sets, so use a new study name or a new store")


def _check_seed_twin(store: ResultsStore, run: RunInfo) -> None:
    """Refuse a second network for one (study, label, method, training seed): statistics would take both for
    replicates of one seed."""
    if run.train_seed is None:
        return
    for other in store.find_runs(run.study, variant=run.variant, method=run.method, train_seed=run.train_seed):
        if other["run_id"] == run.run_id:
            continue
        config = other.get("config") or {}
        comparable = set(config) == set(run.config)  # written by the same door: a difference is a real one
        diffs = differences(config, run.config, skip=("eval_weight_scale", "evaluation_data")) if comparable else []
        what = (f"trained with {diffs[0][0]} {shown(diffs[0][1])}; this one has {shown(diffs[0][2])}" if diffs else
                f"with other weights ({other.get('weights_hash')}; these are {run.weights_hash})")
        raise IdentityError(
            f"{store_name(store)} holds study {run.study!r} run {run.variant} / {run.method} / seed {run.train_seed} "
            f"{what}: use a new study name or a new store")


def checked_run(store: ResultsStore, run: RunInfo, eval_hash: str, n_eval: int) -> tuple[RunInfo, dict | None]:
    """``run`` as ``store`` holds it (:func:`bind`) and its stored row (None: new), after refusing a campaign
    on other test samples than the run's stored ones, or a second network for the run's (label, method, seed)."""
    run = bind(store, run)
    stored = store.get_run(run.run_id)
    if stored is not None:
        _check_evaluation(store, stored, run, eval_hash, n_eval)
    _check_seed_twin(store, run)
    return run, stored


def record_run(store: ResultsStore, run: RunInfo, stored: dict | None, values: dict[str, Any]) -> None:
    """Store ``run`` with ``values`` (clean accuracy, n_eval, eval_hash, ...); a stored run keeps what it was
    stored with and gets only its empty columns filled (and its weights hash, once adopted by :func:`bind`)."""
    row = {**run_row(run), **values}
    if stored is not None:
        row = {k: v for k, v in row.items() if k in ("run_id", "weights_hash") or stored.get(k) in (None, {}, "")}
    store.add_run(row)
