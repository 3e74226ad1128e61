"""Appendix pages: per-sample reliability (plot and table) and the per-group comparison of architectures."""

from __future__ import annotations

import pandas as pd
from matplotlib.lines import Line2D

from faultlab.plot._common import bottom_legend, grid_shape, method_styles
from faultlab.stats import wording as fmt
from faultlab.stats.recipe_tables import MIN_RUNS_FOR_BAND
from faultlab.stats.reliability_table import RELIABLE_SHARE

from .curve_pages import rate_name
from .layout import Doc

HEATMAPS_PER_PAGE = 4
ANNOTATE_MAX_CELLS = 80  # write the value in each heatmap cell up to this many cells


RELIABILITY_FIGURE_FAULTS = 3  # pages of the figure; further faults are in the table


def reliability_pages(doc: Doc, rel: pd.DataFrame, recipe: pd.DataFrame) -> None:
    """Fraction of test points correct in >= 95 % of trials vs rate, one page per fault with a panel per
    architecture and a line per method (as the accuracy figure), then the table; no page without per-sample masks
    (the ``missing`` table says why)."""
    if rel.empty:
        return
    faults = sorted(rel["fault"].unique())
    styles = method_styles(rel["method"])
    for fault in faults[:RELIABILITY_FIGURE_FAULTS]:
        more = len(faults) - RELIABILITY_FIGURE_FAULTS
        fig, body = doc.figure_page(
            "Per-sample reliability" + (f": {fault}" if len(faults) > 1 else ""),
            f"Share of test points of {fault} classified correctly in >= {RELIABLE_SHARE:.0%} of the trials (fault "
            "maps) of a cell. Line: mean over training runs; band: 95 % t interval over training runs (recipe level) "
            f"for arms with >= {MIN_RUNS_FOR_BAND} runs; with 2 runs, thin lines are the runs (no band); with one "
            "run, the bootstrap interval over its fault maps, conditional on that network."
            + (f" {more} more fault model(s) in the table that follows." if more > 0 else ""))
        sub = rel[rel["fault"] == fault]
        variants = sorted(sub["variant"].unique())
        rows, cols = grid_shape(len(variants), None)
        axes = body.subplots(rows, cols, squeeze=False, sharex=True, sharey=True).ravel()
        for ax, variant in zip(axes, variants):
            for method, g in sub[sub["variant"] == variant].groupby("method"):
                _reliability_line(ax, g, recipe, styles[method], fault)
            ax.set_title(variant, fontsize=9)
            ax.set_ylim(-2, 102)
            ax.grid(alpha=0.3)
        for ax in axes[len(variants):]:
            ax.set_visible(False)
        for ax in axes.reshape(rows, cols)[:, 0]:
            ax.set_ylabel("reliable test points (%)")
        for ax in axes.reshape(rows, cols)[-1, :]:
            ax.set_xlabel(rate_name(fault))
        handles = [Line2D([], [], color=st["color"], marker=st["marker"], label=m) for m, st in styles.items()]
        bottom_legend(body, handles, ncol=min(4, len(handles)))
        doc.save(fig)
    one_run = rel.groupby(["variant", "method"])["run_id"].nunique().max() == 1
    shown = "the network's share" if one_run else "mean over training runs"
    doc.table_pages("Per-sample reliability: table", reliability_display(rel), verdict_col=None,
                    notes=f"Reliable test points (%) per rate: {shown} [envelope of the per-run 95 % "
                          f"bootstrap intervals over fault maps; conditional on each trained network]. A test point is "
                          f"reliable in a cell when it is correct in at least "
                          f"⌈{RELIABLE_SHARE:g} × trials⌉ of the cell's trials. Per-run rows: reliability.csv.")


def _reliability_line(ax, g: pd.DataFrame, recipe: pd.DataFrame, style: dict, fault: str) -> None:
    """One arm's reliable share per rate: its runs (2 runs) or its band, and the mean line."""
    variant, method = g["variant"].iloc[0], g["method"].iloc[0]
    r = recipe[(recipe["variant"] == variant) & (recipe["method"] == method) & (recipe["fault"] == fault)]
    agg = r.set_index("rate").rename(columns={"reliable": "est", "ci_low": "lo", "ci_high": "hi"})
    if (agg["n_runs"] < 2).all():
        agg = g.groupby("rate").agg(est=("reliable", "mean"), lo=("ci_low", "min"), hi=("ci_high", "max"))
    if g["run_id"].nunique() == 2:  # a t interval over 2 runs (df = 1) says little: draw the runs
        for _, one in g.groupby("run_id"):
            one = one.sort_values("rate")
            ax.plot(one["rate"], 100 * one["reliable"], color=style["color"], lw=0.8, alpha=0.55)
    else:
        ax.fill_between(agg.index, 100 * agg["lo"], 100 * agg["hi"], color=style["color"], alpha=0.15, lw=0)
    ax.plot(agg.index, 100 * agg["est"], color=style["color"], marker=style["marker"], ms=4)


def reliability_display(rel: pd.DataFrame) -> pd.DataFrame:
    """One row per (variant, method, fault), one column per rate: ``mean [low–high]`` in percent."""
    keys = ["variant", "method", "fault"]
    agg = rel.groupby([*keys, "rate"]).agg(est=("reliable", "mean"), lo=("ci_low", "min"), hi=("ci_high", "max"))
    agg["cell"] = [f"{100 * e:.1f} [{100 * lo:.0f}–{100 * hi:.0f}]" for e, lo, hi in agg.to_numpy()]
    wide = agg["cell"].unstack("rate").fillna("–")
    wide.columns = [f"rate {r:g}" for r in wide.columns]
    info = rel.groupby(keys).agg(runs=("run_id", "nunique"), trials=("n_trials", "min"), points=("n_points", "max"))
    info = info.astype(str).rename(columns={"trials": "trials\n(min)", "points": "test\npoints"})
    return info.join(wide).reset_index()


def group_comparison_pages(doc: Doc, table: pd.DataFrame) -> None:
    """Architectures compared per layer group (Welch on trial drops, Holm-adjusted); no page without groups."""
    if table.empty:
        return
    shown = pd.DataFrame({
        "scope": table["scope"], "method": table["method"], "fault": table["fault"], "group": table["group"],
        "level": table["level"], "a vs b": table["variant_a"] + " vs " + table["variant_b"],
        "drop a / b": [f"{fmt.fmt_pp(a, signed=False)} / {fmt.fmt_pp(b, signed=False)}"
                       for a, b in zip(table["drop_a"], table["drop_b"])],
        "a − b\n(pp)": [fmt.fmt_pp(x) for x in table["estimate"]],
        "95 % CI\n(pp)": [fmt.fmt_ci_pp(lo, hi) for lo, hi in zip(table["ci_low"], table["ci_high"])],
        "runs\na / b": [f"{a} / {b}" for a, b in zip(table["n_a"], table["n_b"])],
        "p (raw)": [fmt.fmt_p(p) for p in table["pvalue"]], "verdict": [str(v) for v in table["verdict"]],
    })
    doc.table_pages("Per-group comparison between architectures", shown,
                    subtitle="Accuracy drop from clean when one layer group is faulted; verdict for a: better = "
                             "loses less accuracy than b.",
                    notes="Recipe level: each training run's mean drop over its trials, Welch t over runs. "
                          "Scope 'layer': "
                          "single-layer trials averaged over the group's layers per (run, trial); scope 'group': the "
                          "whole group faulted at once. Exploratory: raw p, no verdict; declare a contrast with "
                          "'scope: group:<name>' to test one.")
