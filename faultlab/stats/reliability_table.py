"""Per-sample reliability tables from the stored per-trial masks: per trained network (fault maps as
replicates, level a) and per recipe (training runs as replicates, level b)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from faultlab.store import ALL_LAYERS, ResultsStore
from faultlab.store.rows import norm_rate

from ._common import key_generator
from .recipe import compare_recipes
from .reliability import reliability_bootstrap

RELIABLE_SHARE = 0.95  # a test point is reliable when correct in >= 95 % of trials


def _masks(store: ResultsStore, run_id: str, fault: str, rate: float) -> np.ndarray | None:
    rows = list(store.trials("run_id = ? AND fault = ? AND rate = ? AND layer = ? AND equal_count = 0",
                             (run_id, fault, norm_rate(rate), ALL_LAYERS), with_correct=True))
    if not rows or any(r["correct"] is None for r in rows) or len({r["n_samples"] for r in rows}) != 1:
        return None
    return np.stack([r["correct"] for r in rows])


def reliability_table(store: ResultsStore, af: pd.DataFrame, missing: list[str], *, n_resamples: int = 1000,
                      seed: int = 0) -> pd.DataFrame:
    """One row per (run, fault, rate) whose trials all carry a per-sample mask: reliable share with a bootstrap
    CI over the cell's fault maps (conditional on the trained network and its test set)."""
    rows = []
    cells = af[["run_id", "variant", "method", "train_seed", "fault", "rate"]].drop_duplicates()
    for c in cells.itertuples(index=False):
        masks = _masks(store, c.run_id, c.fault, c.rate)
        if masks is None:
            continue
        ci = reliability_bootstrap(masks, RELIABLE_SHARE, n_resamples=n_resamples,
                                   rng=key_generator(seed, (c.run_id, c.fault, float(c.rate))))
        rows.append({"run_id": c.run_id, "variant": c.variant, "method": c.method, "train_seed": c.train_seed,
                     "fault": c.fault, "rate": float(c.rate), "n_trials": masks.shape[0],
                     "n_points": masks.shape[1], "reliable": ci.estimate, "ci_low": ci.low, "ci_high": ci.high,
                     "ci_method": ci.method, "claim": "conditional on the trained network"})
    if not rows and af.empty:
        missing.append("per-sample reliability: no whole-model trials (it is computed on whole-network campaigns)")
    elif not rows:
        missing.append("per-sample reliability: no per-sample masks stored (campaigns must store `correct`)")
    return pd.DataFrame(rows)


def recipe_reliability(rel: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Per (variant, method, fault, rate): mean reliable share over training runs with a t interval over runs
    (df = K - 1; NaN with one run)."""
    if rel.empty:
        return pd.DataFrame()
    out = []
    for key, g in rel.groupby(["variant", "method", "fault", "rate"], sort=True):
        x = g["reliable"].to_numpy(float)
        k = x.size
        h = stats.t.ppf(0.5 + level / 2, k - 1) * x.std(ddof=1) / math.sqrt(k) if k >= 2 else math.nan
        out.append({**dict(zip(["variant", "method", "fault", "rate"], key)), "n_runs": k,
                    "reliable": float(x.mean()), "ci_low": max(0.0, float(x.mean() - h)),
                    "ci_high": min(1.0, float(x.mean() + h)),
                    "ci_method": f"t over {k} training runs" if k >= 2 else "one run: no recipe-level interval",
                    "n_trials": int(g["n_trials"].min())})
    return pd.DataFrame(out)


def reliability_method_table(rel: pd.DataFrame, baseline: str, *, margin: float = 0.05, alpha: float = 0.05,
                             floor_band: float = 0.05) -> pd.DataFrame:
    """Recipe level: each method vs ``baseline`` on the per-run reliable share, per (variant, fault, rate), runs
    paired by training seed where >= 2 seeds are shared (else Welch); verdicts come from the report's family.
    Cells where both arms have at most ``floor_band`` of their points reliable are at the floor: uninformative."""
    if rel.empty or baseline not in set(rel["method"]):
        return pd.DataFrame()
    rows = []
    for (variant, fault), g in rel.groupby(["variant", "fault"], sort=True):
        base = g[g["method"] == baseline]
        for method in sorted(set(g["method"]) - {baseline}):
            arm = g[g["method"] == method]
            for rate in sorted(set(arm["rate"]) & set(base["rate"])):
                a = arm[arm["rate"] == rate].set_index("train_seed")["reliable"]
                b = base[base["rate"] == rate].set_index("train_seed")["reliable"]
                res = compare_recipes(a, b, margin=margin, level=1 - alpha)
                floor = max(a.mean(), b.mean()) <= floor_band  # both collapsed: no point reliable in either
                rows.append({"variant": variant, "fault": fault, "method_a": method, "method_b": baseline,
                             "measure": "reliable share", "endpoint": "rate", "rate": float(rate),
                             "mean_a": float(a.mean()), "mean_b": float(b.mean()), **res.to_row(),
                             "testable": res.testable and not floor, "at_chance": bool(floor)})
    return pd.DataFrame(rows)
