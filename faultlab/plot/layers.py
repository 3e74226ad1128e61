"""Per-layer sensitivity from per-layer and per-group campaigns: the mean accuracy drop from clean per layer (or
group), one panel per (variant, scope), flagged when a campaign is incomplete. The numbers come from
``faultlab.stats.sensitivity.layer_sensitivity``."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import pandas as pd
from matplotlib.figure import FigureBase
from matplotlib.lines import Line2D

from faultlab.store import GROUP_PREFIX

from ._common import (
    LINESTYLES,
    PCT,
    PlotError,
    bottom_legend,
    grid_shape,
    method_styles,
    new_figure,
    note,
    trial_frame,
    whole_model,
)

ROW_IN = 0.22  # inches per layer row
INCOMPLETE_COLOUR = "#b2182b"
SCOPE_WORDS = {"layer": "one layer at a time", "group": "one layer group at a time"}


def natural_order(names) -> list[str]:
    """Layer names in natural order (``features.2`` before ``features.10``), the ``group:stem`` group first and
    ``group:classifier`` last: the network's order for the usual names; pass the campaign's order where it
    differs."""
    def key(name: str):
        edge = {f"{GROUP_PREFIX}stem": 0, f"{GROUP_PREFIX}classifier": 2}.get(str(name), 1)
        return edge, [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", str(name))]

    return sorted(set(names), key=key)


def _incomplete(panel: pd.DataFrame, trials: int | None, sizes: Mapping[str, float] | None = None
                ) -> tuple[pd.Series, int, list[str]]:
    """Cells short of the panel's trial count (the largest cell's, or ``trials``), and layers some series lack;
    a ``K=k`` series lacks a layer of fewer than k weights (``sizes``) by design, not by interruption."""
    expected = int(trials if trials is not None else panel["n_trials"].max())
    short = panel["n_trials"] < expected
    layers, sizes = set(panel["layer"]), sizes or {}

    def too_small(layer: str, level: str) -> bool:
        return level.startswith("K=") and sizes.get(layer, float("inf")) < float(level[2:])

    lacking = sorted({lay for (_, level), s in panel.groupby(["method", "level"])
                      for lay in layers - set(s["layer"]) if not too_small(lay, level)})
    return short, expected, lacking


def _layer_sizes(df: pd.DataFrame) -> dict[str, float]:
    """Weights per layer, read off its equal-count trials (rate = K / weights)."""
    counted = df[(df["equal_count"].fillna(0) > 0) & (df["rate"] > 0)]
    return (counted["equal_count"].astype(float) / counted["rate"].astype(float)).groupby(counted["layer"]).median() \
        .round().to_dict()


def layer_sensitivity(
    frame: pd.DataFrame, *, fault: str | None = None, order: Sequence[str] | None = None, trials: int | None = None,
    ncols: int | None = None, palette: Mapping[str, object] | None = None, fig: FigureBase | None = None,
) -> FigureBase:
    """Mean accuracy drop from clean (pp) per layer or layer group, one panel per (fault, variant, scope),
    layers top to bottom in ``order`` (default: natural order of the names), one series per (method, rate
    or equal count K). A panel whose cells have fewer trials than its largest cell (or than ``trials``), or
    where one series lacks layers another has, is flagged in its title and its short cells are hollow.
    Columns used: variant (or architecture), method, fault, run_id, rate, trial, layer, layer_group,
    equal_count, accuracy, clean_accuracy. ``fig``: draw into this figure or subfigure instead of a new one."""
    from faultlab.stats.sensitivity import layer_sensitivity as sensitivity_table

    df = trial_frame(frame, "layer_sensitivity", fault)
    for col, default in (("layer_group", None), ("equal_count", 0)):
        if col not in df.columns:
            df[col] = default
    df = df[~whole_model(df)]
    if df.empty:
        raise PlotError("layer_sensitivity: no per-layer or per-group trials; run a campaign with per_layer='layer' "
                        "or 'group'")
    rank = {name: i for i, name in enumerate(order if order is not None else natural_order(df["layer"]))}
    table = sensitivity_table(df, list(rank))
    sizes = _layer_sizes(df)
    panels = list(table.groupby(["fault", "variant", "scope"], sort=True))
    nrows, ncols = grid_shape(len(panels), ncols, max_cols=2)
    most = max(g["layer"].nunique() for _, g in panels)
    if fig is None:
        fig = new_figure(5.2 * ncols + 0.4, nrows * (1.3 + ROW_IN * max(most, 3)) + 1.0)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True)
    styles = method_styles(table["method"], palette)
    levels = sorted(table["level"].unique(), key=lambda s: (s.startswith("K="), float(s.lstrip("K="))))
    flagged = False
    for ax, ((f, variant, scope), g) in zip(axes.flat, panels):
        names = sorted(g["layer"].unique(), key=lambda n: rank.get(n, len(rank)))
        y = {name: i for i, name in enumerate(names)}
        short, expected, lacking = _incomplete(g, trials, sizes)
        for (method, level), s in g.assign(short=short).groupby(["method", "level"], sort=True):
            st = styles[method]
            s = s.sort_values("layer", key=lambda c: c.map(y))
            ys, xs = s["layer"].map(y).to_numpy(), PCT * s["drop"].to_numpy(float)
            ls = LINESTYLES[levels.index(level) % len(LINESTYLES)]
            ax.plot(xs, ys, color=st["color"], ls=ls, lw=1.2, alpha=0.8)
            full = ~s["short"].to_numpy(bool)
            ax.plot(xs[full], ys[full], color=st["color"], marker=st["marker"], ms=5, ls="none")
            ax.plot(xs[~full], ys[~full], mfc="white", mec=INCOMPLETE_COLOUR, marker=st["marker"], ms=6, ls="none")
        ax.axvline(0, color="0.4", lw=0.8)
        ax.set_yticks(range(len(names)), [n.removeprefix(GROUP_PREFIX) for n in names], fontsize=7)
        ax.set_ylim(len(names) - 0.5, -0.5)  # the first layer on top
        ax.set_xlabel("accuracy drop from clean (pp)")
        ax.grid(axis="x", alpha=0.3)
        title = f"{variant}: {SCOPE_WORDS.get(scope, scope)}" + (f"\n{f}" if fault is None and
                                                                   table["fault"].nunique() > 1 else "")
        problems = []
        if short.any():
            problems.append(f"{int(short.sum())} of {len(g)} cells < {expected} trials")
        if lacking:
            problems.append(f"{len(lacking)} layer(s) missing in some series")
        if problems:
            flagged = True
            ax.set_title(f"{title}\nINCOMPLETE: {'; '.join(problems)}", fontsize=9, color=INCOMPLETE_COLOUR)
        else:
            ax.set_title(title, fontsize=9)
    for i, ax in enumerate(axes.flat):
        if i >= len(panels):
            ax.set_visible(False)
        elif i + ncols >= len(panels):  # the last panel of its column: its rate axis keeps its numbers
            ax.xaxis.set_tick_params(labelbottom=True)
    handles = [Line2D([], [], color=s["color"], marker=s["marker"], label=m) for m, s in styles.items()]
    handles += [Line2D([], [], color="0.3", ls=LINESTYLES[i % len(LINESTYLES)],
                       label=f"rate {lv}" if not lv.startswith("K=") else f"{lv} faulty weights")
                for i, lv in enumerate(levels)]
    handles.append(note("drop = clean accuracy - mean faulted accuracy over all trials of the cell"))
    if flagged:
        handles.append(Line2D([], [], marker="o", mfc="white", mec=INCOMPLETE_COLOUR, ls="none",
                              label="hollow: cell with fewer trials (campaign incomplete)"))
    bottom_legend(fig, handles, ncol=2)
    fig.suptitle("Per-layer sensitivity" + (f": {fault}" if fault else ""), fontsize=11)
    return fig
