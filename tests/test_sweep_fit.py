"""A sweep trains each run as ``faultlab fit`` would: the study's training block becomes a fit config
(``faultlab/sweep/fit.py``), built by the same LightningCLI construction, so the weights are the same."""

from pathlib import Path

import pytest
import torch
import yaml

from faultlab.sweep import StudySpecError, expand, parse_study
from faultlab.sweep.execute import train
from faultlab.sweep.fit import fit_config, optimizer_config, scheduler_config

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


def test_the_short_training_form_becomes_torch_classes():
    assert optimizer_config("sgd", 0.1, {}) == {"class_path": "torch.optim.SGD",
                                                "init_args": {"lr": 0.1, "momentum": 0.9}}  # the old default
    assert optimizer_config("adam", 3e-3, {"weight_decay": 1e-4}) == {
        "class_path": "torch.optim.Adam", "init_args": {"lr": 3e-3, "weight_decay": 1e-4}}
    assert scheduler_config({}, 5) is None
    assert scheduler_config({"scheduler": "cosine"}, 5)["init_args"] == {"T_max": 5}
    assert scheduler_config({"scheduler": "step", "milestones": [2], "gamma": 0.5}, 5) == {
        "class_path": "torch.optim.lr_scheduler.MultiStepLR", "init_args": {"milestones": [2], "gamma": 0.5}}


@pytest.mark.parametrize(("training", "message"), [
    ({"optimizer": "adagrad"}, "training.optimizer: 'adagrad'; allowed: adam, adamw, sgd"),
    ({"options": {"scheduler": "exp"}}, "training.options.scheduler: 'exp'; allowed: none, cosine, step"),
    ({"options": {"lr": 0.1}}, "training.options: set lr and optimizer as training.lr / training.optimizer"),
    ({"options": {"momentun": 0.9}}, "training.options.momentun: unknown key (did you mean 'momentum'?)"),
])
def test_bad_training_blocks_are_one_clear_line(training, message):
    raw = _raw()
    raw["training"].update(training)
    with pytest.raises(StudySpecError) as err:
        parse_study(raw)
    assert message in str(err.value)
