"""One campaign configuration: ``CampaignSpec`` is what the ``faultlab campaign`` flags, a study's
``campaigns:`` entries and ``faultlab.run`` build, checked by one validator whose messages name the flag or
the YAML key. ``eval_subset`` is the option added to show that a new option is one field of CampaignSpec."""

import dataclasses

import pytest
import torch
import yaml

import architectures
from faultlab import FaultlabError
from faultlab.campaign import CampaignError, CampaignSpec, RunInfo, run_campaign, validate
from faultlab.campaign.evaluation import evaluate
from faultlab.cli import command_parser
from faultlab.commands.campaign import campaign_spec
from faultlab.config import ConfigError, build
from faultlab.data import Synthetic
from faultlab.selector import LayerSelector
from faultlab.store import ResultsStore
from faultlab.sweep.spec import StudySpecError, parse_study
from faultlab.training.methods import FaultAware

STUDY = """
name: cfg
data: {name: moons, options: {n_samples: 64}}
architectures: [{arch: moons_net}]
methods: [{name: vanilla}]
campaigns: []
"""


def cli_spec(*flags: str) -> CampaignSpec:
    args = command_parser().parse_args(["campaign", "--fault", "drop(p={rate})", *flags])
    return campaign_spec(args)


def study(*campaigns: dict):
    return parse_study({**yaml.safe_load(STUDY), "campaigns": list(campaigns)})


def test_flags_take_their_defaults_from_the_dataclass():
    assert cli_spec("--rates", "0.1,0.2") == CampaignSpec("drop(p={rate})", (0.1, 0.2))
    spec = cli_spec("--rates", "0.1", "--trials", "auto", "--no-first", "--kinds", "linear", "--per-layer",
                    "--no-prefix-cache", "--bias")
    assert spec == CampaignSpec("drop(p={rate})", (0.1,), trials="auto", per_layer="layer", prefix_cache=False,
                                layers=LayerSelector(kinds=("linear",), first=False, bias=True))


def test_yaml_entries_are_the_same_dataclass_with_the_study_seed():
    entry = {"fault": "drop(p={rate})", "rates": [0.1], "layers": {"kinds": ["linear"], "last": False}}
    (c,) = parse_study({**yaml.safe_load(STUDY), "seed": 7, "campaigns": [entry]}).campaigns
    assert c == CampaignSpec("drop(p={rate})", (0.1,), seed=7, layers=LayerSelector(kinds=("linear",), last=False))
    with pytest.raises(StudySpecError, match=r"campaigns\[0\]\.seed: set by the study"):
        study({**entry, "seed": 3})


@pytest.mark.parametrize(
    ("entry", "flags", "yaml_message", "flag_message"),
    [
        ({"trials": 0}, ["--trials", "0"], "campaigns[0].trials: 0; allowed", "--trials: 0; allowed"),
        ({"rates": [0.1, 0.1]}, ["--rates", "0.1,0.1"], "campaigns[0].rates: [0.1, 0.1]: a rate is listed twice",
         "--rates: [0.1, 0.1]: a rate is listed twice"),
        ({"equal_count": [4], "rates": []}, ["--equal-count", "4"], "campaigns[0].equal_count: needs per-layer",
         "--equal-count: needs per-layer"),
        ({"layers": {"kinds": ["conv2d"]}}, ["--kinds", "conv2d"], "campaigns[0].layers.kinds: ['conv2d']",
         "--kinds: ['conv2d']"),
        ({"eval_subset": 0}, ["--eval-subset", "0"], "campaigns[0].eval_subset: 0; allowed", "--eval-subset: 0"),
    ],
)
def test_one_validator_names_the_yaml_key_or_the_flag(entry, flags, yaml_message, flag_message):
    with pytest.raises(StudySpecError) as err:
        study({"fault": "drop(p={rate})", "rates": [0.1], **entry})
    assert yaml_message in str(err.value)
    with pytest.raises(CampaignError) as err:
        cli_spec(*(["--rates", "0.1"] if "--rates" not in flags and "--equal-count" not in flags else []), *flags)
    assert flag_message in str(err.value)


def test_the_strict_loader_refuses_unknown_keys_and_wrong_types():
    with pytest.raises(ConfigError, match=r"tirals: unknown key \(did you mean 'trials'\?\)"):
        build(CampaignSpec, {"fault": "drop(p={rate})", "tirals": 3})
    with pytest.raises(ConfigError, match="per_layer: 'layers'; allowed: False, True, 'layer', 'group'"):
        build(CampaignSpec, {"fault": "drop(p={rate})", "per_layer": "layers"})
    spec = build(CampaignSpec, {"fault": "drop(p={rate})", "rates": [0, 1], "trials": "auto"})
    assert spec.rates == (0.0, 1.0) and spec.trials == "auto" and validate(spec).keys() == {0.0, 1.0}


def test_eval_subset_from_yaml_and_from_the_flag_evaluates_the_first_samples(tmp_path):
    (from_yaml,) = study({"fault": "drop(p={rate})", "rates": [0.2], "trials": 3, "eval_subset": 50}).campaigns
    from_flag = cli_spec("--rates", "0.2", "--trials", "3", "--eval-subset", "50")
    assert from_yaml == from_flag and from_flag.eval_subset == 50
    torch.manual_seed(0)
    net = architectures.build("mlp", in_features=64, hidden=[32], num_classes=4).eval()
    x, y = Synthetic(input_shape=(64,), num_classes=4, n_train=64, n_test=200).tensors("test")
    with ResultsStore(tmp_path / "s.sqlite") as store:
        result = run_campaign(net, x, y, from_flag, store, RunInfo("r"), progress="off")
        frame = store.to_frame()
        n_eval = store.get_run("r")["n_eval"]
    assert n_eval == 50 and set(frame["n_samples"]) == {50} and len(frame) == 3
    assert result.clean.accuracy == pytest.approx(evaluate(net, x[:50], y[:50]).accuracy)
    with ResultsStore(tmp_path / "t.sqlite") as store, pytest.raises(CampaignError, match="exceeds the 200"):
        run_campaign(net, x, y, dataclasses.replace(from_flag, eval_subset=500), store, RunInfo("r"), progress="off")


def test_fault_aware_training_selects_layers_with_the_same_selector():
    fa = FaultAware.from_mapping({"method": "dropconnect", "fault": "drop(p=0.1)", "kinds": ["linear"],
                                  "first": False})
    assert fa.layers == LayerSelector(kinds=("linear",), first=False)
    assert FaultAware.from_mapping(dataclasses.asdict(fa)) == fa  # a checkpoint's hparams rebuild it
    with pytest.raises(FaultlabError, match="layers.kinds"):
        FaultAware(layers=LayerSelector(kinds=("conv2d",))).plan()
