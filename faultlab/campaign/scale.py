"""The evaluation weight scale of a DropConnect model trained with ``rescale: true``.

Such a model was trained on W' = W ⊙ M / (1 - p) (E[W'] = W), so a campaign must evaluate it on the same
convention: under drop(p), W' = s · (W ⊙ M) with s = ``Classifier.eval_weight_scale(p)`` = 1 / (1 - p). The
scale multiplies the faulted weights of every selected layer; the clean evaluation (and any cell whose fault
has no drop member, or an equal-count cell) keeps s = 1. Applied here, once, as a wrapper of each cell's fault
model, so the fault maps themselves (masks, keyed seeds) are the very ones every other run meets.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

from faultlab.faults import Drop, FaultModel

from .spec import CampaignSpec

WeightScale = Callable[[float], float]  # drop rate p -> factor s (Classifier.eval_weight_scale)


class Scaled(FaultModel):
    """``fault`` followed by W' ← s · W' (the faulty mask is the wrapped fault's); same stacking and redraws."""

    name = "scaled"

    def __init__(self, fault: FaultModel, scale: float) -> None:
        self._set(fault=fault, scale=float(scale))
        object.__setattr__(self, "stackable", fault.stackable)
        object.__setattr__(self, "per_forward", fault.per_forward)
        object.__setattr__(self, "maps_bias", fault.maps_bias)

    def _apply(self, wb: Tensor, generator) -> tuple[Tensor, Tensor | None]:
        weights, faulty = self.fault._apply(wb, generator)
        return weights * self.scale, faulty

    def spec(self, full: bool = False) -> str:
        return f"{self.fault.spec(full)}*{self.scale:g}"


def drop_rate(fault: FaultModel) -> float | None:
    """The p of the (last) drop event of ``fault``, None without one."""
    drops = [e.p for e in fault.events if isinstance(e, Drop)]
    return float(drops[-1]) if drops else None


def cell_scales(
    faults: dict[float, FaultModel], spec: CampaignSpec, weight_scale: WeightScale | None
) -> dict[float, float]:
    """s per cell (rate): ``weight_scale(p)`` for a cell whose fault drops with p < 1, else 1; all 1 for
    equal-count cells (their faulty weights are set by the fault at rate 1, the others stay exact)."""
    out = {}
    for cell, fault in faults.items():
        p = drop_rate(fault)
        use = weight_scale is not None and spec.equal_count is None and p is not None and p < 1.0
        out[cell] = float(weight_scale(p)) if use else 1.0  # type: ignore[misc]
    return out


def scaled_faults(faults: dict[float, FaultModel], scales: dict[float, float]) -> dict[float, FaultModel]:
    """Each cell's fault, wrapped in :class:`Scaled` where its scale differs from 1."""
    return {cell: Scaled(f, scales[cell]) if scales[cell] != 1.0 else f for cell, f in faults.items()}
