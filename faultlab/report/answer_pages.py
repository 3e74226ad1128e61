"""The answer page of a study with an ``answer:`` block: the question, one generated paragraph per fault surface
(bottleneck effect, recipe-level CI, TOST verdict, whether the reference conclusion holds), the effects table,
and the trend figure (critical rate vs the family's x, with CIs). An answer from declared contrasts (an ablation)
shows one row per component and surface with its loss relative to clean, and the clean accuracy per arm. Render
only: the numbers come from :func:`faultlab.stats.answer.answer_tables`."""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pandas as pd

from faultlab.stats import wording as fmt
from faultlab.stats.vocabulary import Reason, Verdict

from .layout import Doc

WRAP = 150


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


def _components_table(effects: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for _, r in effects.iterrows():
        tested = r["verdict"] != Verdict.NOT_TESTED
        rel = fmt.is_num(r.get("rel_estimate")) and tested
        rel_verdict = str(r["rel_verdict"]) if rel else "–"
        if rel and r["rel_verdict"] == Verdict.NOT_TESTED:
            rel_verdict = "gated" if r["rel_reason"] == Reason.GATE_CLOSED else f"not tested: {r['rel_reason']}"
        rows.append({
            "component": r["contrast"], "surface": fmt.short_surface(r["scope"]),
            "variant vs control": f"{r['variant']} vs {r['control']}",
            "loss variant": fmt.fmt_pp(r["mean_a"]), "loss control": fmt.fmt_pp(r["mean_b"]),
            "effect": fmt.fmt_pp(r["estimate"]) if tested else "–",
            "95 % CI": fmt.fmt_ci_pp(r["low"], r["high"]) if tested else "–",
            "runs": f"{int(r['n_a'])}+{int(r['n_b'])}", "adj. p": fmt.fmt_p(r["p_adjusted"]),
            "adj. TOST p": fmt.fmt_p(r["tost_p_adjusted"]),
            "verdict": str(r["verdict"]) if tested else f"not tested: {r['reason']}",
            "rel. effect": f"{r['rel_estimate'] * 100:+.1f} %" if rel else "–",
            "rel. 95 % CI": fmt.fmt_ci_pp(r["rel_low"], r["rel_high"]).replace("]", "] %") if rel else "–",
            "rel. verdict": rel_verdict,
        })
    return pd.DataFrame(rows)


def _clean_table(clean: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame([{
        "architecture": r["variant"], "method": r["method"], "runs": int(r["runs"]),
        "clean accuracy": fmt.fmt_pct(r["mean"], 2), "sd": fmt.fmt_pp(r["sd"], signed=False),
        "range": f"{fmt.fmt_pct(r['min'])} – {fmt.fmt_pct(r['max'])}"} for _, r in clean.iterrows()])


def _component_tables(doc: Doc, answer: dict) -> None:
    doc.table_pages("Component effects (recipe level, the primary family)", _components_table(answer["effects"]),
                    notes="Loss: the run's trapezoid mean of (accuracy - clean accuracy) over the surface's rates, or "
                          "over layers and trials for an equal-count surface; averaged over runs. Effect > 0: the "
                          "variant (the block with the component) loses less. rel.: the same endpoint as a share of "
                          "each run's own clean accuracy (accuracy / clean - 1), a secondary endpoint tested only "
                          "where its contrast was decided ('gated' otherwise). 'not tested: arm absent': an arm has "
                          "no layer on that surface.")
    doc.table_pages("Clean accuracy per arm (test digits the campaigns use)", _clean_table(answer["clean"]),
                    verdict_col=None, notes="Mean, sd and range over the arm's training runs.")


def answer_pages(doc: Doc, answer: dict, question: str) -> None:
    """Page 2 of the report (after the title): the answer in words, the table, the trend figure."""
    family = answer["effects"]["family"].iloc[0] if not answer["effects"].empty else ""
    margins = ("TOST margins as declared per contrast" if answer.get("components") else
               f"TOST margin ±{answer['margin'] * 100:g} pp")
    fig = doc.page("The answer, per fault surface (recipe level)",
                   f"{family}; {margins}; effect = variant - control in run-mean accuracy loss (accuracy - own clean "
                   "accuracy), > 0: the variant loses less; pooled t over training runs.")
    y = 0.86
    fig.text(0.05, y, "\n".join(textwrap.wrap(question, WRAP)), size=10, style="italic", va="top")
    y -= 0.025 * len(textwrap.wrap(question, WRAP)) + 0.02
    for para in answer["paragraphs"]:
        lines = textwrap.wrap(para, WRAP, break_on_hyphens=False)
        if y - 0.022 * len(lines) < 0.06 and answer.get("components"):  # every component's sentence is shown
            doc.save(fig)
            fig, y = doc.page("The answer, per fault surface (recipe level, continued)"), 0.86
        elif y - 0.022 * len(lines) < 0.06:
            fig.text(0.05, y, "… continued in the table that follows.", size=8, va="top")
            break
        fig.text(0.05, y, "\n".join(lines), size=8, va="top", linespacing=1.3)
        y -= 0.022 * len(lines) + 0.015
    doc.save(fig)
    if answer.get("components"):
        if not answer["effects"].empty:
            _component_tables(doc, answer)
        if len(answer["trend"]):
            _trend_page(doc, answer)
        return
    if not answer["effects"].empty:
        doc.table_pages("Bottleneck effects (recipe level, the primary family)", _effects_table(answer["effects"]),
                        notes="Loss: the run's trapezoid mean of (accuracy - clean accuracy) over the surface's rates, "
                              "or over layers and trials for an equal-count surface; averaged over runs. 'not "
                              "tested: arm absent': an arm has no layer on that surface (no depthwise conv in a plain "
                              "CNN).")
    _trend_page(doc, answer)


def _trend_page(doc: Doc, answer: dict) -> None:
    import matplotlib.pyplot as plt

    trend = answer["trend"]
    if trend is None or len(trend) == 0:
        doc.missing_page("Critical rate trend", ["the answer's trend: no whole-network trials of its architectures"])
        return
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
