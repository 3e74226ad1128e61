"""Scopes, cells and trial keys: which layers a cell faults together, the keyed seeds of each trial, and
the summary of a finished cell.

A layer meets, in a per-layer or per-group campaign, the map it gets in a whole-network campaign at the
same (rate, trial); equal-count trials are keyed by K instead of the rate.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from faultlab.faults import FaultModel, fault_seed, layer_groups
from faultlab.injection import ExactCount, layer_weights, trial_seeds
from faultlab.store import ALL_LAYERS, GROUP_PREFIX

from .spec import CampaignError, CampaignSpec


@dataclass
class CellSummary:
    """A finished cell: its trials' mean accuracy and 95 % CI half-width (``faultlab.campaign.stopping.halfwidth``)."""

    rate: float
    n_trials: int
    new_trials: int
    mean: float
    halfwidth: float
    layer: str = ALL_LAYERS
    count: int = 0  # equal-count cells: exactly this many faulty weights


@dataclass(frozen=True)
class Scope:
    """Layers faulted together: every selected layer (label ``*``), one layer (its name) or one group
    (``group:<name>``)."""

    label: str
    group: str  # ``*`` for the whole network
    layers: list[str]


def campaign_scopes(model: nn.Module, layers: list[str], mode: str | None) -> list[Scope]:
    if mode is None:
        return [Scope(ALL_LAYERS, ALL_LAYERS, layers)]
    groups = layer_groups(model, layers)
    if mode == "layer":
        return [Scope(name, groups[name], [name]) for name in layers]
    order = dict.fromkeys(groups[name] for name in layers)
    return [Scope(GROUP_PREFIX + g, g, [n for n in layers if groups[n] == g]) for g in order]


def cells(model: nn.Module, scope: Scope, faults: dict, counted: bool, skip_larger: bool = False
          ) -> list[tuple[float, int, FaultModel]]:
    """(rate, count, fault) of every cell of one scope; with equal counts the rate is K / weights in scope, and a
    K above the scope's weights is an error, or (``skip_larger``) no cell."""
    if not counted:
        return [(rate, 0, fault) for rate, fault in faults.items()]
    n = sum(w.numel() for w in layer_weights(model, scope.layers).values())
    too_big = [k for k in faults if k > n]
    if too_big and not skip_larger:
        raise CampaignError(f"equal count K={max(too_big)} exceeds the {n} weights of {scope.label}; "
                            "choose K at most the size of the smallest selected layer (or group), or set "
                            "skip_larger_counts")
    return [(k / n, k, fault) for k, fault in faults.items() if k <= n]


def trial_keys(spec: CampaignSpec, scope: Scope, rate: float, count: int,
               trial: int) -> tuple[dict[str, int], ExactCount | None]:
    """Per-layer fault seeds of one trial (a layer meets the map it gets in a whole-network campaign) and,
    for equal-count cells, the seed of the K positions."""
    if not count:
        return trial_seeds(spec.seed, scope.layers, spec.fault, rate, trial), None
    seeds = {name: fault_seed(spec.seed, name, spec.fault, "count", count, trial) for name in scope.layers}
    return seeds, ExactCount(count, fault_seed(spec.seed, scope.label, spec.fault, "count", count, trial, "positions"))
