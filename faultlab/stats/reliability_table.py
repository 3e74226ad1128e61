"""Per-sample reliability tables from the per-trial correctness masks: per trained network (fault maps as
replicates, level a: ``reliability_maps``) and per recipe (training runs as replicates, level b: ``reliability``,
``reliability_comparison``). The masks come from the caller (the store's ``correct`` column), keyed
(run_id, fault, rate): no store query here."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ._common import key_generator
from .family import t_interval
from .recipe_tables import comparison_rows
from .reliability import reliability_bootstrap
from .vocabulary import Topic

__all__ = ["RELIABLE_SHARE", "reliability_maps", "reliability", "reliability_comparison", "MaskKey"]

RELIABLE_SHARE = 0.95  # a test point is reliable when correct in >= 95 % of trials
MaskKey = tuple[str, str, float]  # (run_id, fault, rate) of a whole-network cell


def reliability_maps(masks: Mapping[MaskKey, np.ndarray], af: pd.DataFrame, missing: list, *,
                     n_resamples: int = 1000, seed: int = 0) -> pd.DataFrame:
    """One row per (run, fault, rate) with a (trials × test points) mask: reliable share with a bootstrap CI over
    the cell's fault maps (conditional on the trained network and its test set)."""
    rows = []
    cells = af[["run_id", "variant", "method", "train_seed", "fault", "rate"]].drop_duplicates()
    for c in cells.itertuples(index=False):
        m = masks.get((c.run_id, c.fault, float(c.rate)))
        if m is None:
            continue
        ci = reliability_bootstrap(m, RELIABLE_SHARE, n_resamples=n_resamples,
                                   rng=key_generator(seed, (c.run_id, c.fault, float(c.rate))))
        rows.append({"run_id": c.run_id, "variant": c.variant, "method": c.method, "train_seed": c.train_seed,
                     "fault": c.fault, "rate": float(c.rate), "n_trials": m.shape[0], "n_points": m.shape[1],
                     "reliable": ci.estimate, "ci_low": ci.low, "ci_high": ci.high, "ci_method": ci.method,
                     "claim": "conditional on the trained network"})
    if not rows and af.empty:
        missing.append((Topic.RELIABILITY, "per-sample reliability: no whole-model trials (it is computed on "
                                           "whole-network campaigns)"))
    elif not rows:
        missing.append((Topic.RELIABILITY, "per-sample reliability: no per-sample masks stored (campaigns must store "
                                           "`correct`)"))
    return pd.DataFrame(rows)


def reliability(rel: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Per (variant, method, fault, rate): mean reliable share over training runs with a t interval over runs
    (df = K - 1, truncated to [0, 1]: ``truncated``; NaN with one run)."""
    if rel.empty:
        return pd.DataFrame()
    out = []
    for key, g in rel.groupby(["variant", "method", "fault", "rate"], sort=True):
        x = g["reliable"].to_numpy(float)
        k, mean = x.size, float(x.mean())
        lo, hi = t_interval(mean, float(x.std(ddof=1)) / math.sqrt(k), k - 1, level) if k >= 2 else (math.nan,) * 2
        out.append({**dict(zip(["variant", "method", "fault", "rate"], key)), "n_runs": k, "reliable": mean,
                    "ci_low": max(0.0, lo), "ci_high": min(1.0, hi), "truncated": bool(lo < 0 or hi > 1),
                    "ci_method": f"t over {k} training runs" if k >= 2 else "one run: no recipe-level interval",
                    "n_trials": int(g["n_trials"].min())})
    return pd.DataFrame(out)


def reliability_comparison(rel: pd.DataFrame, baseline: str, *, margin: float = 0.05, alpha: float = 0.05,
                           floor_band: float = 0.05) -> pd.DataFrame:
    """Recipe level, exploratory: each method vs ``baseline`` on the per-run reliable share, per (variant, fault,
    rate), runs paired by training seed where >= 2 seeds are shared. Cells where both arms have at most
    ``floor_band`` of their points reliable are at the floor (reason ``at chance``)."""
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
                head = {"variant": variant, "fault": fault, "method_a": method, "method_b": baseline,
                        "measure": "reliable share", "endpoint": "rate", "rate": float(rate)}
                rows.append(comparison_rows(a, b, head, paired=None, margin=margin, alpha=alpha, chance=None,
                                            chance_band=0.0, floor=floor_band))
    return pd.DataFrame(rows)
