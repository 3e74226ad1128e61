"""The report's two parts. The main part (at most about 8 pages whatever the study's size): page 1 (question,
answer, Table 1, facts), accuracy vs rate, the primary contrasts' forest plot, critical rate and AUC, the answer
block's trend, per-layer sensitivity. Then a divider and the appendix: every table behind them (secondary and
exploratory rows, level (a), variance components, reliability), the methods text and the stored spec.

Figures beyond the main part's share (a third fault, a second forest page, more per-layer panels) go to the
appendix, so the main part stays short.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from faultlab.stats.study import analysis_frame

from .answer_pages import component_pages, effects_pages, trend_page
from .comparison_pages import contrast_pages, exploratory_pages, level_a_pages, recipe_display, variance_pages
from .curve_pages import curve_number_pages, distribution_pages
from .facts import arms_table
from .figure_pages import (
    accuracy_pages,
    critical_pages,
    forest_page_count,
    forest_pages,
    layer_pages,
    layer_panel_groups,
)
from .front_page import MAX_TABLE_ROWS, continued_page, front_page
from .layout import Doc, curve_style
from .sample_pages import group_comparison_pages, reliability_pages
from .sequential_pages import all_look_pages, fits_one_page, sequential_pages
from .text_pages import methods_pages, methods_paragraphs, question, spec_pages

MAIN_FAULTS = 2  # accuracy and critical-rate pages in the main part; more faults: appendix
MAIN_FOREST_PAGES = 2


@dataclass
class Study:
    """Everything the pages draw from: the tables, the spec, the run and campaign rows, the options."""

    tables: dict[str, pd.DataFrame]
    spec: dict | None
    runs: list[dict]
    campaigns: list[dict]
    layer_order: list[str]
    store_path: str
    baseline: str
    margin: float
    fraction: float
    n_resamples: int
    seed: int
    meta: dict | None
    answer: dict | None = None
    af: pd.DataFrame = field(init=False)

    def __post_init__(self) -> None:
        self.af = analysis_frame(self.tables["trials"])

    @property
    def faults(self) -> list[str]:
        curves = self.tables["curves"]
        return sorted(curves["fault"].unique()) if not curves.empty else []

    @property
    def summary_faults(self) -> list[str]:
        s = self.tables["curve_summary"]
        return sorted(s["fault"].unique()) if not s.empty else []


def main_part(doc: Doc, st: Study) -> None:
    t = st.tables
    left = front_page(doc, t, st.spec, question(t["trials"], st.spec), runs=st.runs, campaigns=st.campaigns,
                      answer=st.answer, fraction=st.fraction, store_path=st.store_path)
    if left:
        continued_page(doc, left)
    if st.answer:
        component_pages(doc, st.answer)
    accuracy_pages(doc, st.af, t["curves"], st.faults[:MAIN_FAULTS], n_resamples=st.n_resamples, seed=st.seed)
    forest_pages(doc, t["contrasts"], count=MAIN_FOREST_PAGES, sequential=not t["sequential_looks"].empty)
    sequential_pages(doc, t["sequential_looks"])
    critical_pages(doc, t["curve_summary"], st.summary_faults[:MAIN_FAULTS], t["curves"])
    if st.answer:
        trend_page(doc, st.answer)
    layer_pages(doc, t["trials"], st.layer_order, layer_panel_groups(t["layer_sensitivity"])[:1])


def _sections(st: Study) -> list[tuple[str, Callable[[Doc], None]]]:
    """The appendix's sections that have something to show, in order: (title for the divider, pages)."""
    t = st.tables
    style = curve_style(sorted(set(zip(t["trials"]["variant"], t["trials"]["method"]))), st.baseline)
    out: list[tuple[str, Callable[[Doc], None]]] = []
    arms = arms_table(t)
    if len(arms) > MAX_TABLE_ROWS or len(st.summary_faults) > 1:
        def all_arms(doc: Doc) -> None:
            for fault in st.summary_faults or [None]:
                doc.table_pages(f"A.1 The arms{f': {fault}' if fault else ''}", arms_table(t, fault),
                                verdict_col=None, notes="Table 1 of page 1 in full.")
        out.append(("A.1 The arms (Table 1 in full)", all_arms))
    if not t["contrasts"].empty:
        out.append(("Declared contrasts: every endpoint, primary and secondary (recipe level)",
                    lambda doc: contrast_pages(doc, t["contrasts"])))
    if not t["curves"].empty:
        out.append(("Accuracy per rate: the numbers", lambda doc: curve_number_pages(doc, t["curves"])))
    if not fits_one_page(t["sequential_looks"]):
        out.append(("Sequential seeds: every look", lambda doc: all_look_pages(doc, t["sequential_looks"])))
    more = st.faults[MAIN_FAULTS:]
    more_crit = st.summary_faults[MAIN_FAULTS:]
    extra_forest = forest_page_count(t["contrasts"]) > MAIN_FOREST_PAGES
    extra_layers = layer_panel_groups(t["layer_sensitivity"])[1:]
    if more or more_crit or extra_forest or extra_layers:
        def overflow(doc: Doc) -> None:
            accuracy_pages(doc, st.af, t["curves"], more, n_resamples=st.n_resamples, seed=st.seed)
            forest_pages(doc, t["contrasts"], first=MAIN_FOREST_PAGES, sequential=not t["sequential_looks"].empty)
            critical_pages(doc, t["curve_summary"], more_crit, t["curves"])
            layer_pages(doc, t["trials"], st.layer_order, extra_layers)
        out.append(("More figures of the main part's kind (further faults, contrasts, layers)", overflow))
    if not st.af.empty:
        out.append(("Per-rate distributions of the trials", lambda doc: distribution_pages(doc, st.af, style)))
    if st.answer and not st.answer["effects"].empty:
        out.append(("The answer block's effects table", lambda doc: effects_pages(doc, st.answer)))
    if _has_exploratory(t["method_comparison"]) or _has_exploratory(t["architecture_comparison"]):
        out.append(("Exploratory pairs (recipe level, not part of the question)",
                    lambda doc: exploratory_pages(doc, t["method_comparison"], t["architecture_comparison"],
                                                  st.baseline, st.margin)))
    maps = (t["method_comparison_maps"], t["architecture_comparison_maps"])
    if not (maps[0].empty and maps[1].empty):
        out.append(("Conditional on the trained networks (level a: fault maps as replicates; not the answer)",
                    lambda doc: level_a_pages(doc, maps)))
    if not t["reliability_maps"].empty:
        out.append(("Per-sample reliability", lambda doc: _reliability(doc, t, style)))
    if not t["variance_components"].empty and (t["variance_components"]["n_runs"] >= 2).any():
        out.append(("Variance components", lambda doc: variance_pages(doc, t["variance_components"])))
    if not t["group_comparison"].empty:
        out.append(("Per-group comparison of architectures", lambda doc: group_comparison_pages(
            doc, t["group_comparison"])))
    out.append(("Methods", lambda doc: methods_pages(doc, methods_paragraphs(
        t["trials"], st.campaigns, baseline=st.baseline, margin=st.margin, fraction=st.fraction,
        n_resamples=st.n_resamples, seed=st.seed, spec=st.spec, meta=st.meta))))
    if st.spec:
        out.append(("Study spec (compact YAML)", lambda doc: spec_pages(doc, st.spec)))
    return out


def _has_exploratory(table: pd.DataFrame) -> bool:
    return not table.empty and bool((table["role"] == "exploratory").any())


def _reliability(doc: Doc, t: dict[str, pd.DataFrame], style: dict) -> None:
    reliability_pages(doc, t["reliability_maps"], t["reliability"])
    if not t["reliability_comparison"].empty:
        doc.table_pages("Per-sample reliability: methods compared (recipe level)",
                        recipe_display(t["reliability_comparison"], "variant", "method_a"), verdict_col=None,
                        notes="Each training run's reliable share (points correct in >= 95 % of its trials) is one "
                              "value; methods paired by training seed; exploratory (raw p, no verdict); both arms "
                              "with <= 5 % reliable points: at the floor.")


def appendix_part(doc: Doc, st: Study) -> None:
    """The divider page (listing what follows), then every section with something to show."""
    sections = _sections(st)
    doc.divider("Appendix", [
        f"The answer is the main part (pages 1–{len(doc.pages)}). What follows backs it up; nothing here is a "
        "further answer:",
        "", *[f"•  {title}" for title, _ in sections], "",
        "Level (a) tables are conditional on the trained networks (fault maps as replicates): they describe these",
        "networks, not the training method or architecture. Every table is also a CSV: faultlab stats.",
    ])
    for _, draw in sections:
        draw(doc)
