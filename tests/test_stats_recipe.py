"""Recipe-level statistics (training runs as replicates): tests against scipy, hand cases, and CI coverage by
simulation with known truth through the same tables the report uses (the family's error rates and power:
tests/test_stats_contrasts.py)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from faultlab.stats import (
    compare_methods_maps,
    compare_recipes,
    contrast_table,
    runs_needed,
    variance_components,
)
from faultlab.stats.recipe import run_means
from faultlab.stats.recipe_tables import method_comparison, recipe_curves
from faultlab.stats.simulate import simulate_study, true_mean

ALPHA = 0.05


def _net(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(variant=df["architecture"])


def _primary(df: pd.DataFrame, baseline: str = "method_b", **kw) -> pd.Series:
    """The primary (AUC) row of the default contrast (method_a vs ``baseline`` on net)."""
    t = contrast_table(_net(df), baseline=baseline, **kw)
    return t[t["role"] == "primary"].iloc[0]


def test_compare_recipes_matches_scipy():
    rng = np.random.default_rng(0)
    a = pd.Series(rng.normal(0.8, 0.01, 5), index=range(5))
    b = pd.Series(rng.normal(0.79, 0.01, 5), index=range(5))
    paired = compare_recipes(a, b)
    ref = stats.ttest_rel(a, b)
    assert paired.design == "paired by seed" and paired.n_pairs == 5
    assert paired.pvalue == pytest.approx(ref.pvalue) and paired.estimate == pytest.approx((a - b).mean())
    lo, hi = ref.confidence_interval(0.95)
    assert (paired.ci_low, paired.ci_high) == (pytest.approx(lo), pytest.approx(hi))
    unpaired = compare_recipes(a, b.set_axis(range(10, 15)))  # no shared seeds, balanced: pooled Student's t
    ref = stats.ttest_ind(a, b, equal_var=True)
    assert unpaired.design == "unpaired, pooled t" and unpaired.pvalue == pytest.approx(ref.pvalue)
    lo, hi = ref.confidence_interval(0.95)
    assert (unpaired.ci_low, unpaired.ci_high) == (pytest.approx(lo), pytest.approx(hi))
    # TOST: p = max of the one-sided p's, the same as scipy's shifted one-sided tests
    d = (a - b).to_numpy()
    p_lo = stats.ttest_1samp(d, -0.01, alternative="greater").pvalue
    p_hi = stats.ttest_1samp(d, 0.01, alternative="less").pvalue
    assert paired.tost_pvalue == pytest.approx(max(p_lo, p_hi))


def test_one_run_per_arm_is_not_tested_with_its_reason():
    df = simulate_study(np.random.default_rng(1), seeds=1, trials=30)
    table = method_comparison(df, "method_b")
    assert set(table["verdict"]) == {"not tested"} and set(table["reason"]) == {"too few runs"}
    row = _primary(df)
    assert (row["verdict"], row["reason"], row["n_runs"]) == ("not tested", "too few runs", 1)
    assert math.isnan(row["runs_to_detect"]) and math.isnan(row["p_adjusted"])


def test_runs_needed_matches_classic_tables():
    # Cohen's tables: one-sample d = 1 -> 10; two-sample d = 1 -> 17, d = 0.5 -> 64 (α = 0.05, power 0.8)
    assert runs_needed(1.0, 1.0, paired=True) == 10
    assert runs_needed(1.0, 1.0, paired=False) == 17
    assert runs_needed(1.0, 0.5, paired=False) == 64
    assert math.isinf(runs_needed(float("nan"), 0.5, paired=True))
    # equivalence needs more runs than detecting a difference of the margin's size
    assert runs_needed(1.0, 1.0, paired=True, equivalence=True) > 10


def test_floor_effect_is_uninformative_not_equivalent():
    rng = np.random.default_rng(2)
    df = simulate_study(rng, seeds=5, trials=30, clean=0.12, slope=0.0, sd_run=0.002, sd_map=0.002)
    row = _primary(df, chance=0.1)
    assert (row["verdict"], row["reason"]) == ("not tested", "at chance")
    assert _primary(df, chance=None)["verdict"] == "equivalent"  # without the floor check: "equivalent"


def test_paired_design_detects_a_true_effect_with_five_seeds():
    df = simulate_study(np.random.default_rng(3), seeds=5, trials=50, effect=0.03)
    table = contrast_table(_net(df), baseline="method_b")
    assert list(table["role"]) == ["primary"] + ["secondary"] * 5
    assert set(table["verdict"]) == {"better"}  # the AUC contrast, then its gated per-rate rows
    assert (table["design"] == "paired by seed").all() and (table["n_pairs"] == 5).all()
    assert (table["low"] < 0.03).all() and (table["high"] > 0.03).all()


def test_level_a_verdict_direction_follows_the_tested_statistic():
    """40 maps at +1 pp and 5 at -15 pp: Wilcoxon says a tends higher, the mean says lower; the verdict
    follows the test that decided it (rank-biserial sign), and Hodges-Lehmann goes with it."""
    n = 200
    rows = []
    for t in range(45):
        d = 2 if t < 40 else -30  # in correct counts of 200
        for method, k in (("a", 150 + d), ("b", 150)):
            rows.append({"architecture": "net", "method": method, "fault": "f", "train_seed": 0, "rate": 0.1,
                         "trial": t, "accuracy": k / n, "n_samples": n})
    table = compare_methods_maps(pd.DataFrame(rows), "net", "a", "b", "f")
    row = table.iloc[0]
    assert row["estimate"] < 0 and row["effect_size"] > 0 and row["hodges_lehmann"] > 0
    assert row["verdict"] == "better"


def test_level_a_wilcoxon_ranks_integer_counts():
    """Equal count differences are ties; as float k/N they would not be (p off by up to ~4x)."""
    rng = np.random.default_rng(4)
    n, trials = 1000, 60
    a = rng.integers(700, 720, trials)
    b = a - rng.integers(-3, 6, trials)
    rows = [{"architecture": "net", "method": m, "fault": "f", "train_seed": 0, "rate": 0.2, "trial": t,
             "accuracy": np.float32(k / n).item(), "n_samples": n}
            for t in range(trials) for m, k in (("a", a[t]), ("b", b[t]))]
    table = compare_methods_maps(pd.DataFrame(rows), "net", "a", "b", "f")
    assert table["pvalue"].iloc[0] == pytest.approx(stats.wilcoxon(a - b).pvalue)


def test_variance_components_recover_the_simulated_ones():
    df = simulate_study(np.random.default_rng(5), seeds=40, trials=40, sd_run=0.01, sd_map=0.02, rates=(0.2,),
                        n_samples=100_000)
    comps = variance_components(run_means(df.assign(architecture="net")))
    row = comps[comps["method"] == "method_b"].iloc[0]
    # sd_map² from 40 x 39 df: relative se ≈ √(2/1560) ≈ 3.6 %; sd_run² from 39 df: relative se ≈ 23 %
    assert row["sd_map"] == pytest.approx(0.02, rel=0.08)
    assert row["sd_run"] == pytest.approx(0.01, rel=0.35)
    assert row["var_test"] == pytest.approx(0.8 * 0.2 / 100_000, rel=0.05)
    assert row["next"] == "runs"


def test_critical_rate_interval_admits_the_grid():
    df = simulate_study(np.random.default_rng(6), seeds=3, trials=30, clean=0.9, slope=1.0,
                        rates=(0.05, 0.1, 0.2, 0.3))
    _, summary = recipe_curves(df.assign(architecture="net"), fraction=0.9)
    grid = {0.0, 0.05, 0.1, 0.2, 0.3, math.inf}
    for r in summary.itertuples():
        assert r.critical_low in grid and r.critical_high in grid
        assert r.critical_low <= r.critical_rate <= r.critical_high


# --------------------------------------------------------------------------- calibration by simulation


@pytest.mark.parametrize("catastrophic", [0.0, 0.05])
def test_curve_interval_coverage(catastrophic):
    """The per-rate recipe intervals cover the true mean 93-97 % of the time (here ± 3 MC SE), also with 5 %
    catastrophic fault maps."""
    rng = np.random.default_rng(9)
    rates = (0.1, 0.3)
    hits = []
    for _ in range(100):
        df = simulate_study(rng, seeds=3, trials=20, rates=rates, catastrophic=catastrophic,
                            arms=(("net", "m"),), n_samples=100_000)
        curves, _ = recipe_curves(df)
        truth = np.array([true_mean(r, catastrophic=catastrophic) for r in rates])
        hits.append(((curves["ci_low"] <= truth) & (truth <= curves["ci_high"])).to_numpy())
    cover = np.concatenate(hits).mean()
    se = math.sqrt(0.95 * 0.05 / 200)
    assert 0.95 - 3 * se <= cover <= 0.95 + 3 * se


def _adaptive_coverage(rule, q: float, reps: int, rng: np.random.Generator, drop: float = 0.35) -> float:
    """Coverage of the final t interval of adaptive cells: maps N(0.85, 0.01), a fraction q of them ``drop``
    lower; maps added 8 at a time until ``rule`` stops or 500."""
    truth, hits = 0.85 - q * drop, 0
    for _ in range(reps):
        x = np.empty(0)
        while x.size < 500:
            x = np.concatenate([x, rng.normal(0.85, 0.01, 8) - drop * (rng.random(8) < q)])
            if rule(x):
                break
        h = stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
        hits += abs(x.mean() - truth) <= h
    return hits / reps


def test_adaptive_stopping_covers_with_catastrophic_maps():
    """A 5 % tail of catastrophic maps: the old rule (10 maps, half-width only) stops before the tail shows up
    and under-covers; the tail-guarded rule reaches 95 % within 3 MC SE."""
    from faultlab.campaign.stopping import adaptive_stop, tail_guard_trials

    assert tail_guard_trials(0.02) == 149
    rng = np.random.default_rng(10)
    old = _adaptive_coverage(lambda x: x.size >= 10 and stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1)
                             / math.sqrt(x.size) <= 0.005, 0.05, 200, rng)
    new = _adaptive_coverage(lambda x: adaptive_stop(x, 0.005), 0.05, 200, rng)
    se = math.sqrt(0.95 * 0.05 / 200)
    assert old < 0.85 and new >= 0.95 - 3 * se


def test_plan_runs_and_trials_reaches_its_target_at_least_cost():
    from faultlab.stats.planning import plan_runs_and_trials

    plan = plan_runs_and_trials(1e-4, 4e-4, cost_run=100.0, cost_trial=1.0, halfwidth=0.01)
    assert plan.trials == 20  # T* = √(100 · 4e-4 / (1 · 1e-4)) = 20
    assert plan.halfwidth <= 0.01
    worse = [plan_runs_and_trials(1e-4, 4e-4, 100.0, 1.0, 0.01, max_trials=t) for t in (5, 10)]
    assert all(w.seconds >= plan.seconds for w in worse)  # fewer trials per run needs more runs, costs more
    with pytest.raises(ValueError):
        plan_runs_and_trials(float("nan"), 1e-4, 1.0, 1.0, 0.01)


def test_reliability_is_compared_over_training_runs():
    from faultlab.stats.reliability_table import reliability_comparison

    rng = np.random.default_rng(11)
    rows = [{"variant": "net", "method": m, "fault": "f", "rate": r, "train_seed": s, "run_id": f"{m}{s}",
             "reliable": float(np.clip(level + rng.normal(0, 0.02), 0, 1))}
            for s in range(5) for m, level in (("hw", 0.8), ("vanilla", 0.3)) for r in (0.0,)]
    rows += [{"variant": "net", "method": m, "fault": "f", "rate": 0.5, "train_seed": s, "run_id": f"{m}{s}",
              "reliable": 0.01 * (s % 2)} for s in range(5) for m in ("hw", "vanilla")]
    table = reliability_comparison(pd.DataFrame(rows), "vanilla")
    reasons = dict(zip(table["rate"], table["reason"]))
    assert reasons == {0.0: "exploratory", 0.5: "at chance"} and set(table["verdict"]) == {"not tested"}
    first = table[table["rate"] == 0.0].iloc[0]
    assert first["pvalue"] < 1e-4 and first["ci_low"] > 0.4
    assert (table["design"] == "paired by seed").all() and (table["n_pairs"] == 5).all()
