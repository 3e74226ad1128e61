"""Which layers a fault reaches: the one layer-selection config of campaigns (``CampaignSpec.layers``, the
study YAML's ``campaigns[].layers``, ``faultlab campaign --layers.kinds ...``) and of fault-aware training
(``FaultAwareMethod.layers``). Plain data, importable without torch; the selection itself is
``faultlab.faults.selection.select_layers``.

    layers = LayerSelector(kinds=("conv", "linear"), exclude=("*.shortcut*",), first=False).select(model)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn

    from faultlab.faults import FaultModel


@dataclass(frozen=True)
class LayerSelector:
    """Which layers a fault reaches: module kinds (conv, depthwise, pointwise, conv3x3, linear), fnmatch
    include/exclude patterns on module names, and whether the first (stem) and last (classifier) layers
    are kept. The default is every conv and linear layer. ``bias``: fault each selected layer's bias as
    one more crossbar row (True), never (False), or as the fault's device preset says (None)."""

    kinds: tuple[str, ...] = field(default=("conv", "linear"), metadata={
        "help": "layer kinds: conv, depthwise, pointwise, conv3x3, linear"})
    include: tuple[str, ...] | None = field(default=None, metadata={
        "help": "fnmatch patterns of layer names to include"})
    exclude: tuple[str, ...] | None = field(default=None, metadata={
        "help": "fnmatch patterns of layer names to exclude"})
    first: bool = field(default=True, metadata={"help": "fault the first layer (stem); false keeps it clean"})
    last: bool = field(default=True, metadata={"help": "fault the last layer (classifier); false keeps it clean"})
    bias: bool | None = field(default=None, metadata={
        "help": "fault each layer's bias as one more crossbar row sharing its scale (false: biases stay "
                "exact; default: as the fault's device preset says, exact otherwise)"})

    def select(self, model: nn.Module) -> list[str]:
        from faultlab.faults import select_layers

        return select_layers(model, self.kinds, self.include, self.exclude, self.first, self.last)

    def problem(self) -> tuple[str, str] | None:
        """(field, what is wrong) for a malformed selector, else None (which layers match is known only
        when a model is given)."""
        from faultlab.faults.selection import KINDS

        if not self.kinds or any(k not in KINDS for k in self.kinds):
            return "kinds", f"{list(self.kinds)!r}; allowed: some of {', '.join(KINDS)}"
        if self.bias is not None and not isinstance(self.bias, bool):
            return "bias", f"{self.bias!r}; allowed: true, false or null"
        return None

    def maps_bias(self, fault: FaultModel | None) -> bool:
        """Whether biases are faulted with ``fault``: ``bias`` when set, else the fault's ``maps_bias``."""
        return self.bias if self.bias is not None else bool(fault is not None and fault.maps_bias)

    def describe(self) -> str:
        parts = [f"kinds={','.join(self.kinds)}"]
        if self.include:
            parts.append(f"include={','.join(self.include)}")
        if self.exclude:
            parts.append(f"exclude={','.join(self.exclude)}")
        if not self.first:
            parts.append("no-first")
        if not self.last:
            parts.append("no-last")
        if self.bias is not None:
            parts.append("bias" if self.bias else "no-bias")
        return ";".join(parts)
