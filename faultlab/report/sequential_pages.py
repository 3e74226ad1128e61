"""The sequential-seeds page: the design and every look of a ``faultlab sweep --until-decided`` (the store's
``sequential_looks``, passed through by :func:`faultlab.stats.study.study_tables`). Render only."""

from __future__ import annotations

import math

import pandas as pd

from faultlab.stats import wording as fmt
from faultlab.stats.looks import design_line

from .layout import Doc


def _num(x: float, digits: int = 2) -> str:
    return "–" if not math.isfinite(x) else f"{x:.{digits}f}"


def sequential_pages(doc: Doc, looks: pd.DataFrame) -> None:
    """One table of the looks (nothing when the study was not swept with --until-decided)."""
    if looks.empty:
        return
    shown = pd.DataFrame({
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
    doc.table_pages("Sequential seeds: the looks (recipe level)", shown, subtitle=design_line(looks),
                    notes="At each look a contrast's t = estimate / se (training runs as replicates) is compared with "
                          "its bounds; a decided contrast (any verdict but 'continue') stops training its arms, and a "
                          "recorded look is never revised. The contrast table's p-values are those of a fixed design "
                          "on the runs trained; the sequential verdicts are the ones these bounds give.")
