"""The answer block as declared contrasts (faultlab.stats.answer) on trial tables with a known truth."""

import math

import numpy as np
import pandas as pd
import pytest

from faultlab.stats.answer import answer_contrasts, answer_effects, answer_tables, reference_outcome
from faultlab.stats.endpoints import surface_label, surface_runs
from faultlab.stats.vocabulary import Verdict

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
    assert surface_label("network", "f") == "every conv and linear layer, equal rate (f)"
    assert surface_label("group:depthwise", "f") == "depthwise layers only (f)"
    assert surface_label("count:16", "f").startswith("K = 16 weights per layer")
    scopes = {c.scope for c in answer_contrasts(_trials(), {"pairs": [{"variant": "lb", "control": "plain"}]})}
    assert scopes == {"network", "count:16", "group:depthwise"}


def test_run_loss_is_the_trapezoid_mean_of_accuracy_minus_clean():
    df = _trials()
    wide = surface_runs(df, "drop(p={rate})", "network", "loss")
    one = df[(df["run_id"] == "plain3") & (df["layer"] == "*")]
    per_rate = (one["accuracy"] - one["clean_accuracy"]).groupby(one["rate"]).mean()
    got = wide.xs("plain3", level="run_id").iloc[0]
    assert np.allclose(got.to_numpy(), per_rate.to_numpy())
    counted = df[(df["run_id"] == "lb0") & (df["equal_count"] == 16)]
    wide = surface_runs(df, "drop(p={rate})", "count:16", "loss")
    got = wide.xs("lb0", level="run_id")["count"].iloc[0]
    assert got == pytest.approx((counted["accuracy"] - counted["clean_accuracy"]).mean(), abs=1e-12)


def test_known_effects_give_better_equivalent_and_not_comparable():
    """A +5 pp advantage at rate 0.2 (+5 pp on the AUC over 0.1-0.3 by construction) is found with an interval
    covering it; no effect on the equal-count surface with sd 0.4 pp per run is equivalent within 1 pp; the
    control has no depthwise layers, so that surface is not comparable (never tested)."""
    eff = answer_effects(_trials(), {"margin": 0.01, "pairs": [{"variant": "lb", "control": "plain"}]})
    by = {s: r for s, r in zip(eff["scope"], eff.to_dict("records"))}
    whole = by["network"]
    assert whole["verdict"] == "better" and whole["low"] < 0.05 < whole["high"]
    assert whole["design"] == "unpaired, pooled t" and whole["n_a"] == whole["n_b"] == 8
    counted = by["count:16"]
    assert counted["verdict"] == "equivalent" and abs(counted["estimate"]) < 0.01
    depthwise = by["group:depthwise"]
    assert depthwise["verdict"] == "not tested" and (depthwise["reason"], depthwise["absent"]) == ("arm absent",
                                                                                                   "plain")
    assert eff["family"].iloc[0].startswith("primary: closed test over 2 declared contrast(s)")
    tested = eff[eff["verdict"] != "not tested"]
    assert (tested["p_adjusted"] >= tested["pvalue"]).all()


def test_an_open_pair_says_how_many_runs_would_decide_it():
    """No true effect and 3 runs per arm at a run sd near the margin: inconclusive, and the equivalence runs
    needed are those of runs_needed at α / (family size)."""
    from faultlab.stats.recipe import runs_needed

    eff = answer_effects(_trials(effect_all=0.0, runs=3), {"margin": 0.004,
                                                           "pairs": [{"variant": "lb", "control": "plain"}]})
    row = eff[eff["scope"] == "network"].iloc[0]
    assert row["verdict"] == "inconclusive"
    m = int((eff["verdict"] != "not tested").sum())  # the family: each tested contrast once
    assert row["runs_for_equivalence"] == runs_needed(row["sd"], 0.004, paired=False, alpha=0.05 / m,
                                                      equivalence=True) > 3


def test_with_one_run_per_arm_nothing_is_decided():
    eff = answer_effects(_trials(runs=1), {"pairs": [{"variant": "lb", "control": "plain"}]})
    tested = eff[eff["scope"] == "network"].iloc[0]
    assert (tested["verdict"], tested["reason"]) == ("not tested", "too few runs")
    assert math.isnan(tested["p_adjusted"])


@pytest.mark.parametrize("verdicts, outcome", [
    ([Verdict.BETTER, Verdict.EQUIVALENT], "fails"), ([Verdict.EQUIVALENT, Verdict.WORSE], "holds"),
    ([Verdict.EQUIVALENT, Verdict.INCONCLUSIVE], "not shown"), ([Verdict.NOT_TESTED], "not testable"),
])
def test_reference_outcome(verdicts, outcome):
    assert reference_outcome(verdicts) == outcome


def test_answer_tables_say_the_reference_depends_on_the_surface():
    answer = {"margin": 0.01, "pairs": [{"variant": "lb", "control": "plain"}], "trend": ["plain", "lb"],
              "trend_x": [1, 2], "reference": "no significant advantage"}
    out = answer_tables(_trials(), answer, n_resamples=50)
    assert out["overall"] == "depends on the fault surface"
    outcome = dict(zip(out["outcomes"]["surface"], out["outcomes"]["outcome"]))
    assert outcome == {"every conv and linear layer, equal rate (drop(p={rate}))": "fails",
                       "depthwise layers only (drop(p={rate}))": "not testable",
                       "K = 16 weights per layer, one layer at a time (drop(p={rate}))": "holds"}
    first, *surfaces = out["paragraphs"]
    assert first.startswith('Overall, the reference\'s conclusion ("no significant advantage") depends on the fault')
    assert [p[: p.index(")") + 2] for p in surfaces] == [  # the whole network, then equal counts, then groups
        "every conv and linear layer, equal rate (drop(p={rate}))",
        "K = 16 weights per layer, one layer at a time (drop(p={rate}))", "depthwise layers only (drop(p={rate}))"]
    assert "the bottleneck network loses less in 1 of 1: lb vs plain (vanilla) +" in surfaces[0]
    assert surfaces[0].endswith("Here the reference's conclusion fails.")
    assert "equivalent within ±1 pp in 1 of 1" in surfaces[1] and surfaces[1].endswith("holds.")
    assert surfaces[2] == "depthwise layers only (drop(p={rate})): not testable (plain has no trials on this surface)."
    assert list(out["trend"]["x"]) == [1, 2] and out["trend"]["n_runs"].eq(8).all()
