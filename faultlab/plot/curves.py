"""Accuracy vs rate (small multiples: one panel per architecture, methods as lines) and the critical rate and
AUC per arm, drawn from a trial frame. The numbers come from ``faultlab.stats`` (``recipe_curves``,
``run_means``); these functions only draw them."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import FigureBase
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ._common import (
    CLIPPED_NOTE,
    PCT,
    PlotError,
    RateAxis,
    bottom_legend,
    clip,
    grid_shape,
    method_styles,
    new_figure,
    note,
    percent_limits,
    rate_name,
    trial_frame,
    whole_model,
)

MIN_RUNS_FOR_BAND = 3  # an arm with fewer training runs shows its runs, not a band over them
PANEL_IN = (3.6, 2.9)  # inches per panel
MIN_WIDTH_IN = 7.5  # room for the legend under a single panel
RUNS_BAND = "band: 95 % t interval over training runs"
MAPS_BAND = "hatched band (one training run): 95 % CI over fault maps, conditional on that network"
RUN_LINES = f"thin lines: each training run (fewer than {MIN_RUNS_FOR_BAND} runs: no band)"
CLEAN = "hollow: clean accuracy (no faults)"


def _curves(frame: pd.DataFrame, fault: str | None, fraction: float, level: float, n_resamples: int, seed: int,
            what: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(whole-model trials, recipe_curves' per-rate and summary tables) of the frame."""
    from faultlab.stats import DegenerateTrialsWarning
    from faultlab.stats.recipe_tables import recipe_curves

    df = trial_frame(frame, what, fault)
    af = df[whole_model(df)].copy()
    if af.empty:
        raise PlotError(f"{what}: no whole-network trials (layer '*'); per-layer campaigns: use layer_sensitivity")
    af["architecture"] = af["variant"]  # the stats key curves on the readable variant
    with warnings.catch_warnings():  # rate-0 cells of one run have equal trials: their interval is the point
        warnings.simplefilter("ignore", DegenerateTrialsWarning)
        curves, summary = recipe_curves(af, fraction, level, n_resamples=n_resamples, seed=seed)
    return af, curves, summary


def _runs_label(counts: list[int]) -> str:
    lo, hi = min(counts), max(counts)
    n = f"{lo}" if lo == hi else f"{lo}-{hi}"
    return f"{n} run" + ("" if n == "1" else "s")


def accuracy_vs_rate(
    frame: pd.DataFrame, *, fault: str | None = None, level: float = 0.95, log_rate: bool | None = None,
    min_runs_for_band: int = MIN_RUNS_FOR_BAND, ncols: int | None = None, palette: Mapping[str, object] | None = None,
    n_resamples: int = 1000, seed: int = 0, fig: FigureBase | None = None,
) -> FigureBase:
    """Accuracy (%) vs rate, one panel per (fault, variant), one line per method: the mean over training runs.

    Arms with ``min_runs_for_band`` runs or more get the 95 % t band over runs (training runs as replicates);
    arms with 2 to ``min_runs_for_band`` - 1 runs draw each run's curve (its mean over fault maps) instead;
    an arm with one run gets a hatched band over fault maps, labelled as conditional on that network. The
    rate axis is log when the positive rates span a decade or more (``log_rate`` forces it), with rate 0
    left of a break; hollow markers there give the clean accuracy. Intervals are clipped to [0, 100] %
    (the legend says so when that happened). Columns used: variant (or architecture), method, fault,
    run_id, train_seed, rate, trial, layer, accuracy, clean_accuracy. ``fig``: draw into this figure or
    subfigure (e.g. part of a report page; it should use constrained layout) instead of a new one.
    """
    from faultlab.stats.recipe import run_means

    af, curves, _ = _curves(frame, fault, 0.9, level, n_resamples, seed, "accuracy_vs_rate")
    runs = run_means(af)
    faults, variants = sorted(curves["fault"].unique()), sorted(curves["variant"].unique())
    panels = [(f, v) for f in faults for v in variants if ((curves["fault"] == f) & (curves["variant"] == v)).any()]
    nrows, ncols = (len(faults), len(variants)) if len(faults) > 1 else grid_shape(len(panels), ncols)
    if fig is None:
        fig = new_figure(max(MIN_WIDTH_IN, PANEL_IN[0] * ncols + 0.6), PANEL_IN[1] * nrows + 1.2)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
    styles = method_styles(curves["method"], palette)
    axis = {f: RateAxis.of(curves.loc[curves["fault"] == f, "rate"], log_rate) for f in faults}
    kinds, clipped, lows, highs, n_runs = set(), False, [], [], {m: [] for m in styles}
    used = set()
    for i, (f, v) in enumerate(panels):
        ax = axes[faults.index(f), variants.index(v)] if len(faults) > 1 else axes.flat[i]
        used.add(id(ax))
        for method, c in curves[(curves["fault"] == f) & (curves["variant"] == v)].groupby("method", sort=True):
            c = c.sort_values("rate")
            k = int(c["n_runs"].iloc[0])
            n_runs[method].append(k)
            kind = "maps" if k == 1 else "runs" if k >= min_runs_for_band else "lines"
            kinds.add(kind)
            style = styles[method]
            mean, was = clip(PCT * c["estimate"], 0, PCT)
            clipped |= was
            if kind == "lines":
                arm = runs[(runs["architecture"] == v) & (runs["method"] == method) & (runs["fault"] == f)]
                for _, r in arm.groupby("run_id", sort=True):
                    r = r.sort_values("rate")
                    _line(ax, axis[f], r["rate"], PCT * r["mean"], style, lw=0.9, alpha=0.55, marker=None)
                    lows.extend(PCT * r["mean"])
                    highs.extend(PCT * r["mean"])
            else:
                lo, c1 = clip(PCT * c["ci_low"], 0, PCT)
                hi, c2 = clip(PCT * c["ci_high"], 0, PCT)
                clipped |= c1 or c2 or bool(c["truncated"].any()) if "truncated" in c else c1 or c2
                _band(ax, axis[f], c["rate"].to_numpy(), lo, hi, style["color"], hatched=kind == "maps")
                lows.extend(lo)
                highs.extend(hi)
            _line(ax, axis[f], c["rate"], mean, style, lw=1.8)
            clean = PCT * float(c["clean_accuracy"].iloc[0])
            ax.plot(axis[f].x([0.0]), [clean], marker=style["marker"], mfc="white", mec=style["color"], ms=7,
                    ls="none", zorder=4)
            lows.extend([*mean, clean])
            highs.extend([*mean, clean])
        axis[f].setup(ax, rate_name(f))
        ax.set_title(v if len(faults) == 1 else f"{v}\n{f}", fontsize=10)
        ax.grid(alpha=0.3)
    for ax in axes.flat:
        if id(ax) not in used:
            ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("accuracy (%)")
    axes[0, 0].set_ylim(*percent_limits(lows, highs))
    if len(faults) == 1:
        fig.suptitle(f"Accuracy vs fault rate: {faults[0]}", fontsize=11)
    handles = [Line2D([], [], color=s["color"], marker=s["marker"], lw=1.8, label=f"{m} ({_runs_label(n_runs[m])})")
               for m, s in styles.items() if n_runs[m]]
    handles.append(Line2D([], [], marker="o", mfc="white", mec="0.3", ls="none", label=CLEAN))
    if "runs" in kinds:
        handles.append(Patch(facecolor="0.5", alpha=0.25, label=RUNS_BAND))
    if "lines" in kinds:
        handles.append(Line2D([], [], color="0.4", lw=0.9, alpha=0.7, label=RUN_LINES))
    if "maps" in kinds:
        handles.append(Patch(facecolor="0.5", alpha=0.12, hatch="///", edgecolor="0.5", label=MAPS_BAND))
    if clipped:
        handles.append(note(CLIPPED_NOTE))
    bottom_legend(fig, handles, ncol=2)
    return fig


def _line(ax, axis: RateAxis, rates, values, style: dict, *, lw: float, alpha: float = 1.0,
          marker: str | None = "style") -> None:
    (x, y), (bx, by) = axis.segments(np.asarray(rates, float), np.asarray(values, float))
    m = style["marker"] if marker == "style" else marker
    ax.plot(x, y, color=style["color"], marker=m, ms=4.5, lw=lw, alpha=alpha)
    if bx.size:
        ax.plot(bx, by, color=style["color"], lw=lw, alpha=alpha, ls=":")
        ax.plot(bx[:1], by[:1], color=style["color"], marker=m, ms=4.5, alpha=alpha, ls="none")


def _band(ax, axis: RateAxis, rates: np.ndarray, lo: np.ndarray, hi: np.ndarray, colour, *, hatched: bool) -> None:
    """The interval as a band over the rates (positive ones only across a log break: an error bar at 0)."""
    kw = ({"facecolor": colour, "alpha": 0.12, "hatch": "///", "edgecolor": colour, "lw": 0} if hatched
          else {"color": colour, "alpha": 0.22, "lw": 0})
    x = axis.x(rates)
    if axis.log and rates[0] == 0:
        ax.errorbar(x[:1], (lo[0] + hi[0]) / 2, yerr=(hi[0] - lo[0]) / 2, color=colour, capsize=3, ls="none",
                    alpha=0.6)
        x, lo, hi = x[1:], lo[1:], hi[1:]
    if x.size == 1:
        ax.errorbar(x, (lo + hi) / 2, yerr=(hi - lo) / 2, color=colour, capsize=3, ls="none", alpha=0.6)
    elif x.size:
        ax.fill_between(x, lo, hi, **kw)


# ------------------------------------------------------------------------------------------ critical rate, AUC


def _replicates_note(n_runs: pd.Series) -> str:
    """What the intervals are over: training runs, fault maps (one run per arm), or each where it applies."""
    if (n_runs >= 2).all():
        return "intervals: 95 %, training runs as replicates"
    if (n_runs == 1).all():
        return "intervals: 95 %, fault maps as replicates (one trained network per arm)"
    return "intervals: 95 %, training runs as replicates (arms with one run: fault maps)"


def critical_rate_auc(
    frame: pd.DataFrame, *, fault: str | None = None, fraction: float = 0.9, level: float = 0.95,
    log_rate: bool | None = None, palette: Mapping[str, object] | None = None, n_resamples: int = 1000, seed: int = 0,
    fig: FigureBase | None = None, rates: Sequence[float] | None = None,
) -> FigureBase:
    """Per arm (variant, method): the critical rate (first rate where accuracy < ``fraction`` × clean) and the
    AUC (mean accuracy over the tested rate span, %), each with its 95 % interval, as computed by
    ``faultlab.stats.recipe_tables.recipe_curves`` (training runs as replicates; one run: over fault maps).
    One row of two panels per fault. ▶ at the right edge: not crossed within the tested grid. Takes the trial
    frame (as :func:`accuracy_vs_rate`) or a ``curve_summary`` table (columns variant, method, fault, auc,
    auc_low, auc_high, critical_rate, critical_low, critical_high, n_runs, fraction). ``fig``: draw into this
    figure or subfigure instead of a new one. ``rates``: the tested rates of a summary's fault (a summary does not
    hold them): the rate axis's ticks, logarithmic as the accuracy figure's when they span a decade."""
    if {"auc", "critical_rate"} <= set(frame.columns):
        summary, grid = frame, None if rates is None else dict.fromkeys(frame["fault"].unique(), list(rates))
        if fault is not None:
            summary = summary[summary["fault"] == fault]
        fraction = float(summary["fraction"].iloc[0]) if "fraction" in summary and len(summary) else fraction
    else:
        af, _, summary = _curves(frame, fault, fraction, level, n_resamples, seed, "critical_rate_auc")
        grid = af.groupby("fault")["rate"].unique()
    if summary.empty:
        raise PlotError("critical_rate_auc: no curve with at least 2 rates to compute an AUC from")
    faults = sorted(summary["fault"].unique())
    n_arms = summary.groupby("fault").size().max()
    if fig is None:
        fig = new_figure(9.0, len(faults) * (0.5 + 0.32 * n_arms) + 1.0)
    axes = fig.subplots(len(faults), 2, squeeze=False, width_ratios=(1.2, 1.0))
    styles = method_styles(summary["method"], palette)
    clipped = False
    for (cax, aax), f in zip(axes, faults):
        rows = summary[summary["fault"] == f].sort_values(["variant", "method"], ascending=False)
        ticks = np.asarray(grid[f] if grid is not None else np.r_[rows["critical_low"], rows["critical_high"]], float)
        finite = ticks[np.isfinite(ticks)]
        axis = RateAxis.of(np.r_[finite, 0.0], log_rate)
        edge = axis.high * (10**0.1 if axis.log else 1.04)
        y = np.arange(len(rows))
        for yi, r in zip(y, rows.itertuples()):
            s = styles[r.method]
            lo, hi = (axis.x([v])[0] if np.isfinite(v) else edge for v in (r.critical_low, r.critical_high))
            cax.plot([lo, hi], [yi, yi], color=s["color"], lw=2.2)
            if math.isinf(r.critical_high):
                cax.plot([edge], [yi], marker=">", color=s["color"], ms=7)
            est = axis.x([r.critical_rate])[0] if np.isfinite(r.critical_rate) else edge
            cax.plot([est], [yi], marker=">" if math.isinf(r.critical_rate) else s["marker"], color=s["color"],
                     ms=7, mec="black", mew=0.5)
            (a_lo, a, a_hi), was = clip(PCT * np.array([r.auc_low, r.auc, r.auc_high]), 0, PCT)
            clipped |= was
            aax.plot([a_lo, a_hi], [yi, yi], color=s["color"], lw=2.2)
            aax.plot([a], [yi], marker=s["marker"], color=s["color"], ms=7, mec="black", mew=0.5)
        labels = [f"{r.variant} · {r.method} ({int(r.n_runs)} run{'' if r.n_runs == 1 else 's'})"
                  for r in rows.itertuples()]
        cax.set_yticks(y, labels, fontsize=8)
        aax.set_yticks(y, [])
        for ax in (cax, aax):
            ax.set_ylim(-0.6, len(rows) - 0.4)
            ax.grid(axis="x", alpha=0.3)
        axis.setup(cax, f"critical rate: accuracy < {fraction:g} × clean")
        cax.set_xlim(right=edge * (10**0.05 if axis.log else 1.02))
        cax.set_title(f, fontsize=10, loc="left")
        aax.set_xlabel("AUC: mean accuracy over the tested rates (%)")
        aax.set_xlim(*percent_limits(rows["auc_low"] * PCT, rows["auc_high"] * PCT))
    handles = [Line2D([], [], color=s["color"], marker=s["marker"], lw=2.2, label=m) for m, s in styles.items()]
    beyond = ~np.isfinite(summary[["critical_rate", "critical_high"]].to_numpy(float)).all(axis=1)
    handles += [note("▶ at the right edge: not crossed within the tested rates")] if beyond.any() else []
    handles += [note(_replicates_note(summary["n_runs"]))]
    if clipped:
        handles.append(note(CLIPPED_NOTE))
    bottom_legend(fig, handles, ncol=2)
    return fig
