"""Result objects of :mod:`faultlab.stats`: frozen dataclasses, each with ``.to_row()``.

They follow ``scipy.stats`` result conventions: named attributes (``statistic``, ``pvalue``, ...), parameterised
extras as methods (``.confidence_interval(level)``), private fields for what those methods need, and a
dedicated warning class for degenerate data instead of a silent NaN.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Any

from scipy import stats

from .family import t_interval


class DegenerateTrialsWarning(RuntimeWarning):
    """Zero variance, a single trial, or all paired differences zero: the result is a limit case."""


def _row(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Public scalar fields of a result dataclass as a flat dict (private ``_x`` fields left out)."""
    return {f"{prefix}{f.name}": getattr(obj, f.name) for f in fields(obj) if not f.name.startswith("_")}


def _t_interval(
    estimate: float, se: float, df: float, level: float, alternative: str = "two-sided"
) -> ConfidenceInterval:
    """t interval ``estimate ± t_{df} · se``; one-sided for ``alternative`` in {"less", "greater"}."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    if alternative == "two-sided":
        return ConfidenceInterval(*t_interval(estimate, se, df, level))
    h = stats.t.ppf(level, df) * se
    if alternative == "greater":
        return ConfidenceInterval(estimate - h, math.inf)
    return ConfidenceInterval(-math.inf, estimate + h)


@dataclass(frozen=True)
class ConfidenceInterval:
    """Interval ``[low, high]``; unpacks as ``low, high``."""

    low: float
    high: float

    def __iter__(self) -> Iterator[float]:
        return iter((self.low, self.high))

    def to_row(self) -> dict[str, Any]:
        return _row(self)


@dataclass(frozen=True)
class MeanCI:
    """Point estimate with a confidence interval at ``level`` from ``n`` units by ``method``."""

    estimate: float
    low: float
    high: float
    level: float
    n: int
    method: str

    @property
    def halfwidth(self) -> float:
        """``(high - low) / 2``."""
        return (self.high - self.low) / 2.0

    def to_row(self, prefix: str = "") -> dict[str, Any]:
        return _row(self, prefix)


@dataclass(frozen=True)
class PairedComparison:
    """Paired test of ``a - b`` (matched fault maps).

    ``estimate`` is the mean difference d̄; ``effect_size`` is the matched-pairs rank-biserial
    r = (T⁺ - T⁻)/(T⁺ + T⁻) for Wilcoxon, or d_z = d̄ / s_d for the t test.
    """

    statistic: float
    pvalue: float
    estimate: float
    n_pairs: int
    method: str
    effect_size: float
    df: float
    alternative: str = "two-sided"
    n_nonzero: int = -1
    _sd: float = field(default=math.nan, repr=False)

    def confidence_interval(self, level: float = 0.95) -> ConfidenceInterval:
        """t interval of the mean difference: d̄ ± t_{n-1, 1-α/2} · s_d / √n (one-sided per ``alternative``)."""
        se = self._sd / math.sqrt(self.n_pairs)
        return _t_interval(self.estimate, se, self.n_pairs - 1, level, self.alternative)

    def to_row(self, level: float = 0.95) -> dict[str, Any]:
        ci = self.confidence_interval(level)
        return {**_row(self), "ci_low": ci.low, "ci_high": ci.high, "level": level}


@dataclass(frozen=True)
class GroupComparison:
    """Independent-samples test of ``a`` vs ``b`` (Welch t or Mann-Whitney U).

    ``estimate`` = x̄_a - x̄_b; ``cohens_d`` = estimate / s_pooled with
    s_pooled² = ((n_a-1)s_a² + (n_b-1)s_b²)/(n_a+n_b-2); ``cliffs_delta`` = P(a>b) - P(a<b).
    """

    statistic: float
    pvalue: float
    estimate: float
    cohens_d: float
    cliffs_delta: float
    n_a: int
    n_b: int
    method: str
    alternative: str = "two-sided"
    df: float = math.nan
    _se: float = field(default=math.nan, repr=False)
    _welch_df: float = field(default=math.nan, repr=False)

    def confidence_interval(self, level: float = 0.95) -> ConfidenceInterval:
        """Welch t interval of x̄_a - x̄_b, se = √(s_a²/n_a + s_b²/n_b), whatever the test."""
        return _t_interval(self.estimate, self._se, self._welch_df, level, self.alternative)

    def to_row(self, level: float = 0.95) -> dict[str, Any]:
        ci = self.confidence_interval(level)
        return {**_row(self), "ci_low": ci.low, "ci_high": ci.high, "level": level}


@dataclass(frozen=True)
class EquivalenceTest:
    """TOST: equivalent when the (1 - 2α) interval [low, high] of the difference lies inside ±margin.

    ``pvalue`` = max(p_lower, p_upper) for H0₁: Δ ≤ -margin and H0₂: Δ ≥ +margin; α = 1 - level.
    """

    margin: float
    pvalue: float
    low: float
    high: float
    equivalent: bool
    estimate: float
    level: float
    pvalue_lower: float
    pvalue_upper: float
    method: str

    def to_row(self, prefix: str = "") -> dict[str, Any]:
        return _row(self, prefix)
