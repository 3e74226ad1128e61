"""Fault surfaces and per-run endpoint values: how one training run becomes one number for a contrast.

A *surface* is one campaign's fault template on one scope of the network: ``network`` (every conv and linear
layer at an equal rate; trial rows with layer ``*``), ``group:<name>`` (one layer group faulted at a rate; layer
``group:<name>``) or ``count:<K>`` (K faulty weights per layer, one layer at a time; rows with equal_count K).

A run's value on a rate surface is its mean accuracy per rate, then the AUC over the rates the compared arms
share (trapezoid mean, Σ ½(a_i + a_{i+1})(r_{i+1} - r_i) / (r_max - r_min)) or the mean at one rate; on a count
surface, its mean over layers and trials. ``measure="loss"`` subtracts the run's own clean accuracy c first
(a - c), ``measure="relative"`` divides by it (a / c - 1: the share of its clean accuracy a run loses, which
compares networks of different clean accuracy at a matched baseline).

    wide = surface_runs(trials, "drop(p={rate})", "network")     # runs x rates
"""

from __future__ import annotations

import pandas as pd

from faultlab.store import ALL_LAYERS

from .vocabulary import Measure

__all__ = ["NETWORK", "GROUP", "COUNT", "RUN_INDEX", "scope_rows", "surface_runs", "surface_label", "scopes_in"]

NETWORK, GROUP, COUNT = "network", "group:", "count:"
RUN_INDEX = ["variant", "method", "run_id", "train_seed"]


def _counts(df: pd.DataFrame) -> pd.Series:
    return df["equal_count"].fillna(0).astype(int) if "equal_count" in df else pd.Series(0, index=df.index)


def scope_rows(df: pd.DataFrame, scope: str) -> pd.Series:
    """Boolean mask of the trial rows of ``scope`` (``network``, ``group:<name>`` or ``count:<K>``)."""
    counts = _counts(df)
    if scope == NETWORK:
        return (df["layer"] == ALL_LAYERS) & (counts == 0)
    if scope.startswith(GROUP):
        return (df["layer"] == f"group:{scope[len(GROUP):]}") & (counts == 0)
    if scope.startswith(COUNT):
        return counts == int(scope[len(COUNT):])
    raise ValueError(f"scope {scope!r}: expected 'network', 'group:<layer group>' or 'count:<K>'")


def scopes_in(df: pd.DataFrame) -> list[str]:
    """Every surface scope the trials have: network first, then equal counts, then layer groups."""
    counts = _counts(df)
    out = [NETWORK] if ((df["layer"] == ALL_LAYERS) & (counts == 0)).any() else []
    out += [f"{COUNT}{k}" for k in sorted(set(counts[counts > 0]))]
    groups = df.loc[df["layer"].astype(str).str.startswith("group:") & (counts == 0), "layer"]
    return out + [f"{GROUP}{g[len('group:'):]}" for g in sorted(set(groups))]


def surface_label(scope: str, fault: str) -> str:
    """A readable fault-surface label."""
    if scope == NETWORK:
        where = "every conv and linear layer, equal rate"
    elif scope.startswith(GROUP):
        where = f"{scope[len(GROUP):]} layers only"
    else:
        where = f"K = {int(scope[len(COUNT):])} weights per layer, one layer at a time"
    return f"{where} ({fault})"


def surface_runs(df: pd.DataFrame, fault: str, scope: str, measure: Measure = Measure.ACCURACY) -> pd.DataFrame:
    """One row per training run (index :data:`RUN_INDEX`), one column per rate (rate surfaces) or a single
    column ``count`` (count surfaces): the run's mean ``measure`` there. Empty when the surface has no trials."""
    sub = df[(df["fault"] == fault) & scope_rows(df, scope)]
    if sub.empty:
        return pd.DataFrame()
    value = sub["accuracy"].astype(float)
    if measure == Measure.LOSS:
        value = value - sub["clean_accuracy"].astype(float)
    elif measure == Measure.RELATIVE:
        clean = sub["clean_accuracy"].astype(float)
        value = (value / clean.where(clean > 0)) - 1.0  # a run at 0 clean accuracy has no relative loss (NaN)
    sub = sub.assign(_value=value.to_numpy())
    if scope.startswith(COUNT):
        return sub.groupby(RUN_INDEX, dropna=False)["_value"].mean().to_frame("count")
    return sub.groupby([*RUN_INDEX, "rate"], dropna=False)["_value"].mean().unstack("rate")
