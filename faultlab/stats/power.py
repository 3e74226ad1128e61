"""Power of the t tests on run-level values, and the training runs a test needs.

The power is an expectation over the variance estimate, V ~ χ²_df (s² = σ² V / df), computed by Gauss-Legendre
quadrature on the χ² quantile scale. This replaces scipy's ``nct.cdf(-crit, df, ncp)``, which returns NaN in the far
tail (and then gave the wrong number of runs in 70 of 80 cases at α/300):

    P(|T| > c) = E[Φ(ncp - c √(V/df)) + Φ(-ncp - c √(V/df))]              (difference, noncentral t)
    P(TOST at ±m rejects | Δ = 0) = E[max(0, 2 Φ(m/σ_e - c √(V/df)) - 1)]   (equivalence, c = t_{df, 1-α})
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy import stats

__all__ = ["t_power", "tost_power", "runs_needed", "unit_se"]

_NODES = 256


@lru_cache(maxsize=1)
def _legendre() -> tuple[np.ndarray, np.ndarray]:
    return np.polynomial.legendre.leggauss(_NODES)


@lru_cache(maxsize=4096)
def _chi_ratio(df: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes √(V/df) of V ~ χ²_df at Gauss-Legendre points on the quantile scale u ∈ (0, 1), and their weights."""
    x, w = _legendre()
    u = (x + 1.0) / 2.0
    if not np.isfinite(df):
        return np.ones(1), np.ones(1)
    return np.sqrt(stats.chi2.ppf(u, df) / df), w / 2.0


def t_power(ncp: float, df: float, crit: float) -> float:
    """P(|T| > crit) for T = (Z + ncp) / √(V/df): the power of a two-sided t test with noncentrality ``ncp``."""
    r, w = _chi_ratio(float(df))
    return float(np.sum(w * (stats.norm.cdf(ncp - crit * r) + stats.norm.cdf(-ncp - crit * r))))


def tost_power(margin_over_se: float, df: float, crit: float) -> float:
    """P(TOST rejects) when the true difference is 0: the estimate ~ N(0, σ_e²) lies inside ±(margin - crit ŝe)."""
    r, w = _chi_ratio(float(df))
    inner = 2.0 * stats.norm.cdf(margin_over_se - crit * r) - 1.0
    return float(np.sum(w * np.clip(inner, 0.0, None)))


def unit_se(sd: float, n: int, paired: bool) -> tuple[float, float]:
    """Standard error and df of a difference from ``n`` runs per arm (pairs when paired): (sd/√n, n-1) paired,
    (sd √(2/n), 2n-2) for two arms with the pooled sd ``sd``."""
    if paired:
        return sd / math.sqrt(n), n - 1.0
    return sd * math.sqrt(2.0 / n), 2.0 * n - 2.0


def _power_at(n: int, sd: float, delta: float, paired: bool, alpha: float, equivalence: bool) -> float:
    se, df = unit_se(sd, n, paired)
    if equivalence:
        return tost_power(abs(delta) / se, df, float(stats.t.ppf(1 - alpha, df)))
    return t_power(abs(delta) / se, df, float(stats.t.ppf(1 - alpha / 2.0, df)))


def runs_needed(sd: float, delta: float, *, paired: bool, alpha: float = 0.05, power: float = 0.8,
                equivalence: bool = False, n_max: int = 10_000) -> float:
    """Training runs per arm (pairs when ``paired``) for a t test on run-level values with unit sd ``sd``.

    Difference (two-sided, level α): the smallest n with P(|T| > t_{1-α/2}) ≥ power against a true difference
    ``delta`` (:func:`t_power`). Equivalence (``equivalence=True``, true Δ = 0, TOST at ±``delta``): the smallest n
    with :func:`tost_power` ≥ power. ``math.inf`` when sd is not finite or n would exceed ``n_max``; 2 when sd = 0.
    """
    if not (np.isfinite(sd) and np.isfinite(delta)) or delta == 0:
        return math.inf
    if sd == 0:
        return 2.0
    k = 1.0 if paired else math.sqrt(2.0)
    z = stats.norm.ppf(1 - alpha / 2.0) + stats.norm.ppf(power)  # normal approximation: a lower bound on n
    lo = max(2, min(n_max, math.floor((z * k * sd / abs(delta)) ** 2)))
    hi = lo
    while _power_at(hi, sd, delta, paired, alpha, equivalence) < power:  # rises with n: double, then bisect
        if hi >= n_max:
            return math.inf
        lo, hi = hi + 1, min(n_max, 2 * hi)
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if _power_at(mid, sd, delta, paired, alpha, equivalence) >= power else (mid + 1, hi)
    return float(lo)
