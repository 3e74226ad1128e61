"""The answer page's statistics (faultlab.stats.bottleneck) on trial tables with a known truth."""

import math

import numpy as np
import pandas as pd
import pytest

from faultlab.stats.bottleneck import (
    answer_tables,
    bottleneck_effects,
    reference_outcome,
    run_losses,
    surface_of,
)

RATES = (0.1, 0.2, 0.3)
SD_RUN = 0.004  # run-to-run spread of the accuracy loss


def _trials(effect_all: float = 0.05, effect_count: float = 0.0, runs: int = 8, trials: int = 3) -> pd.DataFrame:
    """Variant "lb" and control "plain", ``runs`` runs each. Whole network: loss = -rate·0.5 (+ effect_all for
    lb); depthwise group: lb only; equal count K = 16 on two layers: loss -0.02 (+ effect_count for lb)."""
    rng = np.random.default_rng(0)
    rows = []
    for variant, bonus_all, bonus_count in (("lb", effect_all, effect_count), ("plain", 0.0, 0.0)):
        for seed in range(runs):
            clean = 0.95 + rng.normal(0, 0.003)
            run_shift = rng.normal(0, SD_RUN)
            base = {"variant": variant, "method": "vanilla", "run_id": f"{variant}{seed}", "train_seed": seed,
                    "fault": "drop(p={rate})", "clean_accuracy": clean}
            for rate in RATES:
                for t in range(trials):
                    acc = clean - rate * 0.5 + bonus_all * rate / 0.2 + run_shift + rng.normal(0, 0.002)
                    rows.append({**base, "layer": "*", "equal_count": 0, "rate": rate, "trial": t, "accuracy": acc})
                    if variant == "lb":
                        rows.append({**base, "layer": "group:depthwise", "equal_count": 0, "rate": rate,
                                     "trial": t, "accuracy": clean - rate * 0.1 + rng.normal(0, 0.002)})
            for layer in ("a", "b"):
                for t in range(trials):
                    acc = clean - 0.02 + bonus_count + run_shift + rng.normal(0, 0.001)
                    rows.append({**base, "layer": layer, "equal_count": 16, "rate": 16 / 500, "trial": t,
                                 "accuracy": acc})
    return pd.DataFrame(rows)


def test_surfaces_are_named_from_the_rows():
    assert surface_of("*", 0) == "every conv and linear layer, equal rate"
    assert surface_of("group:depthwise", 0) == "depthwise layers only"
    assert surface_of("features.1.conv.0", 16).startswith("K = 16 weights per layer")


def test_run_loss_is_the_trapezoid_mean_of_accuracy_minus_clean():
    df = _trials()
    runs = run_losses(df)
    assert set(runs["surface"].str.split(" \\(").str[0]) == {
        "every conv and linear layer, equal rate", "depthwise layers only",
        "K = 16 weights per layer, one layer at a time"}
    one = df[(df["run_id"] == "plain3") & (df["layer"] == "*")]
    per_rate = (one["accuracy"] - one["clean_accuracy"]).groupby(one["rate"]).mean()
    want = np.trapezoid(per_rate.to_numpy(), np.array(RATES)) / (RATES[-1] - RATES[0])
    got = runs[(runs["run_id"] == "plain3") & runs["surface"].str.startswith("every")]["value"].iloc[0]
    assert got == pytest.approx(want, abs=1e-12)
    counted = df[(df["run_id"] == "lb0") & (df["equal_count"] == 16)]
    got = runs[(runs["run_id"] == "lb0") & runs["surface"].str.startswith("K =")]["value"].iloc[0]
    assert got == pytest.approx((counted["accuracy"] - counted["clean_accuracy"]).mean(), abs=1e-12)


def test_known_effects_give_better_equivalent_and_not_comparable():
    """A +5 pp advantage at rate 0.2 (+5 pp on the AUC over 0.1-0.3 by construction) is found with an interval
    covering it; no effect on the equal-count surface with sd 0.4 pp per run is equivalent within 1 pp; the
    control has no depthwise layers, so that surface is not comparable (never tested)."""
    eff = bottleneck_effects(_trials(), [("lb", "plain")], margin=0.01)
    by = {s.split(" (")[0]: r for s, r in zip(eff["surface"], eff.to_dict("records"))}
    whole = by["every conv and linear layer, equal rate"]
    assert whole["verdict"] == "better" and whole["ci_low"] < 0.05 < whole["ci_high"]
    assert whole["design"] == "unpaired (Welch)" and whole["n_a"] == whole["n_b"] == 8
    counted = by["K = 16 weights per layer, one layer at a time"]
    assert counted["verdict"] == "equivalent" and abs(counted["estimate"]) < 0.01
    depthwise = by["depthwise layers only"]
    assert not depthwise["testable"] and depthwise["verdict"].startswith("not comparable: plain has no trials")
    assert eff["family"].iloc[0] == "Holm over the answer's 4 tests (difference and TOST)"
    assert (eff.loc[eff["testable"], "pvalue_holm"] >= eff.loc[eff["testable"], "pvalue"]).all()


def test_an_open_pair_says_how_many_runs_would_decide_it():
    """No true effect and 3 runs per arm at a run sd near the margin: inconclusive, and the equivalence runs
    needed are those of runs_needed at α / (family size)."""
    from faultlab.stats.recipe import runs_needed

    eff = bottleneck_effects(_trials(effect_all=0.0, runs=3), [("lb", "plain")], margin=0.004)
    row = eff[eff["surface"].str.startswith("every")].iloc[0]
    assert row["verdict"] == "inconclusive"
    m = int(eff["testable"].sum()) * 2
    assert row["runs_for_equivalence"] == runs_needed(row["sd"], 0.004, paired=False, alpha=0.05 / m,
                                                      equivalence=True) > 3


def test_with_one_run_per_arm_nothing_is_decided():
    eff = bottleneck_effects(_trials(runs=1), [("lb", "plain")], margin=0.01)
    tested = eff[eff["surface"].str.startswith("every")].iloc[0]
    assert not tested["testable"] and tested["verdict"] == "inconclusive (1+1 runs)"
    assert math.isnan(tested["pvalue_holm"])


@pytest.mark.parametrize("verdicts, outcome", [
    (["better", "equivalent"], "fails"), (["equivalent", "worse"], "holds"),
    (["equivalent", "inconclusive"], "not shown"), (["not comparable: x"], "not testable"),
])
def test_reference_outcome(verdicts, outcome):
    assert reference_outcome(verdicts) == outcome


def test_answer_tables_say_the_reference_depends_on_the_surface():
    answer = {"margin": 0.01, "pairs": [{"variant": "lb", "control": "plain"}], "trend": ["plain", "lb"],
              "trend_x": [1, 2], "reference": "no significant advantage"}
    out = answer_tables(_trials(), answer, n_resamples=50)
    assert out["overall"] == "depends on the fault surface"
    outcome = {s.split(" (")[0]: o for s, o in zip(out["outcomes"]["surface"], out["outcomes"]["outcome"])}
    assert outcome == {"every conv and linear layer, equal rate": "fails", "depthwise layers only": "not testable",
                       "K = 16 weights per layer, one layer at a time": "holds"}
    first, *surfaces = out["paragraphs"]
    assert first.startswith('Overall, the reference\'s conclusion ("no significant advantage") depends on the fault')
    assert [p.split(":")[0] for p in surfaces] == [  # the whole network first, then equal counts, then groups
        "every conv and linear layer, equal rate (drop(p={rate}))",
        "K = 16 weights per layer, one layer at a time (drop(p={rate}))", "depthwise layers only (drop(p={rate}))"]
    assert "the bottleneck network loses less in 1 of 1: lb vs plain (vanilla) +" in surfaces[0]
    assert surfaces[0].endswith("Here the reference's conclusion fails.")
    assert "equivalent within ±1 pp in 1 of 1" in surfaces[1] and surfaces[1].endswith("holds.")
    assert surfaces[2] == "depthwise layers only (drop(p={rate})): not testable (plain has no trials on this surface)."
    assert list(out["trend"]["x"]) == [1, 2] and out["trend"]["n_runs"].eq(8).all()
