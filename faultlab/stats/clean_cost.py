"""The clean-accuracy cost of each declared contrast: the difference a - b in clean (fault-free) accuracy between
its arms, over training runs, in the contrast's own design, so page 1 can say what a tolerance gain costs.

Each run's clean accuracy c_r is the one its campaign under the contrast's fault recorded (the campaign's test
subset). A method contrast whose architectures share >= 2 training seeds is paired by seed (mean of the per-seed
differences, one-sample t); otherwise the arms' runs are compared unpaired (pooled Student's or Welch's t,
:func:`~.recipe.linear_contrast`). The interval is the (1 - α) t interval, truncated to [-1, +1] (±100 pp).
Descriptive: the cost is not part of the tested family and carries no verdict.

    costs = clean_costs(trials, specs, campaigns=campaigns)   # one row per (contrast, fault, scope)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from faultlab.store import with_store_labels

from .contrast_table import design_groups  # the contrast table's design (paired or not)
from .contrasts import ContrastSpec, resolve_contrasts
from .endpoints import RUN_INDEX, surface_label
from .recipe import comparison_of, linear_contrast
from .vocabulary import Reason

__all__ = ["CLEAN_COST_COLUMNS", "clean_costs"]

CLEAN_COST_COLUMNS = ["contrast", "fault", "scope", "surface", "clean_a", "clean_b", "estimate", "low", "high",
                      "truncated", "design", "n_a", "n_b", "n_pairs", "df", "level", "reason"]


Values = tuple[np.ndarray, np.ndarray]  # an arm's training seeds and their clean accuracies


def _clean_arms(frame: pd.DataFrame) -> dict[str, dict[tuple[str, str], Values]]:
    """Per fault template, per arm (variant, method): its training seeds and each seed's clean accuracy (the
    clean accuracy its run's campaign under that fault recorded; runs sharing a seed averaged, as the contrast
    table does)."""
    runs = frame.groupby(["fault", *RUN_INDEX], dropna=False, sort=False)["clean_accuracy"].first().astype(float)
    seeds = runs.groupby(level=["fault", "variant", "method", "train_seed"], sort=True).mean()
    out: dict[str, dict[tuple[str, str], Values]] = {}
    for (fault, variant, method), s in seeds.groupby(level=["fault", "variant", "method"], sort=False):
        out.setdefault(fault, {})[(variant, method)] = (s.index.get_level_values("train_seed").to_numpy(),
                                                        s.to_numpy(float))
    return out


def clean_costs(frame: pd.DataFrame, contrasts: Sequence[ContrastSpec], *,
                campaigns: Mapping[str, tuple[str, str]] | None = None, level: float = 0.95) -> pd.DataFrame:
    """Per resolved contrast (the keys of its primary row: ``contrast``, ``fault``, ``scope``): the arms' mean
    clean accuracies ``clean_a`` / ``clean_b`` (fractions), the difference ``estimate`` = a - b (a fraction:
    -0.06 = -6 pp) with its t interval ``low`` / ``high`` at ``level`` over training runs, ``design``
    (paired | pooled | welch), ``n_a`` / ``n_b`` (runs), ``n_pairs``, ``df`` and ``reason`` (``tested``, or why
    no interval: too few runs, no spread, an absent arm)."""
    if not contrasts:
        return pd.DataFrame(columns=CLEAN_COST_COLUMNS)
    frame = with_store_labels(frame)
    arms = _clean_arms(frame)
    none = (np.zeros(0), np.zeros(0))
    rows = []
    for c in resolve_contrasts(frame, contrasts, campaigns):
        have = arms.get(c.fault, {})
        va, vb = ([have.get(a, none) for a in side] for side in (c.arms_a, c.arms_b))
        groups, coefs, paired, n_pairs = design_groups(c, va, vb)
        lin = linear_contrast(groups, coefs, paired=paired)
        n_a, n_b = sum(v.size for _, v in va), sum(v.size for _, v in vb)
        res = comparison_of(lin, n_a=n_a, n_b=n_b, n_pairs=n_pairs, margin=math.nan, level=level)
        absent = min(v.size for _, v in va + vb) == 0
        rows.append({
            "contrast": c.label, "fault": c.fault, "scope": c.scope, "surface": surface_label(c.scope, c.fault),
            "clean_a": float(np.mean([v.mean() for _, v in va])) if not absent else math.nan,
            "clean_b": float(np.mean([v.mean() for _, v in vb])) if not absent else math.nan,
            "estimate": res.estimate, "low": res.ci_low, "high": res.ci_high, "truncated": res.truncated,
            "design": res.design, "n_a": n_a, "n_b": n_b, "n_pairs": n_pairs, "df": res.df, "level": level,
            "reason": Reason.ARM_ABSENT if absent else res.reason,
        })
    return pd.DataFrame(rows, columns=CLEAN_COST_COLUMNS)
