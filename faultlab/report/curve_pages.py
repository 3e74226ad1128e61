"""Pages 2-4: accuracy vs rate with CI bands, per-rate distributions, critical-rate forest plot with AUC."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D

from faultlab.stats import wording as fmt
from faultlab.stats.vocabulary import Topic

from .layout import PAGE_IN, Doc, label

PANELS_PER_PAGE = 4
FOREST_ROWS_PER_PAGE = 22
FOREST_ROW_IN = 0.4  # inches per forest row (the axes grow with the rows, up to the page)
FOREST_COLUMNS_X = (0.0, 0.42, 0.9)  # critical rate, AUC, runs (axes fraction)


def rate_name(fault: str) -> str:
    """The swept parameter of a fault template: ``drop(p={rate})`` -> ``p``."""
    m = re.search(r"(\w+)\s*=\s*\{rate\}", fault)
    return f"{m.group(1)} (fault rate)" if m else "fault rate"


def _grid(n: int) -> tuple[int, int]:
    return (1, 1) if n == 1 else (1, 2) if n == 2 else (2, 2)


def _legend(fig, style: dict, extra: list | None = None) -> None:
    handles = [Line2D([], [], color=s["color"], ls=s["ls"], marker=s["marker"], ms=4, label=label(*k))
               for k, s in sorted(style.items())]
    handles += extra or []
    fig.legend(handles=handles, loc="lower center", ncol=min(4, len(handles)), frameon=False,
               bbox_to_anchor=(0.5, 0.045))


def accuracy_pages(doc: Doc, curves: pd.DataFrame, style: dict, n_resamples: int,
                   runs: pd.DataFrame | None = None) -> None:
    """One panel per fault: mean accuracy per (variant, method) with 95 % CI bands, or, for a curve with fewer
    than 3 training runs (column ``band`` False), each run's curve (``runs``: the ``curve_runs`` table) instead of
    a band; clean accuracy at rate 0."""
    title = "Accuracy vs fault rate"
    if curves.empty:
        doc.missing_page(title, ["accuracy curves: no whole-model trials with a complete rate grid"])
        return
    faults = sorted(curves["fault"].unique())
    methods = ", ".join(sorted(curves["ci_method"].unique()))
    sub = (f"Lines: mean over training runs of per-run trial means. Bands: 95 % CI ({methods}): the recipe-level "
           "interval, training runs as replicates, truncated to [0, 100] %; with fewer than 3 runs, thin lines are "
           "the runs themselves (no band). Hollow markers at rate 0: clean accuracy (no faults).")
    for start in range(0, len(faults), PANELS_PER_PAGE):
        page_faults = faults[start:start + PANELS_PER_PAGE]
        fig = doc.page(title, sub)
        nr, nc = _grid(len(page_faults))
        axes = fig.subplots(nr, nc, squeeze=False).ravel()
        fig.subplots_adjust(left=0.07, right=0.97, top=0.84, bottom=0.2, hspace=0.35, wspace=0.18)
        for ax, fault in zip(axes, page_faults):
            for (variant, method), g in curves[curves["fault"] == fault].groupby(["variant", "method"]):
                s = style[(variant, method)]
                g = g.sort_values("rate")
                x, y = g["rate"].to_numpy(), 100 * g["estimate"].to_numpy()
                if bool(g["band"].iloc[0]) or runs is None or runs.empty:
                    ax.fill_between(x, 100 * g["ci_low"], 100 * g["ci_high"], color=s["color"], alpha=0.25, lw=0)
                else:
                    own = runs[(runs["variant"] == variant) & (runs["method"] == method) & (runs["fault"] == fault)]
                    for _, r in own.groupby("run_id"):
                        r = r.sort_values("rate")
                        ax.plot(r["rate"], 100 * r["accuracy"], color=s["color"], lw=0.7, alpha=0.6)
                ax.plot(x, y, color=s["color"], ls=s["ls"], marker=s["marker"], ms=4, lw=1.6)
                if len(x) == 1:  # no band to draw: show the CI as an error bar
                    ax.errorbar(x, y, yerr=[y - 100 * g["ci_low"], 100 * g["ci_high"] - y], color=s["color"],
                                capsize=4, ls="none")
                clean = 100 * g["clean_accuracy"].iloc[0]
                ax.plot([0, x[0]], [clean, y[0]], color=s["color"], ls=":", lw=1)
                ax.plot([0], [clean], marker=s["marker"], mfc="white", mec=s["color"], ms=6, ls="none")
            ax.set_title(fault)
            ax.set_xlabel(rate_name(fault))
            ax.set_ylabel("accuracy (%)")
            ax.set_xlim(left=0)
            ax.grid(alpha=0.3)
        for ax in axes[len(page_faults):]:
            ax.set_visible(False)
        clean = Line2D([], [], marker="o", mfc="white", mec="0.3", ls="none", label="clean accuracy (rate 0)")
        _legend(fig, {k: v for k, v in style.items() if k in set(zip(curves["variant"], curves["method"]))}, [clean])
        doc.save(fig)


def distribution_pages(doc: Doc, af: pd.DataFrame, style: dict) -> None:
    """Per fault: box plots of trial accuracy per rate, hue = variant · method, trials as jittered points."""
    for fault, g in af.groupby("fault", sort=True):
        fig = doc.page(f"Per-rate distributions: {fault}",
                       "Boxes: median and IQR of the trial accuracies (all training runs pooled); whiskers 1.5 IQR; "
                       "dots: individual trials (fault maps).")
        ax = fig.add_axes((0.07, 0.2, 0.9, 0.64))
        g = g.assign(curve=[label(v, m) for v, m in zip(g["variant"], g["method"])], pct=100 * g["accuracy"],
                     rate_label=[f"{r:g}" for r in g["rate"]])
        keys = sorted({(v, m) for v, m in zip(g["variant"], g["method"])})
        order = [label(*k) for k in keys]
        palette = {label(*k): style[k]["color"] for k in keys}
        rates = [f"{r:g}" for r in sorted(g["rate"].unique())]
        sns.boxplot(data=g, x="rate_label", y="pct", hue="curve", hue_order=order, order=rates, palette=palette,
                    showfliers=False, ax=ax, linewidth=0.8, boxprops={"alpha": 0.55})
        sns.stripplot(data=g, x="rate_label", y="pct", hue="curve", hue_order=order, order=rates, palette=palette,
                      dodge=True, jitter=0.15, size=2.2, alpha=0.7, ax=ax, legend=False, edgecolor="0.2",
                      linewidth=0.2)
        ax.set_xlabel(rate_name(fault))
        ax.set_ylabel("accuracy (%)")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=min(4, len(order)), frameon=False)
        doc.save(fig)


def forest_pages(doc: Doc, summary: pd.DataFrame, curves: pd.DataFrame, style: dict, fraction: float,
                 missing: pd.DataFrame | None = None) -> None:
    """Per fault: critical rate with bootstrap CI per curve (arrows where never crossed) and an aligned AUC column."""
    title = "Critical rate and AUC"
    if summary.empty:
        said = [] if missing is None or missing.empty else missing.loc[missing["topic"] == Topic.AUC, "missing"]
        reasons = list(said) or ["AUC and critical rate: no whole-model curve with >= 2 rates"]
        doc.missing_page(title, reasons)
        return
    for fault, rows in summary.groupby("fault", sort=True):
        grid_max = float(curves.loc[curves["fault"] == fault, "rate"].max())
        rows = rows.sort_values(["variant", "method"])
        for start in range(0, len(rows), FOREST_ROWS_PER_PAGE):
            _forest_page(doc, f"{title}: {fault}", rows.iloc[start:start + FOREST_ROWS_PER_PAGE], style, fraction,
                         grid_max)


def _forest_page(doc: Doc, title: str, part: pd.DataFrame, style: dict, fraction: float, grid_max: float) -> None:
    edge = grid_max * 1.06
    fig = doc.page(title, f"Critical rate: first rate where accuracy < {fraction:g} × clean (linear interpolation; "
                          "the curve starts at clean for rate 0). 95 % CI: where the curves' bands cross the "
                          "threshold, widened to the enclosing tested rates (the data cannot place a crossing "
                          "between two grid points). "
                          f"▶ at the right edge: not crossed within the tested grid (≤ {grid_max:g}), i.e. the "
                          "critical rate or its upper bound lies beyond the grid ('> grid').")
    height = min(0.7, max(0.22, FOREST_ROW_IN * (len(part) + 1) / PAGE_IN[1]))
    bottom = 0.82 - height
    ax = fig.add_axes((0.25, bottom, 0.35, height))
    tx = fig.add_axes((0.62, bottom, 0.36, height), sharey=ax)
    y = np.arange(len(part))[::-1]
    for yi, r in zip(y, part.itertuples()):
        s = style[(r.variant, r.method)]
        ax.plot([r.critical_low, min(r.critical_high, edge)], [yi, yi], color=s["color"], lw=2.2)
        if math.isinf(r.critical_high):
            ax.plot([edge], [yi], marker=">", color=s["color"], ms=7)
        est = r.critical_rate
        ax.plot([min(est, edge)], [yi], marker=">" if math.isinf(est) else "o", color=s["color"], ms=8,
                mec="black", mew=0.6)
        crit = f"{fmt.fmt_rate(est)} [{fmt.fmt_rate(r.critical_low)}, {fmt.fmt_rate(r.critical_high)}]"
        auc = f"{fmt.fmt_pct(r.auc)} [{fmt.fmt_pct(r.auc_low)}, {fmt.fmt_pct(r.auc_high)}]"
        for x, text in zip(FOREST_COLUMNS_X, (crit, auc, str(r.n_runs))):
            tx.text(x, yi, text, va="center", size=8)
    ax.axvline(grid_max, color="0.5", ls=":", lw=1)
    ax.set_xlim(0, edge * 1.02)
    ax.set_ylim(-0.6, len(part) - 0.4)
    ax.set_yticks(y, [label(v, m) for v, m in zip(part["variant"], part["method"])], fontsize=8)
    ax.set_xlabel(f"critical rate, {rate_name(part['fault'].iloc[0])}  (dotted: end of grid, {grid_max:g})")
    ax.grid(axis="x", alpha=0.3)
    tx.axis("off")
    for x, head in zip(FOREST_COLUMNS_X, ("critical rate [95 % CI]", "AUC [95 % CI]", "runs")):
        tx.text(x, len(part) - 0.4, head, weight="bold", size=8, va="bottom")
    fig.text(0.25, bottom - 0.09, "AUC: mean accuracy over the tested rate range (trapezoid rule, normalised by its "
             "width).", size=7.5, color="0.3", va="top")
    doc.save(fig)
