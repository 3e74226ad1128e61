"""faultlab.plot as a notebook uses it: train small MLPs on scikit-learn's digits, run campaigns with
faultlab.run, draw every figure from the returned frames, save them as PNG and check what they show."""

from __future__ import annotations

import functools
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from digits_mlps import digits, digits_mlp
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from torch import nn

import faultlab
import faultlab.plot as fp
from faultlab.plot._common import method_styles

FAULT = "stuck_at(sa0=0.01,sa1={rate})"
RATES = [0, 0.001, 0.003, 0.01, 0.03]  # spans a decade: a log rate axis with 0 left of a break
TRIALS = 6


@functools.cache
def trained_mlp(width: int, seed: int, steps: int) -> nn.Module:
    """A digits MLP (cached: a campaign leaves the weights as they were)."""
    return digits_mlp(width, seed, steps)


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    """Whole-network campaigns with 3 runs (a band over runs), 2 runs (each run drawn) and 1 run (a band over
    fault maps) per arm, an arm whose runs disagree wildly (a t band far outside [0, 100] %), and per-layer
    and per-group campaigns, one of them with fewer trials than the others (an incomplete campaign)."""
    test = digits()[2:]
    arms = [(16, "vanilla", (0, 1, 2), 60), (16, "short", (0, 1), 15), (64, "vanilla", (0,), 60)]
    whole = [faultlab.run(trained_mlp(w, s, steps), test, FAULT, rates=RATES, trials=TRIALS, method=m,
                          train_seed=s, progress="off")
             for w, m, seeds, steps in arms for s in seeds]
    wild = [faultlab.run(trained_mlp(64, s, steps), test, FAULT, rates=RATES, trials=TRIALS, method="mixed",
                         train_seed=s, progress="off") for s, steps in ((0, 1), (1, 60), (2, 60))]
    per_layer = [faultlab.run(trained_mlp(w, 0, 60), test, FAULT, rates=[0.01], trials=t, per_layer=scope,
                              method=m, train_seed=0, progress="off")
                 for w, m, t in ((16, "vanilla", TRIALS), (16, "short", TRIALS // 2), (64, "vanilla", TRIALS))
                 for scope in ("layer", "group")]
    return {"whole": pd.concat(whole, ignore_index=True), "wild": pd.concat(wild, ignore_index=True),
            "per_layer": pd.concat(per_layer, ignore_index=True)}


def saved(fig: Figure, tmp_path, name: str) -> bytes:
    assert isinstance(fig, Figure)
    path = tmp_path / f"{name}.png"
    fig.savefig(path, dpi=60)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000
    return data


def panels(fig: Figure) -> list:
    """The visible axes that hold data (not the legend)."""
    return [ax for ax in fig.axes if ax.get_visible()]


def legend_texts(fig: Figure) -> list[str]:
    return [t.get_text() for leg in fig.legends for t in leg.get_texts()]


def y_values(ax) -> np.ndarray:
    """Every drawn y value of lines and bands in data units (markers on axes coordinates left out)."""
    values = [np.asarray(line.get_ydata(), float) for line in ax.get_lines()
              if line.get_transform() == ax.transData]
    values += [c.get_paths()[0].vertices[:, 1] for c in ax.collections if isinstance(c, PolyCollection)]
    return np.concatenate([v.ravel() for v in values]) if values else np.array([])


def test_accuracy_vs_rate_one_panel_per_architecture_bands_runs_and_maps(frames, tmp_path):
    df = frames["whole"]
    fig = fp.accuracy_vs_rate(df)
    saved(fig, tmp_path, "accuracy")
    axes = panels(fig)
    assert [ax.get_title() for ax in axes] == ["mlp-16", "mlp-64"]
    mlp16, mlp64 = axes
    assert all(ax.get_xscale() == "log" for ax in axes)
    assert [t.get_text() for t in mlp16.get_xticklabels()] == ["0", "0.001", "0.003", "0.01", "0.03"]
    # mlp-16: vanilla has 3 runs (one band), "short" has 2 (its two runs drawn, no band)
    assert len([c for c in mlp16.collections if isinstance(c, PolyCollection)]) == 1
    thin = [line for line in mlp16.get_lines() if line.get_linewidth() < 1]
    assert len(thin) == 2 * 2  # two runs: the curve over positive rates and its dotted step across the break
    # mlp-64 has one run: a hatched band over fault maps
    (band,) = [c for c in mlp64.collections if isinstance(c, PolyCollection)]
    assert band.get_hatch() == "///"
    texts = legend_texts(fig)
    assert any("conditional on that network" in t for t in texts)
    assert any("t interval over training runs" in t for t in texts)
    assert "vanilla (1-3 runs)" in texts and "short (2 runs)" in texts
    for ax in axes:
        assert ax.get_ylabel() in ("accuracy (%)", "")
        y = y_values(ax)
        assert y.size and np.nanmin(y) >= 0 and np.nanmax(y) <= 100
        lo, hi = ax.get_ylim()
        assert -1 <= lo < hi <= 101
    # the drawn mean at rate 0.01 of mlp-16 vanilla is the mean over its runs of their trial means
    runs = df[(df.variant == "mlp-16") & (df.method == "vanilla") & (df.rate == 0.01)].groupby("run_id").accuracy
    colour = method_styles(df.method)["vanilla"]["color"]
    (mean_line,) = [line for line in mlp16.get_lines()
                    if line.get_linewidth() > 1.5 and len(line.get_xdata()) == 4 and line.get_color() == colour]
    assert mean_line.get_ydata()[2] == pytest.approx(100 * runs.mean().mean())


def test_intervals_beyond_the_range_are_clipped_and_said_so(frames, tmp_path):
    from faultlab.stats.recipe_tables import recipe_curves

    wild = frames["wild"].assign(architecture=frames["wild"].variant)
    curves, _ = recipe_curves(wild)
    assert curves.truncated.any()  # the t band over 3 runs leaves [0, 1]: stats truncates it and says so
    fig = fp.accuracy_vs_rate(frames["wild"])
    saved(fig, tmp_path, "wild")
    (ax,) = panels(fig)
    y = y_values(ax)
    assert np.nanmin(y) >= 0 and np.nanmax(y) <= 100
    assert "intervals clipped to [0, 100] %" in legend_texts(fig)


def test_linear_axis_when_rates_span_less_than_a_decade(frames):
    df = frames["whole"]
    fig = fp.accuracy_vs_rate(df[df.rate.isin([0, 0.01, 0.03])])
    assert all(ax.get_xscale() == "linear" for ax in panels(fig))
    assert fp.accuracy_vs_rate(df, log_rate=False).axes[0].get_xscale() == "linear"


def test_critical_rate_and_auc_per_arm(frames, tmp_path):
    fig = fp.critical_rate_auc(frames["whole"])
    saved(fig, tmp_path, "critical")
    crit, auc = panels(fig)
    labels = [t.get_text() for t in crit.get_yticklabels()]
    assert labels == ["mlp-64 · vanilla (1 run)", "mlp-16 · vanilla (3 runs)", "mlp-16 · short (2 runs)"]
    x = np.concatenate([line.get_xdata() for line in auc.get_lines()])
    assert x.min() >= 0 and x.max() <= 100
    assert auc.get_xlabel().startswith("AUC")
    # the same figure from the stats' curve_summary table (as the report has it)
    from faultlab.stats.recipe_tables import recipe_curves

    _, summary = recipe_curves(frames["whole"].assign(architecture=frames["whole"].variant))
    again = fp.critical_rate_auc(summary)
    assert [t.get_text() for t in panels(again)[0].get_yticklabels()] == labels


def test_layer_sensitivity_panels_and_the_incomplete_flag(frames, tmp_path):
    df = frames["per_layer"]
    fig = fp.layer_sensitivity(pd.concat([frames["whole"], df]))  # whole-network rows are left out
    saved(fig, tmp_path, "layers")
    axes = panels(fig)
    titles = [ax.get_title() for ax in axes]
    assert len(axes) == 4  # (mlp-16, mlp-64) x (per group, per layer)
    assert [t.split("\n")[0] for t in titles] == ["mlp-16: one layer group at a time", "mlp-16: one layer at a time",
                                                  "mlp-64: one layer group at a time", "mlp-64: one layer at a time"]
    # mlp-16's "short" method ran half the trials: its panels are flagged, mlp-64's are not
    assert ["INCOMPLETE" in t for t in titles] == [True, True, False, False]
    assert [t.get_text() for t in axes[1].get_yticklabels()] == ["0", "2"]
    drops = df[(df.variant == "mlp-64") & (df.layer == "2")]
    drop = 100 * (drops.clean_accuracy - drops.accuracy).mean()
    assert any(np.isclose(line.get_xdata(), drop).any() for line in axes[3].get_lines())


def test_contrast_forest_from_the_stats_tables(frames, tmp_path):
    from faultlab.stats import contrast_table

    table = contrast_table(frames["whole"], baseline="vanilla", margin=0.02)  # the declared-contrast table
    fig = fp.contrast_forest(table)
    saved(fig, tmp_path, "forest")
    (ax,) = panels(fig)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["short vs vanilla on mlp-16"]
    vertical = sorted(line.get_xdata()[0] for line in ax.get_lines() if len(set(line.get_xdata())) == 1
                      and line.get_transform() != ax.transData)
    assert vertical == pytest.approx([-2, 0, 2])  # the margins and the zero line
    assert any(t.startswith("equivalence margin") for t in legend_texts(fig))
    # a minimal table, verdicts marked by colour and marker, an impossible interval clipped to ±100 pp
    minimal = pd.DataFrame({"contrast": ["a", "b", "c"], "estimate": [0.05, -0.02, 0.0], "low": [0.01, -1.4, -0.01],
                            "high": [0.09, 0.3, 0.01], "verdict": ["better", "inconclusive (2 runs)", "equivalent"]})
    fig = fp.contrast_forest(minimal)
    saved(fig, tmp_path, "minimal")
    (ax,) = panels(fig)
    markers = [line.get_marker() for line in ax.get_lines() if line.get_marker() not in ("None", None, "")]
    assert markers == ["^", "o", "D"]
    x = np.concatenate([line.get_xdata() for line in ax.get_lines()])
    assert x.min() >= -100 and x.max() <= 100
    assert "intervals clipped to [-100, +100] pp" in legend_texts(fig)


def test_figures_are_deterministic_and_need_no_pyplot(frames, tmp_path):
    first = saved(fp.accuracy_vs_rate(frames["whole"]), tmp_path, "a")
    second = saved(fp.accuracy_vs_rate(frames["whole"]), tmp_path, "b")
    assert first == second
    assert "matplotlib.pyplot" not in sys.modules or not __import__("matplotlib.pyplot").pyplot.get_fignums()


def test_figures_draw_into_part_of_a_page(frames, tmp_path):
    """As a report page uses them: each figure in a subfigure of one A4 page, a forest plot in given axes."""
    page = Figure(figsize=(8.27, 11.69), layout="constrained")
    top, middle, bottom = page.subfigures(3, 1)
    assert fp.accuracy_vs_rate(frames["whole"], fig=top) is top
    assert fp.critical_rate_auc(frames["whole"], fig=middle) is middle
    left, right = bottom.subplots(1, 2)
    minimal = pd.DataFrame({"contrast": ["a"], "estimate": [0.05], "low": [0.01], "high": [0.09],
                            "verdict": ["better"]})
    assert fp.contrast_forest(minimal, ax=right) is bottom
    saved(page, tmp_path, "page")
    assert len(top.axes) == 2 and len(middle.axes) == 2 and right.get_yticklabels()[0].get_text() == "a"


def test_figures_from_faultlab_exports_parquet(tmp_path):
    from faultlab.cli import main

    net = trained_mlp(16, 0, 60)
    rows = faultlab.run(net, digits()[2:], FAULT, rates=RATES, trials=3, store=tmp_path / "s.sqlite", progress="off")
    main(["export", "--store", str(tmp_path / "s.sqlite"), "--out", str(tmp_path / "trials.parquet")])
    exported = pd.read_parquet(tmp_path / "trials.parquet")
    fig = fp.accuracy_vs_rate(exported)
    (ax,) = panels(fig)
    assert ax.get_title() == "mlp-16" and any("conditional on that network" in t for t in legend_texts(fig))
    means = rows.groupby("rate").accuracy.mean().to_numpy()
    (line,) = [line for line in ax.get_lines() if line.get_linewidth() > 1.5 and len(line.get_xdata()) == 4]
    assert line.get_ydata() == pytest.approx(100 * means[1:])  # the positive rates; rate 0 behind the break


def test_plot_errors_are_one_line():
    with pytest.raises(fp.PlotError, match="lacks column"):
        fp.accuracy_vs_rate(pd.DataFrame({"rate": [0.1]}))
    with pytest.raises(faultlab.FaultlabError, match="no per-layer"):
        fp.layer_sensitivity(pd.DataFrame({c: [] for c in ("variant", "method", "fault", "run_id", "rate",
                                                           "accuracy", "clean_accuracy", "layer")}))


def test_import_faultlab_and_stats_stay_free_of_matplotlib():
    code = "import sys, faultlab, faultlab.stats; assert 'matplotlib' not in sys.modules, 'matplotlib imported'"
    subprocess.run([sys.executable, "-c", code], check=True)



def test_per_layer_series_of_up_to_eight_levels_have_distinct_line_styles():
    """Five rates and three K in one panel (the ablation's surfaces) each drawn in their own dash pattern."""
    from matplotlib.lines import Line2D

    from faultlab.plot._common import LINESTYLES

    dashes = [tuple(Line2D([], [], ls=ls)._unscaled_dash_pattern[1] or ()) for ls in LINESTYLES]
    assert len(LINESTYLES) >= 8 and len(set(dashes)) == len(LINESTYLES)


def test_the_critical_rate_legend_mentions_the_edge_marker_only_when_one_is_drawn(frames):
    from faultlab.stats.recipe_tables import recipe_curves

    _, summary = recipe_curves(frames["whole"].assign(architecture=frames["whole"].variant))

    def notes(table):
        fig = fp.critical_rate_auc(table)
        return " ".join(t.get_text() for leg in fig.legends for t in leg.get_texts())

    crossed = summary.assign(critical_rate=0.05, critical_low=0.02, critical_high=0.1)
    assert "▶" not in notes(crossed)
    beyond = crossed.copy()
    beyond.loc[beyond.index[0], "critical_high"] = np.inf
    assert "▶ at the right edge" in notes(beyond)
