"""Appendix pages of the curves: their numbers (accuracy per rate with intervals) and per-rate distributions."""

from __future__ import annotations

import re

import pandas as pd
import seaborn as sns

from faultlab.stats import wording as fmt

from .layout import Doc, label


def rate_name(fault: str) -> str:
    """The swept parameter of a fault template: ``drop(p={rate})`` -> ``p``."""
    m = re.search(r"(\w+)\s*=\s*\{rate\}", fault)
    return f"{m.group(1)} (fault rate)" if m else "fault rate"


def curve_numbers(curves: pd.DataFrame) -> pd.DataFrame:
    """Accuracy per rate as numbers, one row per arm and fault: ``mean [low, high]`` in %, * where truncated."""
    rows = []
    for (variant, method, fault), g in curves.groupby(["variant", "method", "fault"], sort=True):
        row = {"arm": label(variant, method), "fault": fault, "runs": str(int(g["n_runs"].iloc[0])),
               "clean": fmt.fmt_pct(g["clean_accuracy"].iloc[0]).removesuffix(" %")}
        for _, r in g.sort_values("rate").iterrows():
            row[f"rate {r['rate']:g}"] = (f"{r['estimate'] * 100:.1f} {fmt.fmt_ci_pct(r['ci_low'], r['ci_high'])}"
                                         + ("*" if r["truncated"] else ""))
        rows.append(row)
    return pd.DataFrame(rows).fillna("–")


def curve_number_pages(doc: Doc, curves: pd.DataFrame) -> None:
    """The accuracy-vs-rate figure's numbers."""
    if curves.empty:
        return
    runs = curves["n_runs"]
    over = ("95 % t interval over training runs (recipe level)" if (runs >= 2).all() else
            "95 % CI over the fault maps, conditional on the trained network" if (runs == 1).all() else
            "95 % t interval over training runs (recipe level); arms with one run: 95 % CI over its fault maps, "
            "conditional on that network")
    mean = ("Each network's mean over its fault maps" if (runs == 1).all() else
            "Mean over training runs of each run's mean over its fault maps")
    clean = "clean accuracy of the network" if (runs == 1).all() else "mean clean accuracy of the runs"
    doc.table_pages("Accuracy per rate (%)", curve_numbers(curves), verdict_col=None,
                    notes=f"{mean} [{over}], * truncated to [0, 100] %. Clean: {clean}. curves.csv; each run's "
                          "curve: curve_runs.csv.")


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
