"""Every table of a study computed once from its trial frame and run configs: :func:`study_tables` (for
``faultlab stats`` and the PDF, which only renders them) and :func:`export_tables` (CSV). No store query here:
the caller reads the frame (``ResultsStore.to_frame``), the run rows, the per-sample masks and the layer order.

    tables = study_tables(trials, runs, contrasts=spec_contrasts(spec, trials)); export_tables(tables, "out")

Roles (column ``role``): the declared contrasts are the primary family (``contrasts``, page 1: ``verdicts``);
their other endpoints are secondary (gated); every other row (all pairs, per rate, level (a)) is exploratory.
Two levels of claim, always labelled (column ``claim``): (a) conditional on the trained networks, fault maps as
replicates (tables ending in ``_maps``); (b) recipe, the training run as replicate (every other name).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from faultlab import FaultlabError
from faultlab.store import ALL_LAYERS, with_store_labels

from .answer import answer_contrasts
from .clean_cost import clean_costs
from .contrast_table import contrast_table
from .contrasts import ContrastSpec, default_contrasts, parse_contrasts
from .describe import cell_summary
from .family import FamilyResult
from .looks import looks_table
from .recipe import run_means, variance_components
from .recipe_tables import architecture_comparison, link_to_contrasts, method_comparison, recipe_curves
from .reliability_table import reliability, reliability_comparison, reliability_maps
from .results import DegenerateTrialsWarning
from .sensitivity import group_comparison, layer_sensitivity, most_sensitive
from .tables import LEVEL_A, architecture_comparison_maps, method_comparison_maps
from .vocabulary import Topic
from .wording import verdict_rows

__all__ = ["ReportError", "StudyData", "study_tables", "export_tables", "prepare_frame", "analysis_frame",
           "chance_level", "spec_contrasts", "LEVEL_A", "LEVEL_B"]

LEVEL_B = "recipe (training runs as replicates)"
KNOWN_CLASSES = {"mnist5k": 10, "mnist": 10, "digits": 10, "cifar10": 10, "cifar100": 100, "fashionmnist": 10,
                 "svhn": 10, "moons": 2}  # built-in data sets; a run config's num_classes takes precedence


class ReportError(FaultlabError, ValueError):
    """The report cannot be built from what the store holds (the message says what to run)."""


@dataclass(frozen=True)
class StudyData:
    """What the statistics need from a store: the trial frame, the run rows (configs: the chance level), the
    whole-network per-sample masks keyed (run_id, fault, rate), the per-layer names in campaign order, and the
    looks of a sequential sweep (:func:`faultlab.stats.looks.looks_table`; empty without one)."""

    trials: pd.DataFrame
    runs: list[dict] = field(default_factory=list)
    masks: Mapping[tuple[str, str, float], np.ndarray] = field(default_factory=dict)
    layer_order: list[str] = field(default_factory=list)
    looks: pd.DataFrame = field(default_factory=pd.DataFrame)


def prepare_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The trial frame with ``variant`` filled in (from ``architecture`` where absent) and text labels, in the
    store's labels (an exported table's NULL whole-network layer as ``ALL_LAYERS``, clean rows dropped)."""
    df = with_store_labels(df).copy()
    df["variant"] = df["variant"].where(df["variant"].notna(), df["architecture"]).astype(str)
    df["method"] = df["method"].astype(str)
    return df


def analysis_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The whole-model trials with the readable ``variant`` in the ``architecture`` column the tables key on."""
    out = df[df["layer"] == ALL_LAYERS].copy()
    out["architecture"] = out["variant"]
    return out


def _runs_table(df: pd.DataFrame) -> pd.DataFrame:
    g = df.groupby(["run_id", "variant", "architecture", "method", "train_seed"], dropna=False, sort=True)
    return g.agg(clean_accuracy=("clean_accuracy", "first"), n_trials=("trial", "size")).reset_index()


def chance_level(runs: Sequence[dict]) -> float | None:
    """1 / number of classes: a run config's ``num_classes`` (at any depth), else the built-in data set's
    (``data.name``); None when unknown (the at-chance check is then off and reported missing)."""

    def find(obj: object) -> int | None:
        if isinstance(obj, dict):
            if isinstance(obj.get("num_classes"), int):
                return obj["num_classes"]
            name = obj.get("name")
            if isinstance(name, str) and name.lower() in KNOWN_CLASSES and "options" in obj:
                return KNOWN_CLASSES[name.lower()]
            path = obj.get("class_path")  # a fit config's data: faultlab.data.datasets.MNIST5k
            if isinstance(path, str) and path.rsplit(".", 1)[-1].lower() in KNOWN_CLASSES:
                return KNOWN_CLASSES[path.rsplit(".", 1)[-1].lower()]
            for v in obj.values():
                if (n := find(v)) is not None:
                    return n
        return None

    found = {find(r.get("config") or {}) for r in runs} - {None}
    return 1.0 / max(found) if found else None


def spec_contrasts(spec: Mapping | None, trials: pd.DataFrame, *, margin: float = 0.01,
                   baseline: str = "vanilla") -> list[ContrastSpec]:
    """The primary contrasts of a study: its ``contrasts:`` list, else its ``answer:`` block's, else the defaults
    (every method vs ``baseline`` per architecture, TOST at ``margin``)."""
    spec = spec or {}
    if spec.get("contrasts"):
        return parse_contrasts(spec["contrasts"])
    if spec.get("answer"):
        return answer_contrasts(trials, spec["answer"])
    return default_contrasts(trials, baseline, margin=margin)


def _curve_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Each run's mean accuracy per rate: what a figure draws instead of a band when an arm has < 3 runs."""
    if runs.empty:
        return pd.DataFrame()
    out = runs.rename(columns={"architecture": "variant", "mean": "accuracy"})
    return out[["variant", "method", "fault", "run_id", "train_seed", "rate", "accuracy", "n_trials"]]


def study_tables(trials: pd.DataFrame, runs: Sequence[dict] = (), *, masks: Mapping | None = None,
                 layer_order: Sequence[str] = (), contrasts: Sequence[ContrastSpec] | None = None,
                 campaigns: dict[str, tuple[str, str]] | None = None, baseline_method: str = "vanilla",
                 margin: float = 0.01, fraction: float = 0.9, n_resamples: int = 1000, seed: int = 0,
                 alpha: float = 0.05, chance_band: float = 0.05, reliability_margin: float = 0.05,
                 looks: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Every table of the report, keyed by name; ``missing`` lists what could not be computed and why (typed
    ``topic``). ``trials``: the store's frame of one study; ``runs``: its run rows; ``contrasts``: the primary
    family (None: every method vs ``baseline_method`` per architecture); ``looks``: a sequential sweep's looks
    (``StudyData.looks``), passed through as ``sequential_looks``. Raises ReportError with no trials.
    """
    if trials.empty:
        raise ReportError("the study has no trials; run `faultlab sweep` or `faultlab campaign` first")
    df = prepare_frame(trials)
    af = analysis_frame(df)
    missing: list[tuple[Topic, str]] = []
    chance = chance_level(runs)
    if chance is None:
        missing.append((Topic.CHANCE, "chance accuracy unknown (no num_classes in the run configs): the at-chance "
                                      "check is off"))
    empty = pd.DataFrame()
    family: list[FamilyResult] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateTrialsWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        specs = default_contrasts(df, baseline_method, margin=margin) if contrasts is None else list(contrasts)
        table = contrast_table(df, specs, alpha=alpha, chance=chance, chance_band=chance_band, campaigns=campaigns,
                               family=family)
        costs = clean_costs(df, specs, campaigns=campaigns, level=1 - alpha)
        if table.empty:
            missing.append((Topic.CONTRASTS, "contrasts: no declared or default contrast has arms in the data "
                                             f"(default: every method vs {baseline_method!r} per architecture)"))
        if af.empty:
            missing.append((Topic.WHOLE_MODEL, f"whole-model trials (layer {ALL_LAYERS!r}): the study has only "
                                               "per-layer rows"))
            cells = curves = summary = methods = archs = maps_m = maps_a = run_summary = comps = empty
        else:
            cells = cell_summary(af, ("variant", "method", "train_seed", "run_id", "fault", "rate"),
                                 n_resamples=n_resamples, seed=seed).assign(claim=LEVEL_A)
            run_summary = run_means(af)
            comps = variance_components(run_summary)
            curves, summary = recipe_curves(af, fraction, n_resamples=n_resamples, seed=seed, missing=missing)
            kw = {"margin": margin, "alpha": alpha, "chance": chance, "chance_band": chance_band, "missing": missing}
            methods = method_comparison(af, baseline_method, **kw)
            archs = architecture_comparison(af, **kw)
            if not methods.empty:
                link_to_contrasts(methods, table, list(zip(methods["variant"], methods["method_a"],
                                                           methods["variant"], methods["method_b"])))
            if not archs.empty:
                link_to_contrasts(archs, table, list(zip(archs["variant_a"], archs["method"], archs["variant_b"],
                                                         archs["method"])))
            maps_m = method_comparison_maps(af, baseline_method, margin)
            maps_a = architecture_comparison_maps(af, margin)
        groups = group_comparison(df, margin=margin, alpha=alpha)
        rel_maps = reliability_maps(masks or {}, af, missing, n_resamples=n_resamples, seed=seed)
        rel_methods = reliability_comparison(rel_maps, baseline_method, margin=reliability_margin, alpha=alpha)
    for t in (methods, archs, groups, curves, summary, rel_methods, table):
        if not t.empty:
            t["claim"] = LEVEL_B
    layers = layer_sensitivity(df, list(layer_order))
    fam = family[0].to_row() if family else {"family": "", "size": 0, "alpha": alpha, "rule": ""}
    return {
        "trials": df, "runs": _runs_table(df), "contrasts": table, "verdicts": verdict_rows(table),
        "clean_costs": costs,
        "family": pd.DataFrame([{**fam, "chance": chance, "chance_band": chance_band, "margin": margin}]),
        "curves": curves, "curve_summary": summary, "curve_runs": _curve_runs(run_summary),
        "run_summary": run_summary, "variance_components": comps,
        "method_comparison": methods, "architecture_comparison": archs, "group_comparison": groups,
        "reliability": reliability(rel_maps), "reliability_comparison": rel_methods,
        "cells_maps": cells, "method_comparison_maps": maps_m, "architecture_comparison_maps": maps_a,
        "reliability_maps": rel_maps, "layer_sensitivity": layers, "most_sensitive_layers": most_sensitive(layers),
        "missing": pd.DataFrame(missing, columns=["topic", "missing"], dtype=object),
        "sequential_looks": looks_table(looks if looks is not None else []),
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
