"""Group-sequential statistics: Lan-DeMets O'Brien-Fleming boundaries against published values, t boundaries
whose error rate is α by simulation (where converting z boundaries by p-value is not), the typed look decisions,
and the design's operating characteristics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from faultlab.stats import ContrastSpec, SequentialDesign, sequential_decisions
from faultlab.stats.power import runs_needed
from faultlab.stats.sequential import (
    futility_z,
    operating_characteristics,
    simulate_t_paths,
    spending,
    t_boundaries,
    z_boundaries,
)
from faultlab.stats.sequential_plan import design_effect, design_lines, look_plan
from faultlab.stats.simulate import simulate_arms

ALPHA = 0.05


@pytest.mark.parametrize(("fractions", "alpha", "sides", "published"), [
    # K = 5 equally spaced, two-sided α = 0.05 (Jennison & Turnbull 2000; R ldbounds::ldBounds(t=5, iuse=1))
    (np.arange(1, 6) / 5, 0.05, 2, [4.8769, 3.3569, 2.6803, 2.2898, 2.0310]),
    # K = 2 at t = 0.5, two-sided α = 0.05 (gsDesign sfLDOF, the classic 2.963 / 1.969)
    ([0.5, 1.0], 0.05, 2, [2.9626, 1.9686]),
    # K = 4 equally spaced, one-sided α = 0.05 (SeqBounds.jl README: 3.74955, 2.53993, 2.01604, 1.72014)
    (np.arange(1, 5) / 4, 0.05, 1, [3.7496, 2.5399, 2.0160, 1.7201]),
])
def test_z_boundaries_match_published_values(fractions, alpha, sides, published):
    np.testing.assert_allclose(z_boundaries(fractions, alpha, sides), published, atol=6e-4)


def test_spending_function():
    assert spending(1.0, 0.05) == pytest.approx(0.05)
    s = spending(np.linspace(0.05, 1, 20), 0.05)
    assert np.all(np.diff(s) > 0) and s[0] < 1e-6


def _crossing_rate(bounds: np.ndarray, looks: list[int], paired: bool, seed: int, n: int = 40_000) -> float:
    est, se = simulate_t_paths(looks, 0.0, paired, n, np.random.default_rng(seed))
    return float(np.mean((np.abs(est / se) >= bounds).any(axis=1)))


@pytest.mark.parametrize("paired", [True, False])
def test_t_boundaries_spend_alpha_where_p_value_conversion_does_not(paired):
    """Looks at 3, 5, 7, 9, 11 runs per arm: the simulation-calibrated t boundaries reject a true null with
    probability α (fresh paths, other seed); z boundaries converted by p-value to t_df exceed α."""
    looks = [3, 5, 7, 9, 11]
    n = 40_000
    tol = 3 * math.sqrt(ALPHA * (1 - ALPHA) / n)
    calibrated = _crossing_rate(t_boundaries(looks, ALPHA, paired=paired), looks, paired, seed=99, n=n)
    assert abs(calibrated - ALPHA) <= tol
    df = np.asarray(looks) - 1.0 if paired else 2.0 * np.asarray(looks) - 2.0
    z = z_boundaries(np.asarray(looks) / looks[-1], ALPHA)
    converted = stats.t.isf(stats.norm.sf(z), df)
    assert _crossing_rate(converted, looks, paired, seed=99, n=n) > ALPHA + tol


def test_futility_bounds_meet_the_efficacy_bound_at_the_end():
    t = np.arange(1, 6) / 5
    f, drift = futility_z(t, ALPHA, 0.8)
    assert np.all(np.diff(f) > 0) and f[-1] == pytest.approx(z_boundaries(t, ALPHA)[-1])
    fixed = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    assert fixed < drift < 1.2 * fixed  # a sequential design needs a little more information at its maximum


def test_sequential_design_is_valid_and_saves_runs():
    """5 contrasts (each at α/5), the demo's paired sd 5.7 pp: no effect -> error ≈ α/5 and far fewer runs than
    the maximum; +4 pp -> about the fixed design's power with fewer expected runs."""
    design = SequentialDesign(first=3, step=2, max_runs=32)
    null = operating_characteristics(design, 0.0, n_contrasts=5, n_paths=20_000, seed=1)
    assert null["better"] + null["worse"] <= ALPHA / 5 + 3 * math.sqrt(0.01 * 0.99 / 20_000)
    assert null["expected_runs"] < 0.6 * design.max_runs
    effect = operating_characteristics(design, 4 / 5.7, n_contrasts=5, n_paths=20_000, seed=2)
    assert effect["better"] >= 0.78 and effect["expected_runs"] <= 0.9 * 28  # the fixed design needs 28


def test_look_decisions_are_typed():
    rng = np.random.default_rng(0)
    arms = [("net", "vanilla", 0.0), ("net", "dropconnect", 0.2), ("other", "vanilla", 0.0),
            ("other", "dropconnect", 0.0)]
    df = simulate_arms(rng, arms, seeds=5, sd_run=0.02)
    design = SequentialDesign(first=3, step=2, max_runs=15)
    looks = sequential_decisions(df, None, design).set_index("contrast")
    assert looks.loc["dropconnect vs vanilla on net", "decision"] == "better"
    assert looks.loc["dropconnect vs vanilla on other", "decision"] in ("continue", "futility")
    assert (looks["look"] == 2).all() and looks["information"].tolist() == pytest.approx([5 / 15] * 2)
    one = sequential_decisions(df[df["train_seed"] < 1], [ContrastSpec(method="dropconnect", baseline="vanilla",
                                                                       architectures=["net"])], design)
    assert (one["decision"].iloc[0], one["reason"].iloc[0]) == ("not tested", "too few runs")


def _store(path, frame):
    from faultlab.store import ResultsStore

    store = ResultsStore(path)
    for run_id, g in frame.groupby("run_id"):
        first = g.iloc[0]
        store.add_run({"run_id": run_id, "study": "pilot", "architecture": first["architecture"],
                       "variant": first["variant"], "method": first["method"], "train_seed": int(first["train_seed"]),
                       "clean_accuracy": float(first["clean_accuracy"]), "config": {"num_classes": 10}})
        store.add_campaign({"campaign_id": f"c-{run_id}", "run_id": run_id, "fault": first["fault"]})
        store.add_trials([{"campaign_id": f"c-{run_id}", "run_id": run_id, "fault": r.fault, "rate": r.rate,
                           "trial": int(r.trial), "layer": "*", "accuracy": r.accuracy, "n_samples": 1000}
                          for r in g.itertuples()])
    store.close()


def test_stats_plan_gives_fixed_and_sequential_runs_per_contrast(tmp_path, capsys):
    from faultlab.cli import main

    df = simulate_arms(np.random.default_rng(3), [("net", "vanilla", 0.0), ("net", "dropconnect", 0.0)], seeds=4,
                       rates=(0.1, 0.5), trials=1, sd_run=0.03, rho=0.5)
    _store(tmp_path / "p.sqlite", df)
    main(["stats", "plan", "--from", "pilot", "--store", str(tmp_path / "p.sqlite"), "--effect", "0.04"])
    out = capsys.readouterr().out
    assert "dropconnect vs vanilla on net" in out and "seq_expected" in out and "fixed_high" in out
    assert "efficacy bounds, 1 paired-by-seed contrast(s) at alpha 0.05 each: look 1 (3 runs) |t| >=" in out


# ------------------------------------------------------------------------ looks that cannot decide (planning)


def test_a_useless_first_look_warns_and_a_sensible_one_does_not():
    """analogai_mnist's design (6 paired contrasts, looks at 3, 6, 9, 12): |t| >= 7067 at the first look, which
    cannot decide; the demo's (looks at 4, 5, 6 with 2 contrasts) can decide at every look."""
    wasteful = SequentialDesign(first=3, step=3, max_runs=12)
    plan = look_plan(wasteful, 6, True)
    assert plan[0].efficacy > 7000 and not plan[0].decides and plan[-1].decides
    warnings_ = design_lines(wasteful, [True] * 6, bounds=False)
    assert len(warnings_) == 1 and "look(s) 1, 2 (3, 6 runs per arm)" in warnings_[0]
    assert "first: 7, step: 3, max_runs: 12" in warnings_[0] and "futility (5.6 %" in warnings_[0]
    assert all(p.decides for p in look_plan(SequentialDesign(7, 3, 12), 6, True))  # the fix decides everywhere
    lines = design_lines(SequentialDesign(first=3, step=2, max_runs=7, futility=False), [False] * 22)
    assert "|t| >= 46" in lines[0] and "nor stop one for futility" in lines[1] and "first: 5," in lines[1]
    sensible = SequentialDesign(first=4, step=1, max_runs=6)
    assert all(p.decides for p in look_plan(sensible, 2, True))
    lines = design_lines(sensible, [True, False])
    assert len(lines) == 2 and not any(line.startswith("warning") for line in lines)


@pytest.mark.parametrize("paired", [True, False])
def test_the_chances_at_each_look_match_simulated_t_paths(paired):
    """A look's chance to cross its efficacy bound at the design effect, and to fall below its futility bound with
    no effect, against 20,000 simulated paths of the design's t statistics (3 binomial SEs); the design effect
    is the one a fixed design with the maximum runs detects with 80 % power."""
    design, m, n = SequentialDesign(first=3, step=3, max_runs=12), 6, 20_000
    plan = look_plan(design, m, paired)
    delta = design_effect(design, m, paired)
    assert runs_needed(1.0, delta * 1.0001, paired=paired, alpha=0.05 / m) == 12  # power 0.8 at exactly 12
    rng = np.random.default_rng(7)
    est, se = simulate_t_paths(design.looks(), delta, paired, n, rng)
    crossed = (np.abs(est / se) >= [p.efficacy for p in plan]).mean(axis=0)
    est0, se0 = simulate_t_paths(design.looks(), 0.0, paired, n, rng)
    below = (np.abs(est0 / se0) < [p.futility for p in plan]).mean(axis=0)
    for p, c, b in zip(plan, crossed, below):
        assert abs(c - p.chance) <= 3 * math.sqrt(p.chance * (1 - p.chance) / n) + 1e-3
        assert abs(b - p.futility_chance) <= 3 * math.sqrt(p.futility_chance * (1 - p.futility_chance) / n) + 1e-3
