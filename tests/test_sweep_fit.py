"""A sweep trains each run as ``faultlab fit`` would: the study's ``training:`` block is a partial fit config merged
into each run's (``faultlab/sweep/fit.py``), checked by the LightningCLI parser ``faultlab fit`` uses before
anything trains, and built by the same construction, so the weights are the same."""

from pathlib import Path

import pytest
import torch
import yaml

from faultlab.sweep import StudySpecError, expand, parse_study
from faultlab.sweep.execute import train
from faultlab.sweep.fit import fit_config

pytestmark = pytest.mark.filterwarnings("ignore")
TINY = Path(__file__).resolve().parent / "data" / "tiny_study.yaml"


def _raw() -> dict:
    return yaml.safe_load(TINY.read_text())


def test_a_sweep_run_has_the_weights_of_faultlab_fit_on_its_config(tmp_path):
    from faultlab.commands.train import lightning_main

    spec = parse_study(_raw())
    plan = next(p for p in expand(spec) if p.method.name == "dropconnect" and p.seed == 1 and p.arch.arch == "mlp")
    train(plan, tmp_path / "runs", tmp_path / "sweep.ckpt")
    config = fit_config(plan.config, str(tmp_path / "fit"))
    (tmp_path / "fit.yaml").write_text(yaml.safe_dump(config))
    lightning_main(["fit", "--config", str(tmp_path / "fit.yaml"), "--checkpoint.save_last", "true"])
    swept = torch.load(tmp_path / "sweep.ckpt", weights_only=False)["state_dict"]
    fitted = torch.load(tmp_path / "fit" / "last.ckpt", weights_only=False)["state_dict"]
    assert swept.keys() == fitted.keys() and all(torch.equal(swept[k], fitted[k]) for k in swept)


def test_the_training_block_is_merged_into_every_run_and_states_the_epochs_once():
    raw = _raw()
    raw["training"]["trainer"] = {"max_epochs": 3, "gradient_clip_val": 1.0}
    raw["training"]["model"]["lr_scheduler"] = {"class_path": "torch.optim.lr_scheduler.StepLR",
                                                "init_args": {"step_size": 1}}
    plans = expand(parse_study(raw))
    for plan in plans:
        config = plan.config
        assert config["trainer"]["max_epochs"] == 3 and config["trainer"]["gradient_clip_val"] == 1.0
        assert config["model"]["lr_scheduler"]["class_path"] == "torch.optim.lr_scheduler.StepLR"
        assert config["seed_everything"] == config["model"]["train_seed"] == plan.seed
        assert config["data"]["init_args"]["seed"] == plan.seed
    dropconnect = next(p for p in plans if p.method.name == "dropconnect").config["model"]["fault_aware"]
    assert dropconnect["class_path"] == "faultlab.training.methods.DropConnect"  # as the parser built it
    assert dropconnect["init_args"]["p"] == 0.2


def test_an_old_fault_aware_mapping_in_a_study_trains_as_its_class():
    raw = _raw()
    old = yaml.safe_load(yaml.safe_dump(raw))
    old["methods"][1]["fault_aware"] = {"method": "dropconnect", "fault": "drop(p=0.2)"}
    assert [p.config for p in expand(parse_study(old))] == [p.config for p in expand(parse_study(raw))]


@pytest.mark.parametrize(("training", "message"), [
    ({"epochs": 2, "seeds": [0]}, "training.epochs is the old study format; training is now a partial 'faultlab fit'"),
    ({"optimizer": "adam", "lr": 0.01}, "training.optimizer is the old study format"),
    ({"seeds": [0], "trainer": {}}, "training.trainer.max_epochs: not set"),
    ({"trainer": {"max_epoch": 3}}, "training.trainer.max_epoch: unknown option (did you mean max_epochs?)"),
    ({"trainer": {"max_epochs": 1, "callbacks": [{"class_path": "mod.X"}]}},
     "training.trainer.callbacks: No module named 'mod'"),
    ({"trainer": {"max_epochs": 1}, "model": {"optimizer": {"class_path": "torch.optim.Adamm"}}},
     "training.model.optimizer: module 'torch.optim' has no attribute 'Adamm'"),
    ({"trainer": {"max_epochs": 1}, "model": {"optimizer": {"class_path": "torch.optim.SGD",
                                                             "init_args": {"lr": 0.1, "momentun": 0.9}}}},
     "training.model.optimizer.momentun: not a parameter of SGD (did you mean momentum?)"),
    ({"trainer": {"max_epochs": 1}, "model": {"optimizer": {"class_path": "torch.optim.SGD",
                                                             "init_args": {"lr": -1.0}}}},
     "Invalid learning rate: -1.0"),
    ({"trainer": {"max_epochs": 1}, "model": {"arch": "mlp"}}, "training.model.arch: set by the study's architectures"),
    ({"trainer": {"max_epochs": 1}, "epochz": 3}, "training.epochz: unknown option"),
])
def test_bad_training_blocks_are_one_clear_line_before_anything_trains(training, message):
    raw = _raw()
    raw["training"] = training
    with pytest.raises(StudySpecError) as err:
        parse_study(raw)
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(("fault_aware", "message"), [
    ({"class_path": "DropConect", "init_args": {"p": 0.2}},
     "is not a fault-aware method (did you mean 'DropConnect'?)"),
    ({"class_path": "DropConnect", "init_args": {"p": 1.5}}, "methods[1].fault_aware: fault_aware.p: drop: p=1.5 is"),
    ({"class_path": "DropConnect", "init_args": {"q": 0.2}}, "init_args.q: not a parameter of DropConnect"),
    ({"class_path": "DropConnect", "init_args": {"p": 0.2, "layers": {"kinds": ["depthwise"]}}},
     "methods[1].fault_aware: on architectures[0] (mlp): no layer matches"),
    ({"method": "dropconnect", "fault": "drop(p=0.2", "bn_reestimate_batches": 2}, "malformed fault spec"),
])
def test_bad_methods_are_one_clear_line_naming_the_method(fault_aware, message):
    raw = _raw()
    raw["methods"][1]["fault_aware"] = fault_aware
    with pytest.raises(StudySpecError) as err:
        parse_study(raw)
    assert message in str(err.value) and "\n" not in str(err.value)
