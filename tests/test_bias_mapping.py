"""Biases mapped as a crossbar row (campaigns and fault-aware training), the two straight-through
gradient conventions, and the moons data seed."""

from __future__ import annotations

from functools import partial

import lightning as L
import pytest
import torch
from torch import nn

from faultlab.campaign import CampaignSpec, RunInfo, run_campaign
from faultlab.data import Moons, Synthetic
from faultlab.faults import StuckAt, join_bias, make_generator, parse_fault, split_bias
from faultlab.injection import draw_maps, fault_targets, inject
from faultlab.selector import LayerSelector
from faultlab.store import ResultsStore
from faultlab.sweep.spec import parse_study
from faultlab.training import Classifier, DropConnect, HWTransform
from faultlab.training.perturb import perturb

pytestmark = pytest.mark.filterwarnings("ignore")


def mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.Sigmoid(), nn.Linear(8, 3))


# ----------------------------------------------------------------------------- injection and campaigns


@pytest.mark.parametrize("bias", [False, True])
def test_bias_rows_are_faulted_only_when_asked(bias):
    model = mlp()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    layers = ["0", "2"]
    with inject(model, parse_fault("drop(p=1.0)"), layers, 3, bias=bias) as draws:
        assert all(float(m.weight.abs().sum()) == 0 for m in (model[0], model[2]))
        biases_zero = all(float(m.bias.abs().sum()) == 0 for m in (model[0], model[2]))
        assert biases_zero == bias
        assert draws["0"].weights.shape == ((8, 5) if bias else (8, 4))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # restored bit for bit


def test_bias_defaults_follow_the_device_preset():
    device, plain = parse_fault("device(tio2_drolet2023)"), parse_fault("stuck_at(sa0=0.01, sa1=0.01)")
    assert LayerSelector().maps_bias(device) and not LayerSelector().maps_bias(plain)
    assert not LayerSelector(bias=False).maps_bias(device) and LayerSelector(bias=True).maps_bias(plain)
    assert LayerSelector().describe() == "kinds=conv,linear"  # unchanged: campaign ids of existing studies stay
    assert LayerSelector(bias=False).describe().endswith(";no-bias")


def test_bias_row_shares_the_layer_scale():
    """A bias larger than every weight sets w_max; an all-SA1 G- array then reads every entry as entry - w_max."""
    model = mlp()
    with torch.no_grad():
        model[0].bias[0] = 5.0
    draws, _ = draw_maps(model, StuckAt(0.0, 0.0), ["0"], {"0": 1}, bias=True)
    w, b = split_bias(draws["0"].weights, (8, 4))
    assert torch.equal(w, model[0].weight.detach()) and torch.equal(b, model[0].bias.detach())
    targets = fault_targets(model, ["0"], bias=True)
    assert torch.equal(targets["0"], join_bias(model[0].weight, model[0].bias))
    pos = parse_fault("chain(programming(sigma=0.0), stuck_at(sa0=0.0, sa1=1.0))").draw(
        targets["0"].detach().abs(), make_generator(0)
    )
    torch.testing.assert_close(pos.weights, torch.zeros(8, 5))


@pytest.mark.parametrize(
    "fault",
    [
        "device(tio2_drolet2023)",
        "chain(device(tio2_drolet2023),stuck_at(sa0=0,sa1={rate}))",
        "chain(device(tio2_drolet2023),read_noise(sigma={rate}))",  # redrawn on every pass (inject's hooks)
    ],
)
def test_campaign_with_mapped_biases_stacked_equals_one_by_one(tmp_path, fault):
    model = mlp().eval()
    x = torch.randn(64, 4, generator=make_generator(1))
    y = torch.randint(0, 3, (64,), generator=make_generator(2))
    if "{rate}" not in fault:
        fault = f"chain({fault},drop(p={{rate}}))"
    accs = []
    for per_pass in (1, 8):
        spec = CampaignSpec(fault=fault, rates=[0.0, 0.05], trials=8, trials_per_pass=per_pass)
        with ResultsStore(tmp_path / f"{per_pass}.sqlite") as store:
            run_campaign(model, x, y, spec, store, RunInfo("r"), progress="off", eval_batch_size=16)
            rows = list(store.trials())
            accs.append(
                [(r["rate"], r["trial"], r["accuracy"]) for r in sorted(rows, key=lambda r: (r["rate"], r["trial"]))]
            )
            campaign = store.campaigns("r")[0]
            assert '"bias_mapped": true' in str(campaign["config"]).lower().replace("'", '"')
    assert accs[0] == accs[1]
    # with biases left exact the maps differ
    spec = CampaignSpec(fault=fault, rates=[0.05], trials=8, layers=LayerSelector(bias=False))
    with ResultsStore(tmp_path / "nobias.sqlite") as store:
        run_campaign(model, x, y, spec, store, RunInfo("r"), progress="off")
        assert "no-bias" in store.campaigns("r")[0]["layers"]


# ----------------------------------------------------------------------------- training


@pytest.mark.parametrize("whole", [False, True])
def test_straight_through_conventions(whole):
    w = torch.randn(50, 40, requires_grad=True)
    out, faulty = perturb({"w": w}, StuckAt(0.1, 0.1), make_generator(0), natural=False, whole=whole)
    (out["w"] * torch.arange(40.0)).sum().backward()
    mask = faulty["w"]
    assert 0.25 < mask.float().mean() < 0.5  # 1 - 0.8^2 = 0.36
    expected = torch.arange(40.0).expand(50, 40)
    assert torch.equal(w.grad[~mask], expected[~mask])
    assert torch.equal(w.grad[mask], expected[mask] if whole else torch.zeros_like(w.grad[mask]))


class _Recorder(L.Callback):
    def __init__(self) -> None:
        self.steps: list[dict] = []

    def _params(self, pl_module):
        return {k: v.detach().clone() for k, v in pl_module.net.named_parameters()}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.steps.append({"before": self._params(pl_module)})

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        self.steps[-1]["faulty"] = {n: m.clone() for n, m in pl_module.last_faulty.items()}
        self.steps[-1]["grad"] = {k: v.grad.clone() for k, v in pl_module.net.named_parameters()}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.steps[-1]["after"] = self._params(pl_module)


@pytest.mark.parametrize("gradient", ["masked", "whole"])
def test_training_with_mapped_biases_restores_failed_weights_and_biases(gradient):
    torch.manual_seed(0)
    fa = HWTransform("stuck_at(sa0=0.1, sa1=0.1)", gradient=gradient, layers=LayerSelector(bias=True))
    model = Classifier(
        arch="mlp",
        arch_kwargs={"hidden": [32]},
        num_classes=4,
        input_shape=(16,),
        optimizer=partial(torch.optim.Adam, lr=0.05, weight_decay=0.1),
        fault_aware=fa,
        train_seed=0,
    )
    assert model.fault_aware.bias and model.fault_aware.whole_gradient == (gradient == "whole")
    data = Synthetic(input_shape=(16,), num_classes=4, n_train=128, n_test=64, batch_size=32)
    recorder = _Recorder()
    L.Trainer(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        max_steps=3,
        callbacks=[recorder],
    ).fit(model, data)
    for step in recorder.steps:
        for name, faulty in step["faulty"].items():
            w_key, b_key = f"{name}.weight", f"{name}.bias"
            shape = step["before"][w_key].shape
            assert faulty.shape == (shape[0], shape[1] + 1)
            w_mask, b_mask = split_bias(faulty, tuple(shape))
            for key, mask in ((w_key, w_mask), (b_key, b_mask)):
                assert torch.equal(step["after"][key][mask], step["before"][key][mask])  # restored
                grads = step["grad"][key][mask]
                assert bool((grads != 0).any()) == (gradient == "whole")
            assert bool(b_mask.any())


def test_gradient_option_is_validated():
    from faultlab import FaultlabError

    with pytest.raises(FaultlabError, match="gradient"):
        HWTransform(gradient="full")
    with pytest.raises(FaultlabError, match="gradient=whole"):
        HWTransform("drop(p=0.1)", gradient="whole")
    with pytest.raises(TypeError, match="gradient"):  # DropConnect's gradient is the natural one: no such field
        DropConnect(p=0.1, gradient="whole")
    assert HWTransform("device(tio2_drolet2023)").bias


# ----------------------------------------------------------------------------- data seed


def test_moons_data_seed_fixes_the_data_set_across_training_seeds():
    a, b = Moons(seed=0, data_seed=7, val_fraction=0.0), Moons(seed=1, data_seed=7, val_fraction=0.0)
    assert torch.equal(a.tensors("test")[0], b.tensors("test")[0])
    assert torch.equal(torch.sort(a.tensors("train")[0], 0)[0], torch.sort(b.tensors("train")[0], 0)[0])
    assert not torch.equal(Moons(seed=0).tensors("test")[0], Moons(seed=1).tensors("test")[0])
    base = {
        "name": "s",
        "architectures": [{"arch": "moons_net"}],
        "methods": [{"name": "vanilla"}],
        "campaigns": [{"fault": "drop(p={rate})", "rates": [0.1]}],
        "training": {"trainer": {"max_epochs": 1}},
    }
    assert parse_study({**base, "data": {"name": "moons", "options": {"seed": 3}}}).data.options["seed"] == 3
    assert parse_study({**base, "data": {"name": "moons", "options": {"data_seed": 3}}}).data.options["data_seed"] == 3
