"""Equal-count faults: exactly K faulty weights, placed uniformly at random (without replacement)
over the weights of one layer or a group of layers.

    masks = exact_count_masks([w1.numel(), w2.numel()], k=32, generator=make_generator(seed))

Per-layer sensitivity at an equal *rate* faults ~p·n weights of an n-weight layer, so a small depthwise
conv and a large 3x3 conv meet very different numbers of faults; at an equal *count* each layer (or
group) gets the same K. A faulty weight takes the value the fault model gives it at rate 1 (``drop``:
0; ``stuck_at(sa0=0,sa1={rate})``: both devices at g_max), see :func:`full_rate_fault`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .base import FaultModel, FaultSpecError
from .keys import make_generator
from .spec import parse_fault

_PROBE = 64  # weights in the probe tensor that checks a template faults every weight at rate 1


def exact_count_masks(numels: Sequence[int], k: int, generator: torch.Generator) -> list[Tensor]:
    """Flat bool masks, one per tensor of ``numels`` elements, with exactly ``k`` True in total, the
    positions a uniform draw without replacement over the concatenated index space."""
    total = int(sum(numels))
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= total:
        raise FaultSpecError(f"equal count K={k!r} must be an integer in [0, {total}] (the weights in scope)")
    flat = torch.zeros(total, dtype=torch.bool, device=generator.device)
    flat[torch.randperm(total, generator=generator, device=generator.device)[:k]] = True
    return list(flat.split([int(n) for n in numels]))


def full_rate_fault(template: str) -> FaultModel:
    """The fault of ``template`` at rate 1, checked to mark every weight faulty (so that exactly the K
    chosen weights differ in kind from the healthy ones); a one-line FaultSpecError otherwise."""
    fault = parse_fault(template, rate=1.0)
    draw = fault.draw(torch.linspace(-1.0, 1.0, _PROBE), make_generator(0))
    if fault.per_forward or draw.faulty is None or not bool(draw.faulty.all()):
        raise FaultSpecError(
            f"equal-count needs a fault whose swept rate is a fault probability that faults every weight at 1, "
            f"e.g. 'drop(p={{rate}})' or 'stuck_at(sa0=0,sa1={{rate}})'; {fault.spec()} does not")
    return fault
