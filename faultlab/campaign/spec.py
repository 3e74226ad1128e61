"""What a campaign is: the fault template and its cells (rates, or equal counts), the trials per cell,
the layers and scope, and the run it belongs to; validated before anything is evaluated or stored.

    spec = CampaignSpec(fault="drop(p={rate})", rates=[0.1, 0.2], trials=30, per_layer="group")
    faults = validate(spec)        # the fault model of each cell, or a one-line CampaignError
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from faultlab import FaultlabError
from faultlab.faults import FaultModel, FaultSpecError, fault_seed, full_rate_fault, parse_fault, sweep_parameter
from faultlab.injection import LayerSelector

DEFAULT_TRIALS = 20
ALL_LAYERS = "*"  # the store's layer label of a whole-network trial
GROUP_PREFIX = "group:"  # the store's layer label of a group-scope trial, e.g. "group:depthwise"
PerLayer = Literal[False, True, "layer", "group"]


class CampaignError(FaultlabError):
    """A campaign cannot run as configured (bad rate, fault spec, layer selection, conflicting rows)."""


@dataclass(frozen=True)
class CampaignSpec:
    """One fault template swept over rates. ``trials``: a count, or ``"auto"`` to stop a cell once the
    95 % CI half-width of its mean accuracy is below ``ci_halfwidth``, after at least ``min_trials`` maps and
    enough maps that a lower tail of mass ``tail_mass`` would have shown itself (149 for 2 %), at most
    ``max_trials`` (:func:`faultlab.stats.planning.adaptive_stop`). ``bn_recalibration``: re-estimate BatchNorm
    statistics under each fault map on that many training batches (0 = off). ``trials_per_pass``: fault maps per
    forward pass (None = auto).
    ``per_layer``: sensitivity mode. ``True``/``"layer"``: each selected layer faulted alone with the same
    keyed maps it gets in a whole-network campaign, rows carry the layer name instead of ``*``;
    ``"group"``: each group of selected layers (stem, depthwise, pointwise, conv3x3, conv, linear,
    classifier) faulted at once, rows carry ``group:<name>``. ``equal_count``: instead of rates, fault
    exactly K weights per layer (or group) for each K listed (the fault at rate 1 on K uniformly placed
    weights); rows keep K in ``equal_count`` and K / (weights in scope) as rate. ``prefix_cache``: in
    per-layer mode compute the clean activations upstream of the faulted scope once per test batch."""

    fault: str
    rates: Sequence[float]
    trials: int | Literal["auto"] = DEFAULT_TRIALS
    seed: int = 0
    layers: LayerSelector = field(default_factory=LayerSelector)
    ci_halfwidth: float = 0.005
    min_trials: int = 30
    max_trials: int = 500
    tail_mass: float = 0.02
    bn_recalibration: int = 0
    trials_per_pass: int | None = None
    per_layer: PerLayer = False  # fault one selected layer (or group) at a time instead of all at once
    equal_count: Sequence[int] | None = None
    prefix_cache: bool = True  # a speed option: results are identical with and without

    @property
    def mode(self) -> str | None:
        """None (whole network), "layer" or "group"."""
        return None if self.per_layer is False else "layer" if self.per_layer is True else self.per_layer

    @property
    def scope(self) -> str:
        base = {None: "all", "layer": "per_layer", "group": "per_group"}.get(self.mode, str(self.per_layer))
        return f"{base}_count" if self.equal_count else base


@dataclass(frozen=True)
class RunInfo:
    """The identity of a trained model in the store."""

    run_id: str
    study: str = "default"
    architecture: str = ""
    variant: str = ""
    method: str = "vanilla"
    train_seed: int | None = None
    checkpoint: str | None = None
    checkpoint_hash: str | None = None
    config: dict = field(default_factory=dict)


# ------------------------------------------------------------------------------------ validation


def validate(spec: CampaignSpec) -> dict[float, FaultModel]:
    """Check ``spec``; return the fault model of each cell: per rate, or per count K with ``equal_count``."""
    if spec.per_layer not in (False, True, "layer", "group"):
        raise CampaignError(f"per_layer={spec.per_layer!r}; allowed: false, true, 'layer' or 'group'")
    if spec.equal_count is not None:
        return _validate_counts(spec)
    if not spec.rates:
        raise CampaignError("no rates given; pass e.g. --rates 0,0.05,0.1")
    try:
        sweep_parameter(spec.fault)
    except FaultSpecError as err:
        raise CampaignError(str(err)) from err
    out = {}
    for rate in spec.rates:
        if not 0.0 <= float(rate) <= 1.0 or math.isnan(float(rate)):
            raise CampaignError(f"rate {rate} is outside [0, 1]")
        try:
            out[float(rate)] = parse_fault(spec.fault, rate=float(rate))
        except FaultSpecError as err:
            raise CampaignError(f"{err} (at rate {rate})") from err
    _validate_trials(spec)
    return out


def _validate_trials(spec: CampaignSpec) -> None:
    if spec.trials != "auto" and (not isinstance(spec.trials, int) or spec.trials < 1):
        raise CampaignError(f"trials={spec.trials!r} must be a positive integer or 'auto'")
    if spec.trials == "auto" and not (spec.ci_halfwidth > 0 and 2 <= spec.min_trials <= spec.max_trials):
        raise CampaignError("auto trials need ci_halfwidth > 0 and 2 <= min_trials <= max_trials")
    if spec.bn_recalibration < 0:
        raise CampaignError(f"bn_recalibration={spec.bn_recalibration} must be >= 0")


def _validate_counts(spec: CampaignSpec) -> dict[int, FaultModel]:
    if spec.mode is None:
        raise CampaignError("equal_count needs per-layer mode (--per-layer or --per-layer group)")
    if spec.rates:
        raise CampaignError("give either rates or equal_count, not both (equal-count cells are keyed by K)")
    counts = list(spec.equal_count)
    if not counts or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in counts):
        raise CampaignError(f"equal_count={counts!r} must be positive integers, e.g. --equal-count 8,32,128")
    if len(set(counts)) != len(counts):
        raise CampaignError(f"equal_count={counts!r} lists a count twice")
    try:
        sweep_parameter(spec.fault)
        fault = full_rate_fault(spec.fault)
    except FaultSpecError as err:
        raise CampaignError(str(err)) from err
    _validate_trials(spec)
    return {int(k): fault for k in counts}


def campaign_id(run: RunInfo, spec: CampaignSpec) -> str:
    key = (run.run_id, spec.fault, spec.seed, spec.layers.describe(), spec.bn_recalibration)
    return f"{fault_seed(*key, spec.scope) if spec.mode else fault_seed(*key):016x}"
