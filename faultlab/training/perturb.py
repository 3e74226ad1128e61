"""One training step's weight perturbation: fault maps drawn from a generator keyed by the step, applied through
``torch.func.functional_call`` so the stored parameters are never modified and gradients reach the clean weights.

Gradients. Differentiable maps (drop, gaussian_mult and chains of them) use the natural gradient,
dL/dW = M ⊙ dL/dW' for drop (dropped weights get zero, as in DropConnect) and (1 + σε) ⊙ dL/dW' for
gaussian_mult. Every other map uses a straight-through estimator, W' = W + stopgrad(f(W) - W), so
dL/dW = dL/dW'. Where the map reports ``faulty`` weights (stuck devices), whose value does not depend on W,
the masked gradient (the default) gives them zero gradient; the whole gradient passes through the whole
transform there too (the TiO2 paper's estimator).
"""

from __future__ import annotations

import random
from collections.abc import Iterable

import torch
from torch import Tensor

from faultlab.faults import Chain, Drop, FaultModel, GaussianMult, fault_seed

NATURAL_GRADIENT = (Drop, GaussianMult)  # maps whose autograd derivative is the intended one


def members(fault: FaultModel) -> tuple[FaultModel, ...]:
    return fault.models if isinstance(fault, Chain) else (fault,)


def is_natural(faults: Iterable[FaultModel]) -> bool:
    """Whether every member of every map is differentiable as intended (drop, gaussian_mult)."""
    faults = tuple(faults)
    return bool(faults) and all(isinstance(m, NATURAL_GRADIENT) for f in faults for m in members(f))


def drop_p(fault: FaultModel | None) -> float | None:
    """The drop probability of ``fault`` (its last drop member), or None without one."""
    drops = [m.p for m in members(fault) if isinstance(m, Drop)] if fault is not None else []
    return drops[-1] if drops else None


def step_seed(train_seed: int | None, *key: object) -> int:
    """Seed of one step's fault maps: ``fault_seed(train_seed or 0, "fault_aware", *key)``."""
    return fault_seed(train_seed or 0, "fault_aware", *key)


def choose_levels(seed: int, n: int, k: int) -> list[int]:
    """``k`` distinct level indices out of ``n``, from a private RNG seeded with ``seed``."""
    return random.Random(seed).sample(range(n), k)


def perturb(
    weights: dict[str, Tensor],
    fault: FaultModel,
    generator: torch.Generator,
    *,
    natural: bool,
    scale: float = 1.0,
    k: int | None = None,
    whole: bool = False,
) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Perturbed weights per layer (``[k, *W.shape]`` with ``k``) and the faulty masks the map reports.

    natural: W' = s·f(W) differentiated as is. Otherwise W' = s·(W + stopgrad(f(W) - W)) where the
    weight is healthy and s·stopgrad(f(W)) where it is faulty (zero gradient), or with ``whole`` the
    straight-through form everywhere. s = ``scale``.
    """
    out, faulty = {}, {}
    for name, w in weights.items():
        if natural:
            draw = fault.draw(w, generator, k)
            wp = draw.weights
        else:
            draw = fault.draw(w.detach(), generator, k)
            wp = w + (draw.weights - w).detach()
            if draw.faulty is not None and not whole:
                wp = torch.where(draw.faulty, draw.weights, wp)
        out[name] = _like(wp * scale if scale != 1.0 else wp, w, k)
        if draw.faulty is not None:
            faulty[name] = draw.faulty
    return out, faulty


def _like(wp: Tensor, w: Tensor, k: int | None) -> Tensor:
    """``wp`` in the stride order of the conv weight ``w`` (per slice with ``k``). Elementwise ops may
    return other (equally valid) strides for size-1 dims, and the CPU conv backward then takes a
    layout-converting path: measured 1.8x slower mini-MobileNet steps. A copy of the weights is cheap."""
    strides = w.stride() if k is None else (w.numel(), *w.stride())
    if w.dim() != 4 or wp.stride() == strides:
        return wp
    return torch.empty_strided(wp.shape, strides, dtype=wp.dtype, device=wp.device).copy_(wp)


@torch.no_grad()
def clip_weights_(weights: Iterable[Tensor], clip_w: float) -> None:
    """In place, per tensor: W <- clamp(W, -clip_w·std(W), clip_w·std(W)) (Memristor-Aware-Training)."""
    for w in weights:
        bound = clip_w * w.std()
        w.clamp_(-bound, bound)
