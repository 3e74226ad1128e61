"""Recipe-level (level b) study tables: curves over training runs and the all-pairs method and architecture
comparisons (estimates with their intervals; rows that are a declared contrast's take its verdict, the others
are exploratory).

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

from .curves import _critical_rows
from .describe import bootstrap_mean_ci
from .family import ALPHA, t_quantile
from .recipe import compare_recipes, run_means
from .vocabulary import Endpoint, Reason, Role, Topic, Verdict

__all__ = ["recipe_curves", "method_comparison", "architecture_comparison", "link_to_contrasts", "CURVE_KEYS",
           "MIN_RUNS_FOR_BAND", "ACCURACY_RANGE"]

CURVE_KEYS = ("architecture", "method", "fault")
MIN_RUNS_FOR_BAND = 3  # fewer runs: the figures draw the runs themselves, not a band
ACCURACY_RANGE = (0.0, 1.0)


def _run_matrix(runs: pd.DataFrame, rates: list[float] | None = None) -> pd.DataFrame:
    """Runs (rows, indexed by run_id and train_seed) × rates of mean accuracy; runs missing a rate are dropped."""
    m = runs.pivot_table(index=["run_id", "train_seed"], columns="rate", values="mean", dropna=False)
    if rates is not None:
        m = m.reindex(columns=rates)
    return m.dropna(axis=0, how="any")


def _t_band(values: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pointwise t interval of the column means of ``values`` (runs × rates), df = K - 1, truncated to [0, 1];
    and where it was truncated."""
    k = values.shape[0]
    mean = values.mean(axis=0)
    h = t_quantile(level, k - 1) * values.std(axis=0, ddof=1) / math.sqrt(k)
    lo, hi = mean - h, mean + h
    return np.clip(lo, *ACCURACY_RANGE), np.clip(hi, *ACCURACY_RANGE), (lo < 0) | (hi > 1)


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
                  seed: int = 0, missing: list | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per curve (architecture, method, fault): the mean accuracy over training runs at each rate with its t
    interval over runs (df = K - 1, truncated to [0, 1]: column ``truncated``), and the AUC (mean over runs of each
    run's AUC, t interval, truncated likewise) and critical rate (of the mean curve; interval from the pointwise
    band, widened to the enclosing grid points, since the crossing between two tested rates is not located by the
    data). ``band`` is False with fewer than :data:`MIN_RUNS_FOR_BAND` runs: figures then draw the runs
    (``curve_runs``), not a band.

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
            missing.append((Topic.CURVES, f"curve {label}: {runs['run_id'].nunique() - len(mat)} run(s) lack some "
                                          "rates; left out of its intervals"))
        if mat.empty:
            continue
        rates = np.array(all_rates, dtype=float)
        values = mat.to_numpy(dtype=float)
        k = values.shape[0]
        clean = float(g.groupby("run_id")["clean_accuracy"].first().loc[mat.index.get_level_values(0)].mean())
        est = values.mean(axis=0)
        if k >= 2:
            lo, hi, cut = _t_band(values, level)
            method = f"t over {k} training runs"
        else:
            cis = [bootstrap_mean_ci(g.loc[g["rate"] == r, "accuracy"].to_numpy(float), level, n_resamples,
                                     np.random.default_rng([seed, i])) for i, r in enumerate(rates)]
            lo, hi = np.array([c.low for c in cis]), np.array([c.high for c in cis])
            cut = np.zeros(rates.size, dtype=bool)
            method = "trial bootstrap, conditional on one trained network"
        n_trials = runs.groupby("rate")["n_trials"].sum().reindex(rates).to_numpy()
        per_rate.append(pd.DataFrame({"variant": key[0], "method": key[1], "fault": key[2], "rate": rates,
                                      "estimate": est, "ci_low": lo, "ci_high": hi, "truncated": cut, "n_runs": k,
                                      "band": k >= MIN_RUNS_FOR_BAND, "n_trials": n_trials, "ci_method": method,
                                      "clean_accuracy": clean}))
        if rates.size < 2:
            continue
        aucs = np.trapezoid(values, rates, axis=1) / (rates[-1] - rates[0])
        if k >= 2:
            a_lo, a_hi, a_cut = (x[0] for x in _t_band(aucs[:, None], level))
        else:
            a_lo, a_hi, a_cut = float(np.trapezoid(lo, rates) / (rates[-1] - rates[0])), float(
                np.trapezoid(hi, rates) / (rates[-1] - rates[0])), False
        crit = float(_critical_rows(rates, est[None, :], clean, fraction)[0])
        c_lo, c_hi = _grid_interval(rates, lo, hi, clean, fraction)
        summary.append({"variant": key[0], "method": key[1], "fault": key[2], "auc": float(aucs.mean()),
                        "auc_low": float(a_lo), "auc_high": float(a_hi), "auc_truncated": bool(a_cut),
                        "critical_rate": crit, "critical_low": c_lo, "critical_high": c_hi, "level": level,
                        "clean_accuracy": clean, "n_runs": k, "n_trials": int(n_trials.sum()),
                        "ci_method": method, "fraction": fraction, "n_rates": int(rates.size),
                        "auc_span": f"{rates[0]:g}–{rates[-1]:g}"})
    curves = pd.concat(per_rate, ignore_index=True) if per_rate else pd.DataFrame()
    return curves, pd.DataFrame(summary)


def _endpoints(ra: pd.DataFrame, rb: pd.DataFrame, index: str) -> list[tuple[Endpoint, float, pd.Series, pd.Series]]:
    """(endpoint, rate, run values of a, run values of b): each common rate, then AUC over the common span."""
    ma, mb = (r.set_index([index, "rate"])["mean"].unstack("rate") for r in (ra, rb))
    common = sorted(set(ma.columns) & set(mb.columns))
    out = [(Endpoint.RATE, float(r), ma[r].dropna(), mb[r].dropna()) for r in common]
    if len(common) >= 2:
        span = np.array(common, dtype=float)
        auc = [pd.Series(np.trapezoid(m.to_numpy(float), span, axis=1) / (span[-1] - span[0]), index=m.index)
               for m in (ma[common].dropna(), mb[common].dropna())]
        out.append((Endpoint.AUC, math.nan, auc[0], auc[1]))
    return out


def comparison_rows(a: pd.Series, b: pd.Series, head: dict[str, Any], *, paired: bool | None, margin: float,
                    alpha: float, chance: float | None, chance_band: float, floor: float | None = None
                    ) -> dict[str, Any]:
    """One exploratory row: the comparison of two arms' run values, its raw tests, and why it is not tested."""
    res = compare_recipes(a, b, margin=margin, level=1 - alpha, paired=paired)
    mean_a, mean_b = float(a.mean()), float(b.mean())
    reason = res.reason
    limit = floor if floor is not None else (chance + chance_band if chance is not None else None)
    if reason in (Reason.TESTED, Reason.NO_SPREAD) and limit is not None and max(mean_a, mean_b) <= limit:
        reason = Reason.AT_CHANCE
    row = {**head, "mean_a": mean_a, "mean_b": mean_b, **res.to_row()}
    row.update(reason=reason if reason != Reason.TESTED else Reason.EXPLORATORY, role=Role.EXPLORATORY,
               verdict=Verdict.NOT_TESTED, p_adjusted=math.nan, tost_p_adjusted=math.nan,
               family="exploratory: raw p, not tested")
    return row


def _pair_rows(ra: pd.DataFrame, rb: pd.DataFrame, head: dict[str, Any], *, paired: bool, **kw: Any
               ) -> list[dict[str, Any]]:
    index = "train_seed" if paired else "run_id"
    return [comparison_rows(a, b, {**head, "endpoint": e, "rate": r}, paired=None if paired else False, **kw)
            for e, r, a, b in _endpoints(ra, rb, index)]


def method_comparison(af: pd.DataFrame, baseline: str, *, margin: float = 0.01, alpha: float = ALPHA,
                      chance: float | None = None, chance_band: float = 0.05,
                      missing: list | None = None) -> pd.DataFrame:
    """Every method vs ``baseline`` on each (architecture, fault): runs paired by training seed where the two
    methods share at least 2 seeds, else unpaired; one row per common rate plus one AUC row."""
    missing = [] if missing is None else missing
    methods = sorted(af["method"].unique())
    if baseline not in methods:
        missing.append((Topic.METHODS, f"method comparison: baseline method {baseline!r} is not in the study "
                                       f"(methods: {', '.join(map(str, methods))})"))
        return pd.DataFrame()
    rows: list[dict[str, Any]] = []
    kw = {"margin": margin, "alpha": alpha, "chance": chance, "chance_band": chance_band}
    for (variant, fault), g in af.groupby(["architecture", "fault"], sort=True):
        runs = run_means(g)
        base = runs[runs["method"] == baseline]
        for method in sorted(set(runs["method"]) - {baseline}):
            if base.empty:
                continue
            head = {"variant": variant, "fault": fault, "method_a": method, "method_b": baseline}
            rows += _pair_rows(runs[runs["method"] == method], base, head, paired=True, **kw)
    if not rows:
        missing.append((Topic.METHODS, f"method comparison: no variant was trained with {baseline!r} and another "
                                       "method"))
    return pd.DataFrame(rows)


def architecture_comparison(af: pd.DataFrame, *, margin: float = 0.01, alpha: float = ALPHA,
                            chance: float | None = None, chance_band: float = 0.05,
                            missing: list | None = None) -> pd.DataFrame:
    """Every pair of architectures trained with the same method, per fault: unpaired t on run values (runs of
    different architectures share no initialisation, so they are never paired)."""
    missing = [] if missing is None else missing
    rows: list[dict[str, Any]] = []
    kw = {"margin": margin, "alpha": alpha, "chance": chance, "chance_band": chance_band}
    for (method, fault), g in af.groupby(["method", "fault"], sort=True):
        runs = run_means(g)
        for va, vb in itertools.combinations(sorted(runs["architecture"].unique()), 2):
            head = {"variant_a": va, "variant_b": vb, "method": method, "fault": fault}
            rows += _pair_rows(runs[runs["architecture"] == va], runs[runs["architecture"] == vb], head,
                               paired=False, **kw)
    if not rows:
        missing.append((Topic.ARCHITECTURES, "architecture comparison: needs >= 2 variants trained with the same "
                                             "method"))
    return pd.DataFrame(rows)


LINKED = ("role", "verdict", "reason", "p_adjusted", "tost_p_adjusted", "family")


def link_to_contrasts(table: pd.DataFrame, contrasts: pd.DataFrame, arms: list[tuple[str, str, str, str]]) -> None:
    """Rows of an all-pairs table that are a declared contrast's row (same arms, fault, whole network, accuracy,
    endpoint and rate) take its role, verdict, reason and adjusted p's; in place. ``arms``: each row's
    (variant_a, method_a, variant_b, method_b)."""
    if table.empty or contrasts.empty:
        return
    own = contrasts[(contrasts["scope"] == "network") & (contrasts["measure"] == "accuracy")
                    & contrasts["variant_a"].notna()]
    key = ["variant_a", "method_a", "variant_b", "method_b", "fault", "endpoint", "rate"]
    lookup = {tuple(_norm(v) for v in r[key]): r for _, r in own.iterrows()}
    for i, arm in zip(table.index, arms):
        hit = lookup.get((*arm, table.at[i, "fault"], str(table.at[i, "endpoint"]), _norm(table.at[i, "rate"])))
        if hit is not None:
            for col in LINKED:
                table.at[i, col] = hit[col]


def _norm(v: object) -> object:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else round(v, 12)
    return str(v)
