"""The linear-bottleneck studies: the offline spec's new keys (answer, methods[].architectures,
campaigns[].skip_without_layers), strictly validated, and lb_cifar10 end to end on synthetic CIFAR-shaped data."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import architectures
from faultlab.store import ResultsStore
from faultlab.sweep import StudySpecError, expand, load_study, parse_study
from faultlab.sweep.execute import selects_any

ROOT = Path(__file__).resolve().parents[1]
LB = ROOT / "experiments" / "linear_bottleneck.yaml"


def _raw():
    return yaml.safe_load(LB.read_text())


def test_the_offline_study_grid():
    spec, _ = load_study(LB)
    plans = expand(spec)
    reference = [p for p in plans if p.method.name == "dropconnect-reference"]
    assert {p.label for p in reference} == {"mini-4", "plain-4"}  # methods[].architectures restricts the grid
    dropconnect = {p.label for p in plans if p.method.name == "dropconnect"}
    assert dropconnect == {"mini-1", "mini-2", "mini-4", "plain-1", "plain-2", "plain-4", "resnet20", "resnet20-lb1",
                           "resnet20-lb3"}
    assert len(plans) == (12 + 9 + 2) * 5  # vanilla everywhere, DropConnect on 9, the reference's on the n = 4 pair
    assert len(set(spec.training.seeds)) >= 5
    assert spec.answer is not None and spec.answer.margin == 0.01 and len(spec.answer.pairs) == 6


@pytest.mark.parametrize(("change", "message"), [
    (lambda r: r["answer"]["pairs"].append({"variant": "mini-3", "control": "plain-4"}),
     "answer.pairs[6].variant: 'mini-3' is not an architecture name (did you mean 'mini-8'?)"),
    (lambda r: r["answer"].update(trend_x=[1, 2]), "answer.trend_x: 2 values for 4 trend architectures"),
    (lambda r: r["answer"].update(margin=1.5), "answer.margin: 1.5"),
    (lambda r: r["answer"].update(pairz=[]), "answer.pairz: not a parameter of AnswerSpec (did you mean pairs?)"),
    (lambda r: r["answer"]["pairs"].__setitem__(0, {"variant": "mini-1", "control": "mini-1"}),
     "answer.pairs[0]: variant and control are both 'mini-1'"),
    (lambda r: r["methods"][2].update(architectures=["mini4"]),
     "methods[2].architectures[0]: 'mini4' is not an architecture name (did you mean 'mini-4'?)"),
    (lambda r: r["campaigns"][1].update(skip_without_layers="maybe"),
     "campaigns.skip_without_layers: expected bool. Got value: maybe"),
])
def test_bad_answer_and_restrictions_are_one_clear_line(change, message):
    raw = _raw()
    change(raw)
    with pytest.raises(StudySpecError) as err:
        parse_study(raw)
    assert message in str(err.value)


def test_depthwise_surface_is_skipped_only_where_there_is_no_depthwise_conv():
    spec, _ = load_study(LB)
    depthwise = spec.campaigns[1]
    assert selects_any(depthwise, architectures.build("mini_mobilenet_n", n=2))
    assert selects_any(depthwise, architectures.build("resnet20", in_channels=1, bottlenecks=["s2b3c2e6"]))
    assert not selects_any(depthwise, architectures.build("plain_cnn", n=2))
    assert not selects_any(depthwise, architectures.build("resnet20", in_channels=1))


def test_mobilenetv2_takes_one_channel_digits():
    import torch

    net = architectures.build_for_input("mobilenetv2_cifar", 10, (1, 28, 28), width=0.35).eval()
    assert net(torch.randn(2, 1, 28, 28)).shape == (2, 10)


@pytest.mark.slow
def test_lb_cifar10_runs_end_to_end_on_synthetic_cifar_shaped_data(tmp_path):
    """experiments/lb_cifar10.yaml with only its data swapped for synthetic 3x32x32 images (one epoch, tiny
    subset): every architecture and method trains, every campaign runs, and the report renders."""
    raw = yaml.safe_load((ROOT / "experiments" / "lb_cifar10.yaml").read_text())
    raw.pop("needs_download")
    raw["data"] = {"name": "synthetic", "options": {"input_shape": [3, 32, 32], "n_train": 64, "n_test": 32,
                                                    "batch_size": 32}, "eval_subset": 32}
    raw["training"]["seeds"], raw["training"]["trainer"]["max_epochs"] = [0], 1
    raw["training"]["model"]["lr_scheduler"]["init_args"]["milestones"] = [1]
    for c in raw["campaigns"]:
        c.update(rates=c["rates"][:2], trials=2)
    spec = tmp_path / "lb_cifar10.yaml"
    spec.write_text(yaml.safe_dump(raw))
    store, runs = tmp_path / "r.sqlite", tmp_path / "runs"
    res = subprocess.run([sys.executable, "-m", "faultlab.cli", "sweep", str(spec), "--store", str(store),
                          "--runs-dir", str(runs)], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    with ResultsStore(store) as s:
        assert s.count_trials() == 3 * 2 * 2 * 2  # architectures x methods x rates x trials
        assert {r["variant"] for r in s.runs("lb_cifar10")} == {
            "resnet20", "resnet20-lb[s2b3c2e6]", "mobilenetv2_cifar"}
    pdf = tmp_path / "lb.pdf"
    res = subprocess.run([sys.executable, "-m", "faultlab.cli", "report", "lb_cifar10", "--store", str(store),
                          "--spec", str(spec), "--out", str(pdf), "--resamples", "50"], cwd=ROOT,
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    assert pdf.stat().st_size > 10_000
