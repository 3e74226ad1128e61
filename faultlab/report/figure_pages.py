"""The main part's figures, drawn by :mod:`faultlab.plot` into report pages: accuracy vs rate as small multiples
(one page per fault), the forest plot of the primary contrasts, critical rate and AUC, per-layer sensitivity.
Captions say the level of every interval from the tables' typed columns (runs per arm, truncation)."""

from __future__ import annotations

import pandas as pd

import faultlab.plot as fp
from faultlab.stats import wording as fmt
from faultlab.stats.vocabulary import Role

from .layout import Doc

FOREST_ROWS_PER_PAGE = 28
LAYER_PANELS_PER_PAGE = 4


def interval_caption(n_runs: pd.Series) -> str:
    """What the intervals of curves with these runs per arm are: the recipe-level band, the runs themselves, or
    (one run) the CI over fault maps, conditional on that network; never both words for one arm."""
    parts = []
    if (n_runs >= 3).any():
        parts.append("bands: 95 % t interval over training runs (recipe level)")
    if (n_runs == 2).any():
        parts.append("arms with 2 training runs: thin lines are the runs themselves, no band (a t interval over 2 "
                     "runs has df = 1)")
    if (n_runs == 1).any():
        parts.append("arms with one training run: hatched band = 95 % CI over its fault maps, conditional on that "
                     "trained network (no recipe-level interval)")
    return "; ".join(parts)


def _arms(rows: pd.DataFrame) -> str:
    """``a · m, b · m`` for the arms of ``rows`` (variant, method), each once."""
    return ", ".join(dict.fromkeys(f"{v} · {m}" for v, m in zip(rows["variant"], rows["method"])))


def accuracy_pages(doc: Doc, af: pd.DataFrame, curves: pd.DataFrame, faults: list[str], *, n_resamples: int,
                   seed: int) -> None:
    """One page per fault: a panel per architecture, a line per training method (mean over training runs)."""
    for fault in faults:
        c = curves[curves["fault"] == fault]
        drawn = c[c["truncated"] & (c["n_runs"] != 2)]  # 2-run arms draw their runs, not an interval
        cut = (f" Intervals truncated to [0, 100] %: {_arms(drawn)}." if len(drawn) else "")
        lines = ("the network's mean accuracy over its fault maps" if (c["n_runs"] == 1).all() else
                 "the mean over training runs of each run's mean over its fault maps")
        level = interval_caption(c["n_runs"])
        sub = (f"Accuracy (%) vs rate of {fault}: lines are {lines}; hollow markers: clean accuracy. "
               f"{level[:1].upper()}{level[1:]}.{cut} Log rate axis when the rates span a decade.")
        fig, body = doc.figure_page("Accuracy vs fault rate", sub)
        fp.accuracy_vs_rate(af, fault=fault, fig=body, n_resamples=n_resamples, seed=seed)
        doc.save(fig)


def _drawable(contrasts: pd.DataFrame) -> pd.DataFrame:
    """The primary rows with an estimate and an interval (untested rows are named in the caption instead)."""
    prim = contrasts[contrasts["role"] == Role.PRIMARY] if not contrasts.empty else contrasts
    return prim[prim["estimate"].notna() & prim["low"].notna() & prim["high"].notna()].reset_index(drop=True)


def forest_pages(doc: Doc, contrasts: pd.DataFrame, *, first: int = 0, count: int | None = None,
                 sequential: bool = False) -> None:
    """The primary contrasts' effects with their intervals, coloured by verdict, one panel per fault surface, pages
    ``first`` .. ``first + count`` of them (``FOREST_ROWS_PER_PAGE`` rows each). ``sequential``: the runs came
    from a sequential sweep (the caption says the intervals are not adjusted for its looks)."""
    rows = _drawable(contrasts)
    prim = contrasts[contrasts["role"] == Role.PRIMARY] if not contrasts.empty else contrasts
    untested = prim[~prim.index.isin(prim[prim["estimate"].notna() & prim["low"].notna()].index)]
    chunks = [rows.iloc[i:i + FOREST_ROWS_PER_PAGE] for i in range(0, len(rows), FOREST_ROWS_PER_PAGE)]
    for i, part in enumerate(chunks[first:first + count if count is not None else None], start=first):
        cut = " * interval truncated to [-100, +100] pp (the t interval reaches past the range)." \
            if part["truncated"].any() else ""
        skipped = ("" if untested.empty or i else " Not drawn (no estimate): " + "; ".join(
            f"{n} on {s} ({r})" for (s, r), n in untested.groupby(["surface", "reason"]).size().items()) + ".")
        looks = " for multiplicity or for the sequential looks: a fixed-design interval" if sequential else ""
        sub = ("The primary contrasts (the study's question; recipe level: training runs are the replicates): effect "
               f"a − b in the primary endpoint with its 95 % t interval (per contrast, not adjusted{looks}); the "
               "verdict is the family's (closed test over the contrasts, adjusted p; equivalence by TOST within the "
               f"dashed margins).{cut}{skipped}")
        title = "Primary contrasts" + (f" ({i + 1}/{len(chunks)})" if len(chunks) > 1 else "")
        fig, body = doc.figure_page(title, sub)
        groups = list(part.groupby("surface", sort=False))
        axes = body.subplots(len(groups), 1, squeeze=False, height_ratios=[len(g) + 1.5 for _, g in groups])
        for ax, (surface, g) in zip(axes[:, 0], groups):
            shown = g.drop(columns=["surface", "endpoint"]).assign(
                verdict=[str(v) for v in g["verdict"]],
                contrast=[f"{c} *" if t else str(c) for c, t in zip(g["contrast"], g["truncated"])])
            fp.contrast_forest(shown, ax=ax, unit="pp")
            ax.set_title(f"{surface} · {fmt.endpoint_words(g.iloc[0])}", fontsize=9, loc="left")
        _one_legend(body, list(axes[:, 0]))
        doc.save(fig)


def _one_legend(body, axes: list) -> None:
    """Several panels' legends (each drawn inside its panel, over the intervals) as one legend under them, each
    entry once."""
    legends = [ax.get_legend() for ax in axes if ax.get_legend() is not None]
    if not legends:
        return
    entries: dict[str, object] = {}
    for legend in legends:
        for handle, text in zip(legend.legend_handles, legend.get_texts()):
            entries.setdefault(text.get_text(), handle)
        legend.remove()
    entries = dict(sorted(entries.items(), key=lambda kv: kv[0].startswith("equivalence margin")))  # verdicts first
    body.legend(handles=list(entries.values()), labels=list(entries), loc="outside lower center", frameon=False,
                fontsize=8, ncol=min(6, len(entries)))


def forest_page_count(contrasts: pd.DataFrame) -> int:
    return -(-len(_drawable(contrasts)) // FOREST_ROWS_PER_PAGE)


def critical_pages(doc: Doc, summary: pd.DataFrame, faults: list[str], curves: pd.DataFrame) -> None:
    """One page per fault: critical rate and AUC per arm with their 95 % intervals, on the rate axis of the
    accuracy figure (the rates of ``curves``)."""
    for fault in faults:
        s = summary[summary["fault"] == fault]
        level = "; ".join(w for w, has in (
            ("95 % t interval over training runs (recipe level)", (s["n_runs"] >= 2).any()),
            ("arms with one training run: 95 % CI over its fault maps, conditional on that trained network",
             (s["n_runs"] == 1).any())) if has)
        cut = (f" AUC interval truncated to [0, 100] %: {_arms(s[s['auc_truncated']])}."
               if s["auc_truncated"].any() else "")
        sub = (f"Critical rate: the first rate at which the mean curve falls below {s['fraction'].iloc[0]:g} × clean "
               "(linear interpolation); its interval: where the curve's interval crosses the threshold, widened to "
               f"the enclosing tested rates. AUC: mean accuracy over the rates {s['auc_span'].iloc[0]}. Intervals: "
               f"{level}.{cut}")
        fig, body = doc.figure_page(f"Critical rate and AUC: {fault}", sub)
        tested = sorted(curves.loc[curves["fault"] == fault, "rate"].unique()) if not curves.empty else None
        fp.critical_rate_auc(s, fault=fault, fig=body, rates=tested or None)
        doc.save(fig)


def layer_panel_groups(layers: pd.DataFrame) -> list[list[str]]:
    """The variants whose per-layer panels share a page (``LAYER_PANELS_PER_PAGE`` panels at most)."""
    if layers.empty:
        return []
    panels = layers.groupby("variant")[["fault", "scope"]].apply(lambda g: len(g.drop_duplicates()))
    pages, current, n = [], [], 0
    for variant, k in panels.items():
        if current and n + k > LAYER_PANELS_PER_PAGE:
            pages.append(current)
            current, n = [], 0
        current.append(variant)
        n += k
    return pages + ([current] if current else [])


def layer_pages(doc: Doc, df: pd.DataFrame, layer_order: list[str], groups: list[list[str]]) -> None:
    """Per-layer sensitivity: the accuracy drop per layer (or group) faulted alone; incomplete panels flagged."""
    sub = ("Accuracy drop from clean (pp) when one layer (or layer group) is faulted alone, mean over runs and trials; "
           "one line per training method and rate. A panel whose cells have fewer trials than its largest (an "
           "interrupted campaign) says INCOMPLETE and draws those cells hollow; a layer with fewer weights than K, "
           "left out at that K (skip_larger_counts), is not.")
    for variants in groups:
        part = df[df["variant"].isin(variants)]
        fig, body = doc.figure_page(f"Per-layer sensitivity: {', '.join(variants)}", sub)
        fp.layer_sensitivity(part, order=layer_order or None, fig=body)
        doc.save(fig)
