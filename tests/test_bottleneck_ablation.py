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


# ----------------------------------------------------------------------- accuracy relative to clean (secondary)

RATES = (0.05, 0.1, 0.2, 0.4)


def _relative_study(rng, *, runs: int = 4, clean=(0.95, 0.80), slope: float = 0.8, effect: float = 0.0,
                    sd_run: float = 0.02, sd_clean: float = 0.01, sd_map: float = 0.01):
    """Two architectures whose runs keep a share 1 - slope·x + effect_arm + u_run (+ map noise) of their own clean
    accuracy c_run ~ N(clean_arm, sd_clean): the true relative difference (a - b) is ``effect``; the true loss
    difference is not zero when the clean accuracies differ."""
    import numpy as np
    import pandas as pd

    rates, trials = np.asarray(RATES), 3
    arm = np.repeat([0, 1], runs)  # one entry per run
    c_run = np.asarray(clean)[arm] + sd_clean * rng.standard_normal(2 * runs)
    keep = (1 - slope * rates[None, :] + np.where(arm == 0, effect, 0.0)[:, None]
            + sd_run * rng.standard_normal(2 * runs)[:, None])  # runs x rates
    acc = c_run[:, None, None] * (keep[:, None, :] + sd_map * rng.standard_normal((2 * runs, trials, rates.size)))
    r, t, x = np.meshgrid(np.arange(2 * runs), np.arange(trials), np.arange(rates.size), indexing="ij")
    names = np.array(["a", "b"])[arm[r.ravel()]]
    return pd.DataFrame({
        "architecture": names, "variant": names, "method": "vanilla", "fault": "drop(p={rate})", "layer": "*",
        "layer_group": None, "equal_count": 0, "run_id": [f"run{k}" for k in r.ravel()],
        "train_seed": r.ravel() % runs, "rate": rates[x.ravel()], "trial": t.ravel(), "accuracy": acc.ravel(),
        "clean_accuracy": c_run[r.ravel()], "n_samples": 1000})


def _table(frame, **kw):
    from faultlab.stats import ContrastSpec, contrast_table

    spec = ContrastSpec(kind="architecture", variant="a", control="b", method="vanilla", measure="loss",
                        secondary_measures=["relative"], margin=0.01, **kw)
    return contrast_table(frame, [spec])


def test_relative_loss_is_a_gated_secondary_row_that_removes_a_clean_accuracy_difference():
    import numpy as np

    from faultlab.stats.vocabulary import Measure, Role, Verdict

    table = _table(_relative_study(np.random.default_rng(0), runs=6, sd_run=0.01))
    primary = table[table.role == Role.PRIMARY].iloc[0]
    relative = table[table.measure == Measure.RELATIVE].iloc[0]
    assert primary.measure == Measure.LOSS and relative.role == Role.SECONDARY
    assert relative.endpoint == primary.endpoint and relative.span == primary.span
    # the better-trained arm loses more accuracy in pp (0.15 clean × 0.8 × the rates' trapezoid mean 0.225) ...
    assert primary.verdict == Verdict.WORSE and primary.estimate == pytest.approx(-0.15 * 0.8 * 0.225, abs=0.015)
    # ... but the same share of its clean accuracy: gated open by the decided primary, it is not "worse"
    assert relative.reason == "" and relative.verdict in (Verdict.EQUIVALENT, Verdict.INCONCLUSIVE)
    assert relative.low < 0 < relative.high and "relative to clean" in relative.unit


def test_relative_loss_interval_covers_the_true_difference():
    """120 simulated studies of 4 vs 4 runs, true relative difference +3 % of clean: the 95 % t interval of the
    secondary row covers it in 95 % ± 4.6 % (2.33 binomial sd)."""
    import numpy as np

    from faultlab.stats.vocabulary import Measure

    rng = np.random.default_rng(1)
    hits = []
    for _ in range(120):
        table = _table(_relative_study(rng, effect=0.03))
        row = table[table.measure == Measure.RELATIVE].iloc[0]
        hits.append(row.low <= 0.03 <= row.high)
    assert abs(np.mean(hits) - 0.95) <= 2.33 * (0.95 * 0.05 / len(hits)) ** 0.5


def test_secondary_measures_are_checked():
    from faultlab.stats import ContrastError, ContrastSpec

    with pytest.raises(ContrastError, match="secondary_measures"):
        ContrastSpec(kind="architecture", variant="a", control="b", measure="loss", secondary_measures=["loss"])
    with pytest.raises(ContrastError, match="secondary_measures"):
        ContrastSpec(kind="architecture", variant="a", control="b", secondary_measures=["relativ"])
