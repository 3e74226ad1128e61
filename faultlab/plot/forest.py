"""The forest plot of contrasts: each contrast's effect with its interval, the verdict marked by colour and
marker, a zero line and the equivalence margins. Renders a contrast table; computes nothing."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import FigureBase
from matplotlib.lines import Line2D

from ._common import PCT, PlotError, bottom_legend, check_columns, clip, new_figure, note

REQUIRED = ("contrast", "estimate", "low", "high", "verdict")
ROW_IN = 0.34
DIFF_BOUND = 100.0  # a difference of accuracies (or AUCs) lies in [-100, +100] pp
VERDICT_STYLES = {  # by the verdict's first word
    "better": {"color": "#1a9850", "marker": "^", "label": "better"},
    "worse": {"color": "#d73027", "marker": "v", "label": "worse"},
    "equivalent": {"color": "#4575b4", "marker": "D", "label": "equivalent (within the margin)"},
    "inconclusive": {"color": "0.45", "marker": "o", "label": "inconclusive", "mfc": "white"},
    "uninformative": {"color": "0.7", "marker": "X", "label": "uninformative (both at chance)"},
}
OTHER = {"color": "black", "marker": "s", "label": "other"}


def verdict_style(verdict: object) -> dict:
    """Colour, marker and legend label of a verdict (``inconclusive (2 runs)`` reads as inconclusive)."""
    word = str(verdict).strip().split(" ")[0].rstrip(":,").lower()
    return VERDICT_STYLES.get(word, {**OTHER, "label": str(verdict)})


def _row_label(row: pd.Series, columns: list[str]) -> str:
    extra = [str(row[c]) for c in columns if pd.notna(row[c]) and str(row[c])]
    return str(row["contrast"]) + (f"  [{', '.join(extra)}]" if extra else "")


def contrast_forest(
    table: pd.DataFrame, *, margin: float | None = None, scale: float = PCT, unit: str | None = None,
    ax: Axes | None = None, roles: tuple[str, ...] = ("primary",),
) -> FigureBase:
    """Each row of a contrast table as an estimate with its interval, top to bottom in table order.

    ``table``: columns contrast, estimate, low, high, verdict (required), surface, endpoint, unit, margin
    (optional; surface and endpoint are added to the row label when they vary). Values are fractions of
    accuracy, drawn × ``scale`` (100: percentage points); ``unit`` defaults to the table's ``unit`` column, else
    "pp". ``margin`` (a fraction, else the table's ``margin`` column) draws the equivalence margins ±margin.
    Intervals are clipped to ±100 pp (the legend says so when that happened). ``ax``: draw into these axes
    (a report page's); the (sub)figure drawn in is returned either way. A table with a ``role`` column (the
    ``faultlab.stats.contrast_table``) is drawn for the rows of ``roles`` (default: the primary contrasts)."""
    check_columns(table, REQUIRED, "contrast_forest")
    rows = table[table["role"].astype(str).isin(roles)] if "role" in table else table
    rows = rows.reset_index(drop=True)
    if rows.empty:
        raise PlotError("contrast_forest: the contrast table has no rows")
    if unit is None:
        units = sorted({str(u) for u in rows["unit"].dropna()}) if "unit" in rows else []
        unit = units[0] if len(units) == 1 else "pp"
    fig = ax.figure if ax is not None else new_figure(8.0, 1.6 + ROW_IN * len(rows))
    ax = ax if ax is not None else fig.add_subplot()
    bound = DIFF_BOUND * scale / PCT
    est, c0 = clip(scale * rows["estimate"].to_numpy(float), -bound, bound)
    lo, c1 = clip(scale * rows["low"].to_numpy(float), -bound, bound)
    hi, c2 = clip(scale * rows["high"].to_numpy(float), -bound, bound)
    varying = [c for c in ("surface", "endpoint") if c in rows and rows[c].nunique(dropna=True) > 1]
    y = np.arange(len(rows))
    seen: dict[str, dict] = {}
    for yi, (_, row), e, a, b in zip(y, rows.iterrows(), est, lo, hi):
        st = verdict_style(row["verdict"])
        seen.setdefault(st["label"], st)
        if np.isfinite(a) and np.isfinite(b):
            ax.plot([a, b], [yi, yi], color=st["color"], lw=2.0, solid_capstyle="butt")
        ax.plot([e], [yi], marker=st["marker"], color=st["color"], mfc=st.get("mfc", st["color"]),
                mec=st["color"], ms=8, mew=1.5, ls="none", zorder=3)
        ax.annotate(f"{e:+.1f} [{a:+.1f}, {b:+.1f}] {unit}  {row['verdict']}", (1.02, yi),
                    xycoords=("axes fraction", "data"), va="center", fontsize=8, annotation_clip=False)
    ax.axvline(0, color="0.2", lw=0.9)
    margins = _margins(rows, margin)
    for m in margins:
        for side in (-1, 1):
            ax.axvline(side * scale * m, color="0.5", lw=0.9, ls="--")
    ax.set_yticks(y, [_row_label(r, varying) for _, r in rows.iterrows()], fontsize=8)
    ax.set_ylim(len(rows) - 0.5, -0.5)  # the first row on top
    common = [c for c in ("surface", "endpoint") if c in rows and rows[c].nunique(dropna=True) == 1]
    ax.set_xlabel(f"difference ({unit})" + "".join(f", {c} {rows[c].dropna().iloc[0]}" for c in common))
    ax.grid(axis="x", alpha=0.3)
    handles = [Line2D([], [], color=s["color"], marker=s["marker"], mfc=s.get("mfc", s["color"]), ls="none",
                      label=s["label"]) for s in seen.values()]
    if margins:
        handles.append(Line2D([], [], color="0.5", ls="--", label="equivalence margin ±"
                              + ", ".join(f"{scale * m:g}" for m in margins) + f" {unit}"))
    if c0 or c1 or c2:
        handles.append(note(f"intervals clipped to [-{bound:g}, +{bound:g}] {unit}"))
    if ax is fig.axes[0] and len(fig.axes) == 1:
        bottom_legend(fig, handles)
    else:
        ax.legend(handles=handles, fontsize=7, loc="best")
    return fig


def _margins(rows: pd.DataFrame, margin: float | None) -> list[float]:
    if margin is not None:
        return [abs(float(margin))]
    if "margin" not in rows:
        return []
    values = sorted({abs(float(m)) for m in rows["margin"] if pd.notna(m) and math.isfinite(float(m)) and m != 0})
    return values
