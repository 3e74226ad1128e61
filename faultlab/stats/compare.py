"""Tests between two methods (paired on fault maps) or two architectures (independent samples), level (a).

``holm`` is re-exported from :mod:`faultlab.stats.family` (the one family engine)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ._common import ALTERNATIVES, as_1d, check_choice, check_columns, check_level
from .family import holm, verdict_of
from .results import DegenerateTrialsWarning, EquivalenceTest, GroupComparison, PairedComparison
from .vocabulary import Verdict

__all__ = [
    "compare_paired", "paired_frame", "compare_groups", "tost", "holm", "verdict",
    "cohens_d", "cliffs_delta", "rank_biserial", "hodges_lehmann",
]

PAIR_KEYS = ("fault", "layer", "rate", "trial")
ArrayLike = Sequence[float] | np.ndarray


def _warn(msg: str) -> None:
    warnings.warn(msg, DegenerateTrialsWarning, stacklevel=3)


def _limit_pvalue(estimate: float, alternative: str) -> float:
    """p-value of a test statistic ±inf (zero variance, nonzero estimate)."""
    if alternative == "two-sided" or (alternative == "greater") == (estimate > 0):
        return 0.0
    return 1.0


def rank_biserial(d: ArrayLike) -> float:
    """Matched-pairs rank-biserial r = (T⁺ - T⁻)/(T⁺ + T⁻), average ranks of |d|, zero differences dropped."""
    d = np.asarray(d, dtype=float)
    d = d[d != 0]
    if d.size == 0:
        return 0.0
    ranks = stats.rankdata(np.abs(d))
    t_plus, t_minus = ranks[d > 0].sum(), ranks[d < 0].sum()
    return float((t_plus - t_minus) / (t_plus + t_minus))


def cohens_d(a: ArrayLike, b: ArrayLike) -> float:
    """d = (x̄_a - x̄_b) / s_p, s_p² = ((n_a-1)s_a² + (n_b-1)s_b²) / (n_a+n_b-2); ±inf/0 when s_p = 0."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diff = a.mean() - b.mean()
    sp2 = ((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1)) / (a.size + b.size - 2)
    if sp2 == 0:
        return 0.0 if diff == 0 else math.copysign(math.inf, diff)
    return float(diff / math.sqrt(sp2))


def cliffs_delta(a: ArrayLike, b: ArrayLike) -> float:
    """δ = (#{a_i > b_j} - #{a_i < b_j}) / (n_a n_b), O((n_a+n_b) log n_b) via sorting."""
    a, b = np.asarray(a, dtype=float), np.sort(np.asarray(b, dtype=float))
    greater = np.searchsorted(b, a, side="left").sum()
    less = (b.size - np.searchsorted(b, a, side="right")).sum()
    return float((greater - less) / (a.size * b.size))


def _compare_paired_iv(a, b, alternative, method):
    a, b = as_1d(a, "a", min_size=2), as_1d(b, "b", min_size=2)
    if a.size != b.size:
        raise ValueError(f"a and b must be aligned pairs of equal length ({a.size} vs {b.size})")
    check_choice(alternative, ALTERNATIVES, "alternative")
    check_choice(method, ("wilcoxon", "t"), "method")
    return a, b


def compare_paired(
    a: ArrayLike, b: ArrayLike, *, alternative: str = "two-sided", method: str = "wilcoxon"
) -> PairedComparison:
    """Paired test of d_i = a_i - b_i over matched fault maps (same (rate, trial) -> same map).

    ``method="wilcoxon"``: ``scipy.stats.wilcoxon`` (zero differences dropped), effect size the matched-pairs
    rank-biserial r; ``method="t"``: ``scipy.stats.ttest_1samp``, effect size d_z = d̄/s_d. Both report the t
    interval d̄ ± t_{n-1} s_d/√n via ``.confidence_interval(level)``. All d_i = 0 (or zero variance)
    warns :class:`DegenerateTrialsWarning`; all-zero gives p = 1.
    """
    a, b = _compare_paired_iv(a, b, alternative, method)
    d = a - b
    n, mean, sd = d.size, float(d.mean()), float(d.std(ddof=1))
    nonzero = int(np.count_nonzero(d))
    if nonzero == 0:
        _warn(f"compare_paired: all {n} differences are zero")
        return PairedComparison(math.nan, 1.0, 0.0, n, method, 0.0, n - 1, alternative, 0, 0.0)
    if sd == 0:
        _warn(f"compare_paired: all {n} differences equal {mean:g} (zero variance)")
    if method == "wilcoxon":
        res = stats.wilcoxon(d, alternative=alternative)
        stat, p, effect = float(res.statistic), float(res.pvalue), rank_biserial(d)
    elif sd == 0:  # constant nonzero difference: t = ±inf
        stat = effect = math.copysign(math.inf, mean)
        p = _limit_pvalue(mean, alternative)
    else:
        res = stats.ttest_1samp(d, 0.0, alternative=alternative)
        stat, p, effect = float(res.statistic), float(res.pvalue), mean / sd
    return PairedComparison(stat, p, mean, n, method, float(effect), n - 1, alternative, nonzero, sd)


def paired_frame(
    df: pd.DataFrame,
    run_a: str,
    run_b: str,
    *,
    keys: Sequence[str] = PAIR_KEYS,
    value: str = "accuracy",
    run_col: str = "run_id",
) -> tuple[pd.DataFrame, int]:
    """Align runs ``run_a`` and ``run_b`` on identical fault maps ``keys`` (common random numbers).

    Returns (frame with ``keys``, ``a``, ``b``, ``diff`` = a - b sorted by keys, number of rows of either run
    without a partner, which are dropped). Duplicate keys within a run raise ValueError.
    """
    keys = list(keys)
    check_columns(df, (*keys, value, run_col))
    sides = []
    for name, run in (("run_a", run_a), ("run_b", run_b)):
        part = df.loc[df[run_col] == run, [*keys, value]]
        if part.empty:
            raise ValueError(f"{name}={run!r} has no rows in column {run_col!r}")
        if part.duplicated(keys).any():
            raise ValueError(f"{name}={run!r} has duplicate rows for keys {keys}")
        sides.append(part)
    m = sides[0].merge(sides[1], on=keys, how="outer", suffixes=("_a", "_b"), indicator=True)
    matched = m[m["_merge"] == "both"]
    out = matched[keys].copy()
    out["a"], out["b"] = matched[f"{value}_a"].to_numpy(), matched[f"{value}_b"].to_numpy()
    out["diff"] = out["a"] - out["b"]
    return out.sort_values(keys).reset_index(drop=True), int(len(m) - len(matched))


def _compare_groups_iv(a, b, method, alternative):
    a, b = as_1d(a, "a", min_size=2), as_1d(b, "b", min_size=2)
    check_choice(method, ("welch", "mannwhitney"), "method")
    check_choice(alternative, ALTERNATIVES, "alternative")
    return a, b


def compare_groups(
    a: ArrayLike, b: ArrayLike, *, method: str = "welch", alternative: str = "two-sided"
) -> GroupComparison:
    """Independent-samples test: Welch t (``scipy.stats.ttest_ind(equal_var=False)``) or Mann-Whitney U.

    Estimate x̄_a - x̄_b, with Cohen's d (pooled s) and Cliff's δ = 2U_a/(n_a n_b) - 1 for either test.
    Zero variance in both samples warns :class:`DegenerateTrialsWarning`.
    """
    a, b = _compare_groups_iv(a, b, method, alternative)
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = math.sqrt(va + vb)
    welch_df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1)) if se > 0 else math.inf
    diff = float(a.mean() - b.mean())
    if se == 0:
        _warn("compare_groups: both samples have zero variance")
    if method == "welch":
        if se == 0:
            res_stat = 0.0 if diff == 0 else math.copysign(math.inf, diff)
            res_p, df = (1.0 if diff == 0 else _limit_pvalue(diff, alternative)), math.inf
        else:
            res = stats.ttest_ind(a, b, equal_var=False, alternative=alternative)
            res_stat, res_p, df = float(res.statistic), float(res.pvalue), float(res.df)
    else:
        res = stats.mannwhitneyu(a, b, alternative=alternative)
        res_stat, res_p, df = float(res.statistic), float(res.pvalue), math.nan
    return GroupComparison(
        res_stat, res_p, diff, cohens_d(a, b), cliffs_delta(a, b), a.size, b.size, method,
        alternative, df, se, welch_df,
    )


def _tost_iv(a, b, margin, level, paired):
    a, b = as_1d(a, "a", min_size=2), as_1d(b, "b", min_size=2)
    if not (np.isfinite(margin) and margin > 0):
        raise ValueError(f"margin must be a finite number > 0, got {margin!r}")
    level = check_level(level)
    if level <= 0.5:
        raise ValueError(f"level must be in (0.5, 1), got {level!r}")
    if paired and a.size != b.size:
        raise ValueError(f"paired=True needs a and b of equal length ({a.size} vs {b.size})")
    return a, b, float(margin), level


def tost(
    a: ArrayLike, b: ArrayLike, margin: float = 0.01, level: float = 0.95, *, paired: bool = False
) -> EquivalenceTest:
    """Two one-sided tests for equivalence of means within ±``margin``, α = 1 - ``level``.

    H0₁: Δ ≤ -m vs Δ > -m and H0₂: Δ ≥ m vs Δ < m, with Δ = μ_a - μ_b, each a Welch t test
    (``paired=True``: one-sample t on a - b); p = max(p₁, p₂). Equivalent iff p < α, i.e. iff the
    (1 - 2α) interval Δ̂ ± t_{1-α} se lies inside (-m, m).
    """
    a, b, margin, level = _tost_iv(a, b, margin, level, paired)
    alpha = 1.0 - level
    if paired:
        d = a - b
        est, se = float(d.mean()), float(d.std(ddof=1) / math.sqrt(d.size))
    else:
        va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
        est, se = float(a.mean() - b.mean()), math.sqrt(va + vb)
    if se == 0:
        _warn("tost: zero variance; the test reduces to comparing the estimate with the margin")
        p_lo, p_hi, lo, hi = float(est <= -margin), float(est >= margin), est, est
    elif paired:
        p_lo = float(stats.ttest_1samp(d, -margin, alternative="greater").pvalue)
        p_hi = float(stats.ttest_1samp(d, margin, alternative="less").pvalue)
        lo, hi = stats.ttest_1samp(d, 0.0).confidence_interval(1.0 - 2.0 * alpha)
    else:
        p_lo = float(stats.ttest_ind(a + margin, b, equal_var=False, alternative="greater").pvalue)
        p_hi = float(stats.ttest_ind(a - margin, b, equal_var=False, alternative="less").pvalue)
        lo, hi = stats.ttest_ind(a, b, equal_var=False).confidence_interval(1.0 - 2.0 * alpha)
    p = max(p_lo, p_hi)
    method = "paired TOST" if paired else "Welch TOST"
    return EquivalenceTest(margin, p, float(lo), float(hi), bool(p < alpha), est, level, p_lo, p_hi, method)


def verdict(
    comparison: PairedComparison | GroupComparison,
    tost: EquivalenceTest | None = None,
    alpha: float = 0.05,
    *,
    pvalue: float | None = None,
) -> Verdict:
    """The one verdict rule (:func:`~faultlab.stats.family.verdict_of`) for a comparison of a vs b: equivalent
    when the TOST's p < alpha, else better/worse when ``pvalue`` (the multiplicity-adjusted p; default
    ``comparison.pvalue``) < alpha, in the direction of the statistic actually tested (the rank-biserial r for
    Wilcoxon, Cliff's δ for Mann-Whitney, the mean difference for t tests), else inconclusive."""
    check_level(alpha, "alpha")
    p = comparison.pvalue if pvalue is None else float(pvalue)
    return verdict_of(_tested_direction(comparison), p, tost.pvalue if tost is not None else math.nan, alpha)


def _tested_direction(comparison: PairedComparison | GroupComparison) -> float:
    if comparison.method == "wilcoxon":
        return comparison.effect_size
    if comparison.method == "mannwhitney":
        return comparison.cliffs_delta
    sign = comparison.estimate
    if sign == 0:
        sign = getattr(comparison, "effect_size", getattr(comparison, "cliffs_delta", 0.0))
    return sign


def hodges_lehmann(d: ArrayLike) -> float:
    """Hodges-Lehmann estimate of a paired shift: the median of the Walsh averages (d_i + d_j)/2, i ≤ j (the
    location estimate that goes with the Wilcoxon signed-rank test)."""
    d = np.asarray(d, dtype=float)
    i, j = np.triu_indices(d.size)
    return float(np.median((d[i] + d[j]) / 2.0))
