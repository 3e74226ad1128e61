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
import pandas as pd

from ._common import RngLike, as_1d, as_generator, check_columns, check_level, percentile_interval
from ._common import check_positive_int as _check_int
from .describe import bootstrap_means
from .results import CurveCI, DegenerateTrialsWarning, MeanCI

__all__ = ["auc", "critical_rate", "curve_bootstrap", "hierarchical_bootstrap"]

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


def _hierarchical_iv(df, value, unit, fraction, n_resamples, level):
    check_columns(df, (unit, "rate", value, "clean_accuracy"))
    if df.empty:
        raise ValueError("df has no rows")
    for col in ("architecture", "method", "fault", "layer"):
        if col in df.columns and df[col].nunique(dropna=False) > 1:
            raise ValueError(f"df must hold one curve, but column {col!r} has several values; filter it first")
    _clean_fraction_iv(0.0, fraction)
    return check_level(level), _check_int(n_resamples, "n_resamples")


def hierarchical_bootstrap(
    df: pd.DataFrame,
    *,
    value: str = "accuracy",
    fraction: float = 0.9,
    n_resamples: int = 2000,
    level: float = 0.95,
    rng: RngLike = None,
    unit: str = "run_id",
    resample_runs: bool = True,
) -> CurveCI:
    """Two-stage bootstrap of one architecture's curve over training runs, then trials.

    Replicate b: draw K runs with replacement from the K runs (``unit``); for every drawn run and rate r
    draw its n_{k,r} trials with replacement; ā*_b(r) = mean over drawn runs of their trial means, and
    clean*_b the mean clean accuracy of the drawn runs. Percentile CIs of ā(r), AUC and critical rate
    then include seed-to-seed spread, so one lucky training run cannot decide a comparison.
    ``resample_runs=False`` keeps the runs fixed (trial-only bootstrap, for contrast).
    ``df`` must hold one curve (one architecture, method, fault, layer) with every run at every rate.
    """
    level, n_resamples = _hierarchical_iv(df, value, unit, fraction, n_resamples, level)
    gen = as_generator(rng)
    d = df[np.isfinite(df[value].to_numpy(dtype=float))]
    runs = np.array(sorted(d[unit].unique(), key=str), dtype=object)
    rates = np.array(sorted(d["rate"].astype(float).unique()))
    K = runs.size
    clean = d.groupby(unit)["clean_accuracy"].mean().reindex(runs).to_numpy(dtype=float)
    if not np.all(np.isfinite(clean)):
        raise ValueError("clean_accuracy must be finite for every run")
    groups = {k: g[value].to_numpy(dtype=float) for k, g in d.groupby([unit, "rate"], sort=False)}
    tables, counts = [], []
    for r in rates:
        xs = []
        for run in runs:
            x = groups.get((run, r))
            if x is None:
                raise ValueError(f"run {run!r} has no trials at rate {r}; every run needs the full grid")
            xs.append(x)
        n = np.array([x.size for x in xs])
        t = np.full((K, n.max()), np.nan)
        for k, x in enumerate(xs):
            t[k, : x.size] = x
        tables.append(t)
        counts.append(n)
    if resample_runs and K == 1:
        warnings.warn(
            "hierarchical_bootstrap: a single run, so seed-to-seed spread cannot be estimated",
            DegenerateTrialsWarning,
            stacklevel=2,
        )
    picks = gen.integers(0, K, size=(n_resamples, K)) if resample_runs else np.tile(np.arange(K), (n_resamples, 1))
    boot = np.empty((n_resamples, rates.size))
    for j, (t, n) in enumerate(zip(tables, counts)):
        step = max(1, _CHUNK // (K * t.shape[1]))
        for s in range(0, n_resamples, step):
            idx = picks[s : s + step]
            nk = n[idx]
            u = (gen.random((*idx.shape, t.shape[1])) * nk[..., None]).astype(np.intp)
            mask = np.arange(t.shape[1]) < nk[..., None]
            vals = np.where(mask, t[idx[..., None], u], 0.0)
            boot[s : s + step, j] = (vals.sum(axis=-1) / nk).mean(axis=1)
    run_means = np.array([[np.nanmean(t[k]) for t in tables] for k in range(K)])
    point = run_means.mean(axis=0)
    lo, hi = percentile_interval(boot, level)
    per_rate = pd.DataFrame(
        {
            "rate": rates,
            "estimate": point,
            "ci_low": lo,
            "ci_high": hi,
            "n_runs": K,
            "n_trials": [int(n.sum()) for n in counts],
        }
    )
    label = "hierarchical bootstrap (runs, trials)" if resample_runs else "percentile bootstrap (trials)"
    n_total = int(sum(n.sum() for n in counts))
    auc_ci, crit_ci = _summaries(
        rates, boot, point, clean[picks].mean(axis=1), clean.mean(), float(fraction), level, n_total, label
    )
    return CurveCI(per_rate, auc_ci, crit_ci, float(clean.mean()), K, label)
