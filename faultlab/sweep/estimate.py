"""How long a study's work left will take (``faultlab sweep --dry-run``): one training step per architecture and
method, and a few trials per architecture and campaign, measured on the study's data and networks
(``faultlab.campaign.estimate``), scaled to each run's steps (epochs x batches) and trials left.

    for line in study_estimate(spec, [Work(plan, trains=True, stored_trials=0) for plan in expand(spec)]):
        print(line)

The networks measured are fresh (untrained) ones: a step or a trial costs the same whatever the weights.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

import torch

from faultlab.campaign.estimate import (
    campaign_plan,
    estimate_line,
    format_seconds,
    training_step_seconds,
    trial_seconds,
)
from faultlab.data import DataNotFoundError, build_data

from .execute import selects_any
from .fit import fit_config
from .grid import RunPlan
from .spec import StudySpec
from .stored import data_options


@dataclass(frozen=True)
class Work:
    """One run's work left: whether it trains, and how many of its trials the store holds already."""

    plan: RunPlan
    trains: bool
    stored_trials: int


def study_estimate(spec: StudySpec, work: list[Work], workers: int | None = None) -> list[str]:
    """Lines: per architecture what was measured, then the estimate of the whole work left, with ``workers``
    local processes (each on cpu_count / workers threads, as ``run_study`` gives them; measured so)."""
    workers = max(1, workers or 1)
    threads = max(1, (os.cpu_count() or 1) // workers) if workers > 1 else torch.get_num_threads()
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _estimate(spec, work, threads, workers)
    except DataNotFoundError as err:
        return [f"estimate: not measured, the data are not here ({err})"]
    finally:
        torch.set_num_threads(previous)


def _estimate(spec: StudySpec, work: list[Work], threads: int, workers: int) -> list[str]:
    from faultlab.campaign.session import open_network
    from faultlab.training.cli import build, lightning_info_silenced

    if not work:
        return ["estimate: nothing to do"]
    dm = build_data(spec.data.name, eval_subset=spec.data.eval_subset, **data_options(spec, work[0].plan))
    test = dm.tensors("test")
    with tempfile.TemporaryDirectory() as root, lightning_info_silenced():  # built, not run: the optimizer,
        base = build(fit_config(work[0].plan.config, root))                # the trainer's limits and device
    trainer = base.trainer
    device = trainer.strategy.root_device
    batch = [t.to(device) for t in next(iter(dm.train_dataloader()))]
    steps = steps_per_run(trainer, len(dm.train_dataloader()))

    step: dict[tuple[str, str], float] = {}  # (architecture label, method) -> seconds per training step
    trial: dict[tuple[str, int], float] = {}  # (architecture label, campaign) -> seconds per trial
    trials: dict[tuple[str, int], tuple[int, int]] = {}  # -> (at least, at most) trials a run
    for w in work:
        p = w.plan
        module = None
        if w.trains and (p.label, p.method.name) not in step:
            module = fresh_classifier(base.model, p).to(device)
            step[p.label, p.method.name] = training_step_seconds(module, batch, precision=trainer.precision_plugin)
        if any(key[0] == p.label for key in trials):
            continue
        module = module or fresh_classifier(base.model, p).to(device)
        net = module.net
        session = open_network(net, test, train_data=dm.train_dataloader, device=device,
                               channels_last=module.channels_last)
        probed: dict[tuple, float] = {}  # campaigns alike in what a trial costs share one probe
        for i, c in enumerate(spec.campaigns):
            if c.skip_without_layers and not selects_any(c, net):
                trials[p.label, i], trial[p.label, i] = (0, 0), 0.0
                continue
            trials[p.label, i] = campaign_plan(net, c).total
            key = (c.fault, c.bn_recalibration, c.trials_per_pass, c.trials == "auto", c.eval_subset)
            if key not in probed:
                probed[key] = trial_seconds(session, c).seconds
            trial[p.label, i] = probed[key]

    low = high = 0.0
    for w in work:
        p = w.plan
        train = steps * step[p.label, p.method.name] if w.trains else 0.0
        per_run = [trials[p.label, i] for i in range(len(spec.campaigns))]
        total = sum(t[0] for t in per_run) or 1
        left = max(0.0, 1 - w.stored_trials / total)  # stored trials, spread over the run's campaigns
        low += train + left * sum(t[0] * trial[p.label, i] for i, t in enumerate(per_run))
        high += train + left * sum(t[1] * trial[p.label, i] for i, t in enumerate(per_run))
    parallel = min(workers, len(work))
    basis = (f"one training step per architecture and method x {steps} steps a run, a few trials per architecture "
             "and campaign x the trials left")
    return [*_measured_lines(spec, step, trial), estimate_line(low / parallel, high / parallel, basis, threads,
                                                               workers)]


def _measured_lines(spec: StudySpec, step: dict, trial: dict) -> list[str]:
    """``measured: <arch>: training step 21 ms (vanilla), 35 ms (dropconnect); trial 8 ms (drop(p={rate}))``."""
    out = ["measured here (seconds each):"]
    for label in dict.fromkeys(k[0] for k in (*step, *trial)):
        steps = ", ".join(f"{format_seconds(s)} ({m})" for (a, m), s in step.items() if a == label)
        trials = ", ".join(f"{format_seconds(s)} ({spec.campaigns[i].fault})" for (a, i), s in trial.items()
                           if a == label and s)
        parts = ([f"training step {steps}"] if steps else []) + ([f"trial {trials}"] if trials else [])
        out.append(f"  {label}: {'; '.join(parts)}")
    return out


def steps_per_run(trainer, batches: int) -> int:
    """Optimisation steps of one run: epochs x batches an epoch (``limit_train_batches``), capped by
    ``max_steps``."""
    limit = trainer.limit_train_batches
    per_epoch = min(batches, int(limit)) if isinstance(limit, int) else int(batches * limit)
    epochs = trainer.max_epochs if trainer.max_epochs is not None and trainer.max_epochs >= 0 else None
    steps = None if epochs is None else epochs * per_epoch
    if trainer.max_steps is not None and trainer.max_steps >= 0:
        steps = trainer.max_steps if steps is None else min(steps, trainer.max_steps)
    return int(steps or 0)


def fresh_classifier(base, plan: RunPlan):
    """The run's Classifier, untrained: the run config's model options (architecture, method, seed) with the
    optimizer and scheduler ``base`` (the study's first run, built by the LightningCLI parser) was given; the
    runs of a study share those."""
    model = {k: v for k, v in plan.config["model"].items() if k not in ("optimizer", "lr_scheduler")}
    h = base.hparams
    return type(base)(**{**model, "num_classes": h.num_classes, "input_shape": h.input_shape},
                      optimizer=base.make_optimizer, lr_scheduler=base.make_lr_scheduler)
