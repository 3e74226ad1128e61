"""Level (b): claims about a *recipe* (a training method, an architecture), whose replicate is a training run.

A trial (fault map) is a replicate only for claims about one trained network (level a). Here every training run
is reduced to one number per endpoint (its mean accuracy over its trials at a rate, or its AUC over a rate span)
and the runs are the data:

- methods on one architecture are paired by training seed when both have runs with the same seeds (same
  initialisation and data order, same fault maps): one-sample t on the per-seed differences d_s = a_s - b_s,
  df = n_pairs - 1;
- otherwise (and always for architectures) Welch's t on the run means of the two arms.

Both come with a (1 - α) t interval of the difference and a TOST at ±margin on the same unit. We chose per-run
summaries over a mixed model because the design is balanced (every run has the same trials at every rate), in
which case the t test on run means is the exact small-sample test of the mixed model's fixed effect, and it
stays valid with 2 runs per arm, where MixedLM's likelihood is not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ._common import check_level

__all__ = [
    "RecipeComparison", "compare_recipes", "runs_needed", "run_means", "variance_components", "INCONCLUSIVE",
]

INCONCLUSIVE = "inconclusive"
RUN_KEYS = ("architecture", "method", "fault", "run_id", "train_seed", "rate")


@dataclass(frozen=True)
class RecipeComparison:
    """Recipe-level comparison of arm a vs arm b (training runs as replicates).

    ``estimate`` = mean over runs of a - mean over runs of b (paired: mean per-seed difference);
    [``ci_low``, ``ci_high``] its (1 - α) t interval; ``pvalue`` the two-sided t test of no difference;
    ``tost_pvalue`` = max of the two one-sided tests of |Δ| ≥ margin; ``sd`` the standard deviation of the unit
    (per-seed differences when paired; pooled run-mean sd when unpaired). NaN p-values when an arm has < 2 runs.
    """

    estimate: float
    ci_low: float
    ci_high: float
    pvalue: float
    tost_pvalue: float
    n_a: int
    n_b: int
    n_pairs: int
    design: str
    df: float
    sd: float
    margin: float
    confidence: float

    @property
    def testable(self) -> bool:
        return bool(np.isfinite(self.pvalue))

    def to_row(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _t_ci(est: float, se: float, df: float, level: float) -> tuple[float, float]:
    if se == 0:
        return est, est
    h = float(stats.t.ppf(0.5 + level / 2.0, df)) * se
    return est - h, est + h


def _tests(est: float, se: float, df: float, margin: float) -> tuple[float, float]:
    """Two-sided p of Δ = 0 and TOST p of |Δ| ≥ margin for an estimate with standard error ``se`` on ``df``;
    NaN for both when se = 0 (no spread between runs, e.g. both arms at a floor: no test is possible)."""
    if se == 0:
        return math.nan, math.nan
    p = float(2.0 * stats.t.sf(abs(est) / se, df))
    p_lo = float(stats.t.sf((est + margin) / se, df))  # H0: Δ <= -m
    p_hi = float(stats.t.cdf((est - margin) / se, df))  # H0: Δ >= +m
    return p, max(p_lo, p_hi)


def compare_recipes(
    a: pd.Series, b: pd.Series, *, margin: float = 0.01, level: float = 0.95, paired: bool | None = None
) -> RecipeComparison:
    """Compare two recipes from one value per training run; ``a``/``b`` are indexed by training seed.

    ``paired=None`` pairs by seed when at least 2 seeds are shared (rows of unshared seeds are then ignored);
    ``paired=False`` forces Welch's t on all runs. The test statistic, its interval and the TOST use the same
    standard error, so the sign of the estimate is the direction the test measured.
    """
    level = check_level(level)
    a, b = a.dropna().astype(float), b.dropna().astype(float)
    shared = a.index.intersection(b.index)
    use_pairs = (len(shared) >= 2) if paired is None else (paired and len(shared) >= 2)
    nan = math.nan
    if use_pairs:
        d = (a.loc[shared] - b.loc[shared]).to_numpy()
        n = d.size
        est, sd = float(d.mean()), float(d.std(ddof=1))
        se, df = sd / math.sqrt(n), n - 1.0
        p, tp = _tests(est, se, df, margin)
        lo, hi = _t_ci(est, se, df, level)
        return RecipeComparison(est, lo, hi, p, tp, len(a), len(b), n, "paired by seed", df, sd, margin, level)
    x, y = a.to_numpy(), b.to_numpy()
    est = float(x.mean() - y.mean()) if x.size and y.size else nan
    if x.size < 2 or y.size < 2:
        return RecipeComparison(est, nan, nan, nan, nan, x.size, y.size, 0, "unpaired", nan, nan, margin, level)
    va, vb = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (x.size - 1) + vb**2 / (y.size - 1)) if se > 0 else math.inf
    sd = math.sqrt(((x.size - 1) * x.var(ddof=1) + (y.size - 1) * y.var(ddof=1)) / (x.size + y.size - 2))
    p, tp = _tests(est, se, df, margin)
    lo, hi = _t_ci(est, se, df, level)
    return RecipeComparison(est, lo, hi, p, tp, x.size, y.size, 0, "unpaired (Welch)", df, sd, margin, level)


def runs_needed(sd: float, delta: float, *, paired: bool, alpha: float = 0.05, power: float = 0.8,
                equivalence: bool = False, n_max: int = 10_000) -> float:
    """Training runs per arm (pairs when ``paired``) for a t test on run-level values with unit sd ``sd``.

    Difference (two-sided, level α): smallest n with P(|T| > t_{1-α/2}) ≥ power, T ~ noncentral t with
    ncp = δ / (sd · k / √n), k = 1 paired (df n-1) or √2 unpaired (df 2n-2, equal n). Equivalence
    (``equivalence=True``, true Δ = 0, TOST at ±δ): smallest n with 2 F_t(δ / se - t_{1-α}) - 1 ≥ power.
    ``math.inf`` when sd is not finite or n would exceed ``n_max``; 2 when sd = 0.
    """
    if not (np.isfinite(sd) and np.isfinite(delta)) or delta == 0:
        return math.inf
    if sd == 0:
        return 2.0
    k = 1.0 if paired else math.sqrt(2.0)

    def power_at(n: int) -> float:
        df = n - 1.0 if paired else 2.0 * n - 2.0
        se = sd * k / math.sqrt(n)
        if equivalence:
            return float(2.0 * stats.t.cdf(abs(delta) / se - stats.t.ppf(1 - alpha, df), df) - 1.0)
        crit = stats.t.ppf(1 - alpha / 2.0, df)
        ncp = abs(delta) / se
        return float(stats.nct.sf(crit, df, ncp) + stats.nct.cdf(-crit, df, ncp))

    z = stats.norm.ppf(1 - alpha / 2.0) + stats.norm.ppf(power)  # normal approximation, a lower bound on n
    lo = max(2, min(n_max, math.floor((z * k * sd / abs(delta)) ** 2)))
    hi = lo
    while power_at(hi) < power:  # power rises with n: double until reached, then bisect
        if hi >= n_max:
            return math.inf
        lo, hi = hi + 1, min(n_max, 2 * hi)
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if power_at(mid) >= power else (mid + 1, hi)
    return float(lo)


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
