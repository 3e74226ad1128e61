"""The offline default study (experiments/demo.yaml, `make demo`): its question is declared, names arms the study
trains, and its sequential design decides it at the effects of the pilot it was sized from."""

import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

from faultlab.stats.sequential import operating_characteristics
from faultlab.sweep import StudySpecError, expand, load_study, parse_study
from faultlab.sweep.question import planned_contrasts, sequential_seeds

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "experiments" / "demo.yaml"
PILOT_SEEDS = {0, 1, 2, 3, 4}  # the pilot the design was sized from (experiments/demo.yaml's comments)
# The pilot's effects in units of the contrast's sd (paired: sd of the seed-paired differences; unpaired: run sd),
# and smaller ones the design must still decide: (method contrast, architecture contrast).
PILOT_EFFECTS = (3.1, 4.8)
SMALLER_EFFECTS = (2.5, 3.5)


@pytest.fixture(scope="module")
def demo():
    spec, raw = load_study(DEMO)
    return spec, raw


def test_the_demo_declares_its_contrasts_and_a_sequential_design(demo):
    spec, _ = demo
    assert [c.kind for c in spec.contrasts] == ["method", "architecture"]
    assert spec.sequential is not None and spec.sequential.max_runs <= len(spec.training.seeds)
    assert spec.sequential.first >= 3  # a first look at 2 runs per arm (df 1) cannot decide anything


def test_the_demo_contrasts_name_arms_the_demo_trains(demo):
    spec, _ = demo
    arms = {(p.label, p.method.name) for p in expand(spec)}
    names = {a.name or a.arch for a in spec.architectures}
    declared = {n for c in spec.contrasts for n in (*c.architectures, c.variant, c.control) if n}
    assert declared <= names and {c.method for c in spec.contrasts} <= {m.name for m in spec.methods}
    planned = planned_contrasts(spec, sorted(arms))
    assert len(planned) == len(spec.contrasts) == 2
    for label, used in planned:
        assert len(used) == 2 and set(used) <= arms, label
    # no arm is trained outside the question (it would spend the budget on nothing the demo decides)
    assert {a for _, used in planned for a in used} == arms


def test_a_contrast_naming_an_arm_the_demo_lacks_is_refused_in_one_line():
    raw = yaml.safe_load(DEMO.read_text())
    raw["contrasts"][1]["control"] = "resnet32"
    with pytest.raises(StudySpecError) as err:
        parse_study(raw, str(DEMO))
    assert "resnet32" in str(err.value) and "\n" not in str(err.value)


def test_the_demo_seeds_are_fresh_and_its_rates_log_spaced_over_two_decades(demo):
    spec, _ = demo
    assert not set(sequential_seeds(spec)) & PILOT_SEEDS
    (campaign,) = spec.campaigns
    rates = np.array(sorted(campaign.rates))
    assert rates[0] > 0 and rates[-1] / rates[0] >= 100
    np.testing.assert_allclose(rates[1:] / rates[:-1], rates[1] / rates[0])


@pytest.mark.parametrize("effects", [PILOT_EFFECTS, SMALLER_EFFECTS], ids=["pilot", "smaller"])
def test_the_demo_design_decides_at_the_pilot_effects(demo, effects):
    """Simulated with the sweep's own boundaries: each contrast decided with probability >= 0.95."""
    spec, _ = demo
    kinds = [c.kind for c in spec.contrasts]
    for kind, effect in zip(kinds, effects):
        oc = operating_characteristics(spec.sequential, effect, paired=kind == "method", n_contrasts=len(kinds),
                                       margin=None, n_paths=4000, seed=1)
        assert oc["better"] >= 0.95 and oc["worse"] <= 0.01, (kind, effect, oc)


def test_make_demo_runs_the_sequential_sweep_then_the_report():
    dry = subprocess.run(["make", "-n", "demo"], cwd=ROOT, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    commands = [line for line in dry.stdout.splitlines() if "faultlab " in line]
    assert "sweep experiments/demo.yaml" in commands[-2] and "--until-decided" in commands[-2]
    assert commands[-1].endswith("report demo")
