"""Level (b): claims about a *recipe* (a training method, an architecture), whose replicate is a training run.

A trial (fault map) is a replicate only for claims about one trained network (level a). Here every training run
is reduced to one number per endpoint (its mean accuracy over its trials at a rate, or its AUC over a rate span)
and the runs are the data. Every comparison is a linear combination of arm means, Δ̂ = Σ c_g x̄_g:

- methods on one architecture are paired by training seed when they share at least 2 seeds (same initialisation,
  data order and fault maps): the groups are the per-seed differences d_s = a_s - b_s (one-sample t);
- otherwise (and always for architectures) the groups are the arms' run values (two-sample t).

Unpaired, with few runs, Welch's t is conservative (size 0.3-0.7 α with 2-3 runs per arm: its estimated df is
small and noisy), so the pooled Student's t is used whenever the arms are balanced (then the pooled and Welch
statistics are the same number and only the df differ) or their variances are within a factor
:data:`VARIANCE_RATIO_MAX`; Welch otherwise. The simulation in tests/test_stats_contrasts.py shows the size.

We chose per-run summaries over a mixed model because the design is balanced (every run has the same trials at
every rate), in which case the t test on run means is the exact small-sample test of the mixed model's fixed
effect, and it stays valid with 2 runs per arm, where MixedLM's likelihood is not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._common import check_level
from .family import clip_interval, t_interval, t_pvalues
from .power import runs_needed
from .vocabulary import Design, Reason

__all__ = ["RecipeComparison", "LinearEstimate", "linear_contrast", "compare_recipes", "runs_needed", "run_means",
           "variance_components", "VARIANCE_RATIO_MAX", "DIFFERENCE_RANGE"]

VARIANCE_RATIO_MAX = 4.0  # larger/smaller sample variance up to which unbalanced arms are pooled
DIFFERENCE_RANGE = (-1.0, 1.0)  # a difference of accuracies (or shares) lies in [-100, +100] pp
RUN_KEYS = ("architecture", "method", "fault", "run_id", "train_seed", "rate")


@dataclass(frozen=True)
class LinearEstimate:
    """Δ̂ = Σ c_g x̄_g with its standard error, df, design, the unit sd (pooled over groups) and, when untestable,
    why."""

    estimate: float
    se: float
    df: float
    design: Design
    sd: float
    reason: Reason


def linear_contrast(groups: Sequence[np.ndarray], coefs: Sequence[float], *, paired: bool) -> LinearEstimate:
    """Σ c_g x̄_g over ``groups`` (run values, or per-seed differences when ``paired``), its se and df.

    Pooled variance s_p² = Σ (n_g - 1) s_g² / Σ (n_g - 1), se = s_p √(Σ c_g²/n_g), df = Σ (n_g - 1), when the
    groups are balanced or their variances within :data:`VARIANCE_RATIO_MAX`; else Welch-Satterthwaite:
    se² = Σ c_g² s_g²/n_g, df = se⁴ / Σ (c_g² s_g²/n_g)² / (n_g - 1). A group with < 2 values: no se
    (``Reason.TOO_FEW_RUNS``); all variances 0: se = 0 (``Reason.NO_SPREAD``).
    """
    groups = [np.asarray(g, dtype=float) for g in groups]
    ns = np.array([g.size for g in groups])
    c = np.asarray(coefs, dtype=float)
    est = float(sum(ci * g.mean() for ci, g in zip(c, groups))) if np.all(ns > 0) else math.nan
    nan = math.nan
    if np.any(ns < 2):
        return LinearEstimate(est, nan, nan, Design.PAIRED if paired else Design.NONE, nan, Reason.TOO_FEW_RUNS)
    var = np.array([g.var(ddof=1) for g in groups])
    sd = float(math.sqrt(np.sum((ns - 1) * var) / np.sum(ns - 1)))
    if np.all(var == 0):
        return LinearEstimate(est, 0.0, float(np.sum(ns - 1)), Design.PAIRED if paired else Design.POOLED, 0.0,
                              Reason.NO_SPREAD)
    balanced = bool(np.all(ns == ns[0]))
    ratio = var.max() / var.min() if var.min() > 0 else math.inf
    if paired or balanced or ratio <= VARIANCE_RATIO_MAX:
        se = sd * math.sqrt(float(np.sum(c**2 / ns)))
        return LinearEstimate(est, se, float(np.sum(ns - 1)), Design.PAIRED if paired else Design.POOLED, sd,
                              Reason.TESTED)
    parts = c**2 * var / ns
    se = math.sqrt(float(parts.sum()))
    df = float(parts.sum() ** 2 / np.sum(parts**2 / (ns - 1)))
    return LinearEstimate(est, se, df, Design.WELCH, sd, Reason.TESTED)


@dataclass(frozen=True)
class RecipeComparison:
    """Recipe-level comparison of arm a vs arm b (training runs as replicates).

    ``estimate`` = mean over runs of a - mean over runs of b (paired: mean per-seed difference);
    [``ci_low``, ``ci_high``] its (1 - α) t interval, truncated to [-1, 1] (``truncated`` says so);
    ``pvalue`` the two-sided t test of no difference; ``tost_pvalue`` = max of the two one-sided tests of
    |Δ| ≥ margin; ``sd`` the unit sd (per-seed differences when paired; pooled run sd when unpaired), ``se`` the
    estimate's. NaN p-values and ``reason`` when untestable.
    """

    estimate: float
    ci_low: float
    ci_high: float
    truncated: bool
    pvalue: float
    tost_pvalue: float
    n_a: int
    n_b: int
    n_pairs: int
    design: Design
    df: float
    sd: float
    se: float
    margin: float
    confidence: float
    reason: Reason

    @property
    def testable(self) -> bool:
        return self.reason == Reason.TESTED

    def to_row(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def comparison_of(lin: LinearEstimate, *, n_a: int, n_b: int, n_pairs: int, margin: float, level: float,
                  bounds: tuple[float, float] = DIFFERENCE_RANGE) -> RecipeComparison:
    """The tests and the truncated interval of a :class:`LinearEstimate`."""
    p, tp = t_pvalues(lin.estimate, lin.se, lin.df, margin) if lin.reason == Reason.TESTED else (math.nan, math.nan)
    lo, hi = t_interval(lin.estimate, lin.se, lin.df, level) if lin.reason == Reason.TESTED else (math.nan, math.nan)
    lo, hi, cut = clip_interval(lo, hi, *bounds)
    return RecipeComparison(lin.estimate, lo, hi, cut, p, tp, n_a, n_b, n_pairs, lin.design, lin.df, lin.sd, lin.se,
                            margin, level, lin.reason)


def compare_recipes(a: pd.Series, b: pd.Series, *, margin: float = 0.01, level: float = 0.95,
                    paired: bool | None = None) -> RecipeComparison:
    """Compare two recipes from one value per training run; ``a``/``b`` are indexed by training seed.

    ``paired=None`` pairs by seed when at least 2 seeds are shared (rows of unshared seeds are then ignored);
    ``paired=False`` compares the arms' runs unpaired (pooled Student's t, or Welch, see :func:`linear_contrast`).
    The test statistic, its interval and the TOST use the same standard error.
    """
    level = check_level(level)
    a, b = a.dropna().astype(float), b.dropna().astype(float)
    shared = a.index.intersection(b.index)
    if (len(shared) >= 2) if paired is None else (paired and len(shared) >= 2):
        d = (a.loc[shared] - b.loc[shared]).to_numpy()
        lin = linear_contrast([d], [1.0], paired=True)
        return comparison_of(lin, n_a=len(a), n_b=len(b), n_pairs=d.size, margin=margin, level=level)
    lin = linear_contrast([a.to_numpy(), b.to_numpy()], [1.0, -1.0], paired=False)
    return comparison_of(lin, n_a=len(a), n_b=len(b), n_pairs=0, margin=margin, level=level)


def run_means(df: pd.DataFrame, value: str = "accuracy", keys: tuple[str, ...] = RUN_KEYS) -> pd.DataFrame:
    """One row per (run, rate): ``mean`` over its trials, ``var`` (ddof 1), ``n_trials``, ``clean_accuracy``
    and ``n_samples`` (test points per trial) where the trial table has them."""
    keys = [k for k in keys if k in df.columns]
    agg: dict[str, tuple[str, str]] = {"mean": (value, "mean"), "var": (value, "var"), "n_trials": (value, "size")}
    for col in ("clean_accuracy", "n_samples"):
        if col in df.columns:
            agg[col] = (col, "first")
    return df.groupby(keys, sort=True, dropna=False).agg(**agg).reset_index()


def variance_components(runs: pd.DataFrame, by: tuple[str, ...] = ("architecture", "method", "fault", "rate")
                        ) -> pd.DataFrame:
    """Per cell of ``by``, the variance of one trial's accuracy split into its sources (method of moments).

    From the per-run table of :func:`run_means` (K runs of T̄ trials): between-map σ²_map = mean within-run
    trial variance; between-run σ²_run = max(0, var(run means) - σ²_map / T̄); test-sample (binomial)
    σ²_test = p̄(1 - p̄)/N with N test points, which neither more runs nor more trials reduce (only a larger
    test set). ``se_recipe`` = √(σ²_run/K + σ²_map/(K T̄)) is the standard error of the recipe's mean accuracy;
    ``next`` names the component that dominates it ("runs" or "trials").
    """
    rows = []
    for key, g in runs.groupby(list(by), sort=True):
        k, t = len(g), float(g["n_trials"].mean())
        var_map = float(g["var"].mean()) if g["var"].notna().any() else math.nan
        between = float(g["mean"].var(ddof=1)) if k >= 2 else math.nan
        var_run = max(0.0, between - var_map / t) if np.isfinite(between) and np.isfinite(var_map) else math.nan
        p = float(g["mean"].mean())
        n = float(g["n_samples"].mean()) if "n_samples" in g and g["n_samples"].notna().any() else math.nan
        var_test = p * (1.0 - p) / n if n > 0 else math.nan
        se = math.sqrt(var_run / k + var_map / (k * t)) if np.isfinite(var_run) else math.nan
        nxt = "–" if not np.isfinite(se) else ("runs" if var_run / k >= var_map / (k * t) else "trials")
        rows.append({**dict(zip(by, key)), "n_runs": k, "trials_per_run": t, "var_run": var_run,
                     "var_map": var_map, "var_test": var_test,
                     "sd_run": math.sqrt(var_run) if var_run >= 0 else math.nan,
                     "sd_map": math.sqrt(var_map) if var_map >= 0 else math.nan, "se_recipe": se, "next": nxt})
    return pd.DataFrame(rows)
