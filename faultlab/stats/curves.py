"""Degradation curves accuracy(rate): AUC, critical rate, and their bootstrap CIs.

Critical-rate convention: the curve is read as starting at (0, clean) when the grid has no rate 0; the
critical rate is the first rate where accuracy < fraction·clean, linearly interpolated between the last
grid point at or above the threshold and the first below it. When the curve never drops below the
threshold on the grid the critical rate is ``math.inf`` ("beyond the tested grid"), so bootstrap CIs
may have an infinite upper bound; it is never NaN for finite input.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence

import numpy as np

from ._common import RngLike, as_1d, as_generator, check_level, percentile_interval
from ._common import check_positive_int as _check_int
from .describe import bootstrap_means
from .results import DegenerateTrialsWarning, MeanCI

__all__ = ["auc", "critical_rate", "curve_bootstrap"]

_CHUNK = 4_000_000


def _curve_iv(rates, acc, min_rates: int) -> tuple[np.ndarray, np.ndarray]:
    rates = as_1d(rates, "rates", min_size=min_rates)
    acc = as_1d(acc, "acc", min_size=min_rates)
    if rates.size != acc.size:
        raise ValueError(f"rates and acc differ in length ({rates.size} vs {acc.size})")
    if np.any(rates < 0):
        raise ValueError("rates must be >= 0")
    order = np.argsort(rates, kind="stable")
    rates, acc = rates[order], acc[order]
    if np.any(np.diff(rates) == 0):
        raise ValueError("rates must be distinct (average trials per rate first)")
    return rates, acc


def _auc_rows(rates: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Row-wise ∫ acc dr / (r_max - r_min) over a sorted grid (trapezoid rule)."""
    return np.trapezoid(a, rates, axis=-1) / (rates[-1] - rates[0])


def _critical_rows(rates: np.ndarray, a: np.ndarray, clean, fraction: float) -> np.ndarray:
    """Row-wise critical rate of curves ``a`` (shape (R, k)) on the sorted grid ``rates``."""
    a = np.atleast_2d(a)
    clean = np.broadcast_to(np.asarray(clean, dtype=float), (a.shape[0],))
    if rates[0] > 0:  # the fault-free model is the curve's value at rate 0
        rates = np.concatenate([[0.0], rates])
        a = np.concatenate([clean[:, None], a], axis=1)
    thr = fraction * clean
    below = a < thr[:, None]
    crossed = below.any(axis=1)
    i = np.argmax(below, axis=1)
    out = np.full(a.shape[0], math.inf)
    at_start = crossed & (i == 0)
    out[at_start] = rates[0]
    m = crossed & (i > 0)
    if np.any(m):
        rows, j = np.nonzero(m)[0], i[m]
        a0, a1 = a[rows, j - 1], a[rows, j]
        r0, r1 = rates[j - 1], rates[j]
        out[m] = r0 + (a0 - thr[m]) / (a0 - a1) * (r1 - r0)
    return out


def auc(rates: Sequence[float] | np.ndarray, acc: Sequence[float] | np.ndarray) -> float:
    """Normalised area under the curve: AUC = ∫_{r_min}^{r_max} acc(r) dr / (r_max - r_min).

    Trapezoid rule over the grid, so AUC is the mean accuracy over the tested range (acc = 1 - r on
    [0, 1] gives 0.5). Needs at least two distinct rates.
    """
    rates, acc = _curve_iv(rates, acc, 2)
    return float(_auc_rows(rates, acc))


def critical_rate(
    rates: Sequence[float] | np.ndarray, acc: Sequence[float] | np.ndarray, clean: float, fraction: float = 0.9
) -> float:
    """First rate where accuracy < ``fraction``·``clean``, linearly interpolated.

    With k the first grid index below the threshold θ = fraction·clean,
    r* = r_{k-1} + (a_{k-1} - θ)/(a_{k-1} - a_k) · (r_k - r_{k-1}); ``math.inf`` if never crossed
    (see the module docstring for the rate-0 convention). acc = 1 - r, clean 1, fraction 0.9 -> 0.1.
    """
    rates, acc = _curve_iv(rates, acc, 1)
    clean, fraction = _clean_fraction_iv(clean, fraction)
    return float(_critical_rows(rates, acc[None, :], clean, fraction)[0])


def _clean_fraction_iv(clean, fraction) -> tuple[float, float]:
    if not np.isfinite(clean):
        raise ValueError(f"clean must be finite, got {clean!r}")
    if not 0.0 < float(fraction) <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    return float(clean), float(fraction)


def _summaries(rates, boot, point, boot_clean, clean, fraction, level, n, label):
    """AUC and critical-rate MeanCIs from bootstrap curves ``boot`` (R, k) and the point curve."""
    if rates.size >= 2:
        lo, hi = percentile_interval(_auc_rows(rates, boot), level)
        auc_ci = MeanCI(float(_auc_rows(rates, point)), float(lo), float(hi), level, n, label)
    else:
        auc_ci = MeanCI(math.nan, math.nan, math.nan, level, n, f"{label} (AUC needs >= 2 rates)")
    crit = _critical_rows(rates, boot, boot_clean, fraction)
    lo, hi = percentile_interval(crit, level)
    est = float(_critical_rows(rates, point[None, :], clean, fraction)[0])
    return auc_ci, MeanCI(est, float(lo), float(hi), level, n, label)


def curve_bootstrap(
    trials_by_rate: Mapping[float, Sequence[float] | np.ndarray],
    clean: float,
    fraction: float = 0.9,
    n_resamples: int = 2000,
    rng: RngLike = None,
    *,
    level: float = 0.95,
) -> tuple[MeanCI, MeanCI]:
    """Percentile-bootstrap CIs of (AUC, critical rate) of one run, resampling trials within each rate.

    Each replicate b draws n_r trials with replacement at every rate r, recomputes the mean curve
    ā*_b(r), then AUC*_b and r*_b. ``clean`` is held fixed (one trained model).
    """
    if not isinstance(trials_by_rate, Mapping) or not trials_by_rate:
        raise ValueError("trials_by_rate must be a non-empty mapping rate -> trial values")
    clean, fraction = _clean_fraction_iv(clean, fraction)
    level, n_resamples = check_level(level), _check_int(n_resamples, "n_resamples")
    gen = as_generator(rng)
    rates = np.array(sorted(float(r) for r in trials_by_rate))
    if np.any(rates < 0) or np.any(np.diff(rates) == 0):
        raise ValueError("trials_by_rate keys must be distinct rates >= 0")
    xs = [as_1d(trials_by_rate[r], f"trials_by_rate[{r!r}]") for r in sorted(trials_by_rate)]
    if all(np.all(x == x[0]) for x in xs):
        warnings.warn("curve_bootstrap: every rate has zero variance", DegenerateTrialsWarning, stacklevel=2)
    boot = np.column_stack([bootstrap_means(x, n_resamples, gen) for x in xs])
    point = np.array([x.mean() for x in xs])
    n = int(sum(x.size for x in xs))
    return _summaries(rates, boot, point, clean, clean, fraction, level, n, "percentile bootstrap (trials)")
