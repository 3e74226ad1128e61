"""Tests of faultlab.stats comparisons, tables and reliability: reference values by hand or from scipy on fixed
inputs."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from faultlab.stats import (
    DegenerateTrialsWarning,
    MeanCI,
    ci_halfwidth,
    cliffs_delta,
    cohens_d,
    compare_architectures_maps,
    compare_groups,
    compare_methods_maps,
    compare_paired,
    holm,
    leveugle_sample_size,
    paired_frame,
    per_sample_reliability,
    rank_biserial,
    tost,
    trials_for_halfwidth,
    verdict,
)

A = np.array([0.91, 0.88, 0.93, 0.85, 0.90, 0.87, 0.92, 0.89, 0.86, 0.94])
B = np.array([0.89, 0.86, 0.92, 0.86, 0.87, 0.84, 0.90, 0.88, 0.83, 0.915])


# ---------------------------------------------------------------- tests and effect sizes


def test_holm_hand_values():
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.5, 0.6]), [1.0, 1.0])  # capped at 1, monotone
    np.testing.assert_allclose(holm([0.01, np.nan, 0.02]), [0.02, np.nan, 0.02])
    with pytest.raises(ValueError, match="pvalues"):
        holm([0.2, 1.5])


def test_effect_sizes_hand_values():
    a, b = [1.0, 2.0, 3.0], [2.0, 3.0, 4.0, 5.0]
    assert cohens_d(a, b) == pytest.approx(-1.5 / math.sqrt(1.4))  # s_p² = (2·1 + 3·5/3)/5
    assert cliffs_delta(a, b) == pytest.approx((1 - 9) / 12)
    assert rank_biserial([1.0, -2.0, 3.0, 4.0, 0.0]) == pytest.approx((8 - 2) / 10)
    assert rank_biserial([1.0, -1.0, 2.0]) == pytest.approx((4.5 - 1.5) / 6)  # tied |d|


def test_compare_paired_matches_scipy():
    w = compare_paired(A, B)
    ref = stats.wilcoxon(A - B)
    assert (w.statistic, w.pvalue) == pytest.approx((ref.statistic, ref.pvalue))
    assert w.effect_size == pytest.approx(rank_biserial(A - B)) and w.n_pairs == 10
    t = compare_paired(A, B, method="t", alternative="greater")
    ref_t = stats.ttest_rel(A, B, alternative="greater")
    assert (t.statistic, t.pvalue) == pytest.approx((ref_t.statistic, ref_t.pvalue))
    d = A - B
    assert t.effect_size == pytest.approx(d.mean() / d.std(ddof=1))
    ci, ref_ci = w.confidence_interval(0.9), stats.ttest_rel(A, B).confidence_interval(0.9)
    assert (ci.low, ci.high) == pytest.approx((ref_ci.low, ref_ci.high))
    assert compare_paired([1, 2, 3], [0, 0, 0], method="t").effect_size == pytest.approx(2.0)
    assert w.to_row()["ci_low"] == pytest.approx(w.confidence_interval().low)


def test_compare_groups_matches_scipy():
    w = compare_groups(A, B[:8])
    ref = stats.ttest_ind(A, B[:8], equal_var=False)
    assert (w.statistic, w.pvalue, w.df) == pytest.approx((ref.statistic, ref.pvalue, ref.df))
    ci, ref_ci = w.confidence_interval(), ref.confidence_interval()
    assert (ci.low, ci.high) == pytest.approx((ref_ci.low, ref_ci.high))
    u = compare_groups(A, B[:8], method="mannwhitney", alternative="less")
    ref_u = stats.mannwhitneyu(A, B[:8], alternative="less")
    assert (u.statistic, u.pvalue) == pytest.approx((ref_u.statistic, ref_u.pvalue))
    assert u.cliffs_delta == pytest.approx(2 * stats.mannwhitneyu(A, B[:8]).statistic / 80 - 1)
    assert w.estimate == pytest.approx(A.mean() - B[:8].mean()) and (w.n_a, w.n_b) == (10, 8)


def test_degenerate_comparisons_warn():
    with pytest.warns(DegenerateTrialsWarning):
        r = compare_paired(A, A)
    assert r.pvalue == 1.0 and r.effect_size == 0.0
    with pytest.warns(DegenerateTrialsWarning):
        r = compare_paired(A + 0.01, A, method="t")
    assert r.pvalue == 0.0 and r.statistic == math.inf
    with pytest.warns(DegenerateTrialsWarning):
        compare_groups([0.5] * 5, [0.5] * 6)
    with pytest.warns(DegenerateTrialsWarning):
        assert tost([0.5] * 5, [0.5] * 6).equivalent
    with pytest.warns(DegenerateTrialsWarning):
        assert ci_halfwidth([0.3, 0.3, 0.3]) == 0.0


@pytest.mark.parametrize(
    "kwargs, word",
    [({"b": B[:5]}, "equal length"), ({"method": "sign"}, "method"), ({"alternative": "bigger"}, "alternative")],
)
def test_compare_paired_validation(kwargs, word):
    with pytest.raises(ValueError, match=word):
        compare_paired(**{"a": A, "b": B, **kwargs})


def test_tost():
    g = np.random.default_rng(11)
    a, b = g.normal(0.9, 0.005, 500), g.normal(0.9, 0.005, 500)
    same = tost(a, b, margin=0.01)
    assert same.equivalent and same.pvalue < 0.05 and -0.01 < same.low < same.high < 0.01
    p_lo = stats.ttest_ind(a + 0.01, b, equal_var=False, alternative="greater").pvalue
    p_hi = stats.ttest_ind(a - 0.01, b, equal_var=False, alternative="less").pvalue
    assert same.pvalue == pytest.approx(max(p_lo, p_hi))
    shifted = tost(a + 0.03, b, margin=0.01)
    assert not shifted.equivalent and shifted.pvalue > 0.5
    assert tost(a, b + 0.0001, paired=True).equivalent
    with pytest.raises(ValueError, match="margin"):
        tost(a, b, margin=0)


def test_verdict():
    g = np.random.default_rng(2)
    a, b = g.normal(0.9, 0.01, 50), g.normal(0.85, 0.01, 50)
    cmp_ = compare_groups(a, b)
    assert verdict(cmp_, tost(a, b)) == "better"
    assert verdict(compare_groups(b, a), tost(b, a)) == "worse"
    assert verdict(cmp_, tost(a, b), pvalue=0.2) == "inconclusive"
    c = g.normal(0.9, 0.002, 400)
    few = np.array([0.88, 0.92, 0.90])  # too few trials to show either a difference or equivalence
    assert verdict(compare_groups(few, c), tost(few, c)) == "inconclusive"
    d = g.normal(0.9, 0.002, 400)
    assert verdict(compare_groups(c, d), tost(c, d)) == "equivalent"


def test_paired_frame():
    base = {"fault": "f", "layer": "*", "rate": 0.1}
    df = pd.DataFrame(
        [{**base, "run_id": "a", "trial": t, "accuracy": 0.8 + 0.01 * t} for t in range(5)]
        + [{**base, "run_id": "b", "trial": t, "accuracy": 0.7} for t in range(1, 6)]
    )
    out, dropped = paired_frame(df, "a", "b")
    assert dropped == 2 and list(out["trial"]) == [1, 2, 3, 4]
    np.testing.assert_allclose(out["diff"], [0.11, 0.12, 0.13, 0.14])
    with pytest.raises(ValueError, match="run_b"):
        paired_frame(df, "a", "zzz")


# ---------------------------------------------------------------- tables


def _study(advantage=(0.0, 0.05, 0.10), arch_gap: float = 0.0) -> pd.DataFrame:
    """2 archs × 2 methods × 2 seeds × 3 rates × 10 trials; fault maps shared across runs (CRN)."""
    g = np.random.default_rng(2024)
    rates = (0.1, 0.2, 0.3)
    maps = {(r, t): 0.005 * g.standard_normal() for r in rates for t in range(10)}
    rows = []
    for arch, gap in (("mlp", 0.0), ("cnn", arch_gap)):
        for method in ("aware", "plain"):
            for seed in (0, 1):
                s_eff = 0.002 * g.standard_normal()
                clean = 0.95 + s_eff + gap
                for r, adv in zip(rates, advantage):
                    for t in range(10):
                        acc = clean - 0.5 * r + maps[r, t] + 0.003 * g.standard_normal()
                        acc += adv if method == "aware" else 0.0
                        rows.append({"study": "s", "run_id": f"{arch}-{method}-{seed}", "architecture": arch,
                                     "variant": "", "method": method, "train_seed": seed,
                                     "clean_accuracy": clean, "fault": "drop(p={rate})", "rate": r,
                                     "trial": t, "layer": "*", "accuracy": acc, "loss": 0.0})
    return pd.DataFrame(rows)


def test_compare_methods_maps():
    df = _study()
    tab = compare_methods_maps(df, "mlp", "aware", "plain", "drop(p={rate})")
    assert list(tab["rate"]) == [0.1, 0.2, 0.3] and set(tab["pairing"]) == {"train_seed"}
    assert list(tab["n_pairs"]) == [20, 20, 20]
    assert list(tab["verdict"][1:]) == ["better", "better"]
    assert tab["verdict"].iloc[0] in ("equivalent", "inconclusive")
    assert np.all(tab["pvalue_holm"] >= tab["pvalue"]) and tab["correction"].iloc[0] == "closed test over 3 rates"
    assert np.all(tab["effect_size"][1:] == 1.0)
    rev = compare_methods_maps(df, "mlp", "plain", "aware", "drop(p={rate})")
    assert list(rev["verdict"][1:]) == ["worse", "worse"]
    # no shared seeds: pooled over runs per (rate, trial)
    df2 = df.assign(train_seed=np.where(df.method == "plain", df.train_seed + 10, df.train_seed))
    pooled = compare_methods_maps(df2, "mlp", "aware", "plain", "drop(p={rate})")
    assert set(pooled["pairing"]) == {"pooled"} and list(pooled["n_pairs"]) == [10, 10, 10]
    with pytest.raises(ValueError, match="method_b"):
        compare_methods_maps(df, "mlp", "aware", "nope", "drop(p={rate})")


def test_compare_architectures_maps():
    tab = compare_architectures_maps(_study(), "mlp", "cnn", "plain", "drop(p={rate})", margin=0.01)
    assert list(tab["verdict"]) == ["equivalent"] * 3
    assert list(tab["n_a"]) == [20, 20, 20] and list(tab["n_runs_b"]) == [2, 2, 2]
    for col in ("welch_pvalue_holm", "mwu_pvalue_holm", "cohens_d", "cliffs_delta", "tost_pvalue"):
        assert tab[col].notna().all()
    gap = compare_architectures_maps(_study(arch_gap=-0.03), "mlp", "cnn", "plain", "drop(p={rate})")
    assert list(gap["verdict"]) == ["better"] * 3 and np.all(gap["cliffs_delta"] > 0.9)


def test_per_sample_reliability_hand_example():
    res = per_sample_reliability([20, 19, 18, 20, 0], n_trials=20, threshold=0.95)
    assert isinstance(res, MeanCI) and res.estimate == pytest.approx(0.6) and res.n == 5
    z, p, n = stats.norm.ppf(0.975), 0.6, 5  # Wilson score interval by hand
    center = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    assert (res.low, res.high) == pytest.approx((center - half, center + half))
    assert (round(res.low, 4), round(res.high, 4)) == (0.2307, 0.8824)
    with pytest.raises(ValueError, match="counts"):
        per_sample_reliability([21], n_trials=20)


def test_leveugle_sample_size():
    # exact t = 2.5758293: 2.5758293² · 0.25 / 0.01² = 16587.2 -> 16588 (t = 2.576 would give 16590)
    assert leveugle_sample_size(math.inf) == 16588
    assert leveugle_sample_size(math.inf, margin=0.05, confidence=0.95) == 385  # 1.96²·0.25/0.0025 = 384.1
    assert leveugle_sample_size(1000) == math.ceil(1000 / (1 + 999 / 16587.24))
    for n_pop in (1, 2, 50, 500):
        assert 1 <= leveugle_sample_size(n_pop) <= n_pop
    with pytest.raises(ValueError, match="N"):
        leveugle_sample_size(0)


def test_trials_for_halfwidth_and_ci_halfwidth():
    n = trials_for_halfwidth(0.05, 0.01, 0.95)
    assert n == 99  # z gives 97; t_97·5 = 9.92 -> 98.5 > 98, t_98·5 = 9.92 -> 98.46 <= 99
    assert stats.t.ppf(0.975, n - 1) * 0.05 / math.sqrt(n) <= 0.01
    assert stats.t.ppf(0.975, n - 2) * 0.05 / math.sqrt(n - 1) > 0.01
    assert trials_for_halfwidth(0.0, 0.01) == 2
    assert ci_halfwidth([1.0, 2.0, 3.0]) == pytest.approx(4.302653 / math.sqrt(3))
    assert ci_halfwidth([1.0]) == math.inf


def test_no_warnings_on_clean_data():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compare_paired(A, B)
        compare_groups(A, B)
        tost(A, B)


def test_method_table_degenerate_rate_is_flagged_once():
    df = _study()
    zero = df[df.rate == 0.1].assign(rate=0.0, accuracy=0.95)  # rate 0: no faults, identical models
    with pytest.warns(DegenerateTrialsWarning, match="1 rate"):
        tab = compare_methods_maps(pd.concat([df, zero]), "mlp", "aware", "plain", "drop(p={rate})")
    first = tab.iloc[0]
    assert first["rate"] == 0.0 and first["degenerate"] and first["pvalue"] == 1.0
    assert first["verdict"] == "equivalent" and tab["correction"].iloc[0] == "closed test over 4 rates"
