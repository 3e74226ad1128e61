"""Per-sample reliability tables (from the stored per-trial masks)."""

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
    if not rows and af.empty:
        missing.append("per-sample reliability: no whole-model trials (it is computed on whole-network campaigns)")
    elif not rows:
        missing.append("per-sample reliability: no per-sample masks stored (campaigns must store `correct`)")
    return pd.DataFrame(rows)
