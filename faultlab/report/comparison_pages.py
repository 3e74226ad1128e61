"""The appendix's comparison tables: the contrast table (the primary family and its gated secondary rows), the
all-pairs recipe-level rows that are no contrast's (exploratory, one AUC row per pair), the level-(a) tables (fault
maps as replicates, conditional on the trained networks: one row per comparison, never shaded) and the variance
components. Render only: every value comes from faultlab.stats."""

from __future__ import annotations

import pandas as pd

from faultlab.stats import wording as fmt
from faultlab.stats.vocabulary import Design, Endpoint, Measure, Role

from .layout import Doc


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


def _share(x: object) -> str:
    """A share of clean accuracy in %: ``+28.3 %``."""
    return f"{x * 100:+.1f} %" if fmt.is_num(x) else "–"


def _means(a: object, b: object, measure: str) -> str:
    """The arms' means in the row's measure: accuracies in %, losses (accuracy - clean) in pp, relative losses in
    % of clean."""
    if measure == Measure.LOSS:
        return f"{fmt.fmt_pp(a)} / {fmt.fmt_pp(b)}"
    if measure == Measure.RELATIVE:
        return f"{_share(a)} / {_share(b)}"
    return f"{fmt.fmt_pct(a)} / {fmt.fmt_pct(b)}"


def contrast_pages(doc: Doc, table: pd.DataFrame) -> None:
    """The contrast table: primary rows (page-1 verdicts) and secondary rows (tested only when gated); a column
    with one value for every row (the fault surface) goes to the subtitle."""
    if table.empty:
        return
    shown = pd.DataFrame({
        "contrast": table["contrast"], "role": table["role"].astype(str),
        "fault · scope": [f"{f} · {c}" for f, c in zip(table["fault"], table["scope"])],
        "endpoint": _endpoint(table), "runs": _runs(table),
        "a / b": [_means(a, b, m) for a, b, m in zip(table["mean_a"], table["mean_b"], table["measure"])],
        "a − b": [fmt.fmt_pp(x) if m != Measure.RELATIVE else _share(x)
                  for x, m in zip(table["estimate"], table["measure"])],
        "95 % CI": [fmt.fmt_ci_pp(lo, hi) + (" %" if m == Measure.RELATIVE and fmt.is_num(lo) else "")
                    + (" *" if t else "")
                    for lo, hi, t, m in zip(table["low"], table["high"], table["truncated"], table["measure"])],
        "adj. p": [fmt.fmt_p(p) for p in table["p_adjusted"]],
        "adj.\nTOST p": [fmt.fmt_p(p) for p in table["tost_p_adjusted"]],
        "runs to\ndetect": [fmt.fmt_runs(n) for n in table["runs_to_detect"]],
        "verdict": _verdicts(table),
    })
    subtitle = ""
    if shown["fault · scope"].nunique() == 1:
        subtitle = f"Every row: {table['surface'].iloc[0]}."
        shown = shown.drop(columns="fault · scope")
    doc.table_pages("Declared contrasts (recipe level)", shown, subtitle=subtitle,
                    notes=f"Family: {table['family'].iloc[0]}. Primary rows are the study's question: one family, a "
                          "closed test in which a contrast's difference test and TOST count once. Secondary rows (the "
                          "contrast's other endpoints) are tested only when their contrast was decided, at α/m. "
                          "Differences and intervals in pp (accuracy; loss = accuracy - the run's clean accuracy), "
                          "in % of clean for relative rows. * interval truncated to [-100, +100] pp. 'runs to "
                          "detect': runs per arm for 80 % power against the observed difference at the family's "
                          "level, from the observed spread."
                          + (" ', relative': the loss as a share of each run's clean accuracy (accuracy / clean - 1; "
                             "values in % of clean, not pp)." if (table["measure"] == Measure.RELATIVE).any() else ""))


def recipe_display(table: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    """Reader-facing columns of an all-pairs recipe-level table (arm a vs arm b)."""
    names = {"variant": "variant", "method_a": "method", "variant_a": "variant a", "variant_b": "variant b"}
    return pd.DataFrame({
        names[a]: table[a], names[b]: table[b],
        **({"trained with": table["method"]} if "method" in table else {}),
        "endpoint": _endpoint(table),
        "runs": _runs(table),
        "mean acc. (%)\na / b": [_pair(x, y) for x, y in zip(table["mean_a"], table["mean_b"])],
        "a − b\n(pp)": [fmt.fmt_pp(x) for x in table["estimate"]],
        "95 % CI\n(pp)": [fmt.fmt_ci_pp(lo, hi) + (" *" if t else "")
                          for lo, hi, t in zip(table["ci_low"], table["ci_high"], table["truncated"])],
        "p\n(raw)": [fmt.fmt_p(p) for p in table["pvalue"]],
        "adj. p": [fmt.fmt_p(p) for p in table["p_adjusted"]],
        "verdict": _verdicts(table),
    })


def _pair(a: float, b: float) -> str:
    return f"{fmt.fmt_pct(a).removesuffix(' %')} / {fmt.fmt_pct(b).removesuffix(' %')}"


def _one_endpoint(table: pd.DataFrame) -> pd.DataFrame:
    """The AUC rows of an all-pairs table (the per-rate rows stay in its CSV); the rate rows when it has none."""
    auc = table[table["endpoint"] == Endpoint.AUC]
    return auc if len(auc) else table


def exploratory_pages(doc: Doc, methods: pd.DataFrame, archs: pd.DataFrame, baseline: str, margin: float) -> None:
    """The all-pairs recipe-level rows that are no declared contrast's (exploratory: estimate, interval, raw p),
    one row per pair (the AUC; per-rate rows in the CSVs). Rows that are a contrast's are in the contrast table."""
    common = ("Unit of replication: the training run (each run's AUC over the common rate span of the two arms). 95 % "
              "t interval (* truncated to [-100, +100] pp). Exploratory: an estimate with its interval and a raw p, "
              f"no verdict (TOST margin ±{fmt.fmt_pp(margin, signed=False)} in the CSV). Per-rate rows: ")
    m = methods[methods["role"] == Role.EXPLORATORY] if not methods.empty else methods
    if not m.empty:
        doc.table_pages(f"Other training-method pairs vs {baseline} (exploratory)",
                        recipe_display(_one_endpoint(m), "variant", "method_a").drop(columns=["adj. p", "verdict"]),
                        notes="Paired by training seed when the methods share >= 2 seeds. " + common
                        + "method_comparison.csv.", verdict_col=None)
    a = archs[archs["role"] == Role.EXPLORATORY] if not archs.empty else archs
    if not a.empty:
        doc.table_pages("Architecture pairs (exploratory)",
                        recipe_display(_one_endpoint(a), "variant_a", "variant_b").drop(columns=["adj. p", "verdict"]),
                        notes="Every pair of architectures trained with the same method, unpaired (pooled Student's "
                              "t; Welch when unbalanced with incompatible spreads); not part of the question unless "
                              "declared as a contrast. " + common + "architecture_comparison.csv.", verdict_col=None)


def maps_display(table: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """Level (a), one row per comparison (``columns``: table column -> header) and a column per rate: the difference
    a − b (pp) and the conditional verdict over these networks' fault maps, in words, never shaded."""
    keys = [c for c in columns if c in table] + ["fault"]
    rows = []
    for key, g in table.groupby(keys, sort=True):
        row = dict(zip([columns.get(k, k) for k in keys], key))
        for _, r in g.sort_values("rate").iterrows():
            row[f"rate {r['rate']:g}"] = f"{fmt.fmt_pp(r.get('estimate'))} {r['verdict']}"
        rows.append(row)
    return pd.DataFrame(rows).fillna("–")


def level_a_pages(doc: Doc, maps: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """The level-(a) tables: conditional on the trained networks, fault maps as replicates; not the answer."""
    notes = ("CONDITIONAL ON THESE TRAINED NETWORKS (level a): the fault maps of these particular networks are the "
             "replicates, so a word here says these trained networks differ under these faults, not that the training "
             "method or architecture does (that is the recipe level: the primary contrasts). Methods: Wilcoxon "
             "signed-rank on integer correct-count differences over identical maps; architectures: Welch over "
             "trials. Closed test over the rates of each comparison only; exploratory. Cells: a − b and the "
             "conditional word.")
    for table, columns, name in (
            (maps[0], {"variant": "architecture", "method_a": "method a", "method_b": "method b"}, "methods"),
            (maps[1], {"variant_a": "architecture a", "variant_b": "architecture b", "method": "trained with"},
             "architectures")):
        if not table.empty:
            doc.table_pages(f"Conditional on the trained networks (level a): {name}", maps_display(table, columns),
                            notes=notes, verdict_col=None)


def variance_pages(doc: Doc, comps: pd.DataFrame) -> None:
    """Variance components per cell: where the next hour of compute should go (more runs or more trials)."""
    title = "Variance components (recipe level)"
    if comps.empty:
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
