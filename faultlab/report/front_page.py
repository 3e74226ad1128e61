"""Page 1: the question, the answer (one sentence per primary contrast, or the answer block's paragraphs, or, for
a study without contrasts such as a single campaign, each arm's accuracy per rate and critical rate and the most
sensitive layers), Table 1 (the arms, or one arm's accuracy per rate) and the facts a methods section needs.
Render only: the sentences come from :mod:`faultlab.stats.wording`, the numbers from ``study_tables``."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import pandas as pd

from .answer_text import MAX_TABLE_ROWS, answer_of
from .facts import study_facts
from .layout import PAGE_IN, Doc, draw_table

ANSWER_PT, FACTS_PT, QUESTION_PT = 9.0, 8.0, 12.0
ANSWER_WRAP, FACTS_WRAP, QUESTION_WRAP = 160, 150, 120  # characters per line at those sizes
LINE = 1.4 / 72  # inches per point of font size (line spacing 1.4)
TABLE_ROW_IN, TABLE_HEADER_IN, TABLE_PT = 0.17, 0.24, 7.5
CAPTION_PT = 7.5
KEY_IN = 1.15  # width of the facts' key column, inches (its longest key, "trials per rate:", in bold)
MIN_FACTS_IN = 3.2  # the facts go beside Table 1 when this much width is left
LEFT = 0.045


GLUE = "\x00"  # holds a unit to its number while wrapping


def _wrap(text: str, wrap: int, indent: str = "") -> list[str]:
    """``text`` in lines of ``wrap`` characters, a unit never alone at a line's start (``93.4 %``, ``-1.3 pp``)."""
    glued = text.replace(" %", GLUE + "%").replace(" pp", GLUE + "pp")
    lines = textwrap.wrap(glued, wrap, initial_indent=indent, subsequent_indent=" " * len(indent),
                          break_on_hyphens=False)
    return [line.replace(GLUE, " ") for line in lines] or [""]


def _text(fig, y_in: float, text: str, *, size: float, wrap: int, x: float = LEFT, indent: str = "",
          **kw) -> float:
    """Wrapped text whose top is ``y_in`` inches below the page's top; returns the y below it."""
    lines = _wrap(text, wrap, indent)
    fig.text(x, 1 - y_in / PAGE_IN[1], "\n".join(lines), size=size, va="top", linespacing=1.4, **kw)
    return y_in + len(lines) * size * LINE


def _lines(text: str, wrap: int, indent: str = "") -> int:
    return len(_wrap(text, wrap, indent))


def _table_width_in(table: pd.DataFrame) -> float:
    """Inches Table 1 takes at its font (its columns as wide as their text), at most the page."""
    chars = sum(max([len(str(c)), *(len(str(v)) for v in table[c])]) + 2 for c in table.columns)
    return min(PAGE_IN[0] - 1.0, chars * 0.58 * TABLE_PT / 72)


def _facts(fig, facts: list[tuple[str, str]], y_in: float, x_in: float) -> float:
    """The facts as ``key: value`` lines from ``x_in`` to the page's right edge; returns the y below them."""
    wrap = int((PAGE_IN[0] - 0.4 - x_in - KEY_IN) * 72 / (FACTS_PT * 0.52))
    x = x_in / PAGE_IN[0]
    y_in = _text(fig, y_in, "Study", size=9, wrap=wrap, x=x, weight="bold") + 0.03
    for key, value in facts:
        _text(fig, y_in, f"{key}:", size=FACTS_PT, wrap=wrap, x=x, weight="bold")
        y_in = _text(fig, y_in, value, size=FACTS_PT, wrap=wrap, x=x + KEY_IN / PAGE_IN[0])
    return y_in


def _facts_height(facts: list[tuple[str, str]], x_in: float) -> float:
    wrap = int((PAGE_IN[0] - 0.4 - x_in - KEY_IN) * 72 / (FACTS_PT * 0.52))
    return 0.2 + sum(_lines(v, wrap) for _, v in facts) * FACTS_PT * LINE


def front_page(doc: Doc, tables: Mapping[str, pd.DataFrame], spec: Mapping | None, question: str, *,
               runs: Sequence[dict], campaigns: Sequence[dict], answer: dict | None, fraction: float,
               store_path: str) -> list[str]:
    """Draw page 1: question, answer, then Table 1 with the facts beside it (below it when the table is wide);
    returns the answer sentences that did not fit (for the next page)."""
    fig = doc.page(f"Fault-tolerance report: {doc.study}")
    ans = answer_of(tables, answer, fraction)
    facts = [*study_facts(tables, spec, runs, campaigns), ("store", store_path)]
    rows = ans.table.iloc[:MAX_TABLE_ROWS]
    table_w = _table_width_in(rows) if len(rows) else 0.0
    beside = len(rows) and PAGE_IN[0] - 0.9 - table_w >= MIN_FACTS_IN
    facts_x = LEFT * PAGE_IN[0] + table_w + 0.35 if beside else LEFT * PAGE_IN[0]
    more = len(ans.table) - len(rows)
    caption = ans.caption + (f" {more} more arms: Table A.1 in the appendix." if more else "")
    room = facts_x - LEFT * PAGE_IN[0] - 0.3 if beside else PAGE_IN[0] - 1.0
    cap_wrap = int(room * 72 / (CAPTION_PT * 0.52))
    cap_h = _lines(caption, cap_wrap) * CAPTION_PT * LINE + 0.04
    table_h = (cap_h + TABLE_HEADER_IN + TABLE_ROW_IN * len(rows)) if len(rows) else 0.0
    facts_h = _facts_height(facts, facts_x)
    bottom_h = max(table_h, facts_h) if beside else table_h + 0.15 * bool(len(rows)) + facts_h
    y = _text(fig, 0.85, question, size=QUESTION_PT, wrap=QUESTION_WRAP, style="italic") + 0.15
    notes = " ".join(str((spec or {}).get("notes") or "").split())
    if notes:
        y = _text(fig, y - 0.08, notes, size=ANSWER_PT - 1, wrap=int(ANSWER_WRAP * ANSWER_PT / (ANSWER_PT - 1)),
                  color="0.3") + 0.12
    y = _text(fig, y, ans.heading, size=10, wrap=ANSWER_WRAP, weight="bold") + 0.04
    if ans.note:
        y = _text(fig, y, ans.note, size=ANSWER_PT, wrap=ANSWER_WRAP, color="0.3") + 0.04
    limit = PAGE_IN[1] - 0.4 - bottom_h - 0.15
    left: list[str] = []
    for i, s in enumerate(ans.sentences or ["Nothing to answer: the study has no whole-network trials."]):
        need = _lines(s, ANSWER_WRAP, "• ") * ANSWER_PT * LINE + 0.05
        if y + need > limit - ANSWER_PT * LINE:
            left = ans.sentences[i:]
            y = _text(fig, y, f"… continued on the next page ({len(left)} more).", size=ANSWER_PT, wrap=ANSWER_WRAP,
                      style="italic")  # Table 1 goes below this line, not on it
            break
        y = _text(fig, y, s, size=ANSWER_PT, wrap=ANSWER_WRAP, indent="• ") + 0.05
    top = y + 0.15
    y = top
    if len(rows):
        y = _text(fig, y, caption, size=CAPTION_PT, wrap=cap_wrap, color="0.25") + 0.04
        bottom = draw_table(fig, rows, 1 - y / PAGE_IN[1], left=LEFT, width_in=table_w, row_in=TABLE_ROW_IN,
                            header_in=TABLE_HEADER_IN, font_max=TABLE_PT)
        y = (1 - bottom) * PAGE_IN[1] + 0.15
    _facts(fig, facts, top if beside else y, facts_x)
    doc.save(fig)
    return left


def continued_page(doc: Doc, sentences: list[str]) -> None:
    """The answer sentences that did not fit on page 1."""
    fig = doc.page(f"Fault-tolerance report: {doc.study} — the answer, continued")
    y = 0.85
    for i, s in enumerate(sentences):
        need = _lines(s, ANSWER_WRAP, "• ") * ANSWER_PT * LINE + 0.05
        if y + need > PAGE_IN[1] - 0.45:
            _text(fig, y, f"… and {len(sentences) - i} more: see the forest plot and Table A.1 (declared "
                          "contrasts) in the appendix.", size=ANSWER_PT, wrap=ANSWER_WRAP, style="italic")
            break
        y = _text(fig, y, s, size=ANSWER_PT, wrap=ANSWER_WRAP, indent="• ") + 0.05
    doc.save(fig)
