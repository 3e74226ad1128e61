"""The sequential-seeds pages: the design and the looks of a ``faultlab sweep --until-decided`` (the store's
``sequential_looks``, passed through by :func:`faultlab.stats.study.study_tables`). Render only.

The main part shows every look when they fit one page, else each contrast's last look (where it was decided, or
where the sweep stopped); the appendix then holds every look."""

from __future__ import annotations

import math

import pandas as pd

from faultlab.stats import wording as fmt
from faultlab.stats.looks import design_line

from .layout import Doc, table_rows_per_page

NOTES = ("At each look a contrast's t = estimate / se (training runs as replicates) is compared with its bounds; a "
         "decided contrast (any verdict but 'continue') stops training its arms, and a recorded look is never revised. "
         "The contrast table's p-values are those of a fixed design on the runs trained; the sequential verdicts are "
         "the ones these bounds give.")


def _num(x: float, digits: int = 2) -> str:
    return "–" if not math.isfinite(x) else f"{x:.{digits}f}"


def last_looks(looks: pd.DataFrame) -> pd.DataFrame:
    """Each contrast's (and surface's) last look, in the order the contrasts were first tested."""
    key = ["contrast", "fault", "scope"]
    first = {k: i for i, k in enumerate(dict.fromkeys(zip(*(looks[c] for c in key))))}
    last = looks.sort_values("look", kind="stable").groupby(key, sort=False).tail(1)
    return last.iloc[sorted(range(len(last)), key=lambda i: first[tuple(last.iloc[i][c] for c in key)])]


def fits_one_page(looks: pd.DataFrame) -> bool:
    """Whether every look fits the main part's one page."""
    return looks.empty or len(looks) <= table_rows_per_page(design_line(looks), NOTES)


def _shown(looks: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "look": looks["look"].astype(int).astype(str),
        "runs\nper arm": looks["runs_per_arm"].astype(int).astype(str),
        "contrast": looks["contrast"],
        "fault · scope": [f"{f} · {s}" for f, s in zip(looks["fault"], looks["scope"])],
        "a − b\n(pp)": [fmt.fmt_pp(x) for x in looks["estimate"]],
        "t": [_num(x) for x in looks["statistic"]],
        "efficacy\n|t| ≥": [_num(x) for x in looks["efficacy_bound"]],
        "futility\n|t| <": [_num(x) if f else "–" for x, f in zip(looks["futility_bound"], looks["futility"])],
        "TOST\nt ≥": [_num(x) for x in looks["equivalence_bound"]],
        "verdict": [str(d) if not r else f"{d}: {r}" for d, r in zip(looks["decision"], looks["reason"])],
    })


def sequential_pages(doc: Doc, looks: pd.DataFrame) -> None:
    """The main part's page: every look when they fit one page, else each contrast's last look (nothing when the
    study was not swept with --until-decided)."""
    if looks.empty:
        return
    if fits_one_page(looks):
        doc.table_pages("Sequential seeds: the looks (recipe level)", _shown(looks), subtitle=design_line(looks),
                        notes=NOTES)
        return
    last = last_looks(looks)
    doc.table_pages("Sequential seeds: each contrast's last look (recipe level)", _shown(last),
                    subtitle=design_line(looks),
                    notes=f"Each contrast at the look where it was decided or the sweep stopped; all "
                          f"{fmt.plural(int(looks['look'].nunique()), 'look')} ({len(looks)} rows): the appendix. "
                          + NOTES)


def all_look_pages(doc: Doc, looks: pd.DataFrame) -> None:
    """Every look (the appendix's; only when the main part showed the last looks alone)."""
    doc.table_pages("Sequential seeds: every look (recipe level)", _shown(looks), subtitle=design_line(looks),
                    notes=NOTES)
