"""A DropConnect model trained with ``rescale: true`` is campaigned with its evaluation scale W' = W ⊙ M / (1 - p)
(applied once, on the very masks every other run meets, and recorded); ``rescale: train`` (the reference study's
convention) and vanilla models are campaigned unscaled."""

import lightning as L
import pytest
import torch
from cli_run import cli
from tiny_checkpoint import fit_checkpoint

from faultlab.campaign import CampaignSpec, RunInfo, evaluate, run_campaign
from faultlab.campaign.checkpoint import eval_weight_scale
from faultlab.campaign.session import open_checkpoint
from faultlab.data import Synthetic
from faultlab.faults import parse_fault
from faultlab.injection import draw_maps, trial_seeds
from faultlab.store import ResultsStore
from faultlab.training import Classifier, DropConnect

SPEC = CampaignSpec("drop(p={rate})", [0.0, 0.3, 0.6], trials=6, seed=3)


def _classifier(rescale):
    torch.manual_seed(0)
    fa = DropConnect(p=0.3, rescale=rescale) if rescale is not None else None
    return Classifier(arch="mlp", arch_kwargs={"hidden": [32]}, num_classes=4, input_shape=(64,), fault_aware=fa).eval()


@pytest.fixture(scope="module")
def data():
    return Synthetic(input_shape=(64,), num_classes=4, n_train=64, n_test=200).tensors("test")


def _campaign(tmp_path, name, net, x, y, scale, per_pass=None):
    spec = CampaignSpec(SPEC.fault, SPEC.rates, SPEC.trials, SPEC.seed, trials_per_pass=per_pass)
    with ResultsStore(tmp_path / f"{name}.sqlite") as store:
        run_campaign(net, x, y, spec, store, RunInfo("r"), progress="off", weight_scale=scale)
        rows = store.to_frame().sort_values(["rate", "trial"]).reset_index(drop=True)
        config = store.campaigns("r")[0]["config"]
    return rows, config


def test_only_rescale_true_gets_a_campaign_scale():
    assert eval_weight_scale(_classifier(True))(0.3) == pytest.approx(1 / 0.7)
    assert eval_weight_scale(_classifier("train")) is None  # the reference: rescaled in training only
    assert eval_weight_scale(_classifier(False)) is None
    assert eval_weight_scale(_classifier(None)) is None


@pytest.mark.parametrize("per_pass", [1, 4])
def test_rescaled_trials_are_the_same_masks_times_one_over_one_minus_p(data, tmp_path, per_pass):
    x, y = data
    clf = _classifier(True)
    net = clf.net
    scaled, config = _campaign(tmp_path, f"s{per_pass}", net, x, y, eval_weight_scale(clf), per_pass)
    plain, plain_config = _campaign(tmp_path, f"p{per_pass}", net, x, y, None, per_pass)
    assert config["eval_weight_scale"] == {"0.0": 1.0, "0.3": pytest.approx(1 / 0.7), "0.6": pytest.approx(2.5)}
    assert set(plain_config["eval_weight_scale"].values()) == {1.0}
    assert scaled["fault_seed"].equals(plain["fault_seed"])  # the same keyed maps
    at0 = scaled["rate"] == 0.0
    assert scaled.loc[at0, "accuracy"].equals(plain.loc[at0, "accuracy"])  # p = 0: s = 1
    assert not scaled.loc[~at0, "loss"].equals(plain.loc[~at0, "loss"])
    layers = SPEC.layers.select(net)
    for rate in (0.3, 0.6):
        for trial in (0, 5):
            draws, _ = draw_maps(
                net, parse_fault(SPEC.fault, rate=rate), layers, trial_seeds(SPEC.seed, layers, SPEC.fault, rate, trial)
            )
            clean = {n: p.detach().clone() for n, p in net.named_parameters()}
            with torch.no_grad():
                for name, d in draws.items():
                    net.get_submodule(name).weight.copy_(d.weights / (1 - rate))
                want = evaluate(net, x, y, 1000)
                for n, p in net.named_parameters():
                    p.copy_(clean[n])
            row = scaled[(scaled["rate"] == rate) & (scaled["trial"] == trial)].iloc[0]
            assert row["n_correct"] == int(want.correct.sum())  # the frame's accuracy is this count / n exactly
            assert row["accuracy"] == pytest.approx(want.accuracy, abs=1e-7)
            assert row["loss"] == pytest.approx(want.loss, rel=1e-5)


def test_equal_count_cells_are_never_scaled(data, tmp_path):
    x, y = data
    clf = _classifier(True)
    spec = CampaignSpec("drop(p={rate})", [], trials=3, per_layer=True, equal_count=[4])
    with ResultsStore(tmp_path / "c.sqlite") as store:
        run_campaign(clf.net, x, y, spec, store, RunInfo("r"), progress="off", weight_scale=eval_weight_scale(clf))
        config = store.campaigns("r")[0]["config"]
    assert config["eval_weight_scale"] == {"4": 1.0}


def test_cli_campaign_of_a_rescaled_checkpoint_records_and_applies_the_scale(tmp_path, capsys):
    """Through `faultlab campaign`: the run config and the campaign config say which scale ran."""
    path = tmp_path / "rescaled.ckpt"
    L.seed_everything(0, verbose=False)
    model = Classifier(
        arch="mlp",
        arch_kwargs={"hidden": [16]},
        num_classes=10,
        input_shape=(1, 28, 28),
        fault_aware=DropConnect(p=0.3, rescale=True),
        train_seed=0,
    )
    fit_checkpoint(path, model, Synthetic(n_train=64, n_test=32))
    session = open_checkpoint(path, Synthetic(n_train=64, n_test=32).tensors("test"))
    assert session.run.config["eval_weight_scale"].startswith("1/(1 - p)") and session.weight_scale is not None
    store = tmp_path / "r.sqlite"
    code, _, err = cli(capsys, "campaign", "--checkpoint", path, "--data", "synthetic", "--fault", "drop(p={rate})",
                       "--rates", "0.5", "--trials", "2", "--store", store)
    assert code == 0, err
    with ResultsStore(store) as s:
        run = s.runs()[0]
        config = s.campaigns(run["run_id"])[0]["config"]
    assert config["eval_weight_scale"] == {"0.5": 2.0}
    assert run["config"]["eval_weight_scale"].startswith("1/(1 - p)")
