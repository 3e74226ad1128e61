"""Weight-level fault models: drop, multiplicative and additive Gaussian noise, uniform quantization.

    w_faulty = Drop(p=0.1)(w, make_generator(seed))

Equations use W for the weight tensor and eps ~ N(0, 1) drawn independently per weight.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import FaultModel, FaultSpecError, abs_max, check_choice, check_number
from .streams import RandomSource, normal, uniform

GAUSSIAN_KINDS = ("normal", "folded", "lognormal")


class Drop(FaultModel):
    """``drop(p)``: W' = W ⊙ M, M ~ Bernoulli(1 - p) per weight; faulty = ~M.

    No 1/(1 - p) rescaling of the survivors (training uses the same convention, so BatchNorm
    statistics are not biased between training and evaluation). Survivors are returned unchanged.
    """

    stackable = True

    name = "drop"
    units = {"p": "probability a weight is dropped, [0, 1]"}

    def __init__(self, p: float) -> None:
        self._set(p=check_number(self.name, "p", p, 0.0, 1.0))

    def _apply(self, wb: Tensor, generator: RandomSource) -> tuple[Tensor, Tensor | None]:
        u = uniform(wb.shape, generator, 0, wb)
        faulty = u < self.p
        return torch.where(faulty, torch.zeros_like(wb), wb), faulty


class GaussianMult(FaultModel):
    """``gaussian_mult(sigma, kind)``: multiplicative device variation (A-Connect).

    normal: W' = W (1 + sigma eps); folded: W' = W |1 + sigma eps| (sign never flips);
    lognormal: W' = W exp(sigma eps). sigma is dimensionless (relative to each weight).
    """

    stackable = True

    name = "gaussian_mult"
    units = {"sigma": "relative std (dimensionless, of each weight)", "kind": "normal | folded | lognormal"}

    def __init__(self, sigma: float, kind: str = "normal") -> None:
        self._set(
            sigma=check_number(self.name, "sigma", sigma, 0.0),
            kind=check_choice(self.name, "kind", kind, GAUSSIAN_KINDS),
        )

    def _apply(self, wb: Tensor, generator: RandomSource) -> tuple[Tensor, Tensor | None]:
        eps = normal(wb.shape, generator, 0, wb)
        if self.kind == "lognormal":
            return wb * torch.exp(self.sigma * eps), None
        factor = 1.0 + self.sigma * eps
        return wb * (factor.abs() if self.kind == "folded" else factor), None


class GaussianAdd(FaultModel):
    """``gaussian_add(sigma, slices=1, bits=8)``: W' = W + c · sigma · max|W| · eps (Memristor-Aware-Training,
    aihwkit ADD_NORMAL; AnalogAI with ``slices=4``).

    sigma is relative to max|W| of the tensor (not 2 · max|W|): sigma = 0.1 and one slice mean a noise std of
    10 % of the largest weight magnitude. ``slices`` > 1 stores each ``bits``-bit weight on that many cells of
    m = bits / slices bits, W = s · Σ_i 2^(m·i) · c_i with cell levels c_i in [0, 2^m - 1], each cell read
    with its own noise of std sigma times its full range (2^m - 1); the weight's noise then has std
    c · sigma · max|W| with the bit-slice scale

        c = sqrt(Σ_{i<n} 4^(m·i)) / Σ_{i<n} 2^(m·i),   n = slices

    (c = 1 for one slice; 0.7776 for 8-bit weights on four 2-bit cells, AnalogAI's ``generate_noise``).
    """

    stackable = True

    name = "gaussian_add"
    units = {"sigma": "std as a fraction of max|W| (per cell's full range with slices > 1)",
             "slices": "cells per weight (bit slices); the noise std is scaled by c = bit_slice_scale(bits, slices)",
             "bits": "bits per weight, split evenly over the slices"}

    def __init__(self, sigma: float, slices: int = 1, bits: int = 8) -> None:
        bits = check_number(self.name, "bits", bits, 1, 32, integer=True)
        slices = check_number(self.name, "slices", slices, 1, bits, integer=True)
        if bits % slices:
            raise FaultSpecError(f"{self.name}: bits={bits} is not a multiple of slices={slices}; "
                                 "each slice holds bits/slices bits")
        self._set(sigma=check_number(self.name, "sigma", sigma, 0.0), slices=slices, bits=bits)

    @property
    def slice_scale(self) -> float:
        """The bit-slice scale c of the noise std (1 for one slice)."""
        return bit_slice_scale(self.bits, self.slices)

    def _apply(self, wb: Tensor, generator: RandomSource) -> tuple[Tensor, Tensor | None]:
        eps = normal(wb.shape, generator, 0, wb)
        return wb + (self.sigma * self.slice_scale * abs_max(wb)) * eps, None


def bit_slice_scale(bits: int, slices: int) -> float:
    """c = sqrt(Σ_{i<n} 4^(m·i)) / Σ_{i<n} 2^(m·i), n = slices, m = bits / slices: the std of a ``bits``-bit
    weight's read noise relative to max|W| when each of its n cells is read with noise of std 1 × its full range
    (cells independent). 1 for one slice; 0.7776 for bits=8, slices=4."""
    m = bits // slices
    return math.sqrt(sum(4 ** (m * i) for i in range(slices))) / sum(2 ** (m * i) for i in range(slices))


class Quantize(FaultModel):
    """``quantize(levels)``: round to ``levels`` uniform levels over [-w_max, w_max], w_max = max|W|.

    step = 2 w_max / (levels - 1); W' = -w_max + step · round((W + w_max) / step), so |W' - W| <= step/2
    and at most ``levels`` distinct values. With an even ``levels`` zero is not a level. Deterministic:
    the generator is accepted but never drawn from.
    """

    stackable = True

    name = "quantize"
    units = {"levels": "number of uniform levels over [-max|W|, max|W|], >= 2"}

    def __init__(self, levels: int) -> None:
        self._set(levels=check_number(self.name, "levels", levels, 2, integer=True))

    def _apply(self, wb: Tensor, generator: RandomSource) -> tuple[Tensor, Tensor | None]:
        w_max = abs_max(wb).clamp_min(torch.finfo(wb.dtype).tiny)
        step = 2.0 * w_max / (self.levels - 1)
        index = torch.round((wb + w_max) / step).clamp(0, self.levels - 1)
        return index * step - w_max, None
