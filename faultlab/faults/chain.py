"""Composition of fault models, applied in order.

    model = Chain(Quantize(16), Programming(0.05), StuckAt(0.0175, 0.0904))

Spec: ``chain(quantize(levels=16),programming(sigma=0.05),stuck_at(sa0=0.0175,sa1=0.0904))``.

Weight-level members act on the weights in turn. Consecutive crossbar members form one transfer
(``crossbar.transfer``): W is mapped to (G+, G-) once, each member perturbs those same devices in order,
and the pair is read back once; a weight-level member between crossbar members ends a transfer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor

from .base import FaultModel, FaultSpecError, ParamValue
from .crossbar import _Crossbar, check_transfer, transfer
from .streams import RandomSource

Step = FaultModel | tuple[_Crossbar, ...]  # a weight-level model, or the crossbar events of one transfer


def steps(events: Sequence[FaultModel]) -> tuple[Step, ...]:
    """Group consecutive crossbar events into transfers (checked to share one mapping)."""
    out: list[Step] = []
    for event in events:
        if isinstance(event, _Crossbar) and out and isinstance(out[-1], tuple):
            out[-1] = (*out[-1], event)
        else:
            out.append((event,) if isinstance(event, _Crossbar) else event)
    for step in out:
        if isinstance(step, tuple):
            check_transfer(step)
    return tuple(out)


def apply_steps(plan: Sequence[Step], wb: Tensor, generator: RandomSource) -> tuple[Tensor, Tensor | None]:
    """Apply the steps in order; faulty = OR of the steps' masks (None if all are None)."""
    faulty: Tensor | None = None
    for step in plan:
        wb, mask = transfer(step, wb, generator) if isinstance(step, tuple) else step._apply(wb, generator)
        if mask is not None:
            faulty = mask if faulty is None else faulty | mask
    return wb, faulty


def member_labels(names: list[str]) -> list[str]:
    """Label of each member: its name, or ``name[i]`` (i = position) when the name occurs twice."""
    return [n if names.count(n) == 1 else f"{n}[{i}]" for i, n in enumerate(names)]


class Chain(FaultModel):
    """``chain(m1, m2, ...)``: W' = m_n(... m_2(m_1(W))), consecutive crossbar members as one transfer.

    Members draw from the same generator in order; faulty = OR of the members' masks (None if all
    are None); per_forward is True when any member's is (the whole chain is then redrawn on each
    forward pass). Nested chains are flattened. Parameters are addressed as ``name.param`` (or
    ``name[i].param`` when a name repeats), or as a bare ``param`` held by exactly one member.
    """

    name = "chain"
    units = {"models": "fault models applied in order, crossbar members as one transfer"}

    def __init__(self, *models: FaultModel) -> None:
        members: list[FaultModel] = []
        for i, model in enumerate(models):
            if not isinstance(model, FaultModel):
                raise FaultSpecError(f"chain: member {i} is {type(model).__name__}, not a fault model")
            members.extend(model.models if isinstance(model, Chain) else (model,))
        if not members:
            raise FaultSpecError("chain: needs at least one member fault model")
        self._set(models=tuple(members))
        object.__setattr__(self, "_steps", steps(self.events))

    @property
    def events(self) -> tuple[FaultModel, ...]:
        return tuple(e for m in self.models for e in m.events)

    @property
    def per_forward(self) -> bool:  # type: ignore[override]
        return any(m.per_forward for m in self.models)

    @property
    def stackable(self) -> bool:  # type: ignore[override]
        return all(m.stackable for m in self.models)

    @property
    def maps_bias(self) -> bool:  # type: ignore[override]
        return any(m.maps_bias for m in self.models)

    def _apply(self, wb: Tensor, generator: RandomSource) -> tuple[Tensor, Tensor | None]:
        return apply_steps(self._steps, wb, generator)

    @property
    def labels(self) -> list[str]:
        return member_labels([m.name for m in self.models])

    @property
    def params(self) -> dict[str, ParamValue]:
        """Every member's parameters, keyed ``label.param``."""
        return {f"{lab}.{k}": v for lab, m in zip(self.labels, self.models) for k, v in m.params.items()}

    def spec(self, full: bool = False) -> str:
        return f"chain({','.join(m.spec(full) for m in self.models)})"

    def _resolve(self, key: str) -> tuple[int, str]:
        labels = self.labels
        if "." in key:
            label, param = key.rsplit(".", 1)
            if label in labels and param in self.models[labels.index(label)].params:
                return labels.index(label), param
        else:
            owners = [i for i, m in enumerate(self.models) if key in m.params]
            if len(owners) == 1:
                return owners[0], key
            if owners:
                options = ", ".join(f"{labels[i]}.{key}" for i in owners)
                raise FaultSpecError(f"chain: parameter {key!r} is held by several members; use one of {options}")
        raise FaultSpecError(f"chain: unknown parameter {key!r}; allowed: {', '.join(self.params)}")

    def replace(self, **changes: Any) -> Chain:
        """A new chain with member parameters changed, e.g. ``replace(**{"stuck_at.sa1": 0.1})``."""
        per_member: dict[int, dict[str, Any]] = {}
        for key, value in changes.items():
            index, param = self._resolve(key)
            per_member.setdefault(index, {})[param] = value
        return Chain(*(m.replace(**per_member.get(i, {})) for i, m in enumerate(self.models)))
