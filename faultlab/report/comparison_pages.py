"""Comparison pages: recipe-level method and architecture tables (training runs as replicates, the verdicts), then
the level-(a) tables (fault maps as replicates, conditional on the trained networks, no verdict sentences)."""

from __future__ import annotations

import pandas as pd

from faultlab.stats import wording as fmt

from .layout import Doc


def _endpoint(table: pd.DataFrame) -> list[str]:
    return [f"AUC {s}" if e == "AUC" else f"{r:g}" for e, r, s in
            zip(table["endpoint"], table["rate"], table.get("auc_span", [""] * len(table)))]


def _runs(table: pd.DataFrame) -> list[str]:
    return [f"{int(p)} pairs" if d == "paired by seed" else f"{int(a)} / {int(b)}"
            for d, p, a, b in zip(table["design"], table["n_pairs"], table["n_a"], table["n_b"])]


def recipe_display(table: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    """Reader-facing columns of a recipe-level comparison table (arm a vs arm b)."""
    names = {"variant": "variant", "method_a": "method", "variant_a": "variant a", "variant_b": "variant b"}
    return pd.DataFrame({
        names[a]: table[a], names[b]: table[b],
        **({"trained with": table["method"]} if "method" in table else {}),
        "rate": _endpoint(table),
        "runs": _runs(table),
        "mean acc. (%)\na / b": [_pair(x, y) for x, y in zip(table["mean_a"], table["mean_b"])],
        "a − b\n(pp)": [fmt.fmt_pp(x) for x in table["estimate"]],
        "95 % CI\n(pp)": [fmt.fmt_ci_pp(lo, hi) for lo, hi in zip(table["ci_low"], table["ci_high"])],
        "Holm p": [fmt.fmt_p(p) for p in table["pvalue_holm"]],
        "Holm\nTOST p": [fmt.fmt_p(p) for p in table["tost_pvalue_holm"]],
        "runs to\ndetect": [fmt.fmt_runs(n) for n in table["runs_to_detect"]],
        "verdict": table["verdict"],
    })


def maps_display(table: pd.DataFrame, a: str, b: str, pcol: str) -> pd.DataFrame:
    """Reader-facing columns of a level-(a) table (fault maps as replicates)."""
    n = (table["n_pairs"].astype(str) if "n_pairs" in table else
         [f"{x} / {y}" for x, y in zip(table["n_a"], table["n_b"])])
    return pd.DataFrame({
        a: table[a], b: table[b], "rate": [f"{r:g}" for r in table["rate"]], "maps": n,
        "mean acc. (%)\na / b": [_pair(x, y) for x, y in zip(table["mean_a"], table["mean_b"])],
        "a − b\n(pp)": [fmt.fmt_pp(x) for x in table.get("estimate", [float("nan")] * len(table))],
        "Holm p\n(rates)": [fmt.fmt_p(p) for p in table.get(pcol, [float("nan")] * len(table))],
        "conditional\nverdict": table["verdict"],
    })


def _pair(a: float, b: float) -> str:
    return f"{fmt.fmt_pct(a).removesuffix(' %')} / {fmt.fmt_pct(b).removesuffix(' %')}"


def comparison_pages(doc: Doc, methods: pd.DataFrame, archs: pd.DataFrame, baseline: str, margin: float,
                     family: str, maps: tuple[pd.DataFrame, pd.DataFrame] | None = None) -> None:
    """Recipe-level tables, each split over as many pages as it needs, then the level-(a) tables."""
    common = (f"Unit of replication: the training run (each run's mean over its fault maps, or its AUC over the "
              f"common rate span of the two arms). 95 % t interval. Family: {family}; α = 0.05. Verdict: "
              f"better/worse when the Holm p < α (direction = sign of the tested mean difference), equivalent when "
              f"the Holm TOST p < α (margin ±{fmt.fmt_pp(margin, signed=False)}), 'uninformative: both at chance' "
              "when both arms are within the chance band, else inconclusive. 'runs to detect': training runs per "
              "arm for 80 % power against the observed difference, from the observed run-to-run spread.")
    title = f"Training methods vs {baseline} (recipe level)"
    if methods.empty:
        doc.missing_page(title, [m for m in doc.missing if m.startswith("method comparison")]
                         or ["method comparison: no whole-model trials to compare"])
    else:
        notes = ("Methods on one variant are paired by training seed (same initialisation, data order and fault "
                 "maps) when they share >= 2 seeds: one-sample t on the per-seed differences; else Welch. " + common)
        for fault, part in methods.groupby("fault", sort=True):
            doc.table_pages(f"{title}: {fault}", recipe_display(part, "variant", "method_a"), notes=notes)
    title = "Architectures compared (recipe level)"
    if archs.empty:
        doc.missing_page(title, [m for m in doc.missing if m.startswith("architecture comparison")]
                         or ["architecture comparison: no whole-model trials to compare"])
    else:
        notes = "Variant a vs variant b trained with the same method: Welch's t on the runs' values. " + common
        for fault, part in archs.groupby("fault", sort=True):
            doc.table_pages(f"{title}: {fault}", recipe_display(part, "variant_a", "variant_b"), notes=notes)
    if not maps:
        return
    notes = ("Conditional on the trained networks: the fault maps of these networks are the replicates, so a "
             "verdict here says these trained networks differ, not that the training method or architecture does. "
             "Methods: Wilcoxon signed-rank on integer correct-count differences over identical maps; architectures: "
             "Welch over trials. Holm over the rates of each comparison only.")
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
                          "faultlab stats plan --from STUDY turns these into a runs × trials plan.")
