"""Quick feedback before long work (``faultlab campaign --dry-run``, ``faultlab sweep --dry-run``): what a
campaign will fault (its layers or groups, cells and trials per cell) and how long the work will take,
estimated from steps measured on the real network and data.

    plan = campaign_plan(session.net, spec)                # nothing evaluated
    print("\\n".join(plan.lines()))
    timing = trial_seconds(session, spec)                  # a few trials run by the engine, into memory
    step = training_step_seconds(classifier, batch)        # optimisation steps of a LightningModule
    print(estimate_line(plan.trials[0] * timing.seconds, plan.trials[1] * timing.seconds, timing.basis(), 1))

An estimate is linear in what was measured (trials x seconds per trial, steps x seconds per step, plus what a
campaign and a training run spend once: the clean evaluation and the warm-ups) on this machine, under its load
now; opening the network and data is not counted (nor, in a sweep, what its line says).
"""

from __future__ import annotations

import dataclasses
import statistics
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from faultlab.faults import LayerSelectionError, layer_groups

from .scopes import Scope, campaign_scopes, cells
from .spec import CampaignError, CampaignSpec, validate
from .stopping import tail_guard_trials

PROBE_TRIALS = 2  # passes of trials run by a probe; the first is a warm-up and is not counted
PROBE_SAMPLES = 256  # test samples a probe evaluates; its time per trial is scaled to the campaign's samples
STEP_BUDGET_S = 0.3  # seconds of timed training steps (after the warm-up) past which no further step is timed
STEP_MIN, STEP_MAX = 3, 5  # training steps timed at least and at most, after the warm-up
STEP_CAP_S = 1.0  # ... but no further step once the timed ones took this long (one step at least)
SHOWN_LAYERS = 12  # layer names listed per line before "... and N more"


def trials_per_cell(spec: CampaignSpec) -> tuple[int, int]:
    """(at least, at most) trials of one cell: ``trials``, or for ``trials: auto`` the adaptive rule's bounds
    (no stop before max(min_trials, the tail guard), none after max_trials)."""
    if spec.trials != "auto":
        return int(spec.trials), int(spec.trials)
    return min(spec.max_trials, max(spec.min_trials, tail_guard_trials(spec.tail_mass))), spec.max_trials


@dataclass(frozen=True)
class CampaignPlan:
    """The cells a campaign runs on one network: its scopes (the whole network, each layer or each group) x
    its rates (or equal counts), each cell ``trials`` = (at least, at most) trials."""

    spec: CampaignSpec
    layers: list[str]
    scopes: list[Scope]
    groups: dict[str, str]  # layer -> group (stem, depthwise, pointwise, conv3x3, conv, linear, classifier)
    trials: tuple[int, int]

    @property
    def cells(self) -> int:
        values = self.spec.equal_count if self.spec.equal_count is not None else self.spec.rates
        return len(self.scopes) * len(values)

    @property
    def total(self) -> tuple[int, int]:
        """(at least, at most) trials of the campaign."""
        return self.cells * self.trials[0], self.cells * self.trials[1]

    def lines(self) -> list[str]:
        """The scopes with their layers and cells, then the total, in words."""
        s = self.spec
        values = (f"K = {', '.join(map(str, s.equal_count))} faulty weights" if s.equal_count is not None
                  else f"{len(s.rates)} rate{'s' * (len(s.rates) != 1)} ({', '.join(f'{r:g}' for r in s.rates)})")
        per_cell = _count(self.trials) + " trials" + (" (adaptive)" if s.trials == "auto" else "")
        head = (f"{s.fault}: {self.cells} cell{'s' * (self.cells != 1)} of {per_cell} = {_count(self.total)} trials; "
                f"{len(self.layers)} layer{'s' * (len(self.layers) != 1)} selected ({s.layers.describe()}), faulted "
                f"{s.scope_words}")
        out = [head]
        for scope in self.scopes:
            if s.mode == "layer":
                what = f"{scope.label} ({self.groups[scope.label]})"
            else:
                what = "whole network" if s.mode is None else scope.label
                what += f" ({len(scope.layers)} layer{'s' * (len(scope.layers) != 1)}: {_names(scope.layers)})"
            out.append(f"  {what}: {values} x {per_cell}")
        if s.trials == "auto":
            out.append(f"  adaptive: each cell stops once its 95 % CI half-width is <= {s.ci_halfwidth:g}, after at "
                       f"least {self.trials[0]} and at most {self.trials[1]} trials")
        return out


def campaign_plan(net: nn.Module, spec: CampaignSpec) -> CampaignPlan:
    """The cells ``spec`` runs on ``net`` (its layer selection resolved; nothing evaluated); a selection that
    finds no layer, or an equal count larger than a scope, is the campaign's own one-line CampaignError."""
    faults = validate(spec)
    try:
        layers = spec.layers.select(net)
        scopes = campaign_scopes(net, layers, spec.mode)
        for scope in scopes:
            cells(net, scope, faults, spec.equal_count is not None)  # refuses K above a scope's weights
        groups = layer_groups(net, layers)
    except LayerSelectionError as err:
        raise CampaignError(str(err)) from err
    return CampaignPlan(spec, layers, scopes, groups, trials_per_cell(spec))


def stored_of_plan(store_path: str, session: Any, plan: CampaignPlan) -> int | None:
    """Trials of ``plan``'s cells that ``store_path`` already holds for ``session``'s run (None: no such file),
    read as the campaign would (a run stored before migration 0004 found by its hashes; a store holding the run
    on other test samples refused, one line); the store is opened read-only."""
    from pathlib import Path

    from faultlab.store import ResultsStore

    from .engine import stored_trials
    from .identity import checked_run, tensors_hash

    if not Path(store_path).is_file():
        return None
    spec = plan.spec
    x, y = (session.x, session.y) if spec.eval_subset is None else (session.x[: spec.eval_subset],
                                                                      session.y[: spec.eval_subset])
    faults = validate(spec)
    with ResultsStore(store_path, read_only=True) as store:
        run, _ = checked_run(store, session.run, tensors_hash(x, y), len(y))
        cells_of = [(scope, cells(session.net, scope, faults, spec.equal_count is not None)) for scope in plan.scopes]
        return stored_trials(store, run, spec, cells_of)


@dataclass(frozen=True)
class TrialTiming:
    """Seconds per trial of ``samples`` test samples, measured on ``measured`` trials of ``probed`` samples after a
    warm-up pass (and scaled by samples / probed), ``per_pass`` maps a pass; ``setup``: seconds of the campaign's
    work besides its trials at that rate (its clean evaluation, the first pass's warm-up, its bookkeeping), the
    probe's wall time less its trials at the measured rate, scaled alike."""

    seconds: float
    measured: int
    per_pass: int
    samples: int
    probed: int
    setup: float = 0.0

    def basis(self, note: str = "") -> str:
        """``3 trials measured at 8 ms each (on 256 of the 1000 samples, scaled), 1 map per pass<note>, plus 40 ms
        for the clean evaluation and warm-up``."""
        maps = "1 map" if self.per_pass == 1 else f"{self.per_pass} maps"
        scaled = "" if self.probed == self.samples else f" (on {self.probed} of the {self.samples} samples, scaled)"
        trials = f"{self.measured} trial{'s' * (self.measured != 1)}"
        return (f"{trials} measured at {format_seconds(self.seconds)} each{scaled}, {maps} per pass{note}, "
                f"plus {format_seconds(self.setup)} for the clean evaluation and warm-up")


def trial_seconds(session: Any, spec: CampaignSpec) -> TrialTiming:
    """Seconds per trial of ``spec`` on ``session`` (a ``faultlab.campaign.session.Session``), measured: the
    engine runs a few trials of one cell (its highest rate, every selected layer faulted: a per-layer trial
    faults less and costs at most this) on the first ``PROBE_SAMPLES`` test samples into a throw-away in-memory
    store, with the maps per pass the real campaign uses; the first pass (warm-up) is not counted, and the time
    is scaled linearly to the campaign's test samples. What the probe spent besides its trials at that rate
    (the clean evaluation, the warm-up pass's excess) is ``setup``: a campaign spends it once. The engine restores
    the network's weights."""
    from faultlab.store import ResultsStore

    from .engine import maps_per_pass, pass_size

    faults = validate(spec)
    fault = next(iter(faults.values()))
    x = session.x if spec.eval_subset is None else session.x[: spec.eval_subset]
    layers = campaign_plan(session.net, spec).layers
    bias = spec.layers.maps_bias(fault)
    size = pass_size(spec, maps_per_pass(session.net, x, spec, layers, bias, fault, session.batch_size))
    rate = max(spec.rates) if spec.equal_count is None else 0.01  # drawing K positions costs about as much
    probed = min(len(x), PROBE_SAMPLES)
    probe = dataclasses.replace(spec, rates=(rate,), equal_count=None, per_layer=False, trials=size * PROBE_TRIALS,
                                trials_per_pass=size, skip_without_layers=False, eval_subset=probed)
    with ResultsStore(":memory:") as store:
        t0 = time.perf_counter()
        result = session.campaign(probe, store)
        wall = time.perf_counter() - t0
        rows = sorted(store.trials("campaign_id = ?", (result.campaign_id,)), key=lambda r: r["trial"])
    counted = [r["seconds"] for r in rows if r["trial"] >= size] or [r["seconds"] for r in rows]
    per_trial = statistics.median(counted)
    scale = len(x) / probed
    return TrialTiming(per_trial * scale, len(counted), size, len(x), probed,
                       max(0.0, wall - per_trial * len(rows)) * scale)


def training_step_seconds(module: Any, batch: Sequence[torch.Tensor], budget_s: float = STEP_BUDGET_S,
                          max_steps: int = STEP_MAX, precision: Any = None, cap_s: float = STEP_CAP_S) -> StepTiming:
    """Seconds of one optimisation step of a LightningModule on ``batch`` (already on its device): its
    ``training_step`` loss, backward and ``optimizer_step`` (as a Trainer runs them, without the Trainer),
    the median of the steps timed after one warm-up step: ``STEP_MIN`` (the median of three sets one step slowed
    by the machine's other work aside) unless they pass ``cap_s`` (then fewer, one at least), more while
    their total is under ``budget_s``, at most ``max_steps``. ``precision``: a
    Lightning precision plugin whose ``forward_context`` wraps the step (mixed precision). The module is trained
    by these steps: pass a throw-away one."""
    from contextlib import nullcontext

    optimizer = module.configure_optimizers()
    if isinstance(optimizer, dict):
        optimizer = optimizer["optimizer"]
    elif isinstance(optimizer, list | tuple):
        optimizer = optimizer[0]
    context = precision.forward_context if precision is not None else nullcontext
    device = next(module.parameters()).device
    module.train()
    times: list[float] = []
    for i in range(max_steps + 1):
        timed = sum(times[1:])
        if i > 1 and (timed >= cap_s or (i > STEP_MIN and timed >= budget_s)):
            break

        def closure(i: int = i) -> torch.Tensor:
            optimizer.zero_grad()
            with context(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # self.log() without a Trainer: a warning per call
                loss = module.training_step(batch, i)
            loss.backward()
            return loss

        _sync(device)
        t0 = time.perf_counter()
        module.optimizer_step(0, i, optimizer, closure)
        _sync(device)
        times.append(time.perf_counter() - t0)
    median = statistics.median(times[1:])
    return StepTiming(median, len(times) - 1, max(0.0, times[0] - median))


@dataclass(frozen=True)
class StepTiming:
    """Seconds of one training step, the median of ``measured`` steps timed after a warm-up step; ``warm_up``: how
    much longer the warm-up step took (a process pays it once per network)."""

    seconds: float
    measured: int
    warm_up: float = 0.0


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ------------------------------------------------------------------------------------ words


def format_seconds(seconds: float) -> str:
    """``0.14 ms``, ``12 ms``, ``4.2 s``, ``3.5 min``, ``2.1 h``."""
    if seconds < 1:
        return f"{seconds * 1000:.2g} ms" if seconds < 0.01 else f"{seconds * 1000:.0f} ms"
    if seconds < 90:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def estimate_line(low: float, high: float, basis: str, threads: int, workers: int = 1,
                  uncounted: str = "loading") -> str:
    """``estimate: about 3.5 min (an estimate from measured steps: <basis>; on 2 threads; not counted: loading)``."""
    span = f"about {format_seconds(low)}" if high <= low * 1.05 else (
        f"{format_seconds(low)} to {format_seconds(high)}")
    who = f"{threads} thread{'s' * (threads != 1)}" + (f" per worker, {workers} workers" if workers > 1 else "")
    return f"estimate: {span} (an estimate from measured steps: {basis}; on {who}; not counted: {uncounted})"


def _count(span: tuple[int, int]) -> str:
    return str(span[0]) if span[0] == span[1] else f"{span[0]}-{span[1]}"


def _names(layers: list[str]) -> str:
    shown = ", ".join(layers[:SHOWN_LAYERS])
    return shown + (f", ... and {len(layers) - SHOWN_LAYERS} more" if len(layers) > SHOWN_LAYERS else "")
