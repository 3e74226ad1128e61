"""Crossbar-level fault models: each weight is a differential pair of RRAM devices (see mapping.py).

    w_faulty = StuckAt(sa0=0.01, sa1=0.01)(w, make_generator(seed))

W is mapped to (G+, G-) in µS per tensor (w_max = max|W| or a clip percentile), the fault acts on
every device independently, and W' = (G+ - G-) · w_max / (g_max - g_min). Weights whose devices are
all healthy come back exactly as the (clipped) input. eps ~ N(0, 1) per device.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import FaultModel, FaultSpecError, batched, check_choice, check_number, unbatched
from .mapping import (
    FULL_PERCENTILE,
    G_MAX_US,
    G_MIN_US,
    check_conductance_range,
    clip_weights,
    from_conductance,
    to_conductance,
    weight_scale,
)
from .streams import RandomSource, normal, uniform

HEALTHY, SA0, SA1 = 0, 1, 2  # device state codes returned by device_states()
LINE_LEVELS = ("sa0", "sa1")
RATE_TOLERANCE = 1e-12  # slack on sa0 + sa1 <= 1 for decimal rates such as 0.7 + 0.3


class _Crossbar(FaultModel):
    """Shared mapping; subclasses implement ``_perturb(g, generator)`` on g = [2 (G+, G-), B, ...]."""

    stackable = True

    g_min: float
    g_max: float
    clip_percentile: float

    def _perturb(self, g: Tensor, generator: RandomSource) -> tuple[Tensor, Tensor | None]:
        raise NotImplementedError

    def _map(self, wb: Tensor) -> tuple[Tensor, Tensor]:
        w_max = weight_scale(wb, self.clip_percentile, batched=True)
        g_pos, g_neg, w_max = to_conductance(wb, self.g_min, self.g_max, w_max=w_max)
        return torch.stack((g_pos, g_neg)), w_max

    def _apply(self, wb: Tensor, generator: RandomSource) -> tuple[Tensor, Tensor | None]:
        g, w_max = self._map(wb)
        g, faulty = self._perturb(g, generator)
        out = from_conductance(g[0], g[1], w_max, self.g_min, self.g_max)
        if faulty is not None:
            out = torch.where(faulty, out, clip_weights(wb, w_max))
        return out, faulty

    def conductances(
        self, w: Tensor, generator: torch.Generator, k: int | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Perturbed ``(G+, G-)`` in µS and w_max, from the same random stream as :meth:`draw`.

        Conductances are in the compute dtype (float32 for half-precision w); w_max is 0-d, or
        ``[k, 1, ...]`` with ``k``.
        """
        wb = batched(self.name, w, generator, k)
        g, w_max = self._map(wb)
        g, _ = self._perturb(g, generator)
        w_max = w_max.reshape(()) if k is None else w_max
        return unbatched(g[0], k), unbatched(g[1], k), w_max


class _Stuck(_Crossbar):
    """Devices forced to g_min (SA0) or g_max (SA1); subclasses draw the state codes."""

    def _states(self, g: Tensor, generator: RandomSource) -> Tensor:
        raise NotImplementedError

    def _perturb(self, g: Tensor, generator: RandomSource) -> tuple[Tensor, Tensor | None]:
        states = self._states(g, generator)
        g = torch.where(states == SA0, self.g_min, torch.where(states == SA1, self.g_max, g))
        return g, (states != HEALTHY).any(dim=0)

    def device_states(self, w: Tensor, generator: torch.Generator, k: int | None = None) -> tuple[Tensor, Tensor]:
        """int8 state codes (HEALTHY, SA0, SA1) of the G+ and G- devices, same stream as :meth:`draw`."""
        wb = batched(self.name, w, generator, k)
        states = self._states(self._map(wb)[0], generator)
        return unbatched(states[0], k), unbatched(states[1], k)


class StuckAt(_Stuck):
    """``stuck_at(sa0, sa1)``: each device independently stuck at g_min (SA0, prob sa0) or g_max (SA1, prob sa1).

    One uniform u per device: u < sa0 -> SA0, sa0 <= u < sa0 + sa1 -> SA1. SA1 hurts far more than a
    drop: a positive w whose G- device is SA1 becomes w - w_max (about -w_max for small w), while
    SA0 on its G+ device gives 0. faulty = either device of the pair stuck.
    """

    name = "stuck_at"

    def __init__(
        self,
        sa0: float,
        sa1: float,
        g_min: float = G_MIN_US,
        g_max: float = G_MAX_US,
        clip_percentile: float = FULL_PERCENTILE,
    ) -> None:
        sa0 = check_number(self.name, "sa0", sa0, 0.0, 1.0)
        sa1 = check_number(self.name, "sa1", sa1, 0.0, 1.0)
        if sa0 + sa1 > 1.0 + RATE_TOLERANCE:
            raise FaultSpecError(f"{self.name}: sa0 + sa1 = {sa0 + sa1!r} exceeds 1 (sa0={sa0!r}, sa1={sa1!r})")
        self._set(sa0=sa0, sa1=sa1, **check_conductance_range(self.name, g_min, g_max, clip_percentile))

    def _states(self, g: Tensor, generator: RandomSource) -> Tensor:
        u = uniform(g.shape, generator, 1, g)
        codes = torch.where(u < self.sa0, SA0, torch.where(u < self.sa0 + self.sa1, SA1, HEALTHY))
        return codes.to(torch.int8)


class LineFaults(_Stuck):
    """``line_faults(p, tile, level)``: whole word lines / bit lines of a crossbar tile stuck.

    W is viewed as a matrix [out, in·kh·kw] (a bias [out] as [out, 1]): row o is bit line o (one per
    output), column j is word line j (one per input). The matrix is split into tile × tile tiles; in
    each tile every bit line and every word line fails independently with probability p, and every
    device on a failed line is stuck at g_min (``level=sa0``) or g_max (``level=sa1``). G+ and G- sit
    in two arrays of the same geometry whose lines fail independently, so stuck devices always form
    whole tile rows/columns of each array.
    """

    name = "line_faults"

    def __init__(
        self,
        p: float,
        tile: int = 128,
        level: str = "sa0",
        g_min: float = G_MIN_US,
        g_max: float = G_MAX_US,
        clip_percentile: float = FULL_PERCENTILE,
    ) -> None:
        self._set(
            p=check_number(self.name, "p", p, 0.0, 1.0),
            tile=check_number(self.name, "tile", tile, 1, integer=True),
            level=check_choice(self.name, "level", level, LINE_LEVELS),
            **check_conductance_range(self.name, g_min, g_max, clip_percentile),
        )

    def _states(self, g: Tensor, generator: RandomSource) -> Tensor:
        lead, shape = g.shape[:2], g.shape[2:]
        n_out = shape[0] if len(shape) else 1
        n_in = math.prod(shape[1:])
        n_row_tiles, n_col_tiles = -(-n_out // self.tile), -(-n_in // self.tile)
        bit = uniform((*lead, n_out, n_col_tiles), generator, 1, g) < self.p  # bit line o in column tile c
        word = uniform((*lead, n_row_tiles, n_in), generator, 1, g) < self.p  # word line j in row tile r
        rows = torch.arange(n_out, device=g.device) // self.tile
        cols = torch.arange(n_in, device=g.device) // self.tile
        stuck = (bit[..., cols] | word[..., rows, :]).reshape(g.shape)
        code = SA0 if self.level == "sa0" else SA1
        return torch.where(stuck, code, HEALTHY).to(torch.int8)


def _relative_noise(g: Tensor, rel_sigma: Tensor | float, generator: RandomSource) -> Tensor:
    """G' = max(G (1 + s eps), 0)."""
    eps = normal(g.shape, generator, 1, g)
    return (g * (1.0 + rel_sigma * eps)).clamp_min(0.0)


class Programming(_Crossbar):
    """``programming(sigma, a, b)``: write imprecision G' = G (1 + s(G) eps), clamped at 0.

    s(G) = sigma when a == b == 0, else s(G) = (a · G + b) / 100 with G in µS (the TiO2 paper's
    level-dependent fit a = -6.24e-4 %/µS, b = 0.691 %); sigma is then not used.
    """

    name = "programming"

    def __init__(
        self,
        sigma: float = 0.05,
        a: float = 0.0,
        b: float = 0.0,
        g_min: float = G_MIN_US,
        g_max: float = G_MAX_US,
        clip_percentile: float = FULL_PERCENTILE,
    ) -> None:
        sigma = check_number(self.name, "sigma", sigma, 0.0)
        a, b = check_number(self.name, "a", a), check_number(self.name, "b", b)
        rng = check_conductance_range(self.name, g_min, g_max, clip_percentile)
        for g in (rng["g_min"], rng["g_max"]):
            if (a or b) and a * g + b < 0:
                raise FaultSpecError(
                    f"{self.name}: a={a!r}, b={b!r} give sigma(G) = a*G + b < 0 at G={g!r} µS; need >= 0"
                )
        self._set(sigma=sigma, a=a, b=b, **rng)

    def _perturb(self, g: Tensor, generator: RandomSource) -> tuple[Tensor, Tensor | None]:
        rel = (self.a * g + self.b) / 100.0 if (self.a or self.b) else self.sigma
        return _relative_noise(g, rel, generator), None


class ReadNoise(_Crossbar):
    """``read_noise(sigma)``: G' = G (1 + sigma eps), clamped at 0, redrawn on every forward pass."""

    name = "read_noise"
    per_forward = True

    def __init__(
        self,
        sigma: float,
        g_min: float = G_MIN_US,
        g_max: float = G_MAX_US,
        clip_percentile: float = FULL_PERCENTILE,
    ) -> None:
        sigma = check_number(self.name, "sigma", sigma, 0.0)
        self._set(sigma=sigma, **check_conductance_range(self.name, g_min, g_max, clip_percentile))

    def _perturb(self, g: Tensor, generator: RandomSource) -> tuple[Tensor, Tensor | None]:
        return _relative_noise(g, self.sigma, generator), None


class Drift(_Crossbar):
    """``drift(t, nu, nu_std, t0)``: conductance relaxation G(t) = G0 (t / t0)^(-nu), t and t0 in s.

    nu ~ N(nu, nu_std) per device; with nu_std = 0 the drift is deterministic (no draw) and, since
    G+ and G- decay alike, equals a scaling W' = W (t / t0)^(-nu).
    """

    name = "drift"

    def __init__(
        self,
        t: float = 1.0,
        nu: float = 0.05,
        nu_std: float = 0.0,
        t0: float = 1.0,
        g_min: float = G_MIN_US,
        g_max: float = G_MAX_US,
        clip_percentile: float = FULL_PERCENTILE,
    ) -> None:
        t0 = check_number(self.name, "t0", t0, 0.0, lo_open=True)
        t = check_number(self.name, "t", t, 0.0, lo_open=True)
        if t < t0:
            raise FaultSpecError(f"{self.name}: t={t!r} s is before t0={t0!r} s; t must be in [t0, inf)")
        self._set(
            t=t,
            nu=check_number(self.name, "nu", nu),
            nu_std=check_number(self.name, "nu_std", nu_std, 0.0),
            t0=t0,
            **check_conductance_range(self.name, g_min, g_max, clip_percentile),
        )

    def _perturb(self, g: Tensor, generator: RandomSource) -> tuple[Tensor, Tensor | None]:
        log_ratio = math.log(self.t / self.t0)
        if self.nu_std == 0.0:
            return g * math.exp(-self.nu * log_ratio), None
        eps = normal(g.shape, generator, 1, g)
        return g * torch.exp(-(self.nu + self.nu_std * eps) * log_ratio), None
