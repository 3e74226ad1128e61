"""Level (a) tables, conditional on the trained networks: fault maps are the replicates. They answer "do these
trained networks differ under these faults?", not "does the method / architecture differ?" (for that, see
:mod:`faultlab.stats.contrast_table`, where the training run is the replicate). Every name here ends in
``_maps``; every row is exploratory (never a page-1 verdict) and records its family (the closed test over the
rates of its comparison, difference and TOST counted once per rate).
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from faultlab.store import ALL_LAYERS

from ._common import check_columns, check_level
from .compare import _tested_direction, compare_groups, compare_paired, hodges_lehmann, tost
from .family import closed_pairs, holm, verdict_of
from .results import DegenerateTrialsWarning
from .vocabulary import Reason, Role, Verdict

__all__ = ["compare_methods_maps", "compare_architectures_maps", "method_comparison_maps",
           "architecture_comparison_maps", "LEVEL_A"]

LEVEL_A = "conditional on the trained networks (fault maps as replicates)"


def _quiet(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, bool]:
    """Call ``fn`` recording DegenerateTrialsWarning instead of emitting it; returns (result, degenerate)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DegenerateTrialsWarning)
        out = fn(*args, **kwargs)
    other = [w for w in caught if not issubclass(w.category, DegenerateTrialsWarning)]
    for w in other:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return out, len(other) < len(caught)


def _summarise_degenerate(table: pd.DataFrame, name: str) -> None:
    n = int(table["degenerate"].sum()) if "degenerate" in table else 0
    if n:
        warnings.warn(f"{name}: {n} rate(s) with zero variance or all-zero differences (see column 'degenerate')",
                      DegenerateTrialsWarning, stacklevel=3)


def _select(df: pd.DataFrame, name: str, **where: Any) -> pd.DataFrame:
    mask = np.ones(len(df), dtype=bool)
    for col, val in where.items():
        mask &= (df[col] == val).to_numpy()
    out = df[mask]
    if out.empty:
        raise ValueError(f"no rows for {name}: {where}")
    return out


def _decide(rows: list[dict], pcol: str, alpha: float) -> None:
    """Closed test over the rates (difference ``pcol`` and TOST counted once per rate), then the one verdict rule."""
    adj, adj_t = closed_pairs([r.get(pcol, math.nan) for r in rows], [r.get("tost_pvalue", math.nan) for r in rows])
    m = int(np.sum(np.isfinite(adj)))
    for r, p, pt in zip(rows, adj, adj_t):
        r[f"{pcol}_holm"], r["tost_pvalue_holm"] = float(p), float(pt)
        r["correction"] = f"closed test over {m} rates"
        cmp_ = r.pop("_cmp", None)
        tested = cmp_ is not None and np.isfinite(p)
        r["verdict"] = verdict_of(_tested_direction(cmp_), p, pt, alpha) if tested else Verdict.NOT_TESTED
        r["reason"] = Reason.EXPLORATORY if tested else Reason.TOO_FEW_RUNS
        r["role"] = Role.EXPLORATORY


def compare_methods_maps(df: pd.DataFrame, architecture: str, method_a: str, method_b: str, fault: str, *,
                         layer: str = ALL_LAYERS, value: str = "accuracy", margin: float = 0.01,
                         alpha: float = 0.05) -> pd.DataFrame:
    """Per rate: ``method_a`` vs ``method_b`` on one architecture, paired over identical fault maps (level a).

    Runs are paired by ``train_seed`` when the methods share seeds (pairs matched on (train_seed, rate,
    trial); rows of unshared seeds counted in ``n_unmatched``); otherwise each method's accuracy is averaged
    over its runs per (rate, trial) and pairs are matched on (rate, trial) (``pairing="pooled"``).
    Wilcoxon signed-rank on the integer correct-count differences, rank-biserial effect size, paired TOST at
    ±``margin``; closed test over the rates, verdict direction = the sign of the tested statistic.
    """
    cols = ["architecture", "method", "fault", "train_seed", "rate", "trial", value]
    check_columns(df, cols + (["layer"] if "layer" in df.columns else []))
    check_level(alpha, "alpha")
    where = {"architecture": architecture, "fault": fault}
    if "layer" in df.columns:
        where["layer"] = layer
    sub = _select(df, "architecture/fault/layer", **where)
    a = _select(sub, "method_a", method=method_a)
    b = _select(sub, "method_b", method=method_b)
    shared = sorted(set(a["train_seed"]) & set(b["train_seed"]))
    if shared:
        pairing, keys = "train_seed", ["train_seed", "rate", "trial"]
        for name, part in (("method_a", a), ("method_b", b)):
            if part.duplicated(keys).any():
                raise ValueError(f"{name} has several rows per (train_seed, rate, trial); filter by study first")
    else:
        pairing, keys = "pooled", ["rate", "trial"]
        a, b = (p.groupby(keys, as_index=False)[value].mean() for p in (a, b))
    extra = ["n_samples"] if "n_samples" in a.columns and "n_samples" in b.columns and pairing != "pooled" else []
    m = a[[*keys, value, *extra]].merge(b[[*keys, value]], on=keys, how="outer", suffixes=("_a", "_b"),
                                        indicator=True)
    rows = []
    for rate, g in m.groupby("rate", sort=True):
        both = g[g["_merge"] == "both"]
        x, y = both[f"{value}_a"].to_numpy(float), both[f"{value}_b"].to_numpy(float)
        row: dict[str, Any] = {
            "architecture": architecture, "fault": fault, "layer": layer, "method_a": method_a,
            "method_b": method_b, "rate": float(rate), "pairing": pairing, "n_pairs": int(x.size),
            "n_unmatched": int(len(g) - len(both)), "mean_a": float(np.mean(x)) if x.size else math.nan,
            "mean_b": float(np.mean(y)) if y.size else math.nan,
        }
        if x.size >= 2:
            n = both["n_samples"].to_numpy(float) if "n_samples" in both else None
            # ranks on integer correct counts: equal count differences are ties (floats k/N are not)
            xc, yc = (np.rint(x * n), np.rint(y * n)) if n is not None and np.all(np.isfinite(n)) else (x, y)
            cmp_, deg1 = _quiet(compare_paired, xc, yc, method="wilcoxon")
            eq, deg2 = _quiet(tost, x, y, margin, 1.0 - alpha, paired=True)
            ci = _quiet(compare_paired, x, y, method="t")[0].confidence_interval(1.0 - alpha)
            row.update(estimate=float(np.mean(x - y)), hodges_lehmann=hodges_lehmann(x - y),
                       ci_low=max(-1.0, ci.low), ci_high=min(1.0, ci.high), statistic=cmp_.statistic,
                       pvalue=cmp_.pvalue, effect_size=cmp_.effect_size, tost_pvalue=eq.pvalue, margin=margin,
                       degenerate=deg1 or deg2, _cmp=cmp_)
        rows.append(row)
    _decide(rows, "pvalue", alpha)
    table = pd.DataFrame(rows)
    _summarise_degenerate(table, "compare_methods_maps")
    return table


def compare_architectures_maps(df: pd.DataFrame, arch_a: str, arch_b: str, method: str, fault: str,
                               margin: float = 0.01, *, layer: str = ALL_LAYERS, value: str = "accuracy",
                               alpha: float = 0.05) -> pd.DataFrame:
    """Per rate: ``arch_a`` vs ``arch_b`` trained with ``method``, trials as independent samples (level a).

    Pools the trials of all training seeds, so it describes these trained networks only; the recipe-level
    comparison is :func:`~faultlab.stats.recipe_tables.architecture_comparison`. Welch t and Mann-Whitney U
    (raw), Cohen's d, Cliff's δ; Welch TOST at ±``margin``; closed test over the rates on the Welch p and the TOST.
    """
    cols = ["architecture", "method", "fault", "rate", value]
    check_columns(df, cols + (["layer"] if "layer" in df.columns else []))
    check_level(alpha, "alpha")
    where = {"method": method, "fault": fault}
    if "layer" in df.columns:
        where["layer"] = layer
    sub = _select(df, "method/fault/layer", **where)
    a_all = _select(sub, "arch_a", architecture=arch_a)
    b_all = _select(sub, "arch_b", architecture=arch_b)
    runs = "run_id" if "run_id" in df.columns else "train_seed" if "train_seed" in df.columns else None
    rows = []
    for rate in sorted(set(a_all["rate"]) | set(b_all["rate"])):
        ga, gb = a_all[a_all["rate"] == rate], b_all[b_all["rate"] == rate]
        x, y = ga[value].to_numpy(float), gb[value].to_numpy(float)
        row: dict[str, Any] = {
            "architecture_a": arch_a, "architecture_b": arch_b, "method": method, "fault": fault,
            "layer": layer, "rate": float(rate), "n_a": int(x.size), "n_b": int(y.size),
            "n_runs_a": int(ga[runs].nunique()) if runs else math.nan,
            "n_runs_b": int(gb[runs].nunique()) if runs else math.nan,
            "mean_a": float(np.mean(x)) if x.size else math.nan,
            "mean_b": float(np.mean(y)) if y.size else math.nan,
        }
        if x.size >= 2 and y.size >= 2:
            w, d1 = _quiet(compare_groups, x, y, method="welch")
            u, d2 = _quiet(compare_groups, x, y, method="mannwhitney")
            eq, d3 = _quiet(tost, x, y, margin, 1.0 - alpha)
            row.update(estimate=w.estimate, welch_statistic=w.statistic, welch_pvalue=w.pvalue,
                       mwu_statistic=u.statistic, mwu_pvalue=u.pvalue, cohens_d=w.cohens_d,
                       cliffs_delta=w.cliffs_delta, tost_pvalue=eq.pvalue, margin=margin,
                       degenerate=d1 or d2 or d3, _cmp=w)
        rows.append(row)
    _decide(rows, "welch_pvalue", alpha)
    for r, p in zip(rows, holm([r.get("mwu_pvalue", math.nan) for r in rows])):
        r["mwu_pvalue_holm"] = float(p)  # the rank test's own Holm over rates, shown beside the verdict's
    table = pd.DataFrame(rows)
    _summarise_degenerate(table, "compare_architectures_maps")
    return table


def method_comparison_maps(af: pd.DataFrame, baseline: str, margin: float) -> pd.DataFrame:
    """Level (a), the whole study: each method vs ``baseline`` over matched fault maps of the same networks."""
    parts = []
    for (variant, fault), g in af.groupby(["architecture", "fault"], sort=True):
        if baseline not in set(g["method"]):
            continue
        for method in sorted(set(g["method"]) - {baseline}):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DegenerateTrialsWarning)
                try:
                    parts.append(compare_methods_maps(g, variant, method, baseline, fault, margin=margin))
                except ValueError:
                    continue
    if not parts:
        return pd.DataFrame()
    return pd.concat(parts, ignore_index=True).rename(columns={"architecture": "variant"}).assign(claim=LEVEL_A)


def architecture_comparison_maps(af: pd.DataFrame, margin: float) -> pd.DataFrame:
    """Level (a), the whole study: architectures' trials compared as independent samples."""
    parts = []
    for (method, fault), g in af.groupby(["method", "fault"], sort=True):
        for va, vb in itertools.combinations(sorted(g["architecture"].unique()), 2):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DegenerateTrialsWarning)
                try:
                    parts.append(compare_architectures_maps(g, va, vb, method, fault, margin))
                except ValueError:
                    continue
    if not parts:
        return pd.DataFrame()
    out = pd.concat(parts, ignore_index=True).rename(columns={"architecture_a": "variant_a",
                                                              "architecture_b": "variant_b"})
    return out.assign(claim=LEVEL_A)
