"""Recipe-level (level b) study tables: curves over training runs, method and architecture comparisons, and
one Holm family over every verdict a report states.

Input is the whole-model trial table (one row per trial) with columns architecture (the readable variant),
method, fault, run_id, train_seed, rate, trial, accuracy, clean_accuracy. Every test here has the training run
as its unit; see :mod:`faultlab.stats.recipe`.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .compare import holm
from .curves import _critical_rows
from .describe import bootstrap_mean_ci
from .recipe import INCONCLUSIVE, compare_recipes, run_means, runs_needed
from .wording import FLOOR

__all__ = ["recipe_curves", "method_recipe_table", "architecture_recipe_table", "apply_family", "CURVE_KEYS"]

CURVE_KEYS = ("architecture", "method", "fault")


def _run_matrix(runs: pd.DataFrame, rates: list[float] | None = None) -> pd.DataFrame:
    """Runs (rows, indexed by train_seed or run_id) × rates of mean accuracy; runs missing a rate are dropped."""
    m = runs.pivot_table(index=["run_id", "train_seed"], columns="rate", values="mean", dropna=False)
    if rates is not None:
        m = m.reindex(columns=rates)
    return m.dropna(axis=0, how="any")


def _t_band(values: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise t interval of the column means of ``values`` (runs × rates), df = K - 1."""
    k = values.shape[0]
    mean = values.mean(axis=0)
    h = stats.t.ppf(0.5 + level / 2.0, k - 1) * values.std(axis=0, ddof=1) / math.sqrt(k)
    return mean - h, mean + h


def _grid_interval(rates: np.ndarray, lo_curve: np.ndarray, hi_curve: np.ndarray, clean: float,
                   fraction: float) -> tuple[float, float]:
    """Critical-rate interval that admits the grid: [last grid rate at which the lower band is still at or above
    the threshold before it first drops below, first grid rate at which the upper band is below it]."""
    grid = np.concatenate([[0.0], rates]) if rates[0] > 0 else rates
    thr = fraction * clean

    def first_below(curve: np.ndarray) -> int | None:
        full = np.concatenate([[clean], curve]) if rates[0] > 0 else curve
        below = np.nonzero(full < thr)[0]
        return int(below[0]) if below.size else None

    i_lo, i_hi = first_below(lo_curve), first_below(hi_curve)
    low = grid[max(i_lo - 1, 0)] if i_lo is not None else grid[-1]
    high = grid[i_hi] if i_hi is not None else math.inf
    return float(low), float(high)


def recipe_curves(af: pd.DataFrame, fraction: float = 0.9, level: float = 0.95, *, n_resamples: int = 1000,
                  seed: int = 0, missing: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per curve (architecture, method, fault): the mean accuracy over training runs at each rate with its t
    interval over runs (df = K - 1), and the AUC (mean over runs of each run's AUC, t interval) and critical
    rate (of the mean curve; interval from the pointwise band, widened to the enclosing grid points, since the
    crossing between two tested rates is not located by the data).

    A curve with one training run gets a trial bootstrap instead, labelled "conditional on one trained network".
    """
    missing = [] if missing is None else missing
    per_rate, summary = [], []
    for key, g in af.groupby(list(CURVE_KEYS), sort=True):
        label = " / ".join(map(str, key))
        runs = run_means(g)
        all_rates = sorted(runs["rate"].unique())
        mat = _run_matrix(runs)
        if len(mat) < runs["run_id"].nunique():
            missing.append(f"curve {label}: {runs['run_id'].nunique() - len(mat)} run(s) lack some rates; "
                           "left out of its intervals")
        if mat.empty:
            continue
        rates = np.array(all_rates, dtype=float)
        values = mat.to_numpy(dtype=float)
        k = values.shape[0]
        clean = float(g.groupby("run_id")["clean_accuracy"].first().loc[mat.index.get_level_values(0)].mean())
        est = values.mean(axis=0)
        if k >= 2:
            lo, hi = _t_band(values, level)
            method = f"t over {k} training runs"
        else:
            cis = [bootstrap_mean_ci(g.loc[g["rate"] == r, "accuracy"].to_numpy(float), level, n_resamples,
                                     np.random.default_rng([seed, i])) for i, r in enumerate(rates)]
            lo, hi = np.array([c.low for c in cis]), np.array([c.high for c in cis])
            method = "trial bootstrap, conditional on one trained network"
        n_trials = runs.groupby("rate")["n_trials"].sum().reindex(rates).to_numpy()
        per_rate.append(pd.DataFrame({"variant": key[0], "method": key[1], "fault": key[2], "rate": rates,
                                      "estimate": est, "ci_low": lo, "ci_high": hi, "n_runs": k,
                                      "n_trials": n_trials, "ci_method": method, "clean_accuracy": clean}))
        if rates.size < 2:
            continue
        aucs = np.trapezoid(values, rates, axis=1) / (rates[-1] - rates[0])
        if k >= 2:
            a_lo, a_hi = (float(x[0]) for x in _t_band(aucs[:, None], level))
        else:
            a_lo, a_hi = float(np.trapezoid(lo, rates) / (rates[-1] - rates[0])), float(
                np.trapezoid(hi, rates) / (rates[-1] - rates[0]))
        crit = float(_critical_rows(rates, est[None, :], clean, fraction)[0])
        c_lo, c_hi = _grid_interval(rates, lo, hi, clean, fraction)
        summary.append({"variant": key[0], "method": key[1], "fault": key[2], "auc": float(aucs.mean()),
                        "auc_low": a_lo, "auc_high": a_hi, "critical_rate": crit, "critical_low": c_lo,
                        "critical_high": c_hi, "level": level, "clean_accuracy": clean, "n_runs": k,
                        "n_trials": int(n_trials.sum()), "ci_method": method, "fraction": fraction,
                        "n_rates": int(rates.size), "auc_span": f"{rates[0]:g}–{rates[-1]:g}"})
    curves = pd.concat(per_rate, ignore_index=True) if per_rate else pd.DataFrame()
    return curves, pd.DataFrame(summary)


def _endpoints(ra: pd.DataFrame, rb: pd.DataFrame, index: str) -> list[tuple[str, float, pd.Series, pd.Series]]:
    """(endpoint, rate, run values of a, run values of b): each common rate, then AUC over the common span."""
    ma, mb = (r.set_index([index, "rate"])["mean"].unstack("rate") for r in (ra, rb))
    common = sorted(set(ma.columns) & set(mb.columns))
    out = [("rate", float(r), ma[r].dropna(), mb[r].dropna()) for r in common]
    if len(common) >= 2:
        span = np.array(common, dtype=float)
        auc = [pd.Series(np.trapezoid(m.to_numpy(float), span, axis=1) / (span[-1] - span[0]), index=m.index)
               for m in (ma[common].dropna(), mb[common].dropna())]
        out.append(("AUC", math.nan, auc[0], auc[1]))
    return out


def _comparison_rows(ra: pd.DataFrame, rb: pd.DataFrame, head: dict[str, Any], *, paired: bool, margin: float,
                     alpha: float, chance: float | None, chance_band: float) -> list[dict[str, Any]]:
    index = "train_seed" if paired else "run_id"
    rows = []
    for endpoint, rate, a, b in _endpoints(ra, rb, index):
        res = compare_recipes(a, b, margin=margin, level=1 - alpha, paired=None if paired else False)
        mean_a, mean_b = float(a.mean()), float(b.mean())
        floor = chance is not None and max(mean_a, mean_b) <= chance + chance_band
        rows.append({**head, "endpoint": endpoint, "rate": rate, "mean_a": mean_a, "mean_b": mean_b,
                     **res.to_row(), "testable": res.testable and not floor, "at_chance": floor})
    return rows


def method_recipe_table(af: pd.DataFrame, baseline: str, *, margin: float = 0.01, alpha: float = 0.05,
                        chance: float | None = None, chance_band: float = 0.05,
                        missing: list[str] | None = None) -> pd.DataFrame:
    """Every method vs ``baseline`` on each (architecture, fault): runs paired by training seed where the two
    methods share at least 2 seeds, else unpaired; one row per common rate plus one AUC row."""
    missing = [] if missing is None else missing
    methods = sorted(af["method"].unique())
    if baseline not in methods:
        missing.append(f"method comparison: baseline method {baseline!r} is not in the study "
                       f"(methods: {', '.join(map(str, methods))})")
        return pd.DataFrame()
    rows: list[dict[str, Any]] = []
    for (variant, fault), g in af.groupby(["architecture", "fault"], sort=True):
        runs = run_means(g)
        base = runs[runs["method"] == baseline]
        for method in sorted(set(runs["method"]) - {baseline}):
            if base.empty:
                continue
            head = {"variant": variant, "fault": fault, "method_a": method, "method_b": baseline}
            rows += _comparison_rows(runs[runs["method"] == method], base, head, paired=True, margin=margin,
                                     alpha=alpha, chance=chance, chance_band=chance_band)
    if not rows:
        missing.append(f"method comparison: no variant was trained with {baseline!r} and another method")
    return pd.DataFrame(rows)


def architecture_recipe_table(af: pd.DataFrame, *, margin: float = 0.01, alpha: float = 0.05,
                              chance: float | None = None, chance_band: float = 0.05,
                              missing: list[str] | None = None) -> pd.DataFrame:
    """Every pair of architectures trained with the same method, per fault: Welch's t on run means (runs of
    different architectures share no initialisation, so they are never paired)."""
    missing = [] if missing is None else missing
    rows: list[dict[str, Any]] = []
    for (method, fault), g in af.groupby(["method", "fault"], sort=True):
        runs = run_means(g)
        for va, vb in itertools.combinations(sorted(runs["architecture"].unique()), 2):
            head = {"variant_a": va, "variant_b": vb, "method": method, "fault": fault}
            rows += _comparison_rows(runs[runs["architecture"] == va], runs[runs["architecture"] == vb], head,
                                     paired=False, margin=margin, alpha=alpha, chance=chance,
                                     chance_band=chance_band)
    if not rows:
        missing.append("architecture comparison: needs >= 2 variants trained with the same method")
    return pd.DataFrame(rows)


def _verdict(row: pd.Series, alpha: float) -> str:
    if row["at_chance"]:
        return FLOOR
    if not row["testable"]:
        if row["sd"] == 0:
            return f"{INCONCLUSIVE} (no spread between runs)"
        n = f"{int(row['n_pairs'])} seed pair(s)" if row["n_pairs"] else f"{int(row['n_a'])}+{int(row['n_b'])} runs"
        return f"{INCONCLUSIVE} ({n})"
    if row["pvalue_holm"] < alpha:
        return "better" if row["estimate"] > 0 else "worse"
    if row["tost_pvalue_holm"] < alpha:
        return "equivalent"
    return INCONCLUSIVE


def apply_family(tables: dict[str, pd.DataFrame], alpha: float = 0.05, *, plan: bool = True) -> str:
    """Holm over every recipe-level hypothesis of ``tables`` at once (each testable row's difference test and its
    TOST), then each row's verdict: better/worse when its Holm p < α (direction = sign of the tested
    estimate), else equivalent when its Holm TOST p < α, else inconclusive; rows where both arms are within the
    chance band are "uninformative: both at chance" and not tested. ``runs_to_detect`` / ``runs_for_equivalence``:
    training runs per arm (pairs when paired) for 80 % power against the observed difference / to show
    equivalence at the margin when the truth is 0, from the observed run-level sd, at the family's level α/m.
    (``plan=False`` leaves both out.) Modifies the tables in place; returns the family's description."""
    ps: list[float] = []
    for t in tables.values():
        if not t.empty:
            ok = t["testable"].to_numpy(bool)
            ps += list(np.where(ok, t["pvalue"], np.nan)) + list(np.where(ok, t["tost_pvalue"], np.nan))
    adj = holm(np.array(ps, dtype=float)) if ps else np.array([])
    m = int(np.sum(~np.isnan(adj)))
    family = f"Holm over all {m} recipe-level tests of the report (difference and TOST)"
    pos = 0
    level = alpha / max(m, 1)  # Bonferroni bound of Holm's first step: what a planned test must beat
    for t in tables.values():
        if t.empty:
            continue
        n = len(t)
        t["pvalue_holm"] = adj[pos: pos + n]
        t["tost_pvalue_holm"] = adj[pos + n: pos + 2 * n]
        pos += 2 * n
        t["verdict"] = [_verdict(r, alpha) for _, r in t.iterrows()]
        t["family"] = family
        if not plan:
            continue
        paired = (t["design"] == "paired by seed").to_numpy()
        t["runs_to_detect"] = [runs_needed(sd, max(abs(est), 1e-12), paired=p, alpha=level)
                               for sd, est, p in zip(t["sd"], t["estimate"], paired)]
        t["runs_for_equivalence"] = [runs_needed(sd, mg, paired=p, alpha=level, equivalence=True)
                                     for sd, mg, p in zip(t["sd"], t["margin"], paired)]
    return family
