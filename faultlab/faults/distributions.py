"""Distributions as fault parameters: a stuck device's conductance (µS), a programming offset (%).

    dist = parse_distribution("stuck_at", "g_sa1", "normal(573, 99)")   # canonical "normal(mu=573.0,sigma=99.0)"
    values = dist.sample((2, B, 8, 3), generator, batch_dim=1, like=g)

Kinds: a number (a fixed value, no draw), ``normal(mu, sigma)``: mu + sigma · eps with eps ~ N(0, 1),
``uniform(lo, hi)``: lo + (hi - lo) · u with u ~ U[0, 1). Values are drawn through ``faults.streams``, so
models using them stay stackable. In a spec a distribution is written as a call, e.g.
``stuck_at(sa0=0.005, sa1=0.005, g_sa1=normal(573, 99))``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from .base import FaultSpecError, check_number, format_value
from .streams import RandomSource, normal, uniform

KINDS = {"normal": ("mu", "sigma"), "uniform": ("lo", "hi")}
_CALL = re.compile(r"\s*([A-Za-z_]\w*)\s*\((.*)\)\s*$")


@dataclass(frozen=True)
class Distribution:
    """``kind`` fixed (value a), normal (mu a, sigma b) or uniform (lo a, hi b)."""

    kind: str
    a: float
    b: float = 0.0

    @property
    def random(self) -> bool:
        return self.kind == "uniform" and self.b > self.a or self.kind == "normal" and self.b > 0

    @property
    def mean(self) -> float:
        return (self.a + self.b) / 2 if self.kind == "uniform" else self.a

    @property
    def std(self) -> float:
        return {"fixed": 0.0, "normal": self.b, "uniform": (self.b - self.a) / math.sqrt(12)}[self.kind]

    def text(self) -> str:
        """Canonical spec text: the number for a fixed value, else ``normal(mu=...,sigma=...)``."""
        if self.kind == "fixed":
            return format_value(self.a)
        names = KINDS[self.kind]
        return f"{self.kind}({names[0]}={format_value(self.a)},{names[1]}={format_value(self.b)})"

    def sample(self, shape: Sequence[int], source: RandomSource, batch_dim: int, like: Tensor) -> Tensor:
        """Values of ``shape`` (``like``'s dtype and device); a fixed value draws nothing."""
        if self.kind == "fixed" or not self.random:
            return torch.full(tuple(shape), self.a, dtype=like.dtype, device=like.device)
        if self.kind == "normal":
            return self.a + self.b * normal(shape, source, batch_dim, like)
        return self.a + (self.b - self.a) * uniform(shape, source, batch_dim, like)


def _arguments(fault: str, param: str, body: str, names: tuple[str, ...]) -> dict[str, float]:
    out: dict[str, float] = {}
    parts = [p.strip() for p in body.split(",") if p.strip()]
    for i, part in enumerate(parts):
        key, _, value = part.rpartition("=")
        key = key.strip() or (names[i] if i < len(names) else "")
        if key not in names or key in out:
            raise FaultSpecError(f"{fault}: {param}={body!r} needs exactly the arguments {', '.join(names)}")
        try:
            out[key] = float(value)
        except ValueError:
            raise FaultSpecError(f"{fault}: {param}: {key}={value.strip()!r} is not a number") from None
    if len(out) != len(names):
        raise FaultSpecError(f"{fault}: {param} needs {', '.join(names)}, got {body!r}")
    return out


def parse_distribution(fault: str, param: str, value: object, lo: float = -math.inf) -> Distribution:
    """A number (fixed) or the text ``normal(mu, sigma)`` / ``uniform(lo, hi)`` (keywords allowed).

    ``lo`` bounds the fixed value, the normal mean and the uniform's lower end (e.g. 0 for conductances).
    """
    if isinstance(value, Distribution):
        value = value.text()
    if not isinstance(value, str):
        return Distribution("fixed", check_number(fault, param, value, lo))
    call = _CALL.match(value)
    if call is None or call.group(1) not in KINDS:
        try:
            return Distribution("fixed", check_number(fault, param, float(value), lo))
        except ValueError:
            raise FaultSpecError(
                f"{fault}: {param}={value!r} is not a number, normal(mu, sigma) or uniform(lo, hi)"
            ) from None
    kind = call.group(1)
    names = KINDS[kind]
    args = _arguments(fault, param, call.group(2), names)
    a = check_number(fault, f"{param}.{names[0]}", args[names[0]], lo)
    if kind == "normal":
        return Distribution(kind, a, check_number(fault, f"{param}.sigma", args["sigma"], 0.0))
    b = check_number(fault, f"{param}.hi", args["hi"], a)
    return Distribution(kind, a, b)


def distribution_value(dist: Distribution) -> float | str:
    """The parameter value a model stores: a float for a fixed value, else the canonical text."""
    return dist.a if dist.kind == "fixed" else dist.text()
