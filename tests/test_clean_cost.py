"""The clean-accuracy cost of a declared contrast (faultlab.stats.clean_cost): the arms' difference in clean
accuracy over training runs, in the contrast's design (paired by seed for a method contrast, unpaired for an
architecture contrast), checked against scipy and, by simulation with a known difference, for its coverage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from faultlab.stats.clean_cost import clean_costs
from faultlab.stats.contrasts import ContrastSpec
from faultlab.stats.vocabulary import Design, Reason

FAULT = "drop(p={rate})"
METHOD = ContrastSpec(kind="method", method="dropconnect", baseline="vanilla", architectures=["mini"])
ARCH = ContrastSpec(kind="architecture", variant="mini", control="resnet20", method="vanilla")


def _frame(clean: dict[tuple[str, str], list[float]], seeds: list[int] | None = None) -> pd.DataFrame:
    """Two whole-network trials per run, each row carrying its run's clean accuracy."""
    rows = []
    for (variant, method), values in clean.items():
        for i, c in enumerate(values):
            seed = (seeds or list(range(len(values))))[i]
            for rate in (0.1, 0.2):
                rows.append({"variant": variant, "architecture": variant, "method": method, "train_seed": seed,
                             "run_id": f"{variant}-{method}-{seed}", "fault": FAULT, "rate": rate, "layer": "*",
                             "trial": 0, "accuracy": c / 2, "clean_accuracy": c})
    return pd.DataFrame(rows)


def test_a_method_contrast_is_paired_by_seed_and_matches_scipy():
    van, dc = [0.93, 0.91, 0.95, 0.94], [0.88, 0.855, 0.90, 0.87]
    res = clean_costs(_frame({("mini", "vanilla"): van, ("mini", "dropconnect"): dc}), [METHOD])
    row = res.iloc[0]
    d = np.subtract(dc, van)
    lo, hi = stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=stats.sem(d))
    assert row["contrast"] == "dropconnect vs vanilla on mini" and row["fault"] == FAULT and row["scope"] == "network"
    assert row["design"] == Design.PAIRED and row["n_pairs"] == 4 and row["reason"] == Reason.TESTED
    assert row["estimate"] == pytest.approx(d.mean()) and (row["low"], row["high"]) == pytest.approx((lo, hi))
    assert (row["clean_a"], row["clean_b"]) == pytest.approx((np.mean(dc), np.mean(van)))


def test_an_architecture_contrast_is_unpaired_pooled_t():
    mini, res20 = [0.93, 0.91, 0.95], [0.88, 0.86, 0.90]
    row = clean_costs(_frame({("mini", "vanilla"): mini, ("resnet20", "vanilla"): res20}), [ARCH]).iloc[0]
    t = stats.ttest_ind(mini, res20)
    lo, hi = t.confidence_interval(0.95)
    assert row["design"] == Design.POOLED and (row["n_a"], row["n_b"]) == (3, 3)
    assert row["estimate"] == pytest.approx(np.mean(mini) - np.mean(res20)) and (row["low"], row["high"]) == \
        pytest.approx((lo, hi))


def test_one_run_per_arm_gives_no_interval_and_an_absent_arm_says_so():
    one = clean_costs(_frame({("mini", "vanilla"): [0.9], ("mini", "dropconnect"): [0.85]}), [METHOD]).iloc[0]
    assert one["reason"] == Reason.TOO_FEW_RUNS and np.isnan(one["low"])
    frame = _frame({("mini", "vanilla"): [0.9, 0.92], ("mini", "dropconnect"): [0.85, 0.86],
                    ("resnet20", "dropconnect"): [0.8, 0.81]})
    absent = clean_costs(frame, [ARCH]).iloc[0]  # resnet20 has no vanilla runs
    assert absent["reason"] == Reason.ARM_ABSENT and np.isnan(absent["estimate"])
    assert clean_costs(frame, []).empty


@pytest.mark.slow  # about 4 s alone; the default tests pin the interval to scipy's exactly
def test_coverage_of_the_interval_at_a_known_difference():
    """Runs' clean accuracies drawn with a known cost of -5 pp (seed effect shared by the pair), 300 studies (one
    fault template each, so one call resolves them all): the 95 % interval covers the cost in 95 % of them, within
    3 binomial standard errors (0.038)."""
    rng = np.random.default_rng(2024)
    frames = []
    for i in range(300):
        seed_effect = rng.normal(0, 0.02, 4)
        van = 0.92 + seed_effect + rng.normal(0, 0.01, 4)
        dc = 0.87 + seed_effect + rng.normal(0, 0.01, 4)
        frames.append(_frame({("mini", "vanilla"): list(van), ("mini", "dropconnect"): list(dc)})
                      .assign(fault=f"drop{i}(p={{rate}})"))
    rows = clean_costs(pd.concat(frames, ignore_index=True), [METHOD])
    assert len(rows) == 300 and (rows["design"] == Design.PAIRED).all()
    covered = (rows["low"] <= -0.05) & (rows["high"] >= -0.05)
    assert abs(covered.mean() - 0.95) < 3 * np.sqrt(0.95 * 0.05 / 300)
