"""A study run as a ``faultlab fit`` config: the sweep trains every run through the same LightningCLI
construction as ``faultlab fit --config FILE`` (parser, links, seed, instantiation), from this config.

The study's training block keeps its short form and is translated here, once:

    training: {optimizer: sgd, lr: 0.1, options: {momentum: 0.9, weight_decay: 1e-4, scheduler: step}}
    ->  model.optimizer:    {class_path: torch.optim.SGD, init_args: {lr: 0.1, momentum: 0.9, weight_decay: 1e-4}}
        model.lr_scheduler: {class_path: torch.optim.lr_scheduler.MultiStepLR, init_args: {milestones: [100, 150],
                                                                                           gamma: 0.1}}
"""

from __future__ import annotations

from typing import Any

OPTIMIZERS = {"adam": "torch.optim.Adam", "adamw": "torch.optim.AdamW", "sgd": "torch.optim.SGD"}
SCHEDULERS = ("none", "cosine", "step")
# training.options: key -> default (None: the optimizer's own default); momentum applies to sgd only
TRAINING_OPTIONS: dict[str, Any] = {"momentum": 0.9, "weight_decay": None, "scheduler": "none",
                                    "milestones": [100, 150], "gamma": 0.1, "channels_last": None}


def optimizer_config(name: str, lr: float, options: dict[str, Any]) -> dict[str, Any]:
    """``model.optimizer`` of a fit config: the named torch optimizer with ``lr`` (and its options)."""
    init: dict[str, Any] = {"lr": lr}
    if name == "sgd":
        init["momentum"] = options.get("momentum", TRAINING_OPTIONS["momentum"])
    if options.get("weight_decay") is not None:
        init["weight_decay"] = options["weight_decay"]
    return {"class_path": OPTIMIZERS[name], "init_args": init}


def scheduler_config(options: dict[str, Any], epochs: int) -> dict[str, Any] | None:
    """``model.lr_scheduler`` of a fit config: cosine over ``epochs``, step at ``milestones`` (× ``gamma``), or None."""
    kind = options.get("scheduler", "none")
    if kind == "cosine":
        return {"class_path": "torch.optim.lr_scheduler.CosineAnnealingLR", "init_args": {"T_max": max(1, epochs)}}
    if kind == "step":
        return {"class_path": "torch.optim.lr_scheduler.MultiStepLR",
                "init_args": {"milestones": list(options.get("milestones", TRAINING_OPTIONS["milestones"])),
                              "gamma": options.get("gamma", TRAINING_OPTIONS["gamma"])}}
    return None


def data_class_path(name: str) -> str:
    from faultlab.data import DATASETS

    cls = DATASETS[name]
    return f"{cls.__module__}.{cls.__qualname__}"


def fit_config(run: dict[str, Any], root_dir: str) -> dict[str, Any]:
    """The ``faultlab fit`` config of a run's resolved training config (``RunPlan.config``); the trainer
    writes nothing (no logger, no checkpoint) and ``root_dir`` only anchors Lightning's defaults."""
    options = run["options"]
    model: dict[str, Any] = {"arch": run["arch"], "arch_kwargs": run["arch_kwargs"] or {},
                             "fault_aware": run["fault_aware"], "train_seed": run["seed"],
                             "optimizer": optimizer_config(run["optimizer"], run["lr"], options),
                             "lr_scheduler": scheduler_config(options, run["epochs"])}
    if options.get("channels_last") is not None:
        model["channels_last"] = options["channels_last"]
    trainer = {"max_epochs": run["epochs"], "accelerator": "auto", "devices": 1, "deterministic": True,
               "logger": False, "enable_progress_bar": False, "enable_model_summary": False, "limit_val_batches": 0,
               "default_root_dir": root_dir, **run["trainer"]}
    return {"seed_everything": run["seed"], "trainer": trainer, "model": model,
            "data": {"class_path": data_class_path(run["data"]["name"]),
                     "init_args": {"seed": run["seed"], **run["data"]["options"]}},  # as the sweep's data_options
            "checkpoint": {"save_last": False, "save_top_k": 0, "dirpath": root_dir}}
