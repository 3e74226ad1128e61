"""Per-test-point reliability across simulated chips (TiO2 passive-crossbar paper's metric)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

from ._common import check_level, check_positive_int
from .results import MeanCI

__all__ = ["per_sample_reliability", "reliability_bootstrap", "reliable_fraction"]


def _per_sample_reliability_iv(counts, n_trials, threshold, level):
    n_trials = check_positive_int(n_trials, "n_trials")
    c = np.asarray(counts)
    if c.ndim != 1 or c.size == 0:
        raise ValueError(f"counts must be a non-empty 1-D array, got shape {c.shape}")
    if not np.issubdtype(c.dtype, np.integer):
        if not (np.all(np.isfinite(c)) and np.all(c == np.round(c))):
            raise ValueError("counts must be integers (correct classifications per test point)")
        c = c.astype(np.int64)
    if np.any(c < 0) or np.any(c > n_trials):
        raise ValueError(f"counts must lie in [0, n_trials={n_trials}]")
    if not 0.0 < float(threshold) <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    return c, n_trials, float(threshold), check_level(level)


def per_sample_reliability(
    counts: Sequence[int] | np.ndarray, n_trials: int, threshold: float = 0.95, *, level: float = 0.95
) -> MeanCI:
    """Fraction of test points classified correctly in at least ``threshold`` of ``n_trials`` chips.

    ``counts[i]`` = number of trials (fault maps / weight transfers) in which point i was correct; point i is
    reliable when counts[i] ≥ ⌈threshold · n_trials⌉. Estimate k/N over the N test points, with the Wilson
    score interval (``scipy.stats.binomtest(k, N).proportion_ci(method="wilson")``) over test points. That interval
    treats test points as independent, which they are not (they share the fault maps): it is only the sampling
    error of the test set for fixed maps. The report uses :func:`reliability_bootstrap` (maps as replicates).
    """
    c, n_trials, threshold, level = _per_sample_reliability_iv(counts, n_trials, threshold, level)
    k_min = math.ceil(threshold * n_trials - 1e-9 * n_trials)
    k, n = int(np.count_nonzero(c >= k_min)), int(c.size)
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
    return MeanCI(k / n, float(ci.low), float(ci.high), level, n, f"wilson (>= {k_min}/{n_trials} trials)")


def reliable_fraction(counts: np.ndarray, n_trials: int, threshold: float = 0.95) -> np.ndarray:
    """Share of test points with counts ≥ ⌈threshold · n_trials⌉, along the last axis of ``counts``."""
    k_min = math.ceil(threshold * n_trials - 1e-9 * n_trials)
    return (np.asarray(counts) >= k_min).mean(axis=-1)


def reliability_bootstrap(
    masks: np.ndarray, threshold: float = 0.95, *, level: float = 0.95, n_resamples: int = 1000,
    rng: np.random.Generator | int | None = None,
) -> MeanCI:
    """Per-sample reliability of one trained network with a percentile CI from resampling *fault maps*.

    ``masks`` is (T trials × N test points) of per-trial correctness. All points share the same fault maps, so
    the points are not independent and a binomial interval over points is far too narrow; the fault map is the
    replicate here. Replicate b draws T maps with replacement (multinomial weights w_b), counts*_b = w_b · masks,
    reliability*_b = share of points with counts*_b ≥ ⌈threshold · T⌉; the interval is est ± z·sd(reliability*),
    clipped to [0, 1]. (Percentiles of reliability* would be biased: a resample repeats maps, which pushes
    points near the threshold over it, so the bootstrap distribution sits off the estimate; its spread is still a
    fair standard error.) The interval is conditional on the test set and on this trained network (level a);
    across training runs use the runs' spread.
    """
    m = np.asarray(masks, dtype=bool)
    if m.ndim != 2 or m.shape[0] < 1 or m.shape[1] < 1:
        raise ValueError(f"masks must be a non-empty 2-D (trials x points) array, got shape {m.shape}")
    level = check_level(level)
    n_resamples = check_positive_int(n_resamples, "n_resamples")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng or 0)
    t = m.shape[0]
    est = float(reliable_fraction(m.sum(axis=0), t, threshold))
    mf = m.astype(np.float32)
    boot = np.empty(n_resamples)
    step = max(1, 4_000_000 // max(t, m.shape[1]))
    for s in range(0, n_resamples, step):
        w = gen.multinomial(t, np.full(t, 1.0 / t), size=min(step, n_resamples - s)).astype(np.float32)
        boot[s: s + w.shape[0]] = reliable_fraction(np.rint(w @ mf), t, threshold)
    h = float(stats.norm.ppf(0.5 + level / 2) * boot.std(ddof=1))
    return MeanCI(est, max(0.0, est - h), min(1.0, est + h), level, t, f"bootstrap-se interval over {t} fault maps")
