"""Monte Carlo fault campaigns: a clean evaluation, then every (rate, trial) of one fault template,
each trial a row in the results store.

    spec = CampaignSpec(fault="drop(p={rate})", rates=[0.0, 0.1, 0.2], trials=30, seed=0)
    result = run_campaign(model, x_test, y_test, spec, store, run)

Resumable: trials already stored for (run, fault, rate) are skipped, each trial (or stacked group of
trials) is committed on its own, so a killed campaign loses at most the trials in flight.
"""

from __future__ import annotations

import functools
import itertools
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from faultlab.faults import FaultModel, LayerSelectionError, sweep_parameter
from faultlab.injection import (
    ExactCount,
    draw_stacks,
    draw_weights,
    fault_targets,
    forward_redraws,
    inject,
    parameter_updates,
    preserved_bn_state,
    recalibrate_bn,
)
from faultlab.store import ResultsStore
from faultlab.store.rows import norm_rate

from .evaluation import EvalResult, auto_trials_per_pass, evaluate, evaluate_stacked, score_batches
from .identity import checked_run, record_run, store_name, tensors_hash
from .metrics import NamedMetric
from .prefix import PrefixSplit
from .progress import Progress, ProgressMode
from .scale import WeightScale, cell_scales, drop_rate, scaled_faults
from .scopes import CellSummary, Scope, campaign_scopes, cells, trial_keys
from .spec import CampaignError, CampaignSpec, RunInfo, campaign_id, validate
from .stopping import adaptive_stop, halfwidth

STACK_BUDGET_BYTES = 256 * 2**20
PREFIX_CACHE_BYTES = 2 * 2**30  # largest cache of clean boundary activations kept per faulted scope
ADAPTIVE_PASS = 8  # most maps per pass of an adaptive cell (its stopping rule is checked after each pass)


@dataclass
class CampaignResult:
    campaign_id: str
    clean: EvalResult
    cells: list[CellSummary]
    layers: list[str]
    run: RunInfo | None = None  # the run as the store holds it (its id may be that of a store before 0004)


@dataclass(frozen=True)
class Campaign:
    """What every cell of one running campaign shares."""

    model: nn.Module
    x: Tensor
    y: Tensor
    spec: CampaignSpec
    store: ResultsStore
    run: RunInfo
    campaign_id: str
    per_pass: int  # fault maps per forward pass
    batch_size: int
    bias: bool  # biases faulted as a crossbar row
    bar: Progress
    metric: NamedMetric | None = None
    train_batches: Iterable | None = None
    on_trial: Callable[[dict], None] | None = None


@dataclass(frozen=True)
class Cell:
    """One (scope, rate or count) cell; ``score`` evaluates the model as it currently is (built lazily:
    a resumed scope whose cells are all stored builds nothing)."""

    scope: Scope
    rate: float
    count: int  # equal-count cells: exactly this many faulty weights, else 0
    fault: FaultModel
    score: Callable[[], Callable[[], EvalResult]] = field(compare=False)


def _check_conflicts(store: ResultsStore, run: RunInfo, spec: CampaignSpec, cid: str, scale: str | None) -> None:
    """Refuse a campaign whose fault and scope the run already has with other settings (its numbers would mix)."""
    mine = {"seed": spec.seed, "layers": spec.layers.describe(), "bn_recalibration": spec.bn_recalibration,
            "eval weight scale": scale or 1}
    for row in store.campaigns(run.run_id):
        if row["fault"] == spec.fault and row["scope"] == spec.scope and row["campaign_id"] != cid:
            theirs = {"seed": row["campaign_seed"], "layers": row["layers"],
                      "bn_recalibration": row["bn_recalibration"],
                      "eval weight scale": (row.get("config") or {}).get("scale_identity") or 1}
            keys = [k for k in mine if mine[k] != theirs[k]] or list(mine)
            raise CampaignError(
                f"{store_name(store)} holds {spec.fault} trials ({spec.scope_words}) of run {run.run_id} with "
                f"{', '.join(f'{k} {theirs[k]}' for k in keys)}; this campaign has "
                f"{', '.join(f'{k} {mine[k]}' for k in keys)}: use a new study name or a new store")


def scale_identity(faults: dict, spec: CampaignSpec, weight_scale: WeightScale | None) -> str | None:
    """What the evaluation weight scale adds to a campaign's identity: None when it changes no number (no
    scale, an equal-count campaign, a fault without a drop member), else the scale at p = 0.5."""
    if weight_scale is None or spec.equal_count is not None or weight_scale(0.5) == 1.0:
        return None
    if all(drop_rate(f) is None for f in faults.values()):
        return None
    return f"{weight_scale(0.5):g} at p=0.5"


# ------------------------------------------------------------------------------------ the campaign


def run_campaign(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    spec: CampaignSpec,
    store: ResultsStore,
    run: RunInfo,
    *,
    train_batches: Iterable | None = None,
    eval_batch_size: int = 1000,
    progress: ProgressMode = "auto",
    on_trial: Callable[[dict], None] | None = None,
    forward: Callable[[Tensor], Tensor] | None = None,
    metric: NamedMetric | None = None,
    weight_scale: WeightScale | None = None,
) -> CampaignResult:
    """Evaluate ``model`` clean, then under ``spec`` at every rate (or count) of every scope; store every
    trial.

    ``forward``: an alternative callable for the passes (e.g. ``torch.compile(model)``), which must see
    the in-place weight changes of ``model``. ``on_trial`` is called after each stored trial row.
    ``metric``: a metric beyond top-1 (``metrics.resolve_metric``), stored per trial with its name.
    ``weight_scale``: drop rate p -> factor s applied to the faulted weights under drop(p) (pass
    ``Classifier.eval_weight_scale`` for a model trained with ``rescale: true``; see :mod:`.scale`); the
    scale of each cell is recorded in the campaign's config.
    """
    faults = validate(spec)
    if spec.eval_subset is not None:
        if spec.eval_subset > len(y):
            raise CampaignError(f"eval_subset={spec.eval_subset} exceeds the {len(y)} test samples given")
        x, y = x[: spec.eval_subset], y[: spec.eval_subset]
    scales = cell_scales(faults, spec, weight_scale)
    faults = scaled_faults(faults, scales)
    try:
        layers = spec.layers.select(model)
    except LayerSelectionError as err:
        raise CampaignError(str(err)) from err
    if spec.bn_recalibration and train_batches is None:
        raise CampaignError("bn_recalibration needs training batches (pass the data module's training set)")
    try:
        plan = [(scope, cells(model, scope, faults, spec.equal_count is not None, spec.skip_larger_counts))
                for scope in campaign_scopes(model, layers, spec.mode)]
    except LayerSelectionError as err:
        raise CampaignError(str(err)) from err
    eval_hash = tensors_hash(x, y)
    run, stored = checked_run(store, run, eval_hash, len(y))  # never two test sets or two networks for one run
    scale = scale_identity(faults, spec, weight_scale)
    cid = campaign_id(run, spec, scale)
    _check_conflicts(store, run, spec, cid, scale)
    any_fault = next(iter(faults.values()))
    bias = spec.layers.maps_bias(any_fault)  # biases faulted as a crossbar row (else they stay exact)

    model.eval()
    forward = model if forward is None else forward
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    clean = evaluate(forward, x, y, eval_batch_size, metric)
    record_run(store, run, stored, {"clean_accuracy": clean.accuracy, "clean_loss": clean.loss, "n_eval": len(y),
                                    "eval_hash": eval_hash})
    store.add_campaign({
        "campaign_id": cid, "run_id": run.run_id, "fault": spec.fault, "sweep_param": sweep_parameter(spec.fault),
        "campaign_seed": spec.seed, "bn_recalibration": spec.bn_recalibration, "layers": spec.layers.describe(),
        "scope": spec.scope,
        "config": {**asdict(spec), "layers": asdict(spec.layers), "selected": layers, "bias_mapped": bias,
                   "eval_weight_scale": {str(k): v for k, v in scales.items()}, "scale_identity": scale,
                   **({"metric": metric.name} if metric else {})},
    })
    per_pass = maps_per_pass(model, x, spec, layers, bias, any_fault, eval_batch_size)
    split = None
    if spec.mode and spec.prefix_cache and per_pass == 1 and not spec.bn_recalibration and forward is model:
        split = PrefixSplit.trace(model)

    total = None if spec.trials == "auto" else sum(len(c) for _, c in plan) * spec.trials
    bar = Progress(total, progress, initial=stored_trials(store, run, spec, plan) if progress != "off" else 0)
    ctx = Campaign(model, x, y, spec, store, run, cid, per_pass, eval_batch_size, bias, bar, metric, train_batches,
                   on_trial)
    results = []
    try:
        for scope, scope_cells in plan:
            # built when the scope's first trial is due, and before that trial's clock starts
            score = functools.cache(lambda scope=scope: _scorer(ctx, forward, split, scope))
            for rate, count, fault in scope_cells:
                t0 = time.perf_counter()
                results.append(_run_cell(ctx, Cell(scope, rate, count, fault, score)))
                ctx.bar.cell(results[-1], time.perf_counter() - t0)
    finally:
        ctx.bar.close()
        after = model.state_dict()
        changed = [k for k, v in before.items() if not torch.equal(v, after[k])]
        if changed:  # an invariant of inject/preserved_bn_state, checked on every campaign
            raise AssertionError(f"campaign left model weights modified: {changed[:5]}")
    return CampaignResult(cid, clean, results, layers, run)


def maps_per_pass(model: nn.Module, x: Tensor, spec: CampaignSpec, layers: list[str], bias: bool,
                  fault: FaultModel, eval_batch_size: int = 1000) -> int:
    """Fault maps evaluated per forward pass: ``spec.trials_per_pass``, else as many as fit
    (``auto_trials_per_pass``) when the model evaluates under ``vmap``; one with BatchNorm recalibration
    (per-map statistics) or per-pass redraws of a layer called twice in a pass."""
    per_pass = spec.trials_per_pass
    if per_pass is None:
        n_weights = sum(w.numel() for w in fault_targets(model, layers, bias).values())
        per_pass = auto_trials_per_pass(model, x.device, n_weights, STACK_BUDGET_BYTES, x[:eval_batch_size])
        if per_pass > 1 and not _stacks(model, x, layers, bias):
            per_pass = 1
    if spec.bn_recalibration or (fault.per_forward and not _each_called_once(model, x, layers)):
        per_pass = 1
    return per_pass


def pass_size(spec: CampaignSpec, per_pass: int) -> int:
    """Maps per pass of a cell: adaptive campaigns (``trials: auto``) check their stopping rule every
    ``ADAPTIVE_PASS`` maps at most."""
    return per_pass if spec.trials != "auto" else min(per_pass, ADAPTIVE_PASS)


def stored_trials(store: ResultsStore, run: RunInfo, spec: CampaignSpec, plan: list) -> int:
    """Trials of the planned cells (``[(scope, [(rate, count, fault), ...]), ...]``) already in the store
    (those that count: as ``_run_cell`` reads them)."""
    limit = spec.max_trials if spec.trials == "auto" else spec.trials
    where = "run_id = ? AND fault = ? AND layer = ? AND equal_count = ? AND rate = ? AND trial < ?"
    return sum(store.count_trials(where, (run.run_id, spec.fault, scope.label, count, norm_rate(rate), limit))
               for scope, scope_cells in plan for rate, count, _ in scope_cells)


def _stacks(model: nn.Module, x: Tensor, layers: list[str], bias: bool) -> bool:
    """Whether the model evaluates under ``vmap`` (data-dependent control flow does not)."""
    targets = {n: torch.stack([t.detach()] * 2) for n, t in fault_targets(model, layers, bias).items()}
    stacked = parameter_updates(model, targets, bias)
    try:
        evaluate_stacked(model, stacked, x[:2], torch.zeros(2, dtype=torch.long, device=x.device))
    except RuntimeError:
        return False
    return True


@torch.no_grad()
def _each_called_once(model: nn.Module, x: Tensor, layers: list[str]) -> bool:
    """Whether one forward pass calls every selected layer exactly once (a per-pass redraw then gives each
    layer one map per pass, which stacked trials reproduce)."""
    modules = dict(model.named_modules())
    calls = dict.fromkeys(layers, 0)
    hooks = [modules[n].register_forward_pre_hook(lambda m, a, n=n: calls.__setitem__(n, calls[n] + 1)) for n in layers]
    try:
        model(x[:1])
    finally:
        for hook in hooks:
            hook.remove()
    return all(c == 1 for c in calls.values())


def _scorer(ctx: Campaign, forward: Callable[[Tensor], Tensor], split: PrefixSplit | None,
            scope: Scope) -> Callable[[], EvalResult]:
    """A function evaluating the model as it currently is: full passes, or the suffix downstream of the
    scope on cached clean activations (when the model traces and the cache fits its memory budget)."""
    x, y, batch_size, metric = ctx.x, ctx.y, ctx.batch_size, ctx.metric
    suffix = None if split is None else split.suffix(scope.layers)
    if suffix is not None:
        first = suffix.cache(x[:batch_size], batch_size)[0]
        batches = math.ceil(len(x) / batch_size)
        if sum(t.numel() * t.element_size() for t in first) * batches <= PREFIX_CACHE_BYTES:
            cache = [first] + suffix.cache(x[batch_size:], batch_size)
            return lambda: score_batches((suffix(*inputs) for inputs in cache), y, batch_size, metric)
    return lambda: evaluate(forward, x, y, batch_size, metric)


def _stored_accuracies(ctx: Campaign, cell: Cell) -> dict[int, float]:
    """The cell's stored trials; its rate as the store writes it (12 significant digits: an equal-count cell's
    K / weights, e.g. 16 / 62720, is not exact there)."""
    rows = ctx.store.trials("run_id = ? AND fault = ? AND rate = ? AND layer = ? AND equal_count = ?",
                            (ctx.run.run_id, ctx.spec.fault, norm_rate(cell.rate), cell.scope.label, cell.count))
    return {r["trial"]: r["accuracy"] for r in rows}


def _run_cell(ctx: Campaign, cell: Cell) -> CellSummary:
    spec = ctx.spec
    accs = _stored_accuracies(ctx, cell)
    already = len(accs)
    auto = spec.trials == "auto"
    limit = spec.max_trials if auto else spec.trials
    counted = {t: a for t, a in accs.items() if t < limit}  # the trials that count (stored ones may go beyond)
    size = pass_size(spec, ctx.per_pass)
    trial = 0
    while True:
        if auto and adaptive_stop(list(counted.values()), spec.ci_halfwidth, min_trials=spec.min_trials,
                                  tail_mass=spec.tail_mass):
            break
        pending = list(itertools.islice((t for t in range(trial, limit) if t not in accs), size))
        if not pending:
            break
        trial = pending[-1] + 1
        keys = [trial_keys(spec, cell.scope, cell.rate, cell.count, t) for t in pending]
        score = cell.score() if len(pending) == 1 else None  # built before the trial's clock starts
        t0 = time.perf_counter()
        results = [_one_trial(ctx, cell, score, *keys[0])] if score else _stacked_trials(ctx, cell, keys)
        seconds = (time.perf_counter() - t0) / len(pending)
        rows = [_row(ctx, cell, t, k, r, seconds) for t, k, r in zip(pending, keys, results)]
        ctx.store.add_trials(rows)
        for row in rows:
            accs[row["trial"]] = counted[row["trial"]] = row["accuracy"]
            if ctx.on_trial is not None:
                ctx.on_trial(row)
        ctx.bar.trial(cell.rate, counted.values(), len(rows))
    values = list(counted.values()) if not auto else list(accs.values())
    return CellSummary(cell.rate, len(values), len(accs) - already, float(np.mean(values)),
                       halfwidth(values), cell.scope.label, cell.count)


def _one_trial(ctx: Campaign, cell: Cell, score: Callable[[], EvalResult], seeds: dict[str, int],
               exact: ExactCount | None) -> EvalResult:
    with inject(ctx.model, cell.fault, cell.scope.layers, seeds, exact, ctx.bias):
        if not ctx.spec.bn_recalibration:
            return score()
        with preserved_bn_state(ctx.model):
            recalibrate_bn(ctx.model, ctx.train_batches, ctx.spec.bn_recalibration)
            ctx.model.eval()
            return score()


TrialKey = tuple[dict[str, int], "ExactCount | None"]  # per-layer fault seeds, and the equal-count positions


def _stacked_trials(ctx: Campaign, cell: Cell, keys: list[TrialKey]) -> list[EvalResult]:
    model, fault, layers = ctx.model, cell.fault, cell.scope.layers
    targets = {n: t.detach() for n, t in fault_targets(model, layers, ctx.bias).items()}
    if fault.per_forward:  # read noise: every pass (test batch) of a trial redraws from its generator
        passes = forward_redraws(targets, fault, [seeds for seeds, _ in keys])
        return evaluate_stacked(model, lambda: parameter_updates(model, passes(), ctx.bias), ctx.x, ctx.y,
                                ctx.batch_size, ctx.metric)
    if all(exact is None for _, exact in keys):
        stacks = draw_stacks(targets, fault, [seeds for seeds, _ in keys])
    else:
        per_trial = [draw_weights(targets, fault, seeds, exact)[0] for seeds, exact in keys]
        stacks = {name: torch.stack([d[name].weights for d in per_trial]) for name in layers}
    return evaluate_stacked(model, parameter_updates(model, stacks, ctx.bias), ctx.x, ctx.y, ctx.batch_size,
                            ctx.metric)


def _row(ctx: Campaign, cell: Cell, trial: int, key: TrialKey, result: EvalResult, seconds: float) -> dict:
    seeds, exact = key
    return {
        "campaign_id": ctx.campaign_id, "run_id": ctx.run.run_id, "fault": ctx.spec.fault, "rate": cell.rate,
        "trial": trial, "layer": cell.scope.label, "layer_group": cell.scope.group, "equal_count": cell.count,
        "fault_seed": exact.seed if exact else seeds[cell.scope.layers[0]], "accuracy": result.accuracy,
        "loss": result.loss, "seconds": seconds, "correct": result.correct.numpy(),
        **({"metric_name": ctx.metric.name, "metric": result.metric} if ctx.metric is not None else {}),
    }
