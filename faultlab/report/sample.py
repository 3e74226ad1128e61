"""Per-sample reliability (from stored per-trial masks) and per-layer sensitivity tables."""

from __future__ import annotations

import pandas as pd

from faultlab.stats import per_sample_reliability
from faultlab.store import ResultsStore, StoreError

RELIABLE_SHARE = 0.95  # a test point is reliable when correct in >= 95 % of trials
ALL_LAYERS = "*"


def reliability_table(store: ResultsStore, af: pd.DataFrame, missing: list[str]) -> pd.DataFrame:
    """One row per (run, fault, rate) whose trials all carry a per-sample mask: reliable fraction + Wilson CI."""
    rows = []
    runs = af.drop_duplicates("run_id")[["run_id", "variant", "method", "train_seed"]]
    for run in runs.itertuples(index=False):
        has_masks = store.count_trials("run_id = ? AND layer = ? AND correct IS NOT NULL",
                                       (run.run_id, ALL_LAYERS))
        if not has_masks:
            continue
        cells = af.loc[af["run_id"] == run.run_id, ["fault", "rate"]].drop_duplicates()
        for fault, rate in cells.itertuples(index=False):
            try:
                counts, n_trials = store.per_sample_counts(run.run_id, fault, rate, ALL_LAYERS)
            except StoreError:
                continue
            if n_trials == 0 or counts.size == 0:
                continue
            ci = per_sample_reliability(counts, n_trials, RELIABLE_SHARE)
            rows.append({"run_id": run.run_id, "variant": run.variant, "method": run.method,
                         "train_seed": run.train_seed, "fault": fault, "rate": float(rate), "n_trials": n_trials,
                         "n_points": int(counts.size), "reliable": ci.estimate, "ci_low": ci.low,
                         "ci_high": ci.high, "ci_method": ci.method})
    if not rows:
        missing.append("per-sample reliability: no per-sample masks stored (campaigns must store `correct`)")
    return pd.DataFrame(rows)


def layer_order(store: ResultsStore, study: str) -> list[str]:
    """Single-layer names in the order their trials were first stored (the campaign's walk through the model)."""
    rows = store.trials("layer != ? AND run_id IN (SELECT run_id FROM runs WHERE study = ?)", (ALL_LAYERS, study))
    return list(dict.fromkeys(r["layer"] for r in rows))


def layer_sensitivity(df: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """Mean accuracy drop from clean per (variant, method, fault, layer, rate) for single-layer rows."""
    sub = df[df["layer"] != ALL_LAYERS]
    if sub.empty:
        return pd.DataFrame()
    sub = sub.assign(drop=sub["clean_accuracy"] - sub["accuracy"])
    keys = ["variant", "method", "fault", "layer", "rate"]
    out = sub.groupby(keys, sort=False).agg(mean_accuracy=("accuracy", "mean"), drop=("drop", "mean"),
                                            n_trials=("trial", "size"), n_runs=("run_id", "nunique"))
    out = out.reset_index()
    rank = {name: i for i, name in enumerate(order)}
    out = out.assign(_o=out["layer"].map(lambda name: rank.get(name, len(rank))))
    out = out.sort_values(["variant", "method", "fault", "_o", "rate"])
    return out.drop(columns="_o").reset_index(drop=True)
