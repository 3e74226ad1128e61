"""The bottleneck ablation (issue 25): equal-count campaigns that skip a K larger than a layer, early stopping
from a study's training block, and the study file itself."""

import pytest
import torch

import architectures
from faultlab.campaign import CampaignError, CampaignSpec, RunInfo, run_campaign
from faultlab.campaign.spec import validate
from faultlab.injection import layer_weights
from faultlab.selector import LayerSelector
from faultlab.store import ResultsStore

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture(scope="module")
def expansion_one():
    """A 2-block mini-MobileNet at expansion 1 with its expand conv kept: convs of 72, 64, 72 and 64 weights."""
    torch.manual_seed(0)
    net = architectures.build("mini_mobilenet_n", n=2, expansion=1, expand_conv=True).eval()
    x, y = torch.randn(32, 1, 28, 28), torch.randint(0, 10, (32,))
    return net, x, y


def test_a_count_larger_than_a_layer_fails_unless_skipped(expansion_one, tmp_path):
    net, x, y = expansion_one
    sizes = {name: w.numel() for name, w in layer_weights(net, LayerSelector().select(net)).items()}
    spec = CampaignSpec("drop(p={rate})", [], trials=1, per_layer=True, equal_count=[16, 70])
    with ResultsStore(tmp_path / "a.sqlite") as store, pytest.raises(CampaignError, match="skip_larger_counts"):
        run_campaign(net, x, y, spec, store, RunInfo("r"), progress="off")
    skipping = CampaignSpec("drop(p={rate})", [], trials=1, per_layer=True, equal_count=[16, 70],
                            skip_larger_counts=True)
    with ResultsStore(tmp_path / "b.sqlite") as store:
        run_campaign(net, x, y, skipping, store, RunInfo("r"), progress="off")
        df = store.to_frame()
    assert set(df.loc[df.equal_count == 16, "layer"]) == set(sizes)  # every layer holds 16 faults
    assert set(df.loc[df.equal_count == 70, "layer"]) == {n for n, k in sizes.items() if k >= 70}
    assert {n for n, k in sizes.items() if k < 70}  # the 64-weight 1x1 convs were left out at K = 70
    assert (df.rate - df.equal_count / df.layer.map(sizes)).abs().max() < 1e-12


def test_skip_larger_counts_needs_equal_count():
    with pytest.raises(CampaignError, match="skip_larger_counts: needs equal_count"):
        validate(CampaignSpec("drop(p={rate})", [0.1], skip_larger_counts=True))


EARLY_STOPPING = {"class_path": "lightning.pytorch.callbacks.EarlyStopping",
                  "init_args": {"monitor": "val_acc", "mode": "max", "patience": 1, "min_delta": 1.0}}


def test_a_study_trains_until_the_validation_accuracy_stops_improving(tmp_path):
    """trainer.callbacks in the training block reach every run (the parser leaves the study's mapping as written),
    with validation turned back on: a min_delta no epoch can beat stops after patience + 1 epochs of 10."""
    from pathlib import Path

    import yaml

    from faultlab.sweep import expand, parse_study
    from faultlab.sweep.execute import train

    raw = yaml.safe_load((Path(__file__).parent / "data" / "tiny_study.yaml").read_text())
    raw["data"]["options"]["val_fraction"] = 0.25
    raw["training"]["trainer"] = {"max_epochs": 10, "limit_val_batches": 1.0, "callbacks": [EARLY_STOPPING]}
    spec = parse_study(raw)
    assert spec.training.trainer["callbacks"] == [EARLY_STOPPING]  # checking the study built it, unchanged
    plan = next(p for p in expand(spec) if p.method.name == "vanilla" and p.arch.arch == "mlp")
    assert plan.config["trainer"]["callbacks"] == [EARLY_STOPPING]
    train(plan, tmp_path / "runs", tmp_path / "run.ckpt")
    assert torch.load(tmp_path / "run.ckpt", weights_only=False)["epoch"] == 2
