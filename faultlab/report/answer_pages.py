"""The pages of a study with an ``answer:`` block (its paragraphs are page 1's answer): the trend figure
(critical rate vs the family's x, with CIs; main part) and the effects table (appendix). Render only: the numbers
come from :func:`faultlab.stats.answer.answer_tables`."""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pandas as pd

from faultlab.stats import wording as fmt
from faultlab.stats.vocabulary import Verdict

from .layout import Doc


def _effects_table(effects: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for _, r in effects.iterrows():
        tested = r["verdict"] != Verdict.NOT_TESTED
        rows.append({
            "surface": textwrap.shorten(str(r["surface"]), 48, placeholder="…"), "method": r["method"],
            "variant vs control": f"{r['variant']} vs {r['control']}",
            "loss variant": fmt.fmt_pp(r["mean_a"]), "loss control": fmt.fmt_pp(r["mean_b"]),
            "effect": fmt.fmt_pp(r["estimate"]) if tested else "–",
            "95 % CI": fmt.fmt_ci_pp(r["low"], r["high"]) if tested else "–",
            "runs": f"{int(r['n_a'])}+{int(r['n_b'])}",
            "adj. p": fmt.fmt_p(r["p_adjusted"]), "adj. TOST p": fmt.fmt_p(r["tost_p_adjusted"]),
            "verdict": str(r["verdict"]) if tested else f"not tested: {r['reason']}",
        })
    return pd.DataFrame(rows)


def effects_pages(doc: Doc, answer: dict) -> None:
    """The answer's effects table (appendix): every pair on every fault surface."""
    if answer["effects"].empty:
        return
    doc.table_pages("Bottleneck effects (recipe level, the primary family)", _effects_table(answer["effects"]),
                    notes=f"{answer['effects']['family'].iloc[0]}; TOST margin ±{answer['margin'] * 100:g} pp. Loss: "
                          "the run's trapezoid mean of (accuracy - clean accuracy) over the surface's rates, or over "
                          "layers and trials for an equal-count surface; averaged over runs. Effect = variant - "
                          "control, > 0: the variant loses less; pooled t over training runs. 'not tested: arm "
                          "absent': an arm has no layer on that surface (no depthwise conv in a plain CNN).")


def trend_page(doc: Doc, answer: dict) -> None:
    """The critical-rate trend figure of the answer block (main part); no page without trend architectures."""
    if answer["trend"] is not None and len(answer["trend"]):
        _trend_page(doc, answer)


def _trend_page(doc: Doc, answer: dict) -> None:
    import matplotlib.pyplot as plt

    trend = answer["trend"]
    fig = doc.page("Critical rate vs " + answer["trend_label"],
                   f"First rate at which accuracy drops below {trend['fraction'].iloc[0]:g} × clean, whole network, "
                   "mean curve over training runs; bars: interval from the t band over runs, widened to the enclosing "
                   "tested rates; an open marker at the top: not reached within the grid.")
    ax = fig.add_axes((0.08, 0.36, 0.62, 0.5))
    cmap = plt.get_cmap("tab10")
    for i, ((method, fault), g) in enumerate(trend.groupby(["method", "fault"], sort=True)):
        g = g.sort_values("x")
        x = g["x"].to_numpy(float) * (1 + 0.02 * i)
        est = g["critical_rate"].to_numpy(float)
        lo, hi = g["critical_low"].to_numpy(float), g["critical_high"].to_numpy(float)
        top = float(np.nanmax(np.where(np.isfinite(hi), hi, np.nan))) if np.isfinite(hi).any() else 1.0
        cap = top * 1.1 if math.isfinite(top) else 1.0
        shown = np.where(np.isfinite(est), est, cap)
        ax.errorbar(x, shown, yerr=[np.clip(shown - lo, 0, None), np.clip(np.where(np.isfinite(hi), hi, cap) - shown,
                    0, None)], marker="o", capsize=3, color=cmap(i), label=f"{method} · {fault}",
                    mfc=[cmap(i) if np.isfinite(e) else "white" for e in est][0])
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(trend["x"].unique()))
    ax.set_xticklabels([f"{v:g}" for v in sorted(trend["x"].unique())])
    ax.set_xlabel(answer["trend_label"])
    ax.set_ylabel("critical rate")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    lines = [f"{r['method']}, {r['variant']} (x = {r['x']:g}): {fmt.fmt_rate(r['critical_rate'])} "
             f"[{fmt.fmt_rate(r['critical_low'])}, {fmt.fmt_rate(r['critical_high'])}], clean "
             f"{fmt.fmt_pct(r['clean_accuracy'])}, {int(r['n_runs'])} runs" for _, r in trend.iterrows()]
    fig.text(0.08, 0.27, "\n".join(lines[:16]), size=6.5, va="top", family="monospace")
    doc.save(fig)
