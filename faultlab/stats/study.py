"""Every table of a study computed once from the store: :func:`study_tables` (for ``faultlab stats`` and the PDF,
which only renders them) and :func:`export_tables` (CSV).

    tables = study_tables(ResultsStore("results/demo.sqlite"), "demo"); export_tables(tables, "results/demo-tables")

Two levels of claim, always labelled (column ``claim``):
(a) *conditional on the trained networks*: fault maps are the replicates (cells, ``*_maps`` tables, per-run
reliability); (b) *recipe*: the training run is the replicate (curves, ``method_comparison``,
``architecture_comparison``, ``group_comparison``, ``reliability_recipe``). Only level (b) gives verdict sentences,
all tested in one Holm family (:func:`~faultlab.stats.recipe_tables.apply_family`).
"""

from __future__ import annotations

import itertools
import os
import warnings
from pathlib import Path

import pandas as pd

from faultlab import FaultlabError
from faultlab.store import ALL_LAYERS, ResultsStore, with_store_labels

from . import wording as fmt
from .describe import cell_summary
from .recipe import run_means, variance_components
from .recipe_tables import apply_family, architecture_recipe_table, method_recipe_table, recipe_curves
from .reliability_table import recipe_reliability, reliability_method_table, reliability_table
from .results import DegenerateTrialsWarning
from .sensitivity import group_comparison, layer_order, layer_sensitivity
from .tables import architecture_comparison_table, method_comparison_table

LEVEL_A = "conditional on the trained networks (fault maps as replicates)"
LEVEL_B = "recipe (training runs as replicates)"
KNOWN_CLASSES = {"mnist5k": 10, "mnist": 10, "digits": 10, "cifar10": 10, "cifar100": 100, "fashionmnist": 10,
                 "svhn": 10, "moons": 2}  # built-in data sets; a run config's num_classes takes precedence
CURVE_KEYS = ["variant", "method", "fault"]


class ReportError(FaultlabError, ValueError):
    """The report cannot be built from what the store holds (the message says what to run)."""


def load_frame(store: ResultsStore, study: str) -> pd.DataFrame:
    """The study's trials with ``variant`` filled in (from ``architecture`` where absent); ReportError if none."""
    df = with_store_labels(store.to_frame(study))  # the table's NULL whole-network layer as the store's '*'
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


def chance_level(store: ResultsStore, study: str) -> float | None:
    """1 / number of classes of the study's data: a run config's ``num_classes`` (at any depth), else the built-in
    data set's (``data.name``); None when unknown (the floor check is then skipped and reported missing)."""

    def find(obj: object) -> int | None:
        if isinstance(obj, dict):
            if isinstance(obj.get("num_classes"), int):
                return obj["num_classes"]
            name = obj.get("name")
            if isinstance(name, str) and name.lower() in KNOWN_CLASSES and "options" in obj:
                return KNOWN_CLASSES[name.lower()]
            for v in obj.values():
                if (n := find(v)) is not None:
                    return n
        return None

    found = {find(r.get("config") or {}) for r in store.runs(study)} - {None}
    return 1.0 / max(found) if found else None


def _maps_method_table(af: pd.DataFrame, baseline: str, margin: float) -> pd.DataFrame:
    """Level (a): each method vs ``baseline`` over matched fault maps of the same trained networks."""
    parts = []
    for (variant, fault), g in af.groupby(["variant", "fault"], sort=True):
        if baseline not in set(g["method"]):
            continue
        for method in sorted(set(g["method"]) - {baseline}):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DegenerateTrialsWarning)
                try:
                    parts.append(method_comparison_table(g, variant, method, baseline, fault, margin=margin))
                except ValueError:
                    continue
    if not parts:
        return pd.DataFrame()
    return pd.concat(parts, ignore_index=True).rename(columns={"architecture": "variant"}).assign(claim=LEVEL_A)


def _maps_architecture_table(af: pd.DataFrame, margin: float) -> pd.DataFrame:
    """Level (a): architectures' trials compared as independent samples, conditional on the trained networks."""
    parts = []
    for (method, fault), g in af.groupby(["method", "fault"], sort=True):
        for va, vb in itertools.combinations(sorted(g["variant"].unique()), 2):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DegenerateTrialsWarning)
                try:
                    parts.append(architecture_comparison_table(g, va, vb, method, fault, margin))
                except ValueError:
                    continue
    if not parts:
        return pd.DataFrame()
    out = pd.concat(parts, ignore_index=True).rename(columns={"architecture_a": "variant_a",
                                                              "architecture_b": "variant_b"})
    return out.assign(claim=LEVEL_A)


def _verdicts(methods: pd.DataFrame, archs: pd.DataFrame, reliability: pd.DataFrame) -> pd.DataFrame:
    rows = [{"comparison": "summary", "sentence": s} for s in fmt.summary_sentences(methods, archs, reliability)]
    rows += [{"comparison": "method", "sentence": s} for s in fmt.method_sentences(methods)]
    rows += [{"comparison": "architecture", "sentence": s} for s in fmt.architecture_sentences(archs)]
    rows += [{"comparison": "reliability", "sentence": s} for s in fmt.reliability_sentences(reliability)]
    decided = (" is better than ", " is worse than ", " is equivalent to ")
    rows.sort(key=lambda r: (r["comparison"] != "summary", not any(d in r["sentence"] for d in decided)))
    return pd.DataFrame(rows, columns=["comparison", "sentence"])  # page 1: what was decided comes first


def study_tables(store: ResultsStore, study: str, *, baseline_method: str = "vanilla", margin: float = 0.01,
                 fraction: float = 0.9, n_resamples: int = 1000, seed: int = 0, alpha: float = 0.05,
                 chance_band: float = 0.05, reliability_margin: float = 0.05) -> dict[str, pd.DataFrame]:
    """Every table of the report, keyed by name; ``missing`` lists what could not be computed and why.

    Level (b), training runs as replicates: curves, curve_summary, variance_components, method_comparison,
    architecture_comparison, group_comparison, reliability_recipe, reliability_comparison (methods on the per-run
    reliable share, equivalence margin ``reliability_margin``), verdicts (one Holm family, ``family``).
    Level (a), conditional on the trained networks: cells, method_comparison_maps,
    architecture_comparison_maps, reliability. Also trials, runs, run_summary, layer_sensitivity, missing.
    A comparison whose arms both sit within ``chance_band`` of chance accuracy (1/classes) is "uninformative:
    both at chance", never "equivalent". Raises ReportError when the study has no trials.
    """
    df = load_frame(store, study)
    af = analysis_frame(df)
    missing: list[str] = []
    chance = chance_level(store, study)
    if chance is None:
        missing.append("chance accuracy unknown (no num_classes in the run configs): the at-chance check is off")
    empty = pd.DataFrame()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateTrialsWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        if af.empty:
            missing.append(f"whole-model trials (layer {ALL_LAYERS!r}): the study has only per-layer rows")
            cells = curves = summary = methods = archs = maps_m = maps_a = runs = comps = empty
        else:
            cells = cell_summary(af, ("variant", "method", "train_seed", "run_id", "fault", "rate"),
                                 n_resamples=n_resamples, seed=seed).assign(claim=LEVEL_A)
            runs = run_means(af)
            comps = variance_components(runs)
            curves, summary = recipe_curves(af, fraction, n_resamples=n_resamples, seed=seed, missing=missing)
            kw = {"margin": margin, "alpha": alpha, "chance": chance, "chance_band": chance_band, "missing": missing}
            methods = method_recipe_table(af, baseline_method, **kw)
            archs = architecture_recipe_table(af, **kw)
            maps_m, maps_a = _maps_method_table(af, baseline_method, margin), _maps_architecture_table(af, margin)
        groups = group_comparison(df, margin=margin, alpha=alpha)
        reliability = reliability_table(store, af, missing, n_resamples=n_resamples, seed=seed)
        rel_methods = reliability_method_table(reliability, baseline_method, margin=reliability_margin, alpha=alpha)
        family = apply_family({"method_comparison": methods, "architecture_comparison": archs,
                               "group_comparison": groups, "reliability_comparison": rel_methods}, alpha)
    for t in (methods, archs, groups, curves, summary, rel_methods):
        if not t.empty:
            t["claim"] = LEVEL_B
    return {
        "trials": df, "runs": _runs_table(df), "cells": cells, "run_summary": runs, "variance_components": comps,
        "curves": curves, "curve_summary": summary, "method_comparison": methods,
        "architecture_comparison": archs, "group_comparison": groups,
        "verdicts": _verdicts(methods, archs, rel_methods), "reliability_comparison": rel_methods,
        "method_comparison_maps": maps_m, "architecture_comparison_maps": maps_a, "reliability": reliability,
        "reliability_recipe": recipe_reliability(reliability),
        "layer_sensitivity": layer_sensitivity(df, layer_order(store, study)),
        "family": pd.DataFrame({"family": [family], "alpha": [alpha], "chance": [chance],
                                "chance_band": [chance_band], "margin": [margin]}),
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
        part = path.with_name(path.name + ".part")  # an interrupted write leaves the old table intact
        table.to_csv(part, index=False)
        os.replace(part, path)
        paths.append(path)
    return paths


