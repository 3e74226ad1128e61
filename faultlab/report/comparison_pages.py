"""Page 5: method and architecture comparison tables, formatted for reading (pp, 3-digit p, verdicts)."""

from __future__ import annotations

import pandas as pd

from . import fmt
from .layout import Doc


def method_display(table: pd.DataFrame) -> pd.DataFrame:
    """Reader-facing columns of a method-comparison table."""
    return pd.DataFrame({
        "variant": table["variant"],
        "method": table["method_a"],
        "rate": [f"{r:g}" for r in table["rate"]],
        "pairs": table["n_pairs"].astype(str),
        "mean acc. (%)\nmethod / base": [_pair(a, b) for a, b in zip(table["mean_a"], table["mean_b"])],
        "difference\n(pp)": [fmt.fmt_pp(x) for x in table["estimate"]],
        "95 % CI\n(pp)": [fmt.fmt_ci_pp(lo, hi) for lo, hi in zip(table["ci_low"], table["ci_high"])],
        "Wilcoxon\np": [fmt.fmt_p(p) for p in table["pvalue"]],
        "Holm p": [fmt.fmt_p(p) for p in table["pvalue_holm"]],
        "effect r\n(rank-biserial)": [fmt.fmt_num(x) for x in table["effect_size"]],
        "TOST p": [fmt.fmt_p(p) for p in table["tost_pvalue"]],
        "verdict": table["verdict"],
    })


def architecture_display(table: pd.DataFrame) -> pd.DataFrame:
    """Reader-facing columns of an architecture-comparison table."""
    return pd.DataFrame({
        "variant A": table["variant_a"],
        "variant B": table["variant_b"],
        "method": table["method"],
        "rate": [f"{r:g}" for r in table["rate"]],
        "trials\nA / B": [f"{a} / {b}" for a, b in zip(table["n_a"], table["n_b"])],
        "mean acc. (%)\nA / B": [_pair(a, b) for a, b in zip(table["mean_a"], table["mean_b"])],
        "A − B\n(pp)": [fmt.fmt_pp(x) for x in table["estimate"]],
        "95 % CI\n(pp)": [fmt.fmt_ci_pp(lo, hi) for lo, hi in zip(table["ci_low"], table["ci_high"])],
        "Welch p": [fmt.fmt_p(p) for p in table["welch_pvalue"]],
        "Holm p\n(Welch)": [fmt.fmt_p(p) for p in table["welch_pvalue_holm"]],
        "Holm p\n(M-W U)": [fmt.fmt_p(p) for p in table["mwu_pvalue_holm"]],
        "Cliff's δ": [fmt.fmt_num(x) for x in table["cliffs_delta"]],
        "TOST p": [fmt.fmt_p(p) for p in table["tost_pvalue"]],
        "verdict": table["verdict"],
    })


def _pair(a: float, b: float) -> str:
    return f"{fmt.fmt_pct(a).removesuffix(' %')} / {fmt.fmt_pct(b).removesuffix(' %')}"


def _pad(table: pd.DataFrame) -> pd.DataFrame:
    """Columns the stats leave out when no rate had enough pairs, filled with NaN."""
    cols = ["estimate", "ci_low", "ci_high", "pvalue", "effect_size", "tost_pvalue", "welch_pvalue",
            "cliffs_delta", "margin"]
    return table.assign(**{c: float("nan") for c in cols if c not in table.columns})


def comparison_pages(doc: Doc, methods: pd.DataFrame, archs: pd.DataFrame, baseline: str, margin: float) -> None:
    """Both comparison tables, each split over as many pages as it needs."""
    title = f"Training methods vs {baseline}"
    if methods.empty:
        doc.missing_page(title, [m for m in doc.missing if m.startswith("method comparison")]
                         or ["method comparison: no whole-model trials to compare"])
    else:
        notes = (f"Per rate, each method against {baseline} on the same variant, paired over identical fault maps "
                 "(matched on training seed, rate and trial). Difference = method − baseline, mean of paired "
                 "differences, 95 % t interval. Wilcoxon signed-rank p; Holm correction across the rates of each "
                 f"comparison. Effect size: matched-pairs rank-biserial r. TOST: paired equivalence test at "
                 f"±{fmt.fmt_pp(margin, signed=False)}. Verdict from the Holm p (better/worse) or the TOST "
                 "(equivalent), else inconclusive.")
        for fault, part in methods.groupby("fault", sort=True):
            doc.table_pages(f"{title}: {fault}", method_display(_pad(part)), notes=notes)
    title = "Architectures compared"
    if archs.empty:
        doc.missing_page(title, [m for m in doc.missing if m.startswith("architecture comparison")]
                         or ["architecture comparison: no whole-model trials to compare"])
    else:
        notes = ("Per rate, variant A against variant B trained with the same method; trials of all training seeds "
                 "pooled as independent samples (this understates seed-to-seed uncertainty; the curves' hierarchical "
                 "bootstrap does not). A − B with a 95 % Welch interval; Welch t and Mann-Whitney U p-values, each "
                 f"Holm-corrected across rates; Cliff's δ; Welch TOST at ±{fmt.fmt_pp(margin, signed=False)}. "
                 "Verdict from the Holm-adjusted Welch p and the TOST.")
        for fault, part in archs.groupby("fault", sort=True):
            doc.table_pages(f"{title}: {fault}", architecture_display(_pad(part)), notes=notes)
