"""What every figure shares: the trial frame's checks, method colours, the rate axis (log when the rates span a
decade, rate 0 left of a break), clipping of bounded intervals, figures without pyplot and the bottom legend."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from faultlab import FaultlabError
from faultlab.store import ALL_LAYERS

LOG_SPAN = 10.0  # positive rates spanning this factor or more get a log axis
ZERO_GAP_DECADES = 0.45  # on a log axis, rate 0 sits this many decades left of the smallest positive rate
PCT = 100.0  # accuracies are fractions in the frame, percent on the page
CLIPPED_NOTE = "intervals clipped to [0, 100] %"
TRIAL_COLUMNS = ("variant", "method", "fault", "run_id", "rate", "accuracy", "clean_accuracy")


class PlotError(FaultlabError, ValueError):
    """A figure cannot be drawn from the frame given (the message names the missing piece)."""


def check_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise PlotError(f"{what} needs a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise PlotError(f"{what}: the frame lacks column(s) {', '.join(missing)}; pass the frame faultlab.run or "
                        "faultlab export returns")


def trial_frame(frame: pd.DataFrame, what: str, fault: str | None = None) -> pd.DataFrame:
    """The fault trials (an export's clean rows left out) with ``variant`` filled in from ``architecture`` where
    absent, optionally one fault."""
    check_columns(frame, TRIAL_COLUMNS, what)
    df = frame[~frame["clean"].astype(bool)].copy() if "clean" in frame.columns else frame.copy()  # export's clean rows
    if "architecture" in df.columns:
        df["variant"] = df["variant"].where(df["variant"].notna(), df["architecture"])
    df["variant"], df["method"] = df["variant"].astype(str), df["method"].astype(str)
    if fault is not None:
        if fault not in set(df["fault"]):
            known = ", ".join(sorted(set(df["fault"])))
            raise PlotError(f"{what}: no trials of fault {fault!r}; the frame has {known}")
        df = df[df["fault"] == fault]
    return df


def whole_model(df: pd.DataFrame) -> pd.Series:
    """Rows of whole-network trials (layer ``*``, or no layer recorded)."""
    if "layer" not in df.columns:
        return pd.Series(True, index=df.index)
    return df["layer"].isna() | (df["layer"] == ALL_LAYERS)


def rate_name(fault: str) -> str:
    """The swept parameter of a fault template: ``drop(p={rate})`` -> ``p (fault rate)``."""
    m = re.search(r"(\w+)\s*=\s*\{rate\}", fault)
    return f"{m.group(1)} (fault rate)" if m else "fault rate"


# ------------------------------------------------------------------------------------------ style

MARKERS = ("o", "s", "D", "^", "v", "P", "X", "*")
LINESTYLES = ("-", "--", "-.", ":", (0, (8, 2)), (0, (1, 3)), (0, (5, 1, 1, 1, 1, 1)),
              (0, (3, 1, 1, 1, 1, 1, 1, 1)))  # 8 distinct: a per-layer panel's rates (and K) each get their own


def method_styles(methods: Iterable[str], palette: Mapping[str, object] | None = None) -> dict[str, dict]:
    """Colour and marker per method, by sorted name (the same method looks the same in every figure);
    ``palette`` (method -> colour) overrides the colours."""
    import seaborn as sns

    names = sorted(set(methods))
    colours = sns.color_palette("colorblind", max(len(names), 1))
    out = {}
    for i, m in enumerate(names):
        colour = palette[m] if palette is not None and m in palette else colours[i % len(colours)]
        out[m] = {"color": colour, "marker": MARKERS[i % len(MARKERS)]}
    return out


def new_figure(width: float, height: float) -> Figure:
    """A figure outside pyplot (no global state; a notebook shows it once, as the returned value)."""
    return Figure(figsize=(width, height), layout="constrained")


def grid_shape(n: int, ncols: int | None, max_cols: int = 3) -> tuple[int, int]:
    cols = min(n, max_cols) if ncols is None else max(1, min(n, int(ncols)))
    return math.ceil(n / cols), cols


def note(text: str) -> Line2D:
    """A legend entry that is only text."""
    return Line2D([], [], ls="none", label=text)


LEGEND_WRAP = 52  # characters per legend line


def bottom_legend(fig: Figure, handles: Sequence, ncol: int | None = None) -> None:
    """The legend under the panels (labels wrapped, so two columns fit a 7.5-inch figure)."""
    import textwrap

    for h in handles:
        h.set_label(textwrap.fill(h.get_label(), LEGEND_WRAP))
    if handles:
        fig.legend(handles=list(handles), loc="outside lower center", frameon=False, fontsize=8,
                   ncol=ncol or min(3, len(handles)))


# ------------------------------------------------------------------------------------------ bounded values


def clip(values, low: float, high: float) -> tuple[np.ndarray, bool]:
    """``values`` clipped to [low, high] (NaN kept), and whether anything was outside."""
    arr = np.asarray(values, dtype=float)
    outside = bool(np.any((arr < low) | (arr > high)))
    return np.clip(arr, low, high), outside


# ------------------------------------------------------------------------------------------ the rate axis


@dataclass(frozen=True)
class RateAxis:
    """Linear, or log when the positive rates span ``LOG_SPAN`` or more; on a log axis rate 0 is drawn at
    ``zero`` (``ZERO_GAP_DECADES`` left of the smallest positive rate) behind a break mark."""

    log: bool
    zero: float
    low: float
    high: float
    ticks: tuple[float, ...]

    @classmethod
    def of(cls, rates: Iterable[float], log: bool | None = None) -> RateAxis:
        r = np.unique(np.asarray(list(rates), dtype=float))
        pos = r[r > 0]
        if log is None:
            log = pos.size >= 2 and pos.max() / pos.min() >= LOG_SPAN
        if log and pos.size == 0:
            raise PlotError("a log rate axis needs positive rates")
        if not log:
            high = float(r.max()) if r.size else 1.0
            return cls(False, 0.0, 0.0, high if high > 0 else 1.0, ())
        zero = float(pos.min() / 10**ZERO_GAP_DECADES)
        decades = [10.0**k for k in range(math.floor(math.log10(pos.min())), math.ceil(math.log10(pos.max())) + 1)]
        ticks = tuple(pos) if pos.size <= 6 else tuple(d for d in decades if pos.min() <= d <= pos.max())
        return cls(True, zero, float(pos.min()), float(pos.max()), ticks)

    def x(self, rates) -> np.ndarray:
        """Where rates are drawn (rate 0 at ``zero``)."""
        r = np.asarray(rates, dtype=float)
        return np.where(r > 0, r, self.zero) if self.log else r

    def setup(self, ax, label: str) -> None:
        ax.set_xlabel(label)
        if not self.log:
            ax.set_xlim(-0.02 * self.high, self.high * 1.04)
            return
        ax.set_xscale("log")
        ax.set_xlim(self.zero / 10**0.2, self.high * 10**0.15)
        ax.set_xticks([self.zero, *self.ticks], ["0", *(f"{t:g}" for t in self.ticks)])
        ax.xaxis.set_minor_locator(_null_locator())
        gap = math.sqrt(self.zero * self.low)  # the break: "//" over the bottom spine (plain text, not mathtext,
        ax.text(gap, 0, "//", transform=ax.get_xaxis_transform(), ha="center", va="center", size=9,  # which the
                color="0.2", backgroundcolor="white", clip_on=False, zorder=5)  # report's rc turns off)

    def segments(self, rates, values) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """(solid part, dotted bridge): on a log axis the step from rate 0 across the break is drawn dotted."""
        x, y = self.x(rates), np.asarray(values, dtype=float)
        if self.log and x.size >= 2 and np.asarray(rates)[0] == 0:
            return (x[1:], y[1:]), (x[:2], y[:2])
        return (x, y), (x[:0], y[:0])


def _null_locator():
    from matplotlib.ticker import NullLocator

    return NullLocator()


def percent_limits(lows: Iterable[float], highs: Iterable[float], pad: float = 4.0) -> tuple[float, float]:
    """y limits in % around the drawn values, never beyond [0, 100] (plus the pad for markers)."""
    lo = [v for v in lows if np.isfinite(v)]
    hi = [v for v in highs if np.isfinite(v)]
    if not lo or not hi:
        return 0.0, PCT
    return max(0.0, min(lo) - pad) - 0.5, min(PCT, max(hi) + pad) + 0.5
