"""How many fault maps (trials) to run: Leveugle et al. (DATE 2009) and t-based precision targets."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
from scipy import stats

from ._common import as_1d, check_level
from .results import DegenerateTrialsWarning

__all__ = ["leveugle_sample_size", "trials_for_halfwidth", "ci_halfwidth"]


def leveugle_sample_size(N: float, margin: float = 0.01, confidence: float = 0.99, p: float = 0.5) -> int:
    """Statistical fault-injection sample size n = N / (1 + e²(N-1) / (t² p(1-p))), rounded up.

    t = Φ⁻¹(1 - (1-confidence)/2) exactly (2.5758… at 99 %, not the rounded 2.576); N = ``math.inf`` gives
    t² p(1-p) / e². With the defaults and N = inf: 2.5758² · 0.25 / 0.01² = 16587.2 -> 16588 (the rounded
    t = 2.576 would give 16590). The result never exceeds N.
    """
    numeric = isinstance(N, (int, float, np.number)) and not isinstance(N, bool)
    is_inf = numeric and math.isinf(N) and N > 0
    if not is_inf and not (numeric and math.isfinite(N) and float(N).is_integer() and N >= 1):
        raise ValueError(f"N must be an integer >= 1 or math.inf, got {N!r}")
    if not 0.0 < margin < 1.0:
        raise ValueError(f"margin must be in (0, 1), got {margin!r}")
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p!r}")
    t = stats.norm.ppf(0.5 + check_level(confidence, "confidence") / 2.0)
    base = t * t * p * (1.0 - p) / (margin * margin)
    if is_inf:
        return math.ceil(base)
    N = int(N)
    return min(N, math.ceil(N / (1.0 + (N - 1) / base)))


def trials_for_halfwidth(std: float, halfwidth: float, confidence: float = 0.95, *, n_min: int = 2) -> int:
    """Trials needed so that the t half-width t_{n-1, 1-α/2} · s / √n is at most ``halfwidth``.

    The smallest n ≥ ``n_min`` with n ≥ (t_{n-1} s / h)², i.e. the fixed point of n ← ⌈(t_{n-1} s/h)²⌉,
    searched upward from the normal-quantile value ⌈(z s/h)²⌉ (t > z so it is a lower bound). ``std`` is a
    pilot's observed standard deviation; std = 0 returns ``n_min``.
    """
    if not (np.isfinite(std) and std >= 0):
        raise ValueError(f"std must be finite and >= 0, got {std!r}")
    if not (np.isfinite(halfwidth) and halfwidth > 0):
        raise ValueError(f"halfwidth must be finite and > 0, got {halfwidth!r}")
    if int(n_min) < 2:
        raise ValueError(f"n_min must be >= 2, got {n_min!r}")
    q = 0.5 + check_level(confidence, "confidence") / 2.0
    ratio = std / halfwidth
    n = max(int(n_min), math.ceil((stats.norm.ppf(q) * ratio) ** 2))
    while True:
        cand = np.arange(n, n + 64)
        ok = stats.t.ppf(q, cand - 1) * ratio <= np.sqrt(cand)
        if ok.any():
            return int(cand[np.argmax(ok)])
        n += 64


def ci_halfwidth(x: Sequence[float] | np.ndarray, confidence: float = 0.95) -> float:
    """t half-width t_{n-1, 1-α/2} · s / √n of the mean of ``x`` (stopping rule of adaptive campaigns).

    Fewer than 2 values -> ``math.inf`` (not yet estimable); zero variance -> 0.0 with a
    :class:`DegenerateTrialsWarning`.
    """
    x = as_1d(x, "x")
    q = 0.5 + check_level(confidence, "confidence") / 2.0
    if x.size < 2:
        return math.inf
    s = float(x.std(ddof=1))
    if s == 0:
        warnings.warn("ci_halfwidth: all values equal (zero variance)", DegenerateTrialsWarning, stacklevel=2)
        return 0.0
    return float(stats.t.ppf(q, x.size - 1) * s / math.sqrt(x.size))
