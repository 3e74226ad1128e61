"""How long a study's work left will take (``faultlab sweep --dry-run``): training steps of each architecture and
method (after a warm-up step, within a small time budget), and a few trials of each architecture and campaign,
measured once on the study's data and fresh networks (``faultlab.campaign.estimate``), scaled to each run's steps
(epochs x batches) and trials left; plus what each run spends once and was timed here too (building its
LightningCLI run, the warm-ups, opening its network, each campaign's clean evaluation).

    for line in study_estimate(spec, [Work(plan, trains=True, stored_trials=0) for plan in expand(spec)]):
        print(line)

The networks measured are fresh (untrained) ones: a step or a trial costs the same whatever the weights.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field

import torch

from faultlab.campaign.estimate import (
    StepTiming,
    TrialTiming,
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


def study_estimate(spec: StudySpec, work: list[Work], workers: int | None = None,
                   startup_s: float | None = None) -> list[str]:
    """Lines: per architecture what was measured, then the estimate of the whole work left, with ``workers``
    local processes (each on cpu_count / workers threads, as ``run_study`` gives them; measured so). Spawned
    workers each start as a fresh process (imports of torch and Lightning): ``startup_s``, the seconds this command
    took to get here (``faultlab.runtime.command_seconds``), stands for one worker's start; None: not counted."""
    workers = max(1, workers or 1)
    threads = max(1, (os.cpu_count() or 1) // workers) if workers > 1 else torch.get_num_threads()
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _estimate(spec, work, threads, workers, startup_s)
    except DataNotFoundError as err:
        return [f"estimate: not measured, the data are not here ({err})"]
    finally:
        torch.set_num_threads(previous)


BEFORE_RUNS = "the command's own start and the study's checks"  # paid once, before any run, and not counted
UNCOUNTED = "data loading, Lightning's fit set-up, checkpoint files, BatchNorm re-estimation"  # per run, not timed


@dataclass
class Measured:
    """What ``_measure`` timed: seconds per training step (architecture label, method), per trial and campaign
    set-up (label, campaign index), the trials a run of each campaign runs (at least, at most), and once per run:
    building it (``build``: the LightingCLI construction every trained run goes through) and opening its network
    for the campaigns (``opened``, per label)."""

    steps_per_run: int
    build: float
    step: dict[tuple[str, str], StepTiming] = field(default_factory=dict)
    trial: dict[tuple[str, int], TrialTiming] = field(default_factory=dict)
    trials: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)
    opened: dict[str, float] = field(default_factory=dict)


def _estimate(spec: StudySpec, work: list[Work], threads: int, workers: int, startup_s: float | None) -> list[str]:
    if not work:
        return ["estimate: nothing to do"]
    m = _measure(spec, work)
    low = high = sum(s.warm_up for s in m.step.values())  # a first step: once per network and method, not per run
    for w in work:
        p = w.plan
        step = m.step.get((p.label, p.method.name))
        train = m.build + m.steps_per_run * step.seconds if w.trains and step else 0.0
        per_run = [m.trials[p.label, i] for i in range(len(spec.campaigns))]
        total = sum(t[0] for t in per_run) or 1
        left = max(0.0, 1 - w.stored_trials / total)  # stored trials, spread over the run's campaigns
        setup = m.opened[p.label] + sum(m.trial[p.label, i].setup for i, t in enumerate(per_run) if t[1])
        low += train + setup + left * sum(t[0] * m.trial[p.label, i].seconds for i, t in enumerate(per_run))
        high += train + setup + left * sum(t[1] * m.trial[p.label, i].seconds for i, t in enumerate(per_run))
    parallel = min(workers, len(work))
    basis = (f"training steps timed per architecture and method x {m.steps_per_run} steps a run, a few trials per "
             "architecture and campaign x the trials left, plus per run its build, network opening and clean "
             "evaluations, and a first step per network and method")
    start = worker_start_seconds(startup_s, parallel, os.cpu_count() or 1)
    if start:
        basis += (f", and starting {parallel} worker processes, each as long as this command took to start and "
                  f"check the study ({format_seconds(startup_s)})")
    unmeasured = "the worker processes' start, " if parallel > 1 and startup_s is None else ""
    uncounted = f"{BEFORE_RUNS}, {unmeasured}{UNCOUNTED}"
    return [*_measured_lines(spec, m), estimate_line(low / parallel + start, high / parallel + start, basis, threads,
                                                     workers, uncounted=uncounted)]


def worker_start_seconds(startup_s: float | None, parallel: int, cpus: int) -> float:
    """Wall seconds before spawned workers run: each of ``parallel`` (> 1: ``run_study`` runs one worker in its own
    process) imports torch and Lightning as this command did in ``startup_s``; they start together on ``cpus``
    cores, so ``startup_s x max(1, parallel / cpus)``. 0 for one worker or an unmeasured start (None)."""
    if parallel <= 1 or startup_s is None:
        return 0.0
    return startup_s * max(1.0, parallel / cpus)


def _measure(spec: StudySpec, work: list[Work]) -> Measured:
    """Time, on fresh networks, each architecture and method's training step once and each architecture and
    campaign's trials once (campaigns alike in what a trial costs share one probe)."""
    from faultlab.campaign.session import open_network
    from faultlab.training.cli import build, lightning_info_silenced

    dm = build_data(spec.data.name, eval_subset=spec.data.eval_subset, **data_options(spec, work[0].plan))
    test = dm.tensors("test")
    with tempfile.TemporaryDirectory() as root, lightning_info_silenced():  # built, not run: the optimizer,
        t0 = time.perf_counter()                                           # the trainer's limits and device
        base = build(fit_config(work[0].plan.config, root))
        built = time.perf_counter() - t0
    trainer = base.trainer
    device = trainer.strategy.root_device
    batch = [t.to(device) for t in next(iter(dm.train_dataloader()))]
    m = Measured(steps_per_run(trainer, len(dm.train_dataloader())), built)
    for w in work:
        p = w.plan
        module = None
        if w.trains and (p.label, p.method.name) not in m.step:
            module = fresh_classifier(base.model, p).to(device)
            m.step[p.label, p.method.name] = training_step_seconds(module, batch, precision=trainer.precision_plugin)
        if p.label in m.opened:
            continue
        module = module or fresh_classifier(base.model, p).to(device)
        net = module.net
        t0 = time.perf_counter()
        session = open_network(net, test, train_data=dm.train_dataloader, device=device,
                               channels_last=module.channels_last)
        m.opened[p.label] = time.perf_counter() - t0
        probed: dict[tuple, TrialTiming] = {}
        for i, c in enumerate(spec.campaigns):
            if c.skip_without_layers and not selects_any(c, net):
                m.trials[p.label, i], m.trial[p.label, i] = (0, 0), TrialTiming(0.0, 0, 1, len(test[1]), 0)
                continue
            m.trials[p.label, i] = campaign_plan(net, c).total
            key = (c.fault, c.bn_recalibration, c.trials_per_pass, c.trials == "auto", c.eval_subset)
            if key not in probed:
                probed[key] = trial_seconds(session, c)
            m.trial[p.label, i] = probed[key]
    return m


def _measured_lines(spec: StudySpec, m: Measured) -> list[str]:
    """``  <arch>: training step 21 ms (vanilla, 5 timed), 35 ms (dropconnect, 3 timed); trial 8 ms (<fault>; clean
    evaluation and warm-up 40 ms); opening the network 0.1 s``, after the time of building a run."""
    out = [f"measured here (seconds each): building a run {format_seconds(m.build)}"]
    for label in dict.fromkeys(k[0] for k in (*m.step, *m.trial)):
        steps = ", ".join(f"{format_seconds(s.seconds)} ({k}, {s.measured} timed)" for (a, k), s in m.step.items()
                          if a == label)
        trials = ", ".join(f"{format_seconds(s.seconds)} ({spec.campaigns[i].fault}; clean evaluation and warm-up "
                           f"{format_seconds(s.setup)})" for (a, i), s in m.trial.items() if a == label and s.measured)
        parts = ([f"training step {steps}"] if steps else []) + ([f"trial {trials}"] if trials else [])
        out.append(f"  {label}: {'; '.join(parts)}; opening the network {format_seconds(m.opened[label])}")
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
