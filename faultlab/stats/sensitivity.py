"""Per-layer sensitivity tables: the mean accuracy drop per (model, layer, rate or K) for the heatmaps,
and architectures compared layer group by layer group with the statistics module's tests.

The drop of a trial is clean accuracy - faulted accuracy of its run. A cell's *level* is its rate, or
``K=<k>`` for equal-count trials (exactly k faulty weights; the rate then differs between layers).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from faultlab.store import ALL_LAYERS, GROUP_PREFIX

from .recipe_tables import comparison_rows

ALPHA = 0.05
COMPARISON_COLUMNS = ("scope", "method", "fault", "group", "level", "variant_a", "variant_b", "drop_a", "drop_b",
                      "estimate", "ci_low", "ci_high", "truncated", "n_a", "n_b", "pvalue", "tost_pvalue", "role",
                      "reason", "p_adjusted", "tost_p_adjusted", "verdict")


def _with_levels(df: pd.DataFrame) -> pd.DataFrame:
    sub = df[df["layer"] != ALL_LAYERS].copy()
    counts = sub["equal_count"].fillna(0).astype(int)
    sub["level"] = [f"K={k}" if k else f"{r:g}" for k, r in zip(counts, sub["rate"])]
    sub["level_value"] = np.where(counts > 0, counts, sub["rate"])
    sub["counted"] = counts > 0
    sub["drop"] = sub["clean_accuracy"] - sub["accuracy"]
    sub["scope"] = np.where(sub["layer"].str.startswith(GROUP_PREFIX), "group", "layer")
    return sub


def layer_sensitivity(df: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """Mean accuracy drop from clean per (variant, method, fault, scope, layer, level); scope is ``layer``
    (single-layer trials) or ``group`` (group-scope trials)."""
    sub = _with_levels(df)
    if sub.empty:
        return pd.DataFrame()
    keys = ["variant", "method", "fault", "scope", "counted", "layer", "layer_group", "level", "level_value"]
    out = sub.groupby(keys, sort=False, dropna=False).agg(
        mean_accuracy=("accuracy", "mean"), drop=("drop", "mean"), n_trials=("trial", "size"),
        n_runs=("run_id", "nunique")).reset_index()
    rank = {name: i for i, name in enumerate(order)}
    out = out.assign(_o=out["layer"].map(lambda name: rank.get(name, len(rank))))
    out = out.sort_values(["variant", "method", "fault", "scope", "counted", "_o", "level_value"])
    return out.drop(columns="_o").reset_index(drop=True)


def group_comparison(df: pd.DataFrame, *, margin: float = 0.01, alpha: float = ALPHA) -> pd.DataFrame:
    """Architectures compared per layer group at the recipe level: for each (scope, method, fault, group, level)
    and pair of variants, each training run's mean accuracy drop over its trials, then Welch's t over runs
    (:func:`~faultlab.stats.recipe.compare_recipes`, unpaired). The tested value is the accuracy change from clean
    (-drop), so the estimate > 0 means a loses less accuracy (is more tolerant). Exploratory rows (estimate,
    interval, raw p); declare a contrast with ``scope: group:<name>`` to test one.

    Scope ``group`` uses group-scope trials (the whole group faulted at once); scope ``layer`` averages the
    single-layer trials of the group's layers per (run, trial) first (mean single-layer sensitivity).
    """
    sub = _with_levels(df)
    sub = sub[sub["layer_group"].notna()] if "layer_group" in sub else sub.iloc[:0]
    if sub.empty:
        return pd.DataFrame(columns=list(COMPARISON_COLUMNS))
    unit = ["scope", "method", "fault", "layer_group", "level", "level_value", "variant", "run_id", "trial"]
    per_trial = sub.groupby(unit, sort=True)["drop"].mean().reset_index()
    per_run = per_trial.groupby(unit[:-1], sort=True)["drop"].mean().reset_index()
    rows = []
    for key, g in per_run.groupby(["scope", "method", "fault", "layer_group", "level_value", "level"], sort=True):
        for va, vb in itertools.combinations(sorted(g["variant"].unique()), 2):
            a = -g.loc[g["variant"] == va].set_index("run_id")["drop"]
            b = -g.loc[g["variant"] == vb].set_index("run_id")["drop"]
            scope, method, fault, group, _, level = key
            head = {"scope": scope, "method": method, "fault": fault, "group": group, "level": level,
                    "variant_a": va, "variant_b": vb, "drop_a": float(-a.mean()), "drop_b": float(-b.mean())}
            rows.append(comparison_rows(a, b, head, paired=False, margin=margin, alpha=alpha, chance=None,
                                        chance_band=0.0))
    if not rows:
        return pd.DataFrame(columns=list(COMPARISON_COLUMNS))
    return pd.DataFrame(rows)


def most_sensitive(table: pd.DataFrame, n: int = 3) -> pd.DataFrame:
    """The ``n`` layers (or groups) with the largest mean drop per (variant, method, fault, scope, counted), at that
    panel's highest level (largest rate or K), from :func:`layer_sensitivity`'s table. Added columns: ``rank``
    (1 = most sensitive), ``n_layers`` (layers in the panel at that level), ``n_cells`` and ``n_short`` (the
    panel's cells, at every level, and those with fewer trials than its largest: an incomplete campaign)."""
    if table.empty:
        return pd.DataFrame()
    out = []
    for _, panel in table.groupby(["variant", "method", "fault", "scope", "counted"], sort=True):
        top = panel[panel["level_value"] == panel["level_value"].max()]
        best = top.sort_values("drop", ascending=False, kind="stable").head(n)
        short = int((panel["n_trials"] < panel["n_trials"].max()).sum())
        out.append(best.assign(rank=range(1, len(best) + 1), n_layers=top["layer"].nunique(), n_cells=len(panel),
                               n_short=short))
    return pd.concat(out, ignore_index=True)
