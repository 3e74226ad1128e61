"""Per-test-point reliability across simulated chips (TiO2 passive-crossbar paper's metric)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

from ._common import check_level, check_positive_int
from .results import MeanCI

__all__ = ["per_sample_reliability"]


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
    score interval (``scipy.stats.binomtest(k, N).proportion_ci(method="wilson")``) over test points.
    """
    c, n_trials, threshold, level = _per_sample_reliability_iv(counts, n_trials, threshold, level)
    k_min = math.ceil(threshold * n_trials - 1e-9 * n_trials)
    k, n = int(np.count_nonzero(c >= k_min)), int(c.size)
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
    return MeanCI(k / n, float(ci.low), float(ci.high), level, n, f"wilson (>= {k_min}/{n_trials} trials)")
