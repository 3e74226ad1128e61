"""Page plumbing for the PDF: a document that records page titles (and where its appendix starts), text pages,
figure pages drawn by :mod:`faultlab.plot`, paginated tables, colours."""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from matplotlib.figure import Figure, SubFigure  # noqa: E402

PAGE_IN = (11.69, 8.27)  # A4 landscape, inches
RC = {"pdf.fonttype": 42, "text.parse_math": False, "font.size": 9, "axes.titlesize": 10,
      "axes.labelsize": 9, "legend.fontsize": 8, "xtick.labelsize": 8, "ytick.labelsize": 8}
TEXT_WRAP = {False: 125, True: 118}  # characters per line: sans 10 pt, monospace 8.5 pt
TEXT_LINES = {False: 30, True: 40}  # lines per text page
SUBTITLE_WRAP = 150  # characters per subtitle line
NOTES_WRAP = 185  # characters per line of a table note (7.5 pt)
ROW_IN, HEADER_IN = 0.24, 0.42  # table row heights, inches
TABLE_TOP_IN = 1.05  # space above a table for the page title
TABLE_WIDTH_IN = 0.92 * PAGE_IN[0]
TABLE_FONT_PT, TABLE_FONT_MIN_PT = 7.5, 5.0  # a wide table shrinks its font down to the minimum
CHAR_EM = 0.58  # mean character width of DejaVu Sans in em, for fitting table text
METHOD_SHADES = (0.45, 0.0, -0.35, 0.7)  # baseline light, then full, dark, pale
VERDICT_COLOURS = {"better": "#d9f0d3", "worse": "#f4cccc", "equivalent": "#d6e4f5", "inconclusive": "#eeeeee"}
# cells whose text is not one of these (e.g. "not tested: exploratory") stay white
HEAD_IN, FOOT_IN = 0.75, 0.3  # a figure page's title band and footer band, inches (plus the subtitle's lines)
SIDE_IN = 0.35  # a figure page's left and right margins, inches: axis labels stay off the page's edge
SUBTITLE_LINE_IN = 0.17
SUBTITLE_TOP_IN = (1 - 0.91) * PAGE_IN[1]  # where :meth:`Doc.page` puts a subtitle's first line


class Doc:
    """A multi-page PDF whose pages all carry a title and a footer; remembers titles and missing items."""

    def __init__(self, path: Path, study: str) -> None:
        self.path, self.study = path, study
        self.pdf = PdfPages(path, metadata={"Title": f"faultlab report: {study}", "Creator": "faultlab"})
        self.pages: list[str] = []
        self.appendix_at: int | None = None  # index of the appendix divider page in ``pages``
        self.missing: list[str] = []
        self._titles: dict[int, str] = {}  # id(figure) -> its page title, until saved

    def close(self) -> None:
        self.pdf.close()

    def page(self, title: str, subtitle: str = "") -> Figure:
        """A blank landscape page with its title and an optional (wrapped) subtitle."""
        fig = plt.figure(figsize=PAGE_IN)
        fig.text(0.04, 0.955, title, size=15, weight="bold", va="top")
        if subtitle:
            fig.text(0.04, 0.91, textwrap.fill(subtitle, SUBTITLE_WRAP), size=9, color="0.3", va="top")
        self._titles[id(fig)] = title
        return fig

    def figure_page(self, title: str, subtitle: str = "") -> tuple[Figure, SubFigure]:
        """A page whose body is a subfigure with constrained layout (what :mod:`faultlab.plot` draws into),
        under the title and the wrapped subtitle; save it with :meth:`save`."""
        fig = plt.figure(figsize=PAGE_IN, layout="constrained")
        lines = textwrap.wrap(subtitle, SUBTITLE_WRAP) if subtitle else []
        head_in = HEAD_IN + SUBTITLE_LINE_IN * len(lines)
        head, middle, _ = fig.subfigures(3, 1, height_ratios=[head_in, PAGE_IN[1] - head_in - FOOT_IN, FOOT_IN])
        _, body, _ = middle.subfigures(1, 3, width_ratios=[SIDE_IN, PAGE_IN[0] - 2 * SIDE_IN, SIDE_IN])
        head.text(0.04, 1 - 0.25 / head_in, title, size=15, weight="bold", va="top")
        if lines:
            head.text(0.04, 1 - 0.62 / head_in, "\n".join(lines), size=9, color="0.3", va="top")
        self._titles[id(fig)] = title
        return fig, body

    def divider(self, title: str, lines: list[str]) -> None:
        """The page that separates the main part from the appendix; it lists what follows."""
        fig = self.page(title)
        fig.text(0.05, 0.86, "\n".join(lines), va="top", size=10, linespacing=1.6)
        self.appendix_at = len(self.pages)
        self.save(fig)

    @property
    def main_pages(self) -> int:
        """Pages before the appendix divider (all pages when there is none)."""
        return len(self.pages) if self.appendix_at is None else self.appendix_at

    def save(self, fig: Figure) -> None:
        """Add the footer, write the page and close the figure."""
        n = len(self.pages) + 1
        fig.text(0.04, 0.02, f"faultlab · study {self.study!r} · {date.today().isoformat()}", size=7, color="0.5")
        fig.text(0.96, 0.02, f"page {n}", size=7, color="0.5", ha="right")
        self.pdf.savefig(fig)
        plt.close(fig)
        self.pages.append(self._titles.pop(id(fig)))

    def text_pages(self, title: str, paragraphs: list[str], *, mono: bool = False, subtitle: str = "") -> None:
        """Wrapped text over as many pages as it needs; ``""`` is a blank line, monospace keeps indentation."""
        lines: list[str] = []
        for para in paragraphs:
            indent = " " * (len(para) - len(para.lstrip())) if mono else ""
            lines += textwrap.wrap(para.strip(), TEXT_WRAP[mono], initial_indent=indent,
                                   subsequent_indent=indent + "    ") or [""]
        chunks = [lines[i:i + TEXT_LINES[mono]] for i in range(0, max(len(lines), 1), TEXT_LINES[mono])]
        for i, chunk in enumerate(chunks):
            fig = self.page(_numbered(title, i, len(chunks)), subtitle)
            fig.text(0.05, 0.86, "\n".join(chunk), va="top", ha="left", size=8.5 if mono else 10,
                     family="monospace" if mono else "sans-serif", linespacing=1.35 if mono else 1.45)
            self.save(fig)

    def table_pages(self, title: str, table: pd.DataFrame, *, subtitle: str = "", notes: str = "",
                    verdict_col: str | None = "verdict") -> None:
        """``table`` (strings) as matplotlib tables, split over pages; cells of ``verdict_col`` are shaded (None:
        no shading, e.g. for conditional verdicts that must not read as the answer)."""
        top_in = table_top_in(subtitle)
        per_page = table_rows_per_page(subtitle, notes)
        chunks = [table.iloc[i:i + per_page] for i in range(0, max(len(table), 1), per_page)]
        for i, chunk in enumerate(chunks):
            fig = self.page(_numbered(title, i, len(chunks)), subtitle)
            top = 1 - top_in / PAGE_IN[1]
            bottom = draw_table(fig, chunk, top, width_of=table, verdict_col=verdict_col)
            if notes:
                fig.text(0.04, bottom - 0.02, textwrap.fill(notes, NOTES_WRAP), size=7.5, color="0.25", va="top")
            self.save(fig)


def table_top_in(subtitle: str) -> float:
    """Inches from the page's top to a table's top edge: :data:`TABLE_TOP_IN`, or below a subtitle of more lines
    than fit above it (:meth:`Doc.page` puts the subtitle's first line 0.75 in from the top, 9 pt lines)."""
    lines = len(textwrap.wrap(subtitle, SUBTITLE_WRAP)) if subtitle else 0
    return max(TABLE_TOP_IN, SUBTITLE_TOP_IN + lines * SUBTITLE_LINE_IN + 0.12)


def table_rows_per_page(subtitle: str = "", notes: str = "") -> int:
    """How many rows :meth:`Doc.table_pages` puts on one page under ``subtitle`` and above ``notes``."""
    note_lines = len(textwrap.wrap(notes, NOTES_WRAP)) if notes else 0
    usable_in = PAGE_IN[1] - table_top_in(subtitle) - 0.5 - 0.14 * note_lines
    return max(1, int((usable_in - HEADER_IN) // ROW_IN))


def draw_table(fig: Figure, table: pd.DataFrame, top: float, *, left: float = 0.04, width_in: float = TABLE_WIDTH_IN,
               width_of: pd.DataFrame | None = None, verdict_col: str | None = None, row_in: float = ROW_IN,
               header_in: float = HEADER_IN, font_max: float = TABLE_FONT_PT) -> float:
    """``table`` (strings) as a matplotlib table whose top edge is at figure fraction ``top``; columns as wide as
    their longest text (in ``width_of``, e.g. the whole table of which this is a page); returns the bottom edge."""
    widths, chars = _col_widths(table if width_of is None else width_of)
    font = min(font_max, max(TABLE_FONT_MIN_PT, width_in * 72 / (chars * CHAR_EM)))
    height_in = header_in + row_in * len(table)
    bottom = top - height_in / PAGE_IN[1]
    ax = fig.add_axes((left, bottom, width_in / PAGE_IN[0], height_in / PAGE_IN[1]))
    ax.axis("off")
    tab = ax.table(cellText=table.to_numpy().tolist(), colLabels=list(table.columns), colWidths=widths,
                   bbox=(0, 0, 1, 1), cellLoc="center")
    tab.auto_set_font_size(False)
    tab.set_fontsize(font)
    for (r, c), cell in tab.get_celld().items():
        cell.set_edgecolor("0.8")
        cell.set_linewidth(0.4)
        if r == 0:
            cell.set_facecolor("#e3e3e3")
            cell.set_text_props(weight="bold")
            cell.set_height(header_in / height_in)
        else:
            cell.set_height(row_in / height_in)
            if verdict_col in table.columns and table.columns[c] == verdict_col:
                cell.set_facecolor(VERDICT_COLOURS.get(table.iloc[r - 1, c], "white"))
    return bottom


def _numbered(title: str, i: int, n: int) -> str:
    return f"{title} ({i + 1}/{n})" if n > 1 else title


def _col_widths(table: pd.DataFrame) -> tuple[list[float], int]:
    """Column widths proportional to the longest line of each header or cell, and the total in characters."""
    lens = []
    for col in table.columns:
        cells = [len(line) for v in table[col].astype(str) for line in v.split("\n")]
        head = max(len(line) for line in str(col).split("\n"))
        lens.append(max([head, *cells]) + 2)
    total = sum(lens)
    return [n / total for n in lens], total


def _shade(rgb: tuple, k: float) -> tuple:
    """Mix ``rgb`` toward white (k > 0) or black (k < 0) by |k|."""
    target = 1.0 if k > 0 else 0.0
    return tuple(float(c + (target - c) * abs(k)) for c in rgb)


def curve_style(keys: list[tuple[str, str]], baseline: str) -> dict[tuple[str, str], dict]:
    """Colour, line style and marker per (variant, method): one hue per variant, a shade per method.

    The baseline method is the light, dashed shade; other methods are full or darker, solid or dotted.
    """
    variants = sorted({v for v, _ in keys})
    methods = sorted({m for _, m in keys}, key=lambda m: (m != baseline, m))
    dashes = ["--", "-", ":", "-."]
    markers = ["o", "s", "^", "D", "v", "P"]
    if len(methods) <= len(METHOD_SHADES) and len(variants) <= 10:
        pal = sns.color_palette("colorblind", 10)
        colour = {(v, m): _shade(pal[vi], METHOD_SHADES[mi]) for vi, v in enumerate(variants)
                  for mi, m in enumerate(methods)}
    else:
        pal = sns.color_palette("husl", len(keys))
        colour = {k: pal[i] for i, k in enumerate(sorted(keys))}
    return {(v, m): {"color": colour[(v, m)], "ls": dashes[methods.index(m) % 4],
                     "marker": markers[methods.index(m) % 6]} for v, m in keys}


def label(variant: str, method: str) -> str:
    """Legend label of a curve."""
    return f"{variant} · {method}"
