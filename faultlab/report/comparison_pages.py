"""Comparison pages: the contrast table (the primary family and its gated secondary rows), the all-pairs
recipe-level tables (exploratory unless a row is a declared contrast's), then the level-(a) tables (fault maps as
replicates, conditional on the trained networks). Render only: every value comes from faultlab.stats."""

from __future__ import annotations

import pandas as pd

from faultlab.stats import wording as fmt
from faultlab.stats.vocabulary import Design, Endpoint, Measure, Topic

from .layout import Doc


def reasons(missing: pd.DataFrame, topic: Topic) -> list[str]:
    """The ``missing`` table's texts of one typed topic."""
    if missing.empty:
        return []
    return missing.loc[missing["topic"] == topic, "missing"].tolist()


def _endpoint(table: pd.DataFrame) -> list[str]:
    """``AUC 0.1–0.5``, ``0.2`` or ``K layers``; ``, relative`` for a row of the relative loss (a share of clean)."""
    spans = table["span"] if "span" in table else [""] * len(table)
    measures = table["measure"] if "measure" in table else [""] * len(table)
    return [(f"AUC {s}".strip() if e == Endpoint.AUC else f"{r:g}" if e == Endpoint.RATE else "K layers")
            + (", relative" if m == Measure.RELATIVE else "")
            for e, r, s, m in zip(table["endpoint"], table["rate"], spans, measures)]


def _runs(table: pd.DataFrame) -> list[str]:
    return [f"{int(p)} pairs" if d == Design.PAIRED else f"{int(a)} / {int(b)}"
            for d, p, a, b in zip(table["design"], table["n_pairs"], table["n_a"], table["n_b"])]


def _verdicts(table: pd.DataFrame) -> list[str]:
    """The verdict, or ``not tested: <reason>`` (from the typed columns)."""
    return [str(v) if not r or str(v) != "not tested" else f"not tested: {r}"
            for v, r in zip(table["verdict"], table["reason"])]


def contrast_pages(doc: Doc, table: pd.DataFrame) -> None:
    """The contrast table: primary rows (page-1 verdicts) and secondary rows (tested only when gated)."""
    if table.empty:
        return
    shown = pd.DataFrame({
        "contrast": table["contrast"], "role": table["role"].astype(str),
        "fault · scope": [f"{f} · {c}" for f, c in zip(table["fault"], table["scope"])],
        "endpoint": _endpoint(table), "runs": _runs(table),
        "a / b": [f"{fmt.fmt_pct(a)} / {fmt.fmt_pct(b)}" for a, b in zip(table["mean_a"], table["mean_b"])],
        "a − b\n(pp)": [fmt.fmt_pp(x) for x in table["estimate"]],
        "95 % CI\n(pp)": [fmt.fmt_ci_pp(lo, hi) + (" *" if t else "")
                          for lo, hi, t in zip(table["low"], table["high"], table["truncated"])],
        "adj. p": [fmt.fmt_p(p) for p in table["p_adjusted"]],
        "adj.\nTOST p": [fmt.fmt_p(p) for p in table["tost_p_adjusted"]],
        "runs to\ndetect": [fmt.fmt_runs(n) for n in table["runs_to_detect"]],
        "verdict": _verdicts(table),
    })
    doc.table_pages("Declared contrasts (recipe level)", shown,
                    notes=f"Family: {table['family'].iloc[0]}. Primary rows are the study's question: one family, a "
                          "closed test in which a contrast's difference test and TOST count once. Secondary rows (the "
                          "contrast's other endpoints) are tested only when their contrast was decided, at α/m. * "
                          "interval truncated to [-100, +100] pp. 'runs to detect': runs per arm for 80 % power "
                          "against the observed difference at the family's level, from the observed spread."
                          + (" ', relative': the loss as a share of each run's clean accuracy (accuracy / clean - 1; "
                             "values in % of clean, not pp)." if (table["measure"] == Measure.RELATIVE).any() else ""))


def recipe_display(table: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    """Reader-facing columns of an all-pairs recipe-level table (arm a vs arm b)."""
    names = {"variant": "variant", "method_a": "method", "variant_a": "variant a", "variant_b": "variant b"}
    return pd.DataFrame({
        names[a]: table[a], names[b]: table[b],
        **({"trained with": table["method"]} if "method" in table else {}),
        "rate": _endpoint(table),
        "runs": _runs(table),
        "mean acc. (%)\na / b": [_pair(x, y) for x, y in zip(table["mean_a"], table["mean_b"])],
        "a − b\n(pp)": [fmt.fmt_pp(x) for x in table["estimate"]],
        "95 % CI\n(pp)": [fmt.fmt_ci_pp(lo, hi) + (" *" if t else "")
                          for lo, hi, t in zip(table["ci_low"], table["ci_high"], table["truncated"])],
        "p\n(raw)": [fmt.fmt_p(p) for p in table["pvalue"]],
        "adj. p": [fmt.fmt_p(p) for p in table["p_adjusted"]],
        "verdict": _verdicts(table),
    })


def maps_display(table: pd.DataFrame, a: str, b: str, pcol: str) -> pd.DataFrame:
    """Reader-facing columns of a level-(a) table (fault maps as replicates)."""
    n = (table["n_pairs"].astype(str) if "n_pairs" in table else
         [f"{x} / {y}" for x, y in zip(table["n_a"], table["n_b"])])
    return pd.DataFrame({
        a: table[a], b: table[b], "rate": [f"{r:g}" for r in table["rate"]], "maps": n,
        "mean acc. (%)\na / b": [_pair(x, y) for x, y in zip(table["mean_a"], table["mean_b"])],
        "a − b\n(pp)": [fmt.fmt_pp(x) for x in table.get("estimate", [float("nan")] * len(table))],
        "adj. p\n(rates)": [fmt.fmt_p(p) for p in table.get(pcol, [float("nan")] * len(table))],
        "conditional\nverdict": [str(v) for v in table["verdict"]],
    })


def _pair(a: float, b: float) -> str:
    return f"{fmt.fmt_pct(a).removesuffix(' %')} / {fmt.fmt_pct(b).removesuffix(' %')}"


def comparison_pages(doc: Doc, methods: pd.DataFrame, archs: pd.DataFrame, baseline: str, margin: float,
                     missing: pd.DataFrame, maps: tuple[pd.DataFrame, pd.DataFrame] | None = None) -> None:
    """All-pairs recipe-level tables, each split over as many pages as it needs, then the level-(a) tables."""
    common = ("Unit of replication: the training run (each run's mean over its fault maps, or its AUC over the "
              "common rate span of the two arms). 95 % t interval (* truncated to [-100, +100] pp). A row that is a "
              "declared contrast's shows its verdict and adjusted p (see 'Declared contrasts'); every other row is "
              f"exploratory: an estimate with its interval and a raw p, no verdict. TOST margin "
              f"±{fmt.fmt_pp(margin, signed=False)}.")
    title = f"Training methods vs {baseline} (recipe level)"
    if methods.empty:
        doc.missing_page(title, reasons(missing, Topic.METHODS)
                         or ["method comparison: no whole-model trials to compare"])
    else:
        notes = ("Methods on one variant are paired by training seed (same initialisation, data order and fault "
                 "maps) when they share >= 2 seeds: one-sample t on the per-seed differences; else pooled t. " + common)
        for fault, part in methods.groupby("fault", sort=True):
            doc.table_pages(f"{title}: {fault}", recipe_display(part, "variant", "method_a"), notes=notes)
    title = "Architectures compared (recipe level)"
    if archs.empty:
        doc.missing_page(title, reasons(missing, Topic.ARCHITECTURES)
                         or ["architecture comparison: no whole-model trials to compare"])
    else:
        notes = ("Variant a vs variant b trained with the same method: pooled Student's t on the runs' values (Welch "
                 "when unbalanced with incompatible spreads). " + common)
        for fault, part in archs.groupby("fault", sort=True):
            doc.table_pages(f"{title}: {fault}", recipe_display(part, "variant_a", "variant_b"), notes=notes)
    if not maps:
        return
    notes = ("Conditional on the trained networks: the fault maps of these networks are the replicates, so a "
             "verdict here says these trained networks differ, not that the training method or architecture does. "
             "Methods: Wilcoxon signed-rank on integer correct-count differences over identical maps; architectures: "
             "Welch over trials. Closed test over the rates of each comparison only; exploratory.")
    for table, a, b, pcol, name in ((maps[0], "variant", "method_a", "pvalue_holm", "methods"),
                                    (maps[1], "variant_a", "variant_b", "welch_pvalue_holm", "architectures")):
        if not table.empty:
            doc.table_pages(f"Conditional on the trained networks: {name}", maps_display(table, a, b, pcol),
                            notes=notes, verdict_col="conditional\nverdict")


def variance_pages(doc: Doc, comps: pd.DataFrame) -> None:
    """Variance components per cell: where the next hour of compute should go (more runs or more trials)."""
    title = "Variance components (recipe level)"
    if comps.empty:
        doc.missing_page(title, ["variance components: no whole-model trials"])
        return
    shown = pd.DataFrame({
        "variant": comps["architecture"], "method": comps["method"], "fault": comps["fault"],
        "rate": [f"{r:g}" for r in comps["rate"]], "runs": comps["n_runs"].astype(int).astype(str),
        "trials\nper run": [f"{t:.0f}" for t in comps["trials_per_run"]],
        "sd between\nruns (pp)": [fmt.fmt_pp(v ** 0.5 if v == v else v, signed=False) for v in comps["var_run"]],
        "sd between\nmaps (pp)": [fmt.fmt_pp(v ** 0.5 if v == v else v, signed=False) for v in comps["var_map"]],
        "sd test\nsample (pp)": [fmt.fmt_pp(v ** 0.5 if v == v else v, signed=False) for v in comps["var_test"]],
        "se of the\nrecipe mean": [fmt.fmt_pp(v, signed=False) for v in comps["se_recipe"]],
        "next": comps["next"],
    })
    doc.table_pages(title, shown, verdict_col=None,
                    notes="Per cell, the variance of one trial's accuracy split into its sources (method of moments): "
                          "between training runs, between fault maps within a run, and the test sample's binomial "
                          "p(1-p)/N (only a larger test set reduces it). se of the recipe mean = √(σ²_run/K + "
                          "σ²_map/(K·T)); 'next': whether more training runs or more trials per run shrink it most. "
                          "faultlab stats plan --from STUDY turns these into a runs plan.")
