"""The question (page 1), and the appendix's methods text and study spec (compact YAML)."""

from __future__ import annotations

import contextlib
import json

import matplotlib
import numpy as np
import pandas as pd
import scipy

try:
    import yaml
except ImportError:  # PyYAML comes with jsonargparse; fall back to JSON without it
    yaml = None

from faultlab.stats import wording as fmt

from .layout import Doc

SPEC_ORDER = ("name", "question", "notes", "data", "training", "architectures", "methods", "campaigns", "contrasts",
              "answer", "seed")
FLOW_WIDTH = 100  # a list or mapping whose YAML flow form is at most this wide stays on one line


def question(df: pd.DataFrame, spec: dict | None) -> str:
    """The study's question: ``spec['question']`` if given, else generated from the stored grid."""
    if spec and spec.get("question"):
        return str(spec["question"])
    variants, methods = sorted(df["variant"].unique()), sorted(df["method"].unique())
    faults = fmt.join_words(sorted(df["fault"].unique()))
    if len(variants) > 1:
        trained = f", trained with {fmt.join_words(methods, 'or')}," if len(methods) > 1 else ""
        return f"Do {fmt.join_words(variants)}{trained} differ in tolerance to {faults}?"
    if len(methods) > 1:
        return f"Does training {variants[0]} with {fmt.join_words(methods, 'or')} change its tolerance to {faults}?"
    return f"How well does {methods[0]}-trained {variants[0]} tolerate {faults}?"


def _equal_counts(df: pd.DataFrame) -> pd.Series:
    """K per row: > 0 for equal-count rows (whose rate is K / weights in scope), 0 for rate rows."""
    return df["equal_count"].fillna(0).astype(int) if "equal_count" in df else pd.Series(0, index=df.index)


def _span(counts: pd.DataFrame | pd.Series) -> str:
    """``3`` or ``3–10`` from counts (a Series, or a frame with min/max columns); ``none`` when empty."""
    if counts.empty:
        return "none"
    lo, hi = (int(counts["min"].min()), int(counts["max"].max())) if "min" in counts else (
        int(counts.min()), int(counts.max()))
    return f"{lo}" if lo == hi else f"{lo}–{hi}"


def methods_paragraphs(df: pd.DataFrame, campaigns: list[dict], *, baseline: str, margin: float, fraction: float,
                       n_resamples: int, seed: int, spec: dict | None, meta: dict | None) -> list[str]:
    """The methods text, generated from the stored grid, the report options and ``meta``."""
    counted = _equal_counts(df) > 0
    rates = df[~counted].groupby("fault")["rate"].unique()
    counts = df[counted].groupby("fault")["equal_count"].unique()
    per_cell = df.groupby(["run_id", "fault", "layer", "rate"]).size().groupby(level="layer").agg(["min", "max"])
    whole = per_cell.loc[["*"]] if "*" in per_cell.index else per_cell.iloc[:0]
    single = per_cell.drop(index="*", errors="ignore")
    seeds = df.groupby(["variant", "method"])["train_seed"].nunique()
    layers = sorted(set(df["layer"]) - {"*"})
    ids = set(df["campaign_id"])
    camp = pd.DataFrame([c for c in campaigns if c["campaign_id"] in ids])
    out = [
        "Design",
        f"• Variants: {', '.join(sorted(df['variant'].unique()))}. Training methods: "
        f"{', '.join(sorted(df['method'].unique()))} (baseline for comparisons: {baseline}).",
        f"• Training seeds: {', '.join(str(s) for s in sorted(df['train_seed'].dropna().unique()))} "
        f"({_span(seeds)} per variant · method).",
        *[f"• Fault model {f}: rates {', '.join(f'{r:g}' for r in sorted(r_))}." for f, r_ in rates.items()],
        *[f"• Fault model {f}: K = {', '.join(str(int(k)) for k in sorted(k_))} faulty weights per layer (equal "
          "count; stored rate K / weights in scope)." for f, k_ in counts.items()],
        f"• Trials per cell (run × fault × rate), whole model: {_span(whole)}; {len(df):,} trials in all.",
    ]
    if layers:
        out.append(f"• Per-layer sensitivity: {len(layers)} layers faulted one at a time, {_span(single)} trials "
                   "per (run × fault × rate × layer).")
    if not camp.empty:
        for col, name in (("campaign_seed", "Campaign seeds"), ("bn_recalibration", "BatchNorm recalibration"),
                          ("scope", "Scope"), ("layers", "Layer selection")):
            if col in camp and camp[col].notna().any():
                out.append(f"• {name}: {', '.join(sorted({str(v) for v in camp[col].dropna()}))}.")
    out += [
        "Statistics",
        "• Two levels of claim. (b) Recipe (training method, architecture): the training run is the unit; every "
        "verdict sentence and every verdict column named 'verdict' is of this level. (a) Conditional on the trained "
        "networks: fault maps are the replicates; labelled as such, never a verdict about a recipe.",
        "• Curves: per rate, the mean over training runs of each run's trial mean, 95 % t interval over runs "
        "(df = runs - 1); a curve with one run gets a trial bootstrap, conditional on that network.",
        f"• AUC: each run's mean accuracy over the tested range (trapezoid rule; comparisons use the common rate span "
        f"of the two arms), t interval over runs. Critical rate: first rate with accuracy < {fraction:g} × clean, "
        "linearly interpolated; its interval is read off the curve bands and widened to the enclosing tested rates.",
        "• Training methods vs baseline: paired by training seed (one-sample t on per-seed differences) when the "
        "methods share >= 2 seeds, else unpaired; architectures: unpaired, pooled Student's t on run values (Welch "
        f"when unbalanced with incompatible spreads). TOST on the same unit at ±{fmt.fmt_pp(margin, signed=False)}.",
        "• Multiplicity: the declared contrasts (default: every method vs the baseline per architecture, AUC) are the "
        "primary family, a closed test in which a contrast's difference test and TOST count once; α = 0.05. Their "
        "other endpoints are secondary, tested only when the contrast was decided; every other row is exploratory "
        "(estimate, interval, raw p).",
        "• Floor: a comparison whose arms are both within 5 pp of chance accuracy (1/classes) is 'not tested: at "
        "chance' (uninformative), never 'equivalent'.",
        "• Too few runs: fewer than 2 runs (or seed pairs) per arm gives 'not tested: too few runs'; 'runs to "
        "detect' is the number of runs per arm for 80 % power against the observed difference, from the observed "
        "spread. Intervals of accuracies and differences are truncated to their range (marked *).",
        "• Variance components per cell (variance_components.csv): between-run, between-map and test-sample "
        "(binomial) variance of one trial's accuracy; 'next' says whether more runs or more trials would shrink the "
        "recipe's standard error most.",
        "• Per-sample reliability: share of test points correct in >= 95 % of a cell's trials; per run a bootstrap "
        "interval over fault maps (conditional on the network), per recipe a t interval over runs.",
        "Versions",
        *[f"• {k}: {v}" for k, v in (meta or {}).items()],
        f"• report libraries: numpy {np.__version__}, pandas {pd.__version__}, scipy {scipy.__version__}, "
        f"matplotlib {matplotlib.__version__}",
    ]
    if not meta:
        out.append("• no run metadata was passed to the report (meta).")
    if not spec:
        out.append("No study spec was passed; the design above is read from the stored trials.")
    return out


def methods_pages(doc: Doc, paragraphs: list[str]) -> None:
    headings = {"Design", "Statistics", "Versions"}
    lines: list[str] = []
    for p in paragraphs:
        lines += ["", p.upper()] if p in headings else [p]
    doc.text_pages("Methods", lines[1:])


def _pruned(value: object) -> object:
    """``value`` without null and empty entries (the compact spec leaves them out)."""
    if isinstance(value, dict):
        out = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


class _Top(dict):
    """The spec's top level: always a block mapping."""


def compact_yaml(spec: dict) -> str:
    """The spec as YAML whose short lists and mappings stay on one line (``rates: [0.1, 0.2]``, ``kwargs: {n: 1}``)
    and without null or empty entries; JSON when PyYAML is absent or cannot represent it."""
    data = _pruned(spec)
    if isinstance(data, dict):  # the store keeps keys sorted: the reading order of a study file instead
        data = {k: data[k] for k in sorted(data, key=lambda k: (SPEC_ORDER.index(k) if k in SPEC_ORDER else
                                                                 len(SPEC_ORDER), k))}
    text = json.dumps(data, indent=2, default=str)
    if yaml is None:
        return text

    class Compact(yaml.SafeDumper):
        pass

    def flow_fits(value: object) -> bool:
        return len(json.dumps(value, default=str)) <= FLOW_WIDTH

    def seq(dumper, data):
        return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow_fits(data))

    def mapping(dumper, data):
        return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=flow_fits(data))

    Compact.add_representer(list, seq)
    Compact.add_representer(dict, mapping)
    Compact.add_representer(_Top, lambda dumper, data: dumper.represent_mapping("tag:yaml.org,2002:map", data,
                                                                                 flow_style=False))
    with contextlib.suppress(yaml.YAMLError):  # objects PyYAML cannot represent: keep the JSON dump
        top = _Top(data) if isinstance(data, dict) else data  # the top level always as a block
        text = yaml.dump(top, Dumper=Compact, sort_keys=False, allow_unicode=True, width=110)
    return text


def spec_pages(doc: Doc, spec: dict | None) -> None:
    """The spec the sweep stored with the data, as compact YAML, monospace, paginated."""
    if not spec:
        return
    doc.text_pages("Study spec", compact_yaml(spec).rstrip("\n").split("\n"), mono=True,
                   subtitle="The spec stored with the data by the sweep that produced them (or --spec); null and empty "
                            "entries left out.")
