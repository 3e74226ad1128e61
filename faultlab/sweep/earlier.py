"""Sweep runs an earlier version stored: their training config, in the earlier study format (``epochs``,
``optimizer``, ``lr``, ``options``, a ``{method: ...}`` mapping), read as this version's ``faultlab fit`` config
(:func:`faultlab.sweep.fit.run_config`'s shape), so a stored run is compared with, and adopted by, the run this
version makes of its cell.

    fit_config_of({"epochs": 1, "optimizer": "sgd", "lr": 0.1, "options": {"momentum": 0.9}, ...})
    -> {"trainer": {"max_epochs": 1, ...}, "model": {"optimizer": {"class_path": "torch.optim.SGD",
        "init_args": {"lr": 0.1, "momentum": 0.9}}, ...}, ...}

The translation is the one the earlier version trained through (its sweep built this fit config from its
training block), so equal configs train bit-identical weights: tests/test_run_identity.py resumes a store of
that version (tests/data/old_store) with the study rewritten in this format.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from faultlab import FaultlabError

from .fit import BASE_TRAINER, data_class_path

OPTIMIZERS = {"adam": "torch.optim.Adam", "adamw": "torch.optim.AdamW", "sgd": "torch.optim.SGD"}
EARLIER_KEYS = frozenset({"arch", "arch_kwargs", "data", "fault_aware", "seed", "epochs", "optimizer", "lr",
                          "options", "trainer"})
# what a Classifier trains with when model.optimizer is not set (torch.optim.Adam's default lr)
DEFAULT_OPTIMIZER = {"class_path": "torch.optim.Adam", "init_args": {"lr": 1e-3}}


def _optimizer(name: str, lr: float, options: Mapping[str, Any]) -> dict[str, Any]:
    init: dict[str, Any] = {"lr": lr}
    if name == "sgd":
        init["momentum"] = options.get("momentum", 0.9)
    if options.get("weight_decay") is not None:
        init["weight_decay"] = options["weight_decay"]
    return {"class_path": OPTIMIZERS[name], "init_args": init}


def _scheduler(options: Mapping[str, Any], epochs: int) -> dict[str, Any] | None:
    kind = options.get("scheduler", "none")
    if kind == "cosine":
        return {"class_path": "torch.optim.lr_scheduler.CosineAnnealingLR", "init_args": {"T_max": max(1, epochs)}}
    if kind == "step":
        return {"class_path": "torch.optim.lr_scheduler.MultiStepLR",
                "init_args": {"milestones": list(options.get("milestones", [100, 150])),
                              "gamma": options.get("gamma", 0.1)}}
    return None


def fit_config_of(old: Mapping[str, Any]) -> dict[str, Any]:
    """The ``faultlab fit`` config (``sweep.fit.run_config``'s shape) of an earlier version's run training config."""
    from faultlab.training.plain_data import method_from_config

    options, seed = old.get("options") or {}, old["seed"]
    method = method_from_config(old.get("fault_aware"))
    model: dict[str, Any] = {"optimizer": _optimizer(old["optimizer"], old["lr"], options),
                             "arch": old["arch"], "arch_kwargs": dict(old.get("arch_kwargs") or {}),
                             "fault_aware": method.config() if method is not None else None, "train_seed": seed}
    scheduler = _scheduler(options, old["epochs"])
    if scheduler is not None:
        model["lr_scheduler"] = scheduler
    if options.get("channels_last") is not None:
        model["channels_last"] = options["channels_last"]
    return {"seed_everything": seed,
            "trainer": {**BASE_TRAINER, "max_epochs": old["epochs"], **(old.get("trainer") or {})}, "model": model,
            "data": {"class_path": data_class_path(old["data"]["name"]),
                     "init_args": {"seed": seed, **old["data"]["options"]}}}


def earlier_training(config: Mapping[str, Any]) -> dict[str, Any] | None:
    """A stored run's config column, when an earlier version's sweep wrote it (the training config itself, or
    under ``training`` beside its ``config_hash``), as this version's fit config; None otherwise (or when its
    method no longer converts)."""
    old = config.get("training") if "config_hash" in config else config
    if not isinstance(old, Mapping) or not set(old) >= EARLIER_KEYS or old.get("optimizer") not in OPTIMIZERS:
        return None
    try:
        return fit_config_of(old)
    except (FaultlabError, KeyError, TypeError):
        return None


def comparable(config: Mapping[str, Any]) -> dict[str, Any]:
    """A run's fit config with what leaves its training unchanged made explicit: the Classifier's default
    optimizer where none is set, no ``lr_scheduler: null``."""
    out = copy.deepcopy(dict(config))
    model = out.setdefault("model", {})
    if model.get("optimizer") is None:
        model["optimizer"] = copy.deepcopy(DEFAULT_OPTIMIZER)
    if "lr_scheduler" in model and model["lr_scheduler"] is None:
        del model["lr_scheduler"]
    return out
