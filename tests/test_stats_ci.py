"""Tests of faultlab.stats intervals and curves: bootstrap CIs (coverage by simulation), cell summaries, AUC,
critical fault rate and curve bootstraps."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from faultlab.stats import (
    DegenerateTrialsWarning,
    auc,
    bootstrap_mean_ci,
    cell_summary,
    critical_rate,
    curve_bootstrap,
)

# ---------------------------------------------------------------- bootstrap CI


@pytest.mark.parametrize(
    "draw, truth",
    [
        (lambda g, size: g.normal(0.8, 0.05, size), 0.8),
        (lambda g, size: g.beta(8.0, 2.0, size), 0.8),  # left-skewed, accuracy-like
    ],
    ids=["normal", "beta(8,2)"],
)
def test_bootstrap_ci_coverage(draw, truth):
    g = np.random.default_rng(12345)
    reps, hits = 1000, 0
    for _ in range(reps):
        ci = bootstrap_mean_ci(draw(g, 30), 0.95, n_resamples=1000, rng=g)
        hits += ci.low <= truth <= ci.high
    assert 0.93 <= hits / reps <= 0.97


def test_bootstrap_ci_deterministic_and_methods():
    x = np.random.default_rng(0).normal(0.5, 0.1, 25)
    a, b = bootstrap_mean_ci(x), bootstrap_mean_ci(x)
    assert a == b and a.estimate == pytest.approx(x.mean())
    pct = bootstrap_mean_ci(x, method="percentile")
    assert a.low < pct.low < pct.high < a.high  # expanded percentile is wider at small n
    assert a.to_row()["method"] == "expanded bootstrap"


def test_bootstrap_ci_degenerate_warns():
    with pytest.warns(DegenerateTrialsWarning):
        ci = bootstrap_mean_ci([0.7] * 12)
    assert (ci.estimate, ci.low, ci.high) == (0.7, 0.7, 0.7)
    with pytest.warns(DegenerateTrialsWarning):
        assert bootstrap_mean_ci([0.4]).n == 1


@pytest.mark.parametrize(
    "kwargs, word",
    [({"x": []}, "x"), ({"x": [1, np.nan]}, "x"), ({"x": [1, 2], "level": 1.5}, "level"),
     ({"x": [1, 2], "n_resamples": 0}, "n_resamples"), ({"x": [1, 2], "method": "bca"}, "method"),
     ({"x": [1, 2], "rng": "seed"}, "rng")],
)
def test_bootstrap_ci_validation(kwargs, word):
    with pytest.raises(ValueError, match=word):
        bootstrap_mean_ci(**kwargs)


def test_cell_summary():
    g = np.random.default_rng(1)
    rows = [
        {"run_id": "r0", "fault": "drop(p={rate})", "layer": "*", "rate": r, "trial": t,
         "accuracy": 0.9 - r + 0.01 * g.standard_normal(),
         "clean_accuracy": 0.9}
        for r in (0.1, 0.2) for t in range(20)
    ]
    rows += [{"run_id": "r0", "fault": "drop(p={rate})", "layer": "*", "rate": 0.0, "trial": t,
              "accuracy": 0.9, "clean_accuracy": 0.9} for t in range(5)]
    df = pd.DataFrame(rows)
    by = ("run_id", "fault", "layer", "rate")
    with pytest.warns(DegenerateTrialsWarning, match="1 cell"):
        out = cell_summary(df, by=by)
    assert list(out["rate"]) == [0.0, 0.1, 0.2] and list(out["n"]) == [5, 20, 20]
    x = df.loc[df.rate == 0.2, "accuracy"].to_numpy()
    row = out.iloc[2]
    assert row["mean"] == pytest.approx(x.mean()) and row["median"] == pytest.approx(np.median(x))
    assert row["p5"] == pytest.approx(np.percentile(x, 5))
    assert row["iqr"] == pytest.approx(np.percentile(x, 75) - np.percentile(x, 25))
    assert row["drop_from_clean"] == pytest.approx(0.9 - x.mean())
    assert row["ci_low"] < row["mean"] < row["ci_high"]
    # a cell's CI does not depend on the other cells
    alone = cell_summary(df[df.rate == 0.2], by=by)
    assert alone.iloc[0]["ci_low"] == row["ci_low"]
    with pytest.raises(ValueError, match="missing column"):
        cell_summary(df, by=("nope",))


# ---------------------------------------------------------------- curves


def test_auc_and_critical_rate_linear():
    r = np.linspace(0.0, 1.0, 11)
    assert auc(r, 1.0 - r) == pytest.approx(0.5)
    assert critical_rate(r, 1.0 - r, clean=1.0, fraction=0.9) == pytest.approx(0.1, abs=1e-12)
    # between grid points, and the rate-0 point taken from clean when the grid lacks it
    assert critical_rate([0.0, 0.2, 0.4], [1.0, 0.8, 0.6], 1.0) == pytest.approx(0.1)
    assert critical_rate([0.4, 0.2], [0.6, 0.8], 1.0) == pytest.approx(0.1)
    assert critical_rate([0.0, 0.1], [0.5, 0.4], 1.0) == 0.0
    assert auc([0.1, 0.3], [0.8, 0.6]) == pytest.approx(0.7)  # normalised by the span


def test_critical_rate_not_crossed_is_inf():
    assert critical_rate([0.1, 0.2, 0.3], [0.99, 0.97, 0.95], clean=1.0, fraction=0.9) == math.inf


@pytest.mark.parametrize(
    "args, word",
    [(([0.1], [0.9]), "rates"), (([0.1, 0.2, 0.3], [0.9, 0.8]), "differ"), (([0.1, 0.1], [0.9, 0.8]), "distinct")],
)
def test_auc_validation(args, word):
    with pytest.raises(ValueError, match=word):
        auc(*args)


def test_curve_bootstrap():
    g = np.random.default_rng(3)
    rates = [0.0, 0.1, 0.2, 0.3, 0.4]
    trials = {r: 1.0 - r + 0.01 * g.standard_normal(30) for r in rates}
    a1, c1 = curve_bootstrap(trials, clean=1.0, fraction=0.9, n_resamples=500, rng=7)
    a2, c2 = curve_bootstrap(trials, clean=1.0, fraction=0.9, n_resamples=500, rng=7)
    assert (a1, c1) == (a2, c2)
    assert a1.low < 0.8 < a1.high and a1.n == 150
    assert c1.low < 0.1 < c1.high and c1.high - c1.low < 0.02
    _, never = curve_bootstrap({0.1: [0.99, 0.98], 0.2: [0.97, 0.985]}, 1.0, n_resamples=50)
    assert never.estimate == math.inf and never.high == math.inf


def _seed_study(outlier: float, n_trials: int = 20) -> pd.DataFrame:
    g = np.random.default_rng(5)
    rows = []
    for seed, shift in zip(range(3), (0.0, 0.0, outlier)):
        for r in (0.0, 0.1, 0.2, 0.3):
            for t in range(n_trials):
                rows.append({"run_id": f"s{seed}", "train_seed": seed, "architecture": "a", "method": "m",
                             "fault": "f", "layer": "*", "rate": r, "trial": t, "clean_accuracy": 0.95 + shift,
                             "accuracy": 0.95 + shift - r + (0.01 * g.standard_normal() if r else 0.0)})
    return pd.DataFrame(rows)


