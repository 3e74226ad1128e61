"""All report tables computed once from the store: ``study_tables`` (PDF, ``faultlab stats``) and CSV export.

    tables = study_tables(ResultsStore("runs/results.db"), "demo"); export_tables(tables, "reports/demo")
"""

from __future__ import annotations

import itertools
import math
import warnings
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from faultlab import FaultlabError
from faultlab.stats import (
    DegenerateTrialsWarning,
    architecture_comparison_table,
    cell_summary,
    compare_groups,
    hierarchical_bootstrap,
    method_comparison_table,
)
from faultlab.store import ResultsStore

from . import fmt
from .sample import reliability_table
from .sensitivity import group_comparison, layer_order, layer_sensitivity

ALL_LAYERS = "*"
CURVE_KEYS = ["variant", "method", "fault"]


class ReportError(FaultlabError, ValueError):
    """The report cannot be built from what the store holds (the message says what to run)."""


def load_frame(store: ResultsStore, study: str) -> pd.DataFrame:
    """The study's trials with ``variant`` filled in (from ``architecture`` where absent); ReportError if none."""
    df = store.to_frame(study)
    if df.empty:
        raise ReportError(f"study {study!r} has no trials in {store.path}; "
                          "run `faultlab sweep` or `faultlab campaign` first")
    df = df.copy()
    df["variant"] = df["variant"].where(df["variant"].notna(), df["architecture"]).astype(str)
    df["method"] = df["method"].astype(str)
    return df


def analysis_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The whole-model trials with the readable ``variant`` in the ``architecture`` column the stats key on."""
    out = df[df["layer"] == ALL_LAYERS].copy()
    out["architecture"] = out["variant"]
    return out


def _runs_table(df: pd.DataFrame) -> pd.DataFrame:
    g = df.groupby(["run_id", "variant", "architecture", "method", "train_seed"], dropna=False, sort=True)
    return g.agg(clean_accuracy=("clean_accuracy", "first"), n_trials=("trial", "size")).reset_index()


def _curves(af: pd.DataFrame, fraction: float, n_resamples: int, seed: int,
            missing: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-rate CI rows and per-curve AUC / critical-rate rows, one hierarchical bootstrap per curve."""
    per_rate, summary = [], []
    for key, g in af.groupby(CURVE_KEYS, sort=True):
        label = " / ".join(key)
        counts = g.groupby("rate")["run_id"].nunique()
        full = counts[counts == g["run_id"].nunique()].index
        if len(full) < len(counts):
            missing.append(f"curve {label}: rates {[float(r) for r in counts.index.difference(full)]} lack some "
                           "training runs; left out of its bootstrap")
            g = g[g["rate"].isin(full)]
        k = g["run_id"].nunique()
        try:
            rng = np.random.default_rng([seed, zlib.crc32(label.encode())])
            cci = hierarchical_bootstrap(g, fraction=fraction, n_resamples=n_resamples, rng=rng,
                                         resample_runs=k > 1)
        except ValueError as err:
            missing.append(f"curve {label}: {err}")
            continue
        rows = cci.per_rate.assign(variant=key[0], method=key[1], fault=key[2], ci_method=cci.method,
                                   clean_accuracy=cci.clean_accuracy)
        per_rate.append(rows)
        if len(cci.per_rate) >= 2:
            summary.append({**dict(zip(CURVE_KEYS, key)), **cci.to_row(), "fraction": fraction,
                            "n_rates": len(cci.per_rate)})
    if af["rate"].nunique() < 2:
        missing.append(f"AUC and critical rate need >= 2 rates; the study has {af['rate'].nunique()} "
                       f"({', '.join(f'{r:g}' for r in sorted(af['rate'].unique()))})")
    curves = pd.concat(per_rate, ignore_index=True) if per_rate else pd.DataFrame()
    if not curves.empty:
        curves = curves[[*CURVE_KEYS, *[c for c in curves.columns if c not in CURVE_KEYS]]]
    return curves, pd.DataFrame(summary)


def _method_table(af: pd.DataFrame, baseline: str, margin: float, missing: list[str]) -> pd.DataFrame:
    methods = sorted(af["method"].unique())
    if baseline not in methods:
        missing.append(f"method comparison: baseline method {baseline!r} is not in the study "
                       f"(methods: {', '.join(methods)})")
        return pd.DataFrame()
    parts = []
    for (variant, fault), g in af.groupby(["variant", "fault"], sort=True):
        for method in sorted(set(g["method"]) - {baseline}):
            if baseline not in set(g["method"]):
                continue
            try:
                parts.append(method_comparison_table(g, variant, method, baseline, fault, margin=margin))
            except ValueError as err:
                missing.append(f"method comparison {method} vs {baseline} on {variant}, {fault}: {err}")
    if not parts:
        missing.append(f"method comparison: no variant was trained with {baseline!r} and another method")
        return pd.DataFrame()
    return pd.concat(parts, ignore_index=True).rename(columns={"architecture": "variant"})


def _welch_cis(af: pd.DataFrame, table: pd.DataFrame) -> tuple[list[float], list[float]]:
    """95 % Welch CIs of mean_a - mean_b for the rows of an architecture table."""
    cells = {k: g["accuracy"].to_numpy(float) for k, g in af.groupby(["method", "fault", "rate", "variant"])}
    empty = np.zeros(0)
    lows, highs = [], []
    for r in table.itertuples(index=False):
        x = cells.get((r.method, r.fault, r.rate, r.variant_a), empty)
        y = cells.get((r.method, r.fault, r.rate, r.variant_b), empty)
        ci = compare_groups(x, y).confidence_interval(0.95) if x.size >= 2 and y.size >= 2 else None
        lows.append(ci.low if ci else math.nan)
        highs.append(ci.high if ci else math.nan)
    return lows, highs


def _architecture_table(af: pd.DataFrame, margin: float, missing: list[str]) -> pd.DataFrame:
    parts = []
    for (method, fault), g in af.groupby(["method", "fault"], sort=True):
        for va, vb in itertools.combinations(sorted(g["variant"].unique()), 2):
            try:
                parts.append(architecture_comparison_table(g, va, vb, method, fault, margin))
            except ValueError as err:
                missing.append(f"architecture comparison {va} vs {vb} ({method}, {fault}): {err}")
    if not parts:
        missing.append("architecture comparison: needs >= 2 variants trained with the same method")
        return pd.DataFrame()
    table = pd.concat(parts, ignore_index=True).rename(
        columns={"architecture_a": "variant_a", "architecture_b": "variant_b"})
    lows, highs = _welch_cis(af, table)
    at = table.columns.get_loc("estimate") + 1 if "estimate" in table else len(table.columns)
    table.insert(at, "ci_low", lows)
    table.insert(at + 1, "ci_high", highs)
    return table


def _verdicts(methods: pd.DataFrame, archs: pd.DataFrame) -> pd.DataFrame:
    rows = [{"comparison": "method", "sentence": s} for s in fmt.method_sentences(methods)]
    rows += [{"comparison": "architecture", "sentence": s} for s in fmt.architecture_sentences(archs)]
    return pd.DataFrame(rows, columns=["comparison", "sentence"])


def study_tables(store: ResultsStore, study: str, *, baseline_method: str = "vanilla", margin: float = 0.01,
                 fraction: float = 0.9, n_resamples: int = 1000, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Every table of the report, keyed by name; ``missing`` lists what could not be computed and why.

    Keys: trials, runs, cells, curves, curve_summary, method_comparison, architecture_comparison,
    verdicts, reliability, layer_sensitivity, group_comparison, missing. Raises ReportError when the study
    has no trials.
    """
    df = load_frame(store, study)
    af = analysis_frame(df)
    missing: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateTrialsWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        if af.empty:
            missing.append("whole-model trials (layer '*'): the study has only per-layer rows")
            cells = curves = summary = methods = archs = pd.DataFrame()
        else:
            cells = cell_summary(af, ("variant", "method", "train_seed", "run_id", "fault", "rate"),
                                 n_resamples=n_resamples, seed=seed)
            curves, summary = _curves(af, fraction, n_resamples, seed, missing)
            methods = _method_table(af, baseline_method, margin, missing)
            archs = _architecture_table(af, margin, missing)
        reliability = reliability_table(store, af, missing)
    return {
        "trials": df, "runs": _runs_table(df), "cells": cells, "curves": curves, "curve_summary": summary,
        "method_comparison": methods, "architecture_comparison": archs,
        "verdicts": _verdicts(methods, archs), "reliability": reliability,
        "layer_sensitivity": layer_sensitivity(df, layer_order(store, study)),
        "group_comparison": group_comparison(df),
        "missing": pd.DataFrame({"missing": missing}, dtype=object),
    }


def export_tables(tables: dict[str, pd.DataFrame], folder: str | Path, *, skip: tuple[str, ...] = ("trials",)
                  ) -> list[Path]:
    """Write one ``<name>.csv`` per table and return the paths.

    Left out: ``skip`` (the raw trials come from ``faultlab export``) and tables with no columns (nothing was
    computed; the ``missing`` table says why).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, table in tables.items():
        if name in skip or table.columns.empty:
            continue
        path = folder / f"{name}.csv"
        table.to_csv(path, index=False)
        paths.append(path)
    return paths


