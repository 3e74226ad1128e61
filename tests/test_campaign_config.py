"""One campaign configuration: ``CampaignSpec`` is what the ``faultlab campaign`` options (and its ``--config``
file), a study's ``campaigns:`` entries and ``faultlab.run`` build, checked by one validator whose messages name
the option or the YAML key. ``eval_subset`` is the option added to show that a new option is one field of
CampaignSpec."""

import dataclasses

import pytest
import torch
import yaml

import architectures
from faultlab import FaultlabError
from faultlab.campaign import CampaignError, CampaignSpec, RunInfo, run_campaign, validate
from faultlab.campaign.evaluation import evaluate
from faultlab.commands.campaign import build_parser, campaign_spec
from faultlab.data import Synthetic
from faultlab.parsing import ConfigError, parse
from faultlab.selector import LayerSelector
from faultlab.store import ResultsStore
from faultlab.sweep.spec import StudySpecError, parse_study
from faultlab.training import DropConnect

STUDY = """
name: cfg
training: {trainer: {max_epochs: 1}}
data: {name: moons, options: {n_samples: 64}}
architectures: [{arch: moons_net}]
methods: [{name: vanilla}]
campaigns: []
"""


def cli_spec(*flags: str) -> CampaignSpec:
    parser = build_parser()
    return campaign_spec(parser.instantiate(parse(parser, ["--fault", "drop(p={rate})", *flags])))


def study(*campaigns: dict):
    return parse_study({**yaml.safe_load(STUDY), "campaigns": list(campaigns)})


def test_options_take_their_defaults_from_the_dataclass():
    assert cli_spec("--rates", "0.1,0.2") == CampaignSpec("drop(p={rate})", (0.1, 0.2))
    spec = cli_spec("--rates", "[0.1]", "--trials", "auto", "--layers.first", "false", "--layers.kinds", "linear",
                    "--per-layer", "layer", "--prefix_cache", "false", "--layers.bias=true")
    assert spec == CampaignSpec("drop(p={rate})", (0.1,), trials="auto", per_layer="layer", prefix_cache=False,
                                layers=LayerSelector(kinds=("linear",), first=False, bias=True))


def test_a_printed_config_runs_unchanged(tmp_path, capsys):
    """``faultlab campaign ... --print_config`` writes a file that ``--config`` reads back to the same campaign;
    options after it override it."""
    flags = ["--rates", "0.1,0.3", "--trials", "auto", "--layers.kinds", "linear", "--per_layer", "group",
             "--equal_count", "4,8", "--rates", "[]", "--eval-subset", "50", "--store", "s.sqlite"]
    with pytest.raises(SystemExit) as exit_info:
        cli_spec(*flags, "--print_config")
    assert exit_info.value.code == 0
    (tmp_path / "c.yaml").write_text(capsys.readouterr().out)
    assert cli_spec("--config", str(tmp_path / "c.yaml")) == cli_spec(*flags)
    assert cli_spec("--config", str(tmp_path / "c.yaml"), "--trials", "7").trials == 7


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
         "--equal_count: needs per-layer"),
        ({"layers": {"kinds": ["conv2d"]}}, ["--layers.kinds", "conv2d"], "campaigns[0].layers.kinds: ['conv2d']",
         "--layers.kinds: ['conv2d']"),
        ({"eval_subset": 0}, ["--eval-subset", "0"], "campaigns[0].eval_subset: 0; allowed", "--eval_subset: 0"),
    ],
)
def test_one_validator_names_the_yaml_key_or_the_flag(entry, flags, yaml_message, flag_message):
    with pytest.raises(StudySpecError) as err:
        study({"fault": "drop(p={rate})", "rates": [0.1], **entry})
    assert yaml_message in str(err.value)
    with pytest.raises(CampaignError) as err:
        cli_spec(*(["--rates", "0.1"] if "--rates" not in flags and "--equal-count" not in flags else []), *flags)
    assert flag_message in str(err.value)


def test_the_parser_refuses_unknown_keys_and_wrong_types(tmp_path):
    with pytest.raises(ConfigError, match=r"--tirals: unknown option \(did you mean --trials\?\)"):
        cli_spec("--tirals", "3")
    config = tmp_path / "c.yaml"
    config.write_text("fault: drop(p={rate})\nrates: [0.1]\ntirals: 3\n")
    with pytest.raises(ConfigError, match=r"tirals: unknown option \(did you mean trials\?\)"):
        cli_spec("--config", str(config))
    with pytest.raises(ConfigError, match="--trials"):
        cli_spec("--rates", "0.1", "--trials", "many")
    with pytest.raises(StudySpecError, match=r"campaigns.*tirals: not a parameter of CampaignEntry \(did you mean "
                                             r"trials\?\)"):
        study({"fault": "drop(p={rate})", "tirals": 3})
    spec = cli_spec("--rates", "0,1", "--trials", "auto")
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
    from faultlab.training import method_from_config

    fa = DropConnect(p=0.1, layers={"kinds": ["linear"], "first": False})
    assert fa.layers == LayerSelector(kinds=("linear",), first=False)
    assert method_from_config(fa.config()) == fa  # a checkpoint's hparams rebuild it
    with pytest.raises(FaultlabError, match="layers.kinds"):
        DropConnect(p=0.1, layers=LayerSelector(kinds=("conv2d",)))
