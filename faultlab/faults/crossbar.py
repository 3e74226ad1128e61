"""Crossbar-level fault models: each weight is a differential pair of RRAM devices (see mapping.py).

    w_faulty = StuckAt(sa0=0.01, sa1=0.01)(w, make_generator(seed))

A transfer is simulated in conductance space: W is mapped once to (G+, G-) in µS (w_max per tensor,
column or tile; mapping.py), each conductance event acts on those same devices in order, and the pair is
read back once, W' = (G+ - G-) · w_max / (g_max - g_min). A model alone is a transfer of one event;
``chain(...)`` runs consecutive crossbar members as one transfer (chain.py). Events: ``programming``
(a write: offset and imprecision), ``stuck_at`` and ``line_faults`` (devices stuck at a state
conductance), ``drift`` and ``read_noise`` (after the write, on every device). A stuck device stays
stuck: a later write leaves it, a later stuck event does not re-draw its conductance. Weights whose
devices are all healthy in a transfer of stuck events only come back exactly as the (clipped) input.
eps ~ N(0, 1) per device.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import Tensor

from .base import FaultModel, FaultSpecError, batched, check_choice, check_number, unbatched
from .distributions import Distribution, distribution_value, parse_distribution
from .mapping import (
    FULL_PERCENTILE,
    G_MAX_US,
    G_MIN_US,
    check_conductance_range,
    check_scale,
    clip_weights,
    device_scale,
    from_conductance,
    to_conductance,
)
from .streams import RandomSource, normal, uniform

HEALTHY, SA0, SA1 = 0, 1, 2  # device state codes returned by device_states()
LINE_LEVELS = ("sa0", "sa1")
RATE_TOLERANCE = 1e-12  # slack on sa0 + sa1 <= 1 for decimal rates such as 0.7 + 0.3
AT_G_MIN, AT_G_MAX = "g_min", "g_max"  # stuck conductance defaults: exactly the window's ends


class _Crossbar(FaultModel):
    """Shared mapping; subclasses implement ``_event(g, stuck, generator)`` on g = [2 (G+, G-), B, ...]."""

    stackable = True
    writes: ClassVar[bool] = False  # a write event (programming) leaves stuck devices as they are

    g_min: float
    g_max: float
    clip_percentile: float
    scale: str
    units: ClassVar[dict[str, str]] = {
        "g_min": "µS, conductance of the high-resistance state", "g_max": "µS, of the low-resistance state",
        "clip_percentile": "%, percentile of |W| mapped to g_max", "scale": "tensor | column | tile(R, C)"}

    @property
    def mapping(self) -> tuple[float, float, float, str]:
        """(g_min, g_max, clip_percentile, scale): what members of one transfer must share."""
        return (self.g_min, self.g_max, self.clip_percentile, self.scale)

    def _event(self, g: Tensor, stuck: Tensor | None, generator: RandomSource) -> tuple[Tensor, Tensor | None]:
        """Perturb the devices ``g``; ``stuck`` (bool like g, or None) marks devices stuck so far. Returns
        the new conductances and stuck mask."""
        raise NotImplementedError

    def _map(self, wb: Tensor) -> tuple[Tensor, Tensor]:
        w_max = device_scale(wb, self.scale, self.clip_percentile)
        g_pos, g_neg, w_max = to_conductance(wb, self.g_min, self.g_max, w_max=w_max)
        return torch.stack((g_pos, g_neg)), w_max

    def _apply(self, wb: Tensor, generator: RandomSource) -> tuple[Tensor, Tensor | None]:
        return transfer((self,), wb, generator)

    def conductances(
        self, w: Tensor, generator: torch.Generator, k: int | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Perturbed ``(G+, G-)`` in µS and w_max, from the same random stream as :meth:`draw`.

        Conductances are in the compute dtype (float32 for half-precision w); w_max is 0-d with
        ``scale=tensor``, else like w (``[k, ...]`` with ``k``).
        """
        wb = batched(self.name, w, generator, k)
        g, w_max = self._map(wb)
        g, _ = self._event(g, None, generator)
        w_max = w_max.reshape(()) if k is None and w_max.numel() == 1 else unbatched(w_max, k)
        return unbatched(g[0], k), unbatched(g[1], k), w_max


def transfer(events: Sequence[_Crossbar], wb: Tensor, generator: RandomSource) -> tuple[Tensor, Tensor | None]:
    """One crossbar transfer: map ``wb`` with the first event's mapping, apply every event to the same
    devices in order, read back once. faulty = a device of the pair stuck."""
    first = events[0]
    g, w_max = first._map(wb)
    stuck: Tensor | None = None
    for event in events:
        g, stuck = event._event(g, stuck, generator)
    out = from_conductance(g[0], g[1], w_max, first.g_min, first.g_max)
    faulty = None if stuck is None else stuck.any(dim=0)
    if faulty is not None and all(isinstance(e, _Stuck) for e in events):
        out = torch.where(faulty, out, clip_weights(wb, w_max))
    return out, faulty


def check_transfer(events: Sequence[_Crossbar]) -> None:
    """Members of one transfer share the mapping (window, clip percentile, scale); FaultSpecError otherwise."""
    for event in events[1:]:
        if event.mapping != events[0].mapping:
            names = ("g_min", "g_max", "clip_percentile", "scale")
            diff = [n for n, a, b in zip(names, events[0].mapping, event.mapping) if a != b]
            raise FaultSpecError(
                f"chain: {event.spec()} maps with {diff[0]}={getattr(event, diff[0])!r} but {events[0].spec()} "
                f"with {getattr(events[0], diff[0])!r}; crossbar members of one transfer share the mapping")


class _Stuck(_Crossbar):
    """Devices forced to a stuck conductance (SA0: g_min by default, SA1: g_max); subclasses draw the
    state codes and may draw the stuck conductances."""

    def _states(self, g: Tensor, generator: RandomSource) -> Tensor:
        raise NotImplementedError

    def _stuck_levels(self, states: Tensor, g: Tensor, generator: RandomSource) -> Tensor | float:
        """Conductance of each device where it is stuck (a broadcastable value or a tensor like g)."""
        return torch.where(states == SA0, g.new_tensor(self.g_min), g.new_tensor(self.g_max))

    def _event(self, g: Tensor, stuck: Tensor | None, generator: RandomSource) -> tuple[Tensor, Tensor | None]:
        states = self._states(g, generator)
        new = states != HEALTHY
        levels = self._stuck_levels(states, g, generator)
        if stuck is not None:
            new = new & ~stuck
        g = torch.where(new, levels, g)
        return g, new if stuck is None else stuck | new

    def device_states(self, w: Tensor, generator: torch.Generator, k: int | None = None) -> tuple[Tensor, Tensor]:
        """int8 state codes (HEALTHY, SA0, SA1) of the G+ and G- devices, same stream as :meth:`draw`."""
        wb = batched(self.name, w, generator, k)
        states = self._states(self._map(wb)[0], generator)
        return unbatched(states[0], k), unbatched(states[1], k)


class StuckAt(_Stuck):
    """``stuck_at(sa0, sa1, g_sa0, g_sa1)``: each device independently stuck in the high-resistance state
    (SA0, prob sa0) or the low-resistance state (SA1, prob sa1).

    One uniform u per device: u < sa0 -> SA0, sa0 <= u < sa0 + sa1 -> SA1. A stuck device's conductance
    (µS) is ``g_sa0`` / ``g_sa1``: exactly g_min / g_max by default (no draw, so older specs keep their
    draws), a number, ``normal(mu, sigma)`` (clamped at 0) or ``uniform(lo, hi)``, drawn per device after
    the states (SA0 values first). The TiO2 devices of Drolet et al. 2023 stick at N(573, 99) µS (LRS)
    and U[10, 100] µS (HRS), outside the 100-500 µS window. SA1 hurts far more than a drop: a positive w
    whose G- device is SA1 becomes w - w_max (about -w_max for small w), while SA0 on its G+ device
    gives 0. faulty = either device of the pair stuck.
    """

    name = "stuck_at"
    units = {"sa0": "probability a device is stuck at g_min", "sa1": "probability a device is stuck at g_max",
             "g_sa0": "µS, a number or normal(mu, sigma) / uniform(lo, hi)", "g_sa1": "µS, as g_sa0",
             **_Crossbar.units}

    def __init__(
        self,
        sa0: float,
        sa1: float,
        g_min: float = G_MIN_US,
        g_max: float = G_MAX_US,
        clip_percentile: float = FULL_PERCENTILE,
        g_sa0: float | str = AT_G_MIN,
        g_sa1: float | str = AT_G_MAX,
        scale: str = "tensor",
    ) -> None:
        sa0 = check_number(self.name, "sa0", sa0, 0.0, 1.0)
        sa1 = check_number(self.name, "sa1", sa1, 0.0, 1.0)
        if sa0 + sa1 > 1.0 + RATE_TOLERANCE:
            raise FaultSpecError(f"{self.name}: sa0 + sa1 = {sa0 + sa1!r} exceeds 1 (sa0={sa0!r}, sa1={sa1!r})")
        rng = check_conductance_range(self.name, g_min, g_max, clip_percentile)
        levels = {}
        for param, value in (("g_sa0", g_sa0), ("g_sa1", g_sa1)):
            if value in (AT_G_MIN, AT_G_MAX):
                levels[param] = value
            else:
                levels[param] = distribution_value(parse_distribution(self.name, param, value, 0.0))
        self._set(sa0=sa0, sa1=sa1, **rng, **levels, scale=check_scale(self.name, scale, rng["clip_percentile"]))
        ends = {AT_G_MIN: rng["g_min"], AT_G_MAX: rng["g_max"]}
        object.__setattr__(self, "_levels", {
            state: Distribution("fixed", ends[v]) if v in ends else parse_distribution(self.name, p, v, 0.0)
            for state, p, v in ((SA0, "g_sa0", levels["g_sa0"]), (SA1, "g_sa1", levels["g_sa1"]))
        })

    def level(self, state: int) -> Distribution:
        """The stuck conductance (µS) of SA0 or SA1 devices as a :class:`Distribution`."""
        return self._levels[state]

    def _states(self, g: Tensor, generator: RandomSource) -> Tensor:
        u = uniform(g.shape, generator, 1, g)
        codes = torch.where(u < self.sa0, SA0, torch.where(u < self.sa0 + self.sa1, SA1, HEALTHY))
        return codes.to(torch.int8)

    def _stuck_levels(self, states: Tensor, g: Tensor, generator: RandomSource) -> Tensor | float:
        sa0, sa1 = self.level(SA0), self.level(SA1)
        if not (sa0.random or sa1.random):
            return torch.where(states == SA0, g.new_tensor(sa0.a), g.new_tensor(sa1.a))
        g_sa0 = sa0.sample(g.shape, generator, 1, g).clamp_min(0.0)
        g_sa1 = sa1.sample(g.shape, generator, 1, g).clamp_min(0.0)
        return torch.where(states == SA0, g_sa0, g_sa1)


class LineFaults(_Stuck):
    """``line_faults(p, tile, level)``: whole word lines / bit lines of a crossbar tile stuck.

    W is viewed as a matrix [out, in·kh·kw] (a bias [out] as [out, 1]; a mapped bias is one more
    column): row o is bit line o (one per output), column j is word line j (one per input). The matrix
    is split into tile × tile tiles; in each tile every bit line and every word line fails independently
    with probability p, and every device on a failed line is stuck at g_min (``level=sa0``) or g_max
    (``level=sa1``). G+ and G- sit in two arrays of the same geometry whose lines fail independently,
    so stuck devices always form whole tile rows/columns of each array.
    """

    name = "line_faults"
    units = {"p": "probability a word or bit line of a tile fails", "tile": "devices per tile side",
             "level": "sa0 | sa1 (where a failed line is stuck)", **_Crossbar.units}

    def __init__(
        self,
        p: float,
        tile: int = 128,
        level: str = "sa0",
        g_min: float = G_MIN_US,
        g_max: float = G_MAX_US,
        clip_percentile: float = FULL_PERCENTILE,
        scale: str = "tensor",
    ) -> None:
        rng = check_conductance_range(self.name, g_min, g_max, clip_percentile)
        self._set(
            p=check_number(self.name, "p", p, 0.0, 1.0),
            tile=check_number(self.name, "tile", tile, 1, integer=True),
            level=check_choice(self.name, "level", level, LINE_LEVELS),
            **rng,
            scale=check_scale(self.name, scale, rng["clip_percentile"]),
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


def _unless_stuck(g_new: Tensor, g: Tensor, stuck: Tensor | None) -> Tensor:
    return g_new if stuck is None else torch.where(stuck, g, g_new)


class Programming(_Crossbar):
    """``programming(sigma, a, b, offset)``: a write with offset and imprecision,
    G' = max(G (1 + o/100 + s(G) eps), 0), s and o from the target G.

    s(G) = sigma when a == b == 0, else s(G) = (a · G + b) / 100 with G in µS (the TiO2 paper's
    level-dependent fit a = -6.24e-4 %/µS, b = 0.691 %); sigma is then not used. ``offset`` o in %: 0 by
    default (no draw), a number, or a distribution per device such as ``normal(-0.589, 0.339)`` (TiO2,
    Drolet et al. 2023), drawn after eps. Devices already stuck are not written.
    """

    name = "programming"
    units = {"sigma": "relative std of the programmed conductance", "a": "%/µS (sigma_G(%) = a G + b)", "b": "%",
             "offset": "%, a number or a distribution per device", **_Crossbar.units}
    writes = True

    def __init__(
        self,
        sigma: float = 0.05,
        a: float = 0.0,
        b: float = 0.0,
        g_min: float = G_MIN_US,
        g_max: float = G_MAX_US,
        clip_percentile: float = FULL_PERCENTILE,
        offset: float | str = 0.0,
        scale: str = "tensor",
    ) -> None:
        sigma = check_number(self.name, "sigma", sigma, 0.0)
        a, b = check_number(self.name, "a", a), check_number(self.name, "b", b)
        rng = check_conductance_range(self.name, g_min, g_max, clip_percentile)
        for g in (rng["g_min"], rng["g_max"]):
            if (a or b) and a * g + b < 0:
                raise FaultSpecError(
                    f"{self.name}: a={a!r}, b={b!r} give sigma(G) = a*G + b < 0 at G={g!r} µS; need >= 0"
                )
        dist = parse_distribution(self.name, "offset", offset)
        scale = check_scale(self.name, scale, rng["clip_percentile"])
        self._set(sigma=sigma, a=a, b=b, **rng, offset=distribution_value(dist), scale=scale)
        object.__setattr__(self, "offset_distribution", dist)  # the offset o (%) as a Distribution

    def _event(self, g: Tensor, stuck: Tensor | None, generator: RandomSource) -> tuple[Tensor, Tensor | None]:
        rel = (self.a * g + self.b) / 100.0 if (self.a or self.b) else self.sigma
        offset = self.offset_distribution
        if offset.kind == "fixed" and offset.a == 0.0:
            return _unless_stuck(_relative_noise(g, rel, generator), g, stuck), stuck
        eps = normal(g.shape, generator, 1, g)
        o = offset.sample(g.shape, generator, 1, g)
        return _unless_stuck((g * (1.0 + o / 100.0 + rel * eps)).clamp_min(0.0), g, stuck), stuck


class ReadNoise(_Crossbar):
    """``read_noise(sigma)``: G' = G (1 + sigma eps), clamped at 0, redrawn on every forward pass."""

    name = "read_noise"
    units = {"sigma": "relative std of each read", **_Crossbar.units}
    per_forward = True

    def __init__(
        self,
        sigma: float,
        g_min: float = G_MIN_US,
        g_max: float = G_MAX_US,
        clip_percentile: float = FULL_PERCENTILE,
        scale: str = "tensor",
    ) -> None:
        sigma = check_number(self.name, "sigma", sigma, 0.0)
        rng = check_conductance_range(self.name, g_min, g_max, clip_percentile)
        self._set(sigma=sigma, **rng, scale=check_scale(self.name, scale, rng["clip_percentile"]))

    def _event(self, g: Tensor, stuck: Tensor | None, generator: RandomSource) -> tuple[Tensor, Tensor | None]:
        return _relative_noise(g, self.sigma, generator), stuck


class Drift(_Crossbar):
    """``drift(t, nu, nu_std, t0)``: conductance relaxation G(t) = G0 (t / t0)^(-nu), t and t0 in s.

    nu ~ N(nu, nu_std) per device; with nu_std = 0 the drift is deterministic (no draw) and, since
    G+ and G- decay alike, equals a scaling W' = W (t / t0)^(-nu). Stuck devices drift too.
    """

    name = "drift"
    units = {"t": "s since programming", "nu": "drift exponent (dimensionless)", "nu_std": "std of nu per device",
             "t0": "s, reference time", **_Crossbar.units}

    def __init__(
        self,
        t: float = 1.0,
        nu: float = 0.05,
        nu_std: float = 0.0,
        t0: float = 1.0,
        g_min: float = G_MIN_US,
        g_max: float = G_MAX_US,
        clip_percentile: float = FULL_PERCENTILE,
        scale: str = "tensor",
    ) -> None:
        t0 = check_number(self.name, "t0", t0, 0.0, lo_open=True)
        t = check_number(self.name, "t", t, 0.0, lo_open=True)
        if t < t0:
            raise FaultSpecError(f"{self.name}: t={t!r} s is before t0={t0!r} s; t must be in [t0, inf)")
        rng = check_conductance_range(self.name, g_min, g_max, clip_percentile)
        self._set(
            t=t,
            nu=check_number(self.name, "nu", nu),
            nu_std=check_number(self.name, "nu_std", nu_std, 0.0),
            t0=t0,
            **rng,
            scale=check_scale(self.name, scale, rng["clip_percentile"]),
        )

    def _event(self, g: Tensor, stuck: Tensor | None, generator: RandomSource) -> tuple[Tensor, Tensor | None]:
        log_ratio = math.log(self.t / self.t0)
        if self.nu_std == 0.0:
            return g * math.exp(-self.nu * log_ratio), stuck
        eps = normal(g.shape, generator, 1, g)
        return g * torch.exp(-(self.nu + self.nu_std * eps) * log_ratio), stuck
