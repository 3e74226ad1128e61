"""Bad configuration, refused before anything runs: a study spec's architecture kwargs and data options are resolved
and checked first, its data seed is a recorded data seed; a LightningCLI key or value is one line with the closest
option and no abbreviations; `faultlab fit` never overwrites its config."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cli_run import cli
from test_guards import one_line_error, snapshot

from faultlab.store import ResultsStore

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------ study specs


STUDY = """
name: tiny
data: {name: moons, options: {n_samples: 128, batch_size: 64}}
training: {seeds: [0], trainer: {max_epochs: 1}}
architectures: [{arch: moons_net}]
methods: [{name: vanilla}]
campaigns: [{fault: "drop(p={rate})", rates: [0.2], trials: 2}]
"""


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ("{arch: moons_net}", "{arch: mlp, kwargs: {hiden: [16]}}", "did you mean 'hidden'"),
        ("{arch: moons_net}", "{arch: mlp, kwargs: {hidden: sixteen}}", "does not build"),
        ("n_samples: 128", "n_sample: 128", "did you mean 'n_samples'"),
        ("n_samples: 128", "n_samples: 128, eval_subset: 10", "data.eval_subset"),
        ("n_samples: 128", "n_samples: 128, val_fraction: 2", "val_fraction"),
        ("n_samples: 128", "n_samples: 128, seed: -1", "0..2^63-1"),
        ("seeds: [0]", "seeds: [-4]", "0..2^63-1"),
        ("seeds: [0],", "seeds: [0], epochs: 1,", "training.epochs is the old study format"),
        ("max_epochs: 1}", "max_epochs: 1}, model: {optimizer: {class_path: torch.optim.SGD, init_args: {lr: 0.1, "
         "momentun: 0.9}}}", "did you mean momentum"),
        ("max_epochs: 1}", "max_epoch: 3}", "training.trainer.max_epoch: unknown option (did you mean max_epochs?)"),
        ("max_epochs: 1}", "max_epochs: 1, callbacks: [{class_path: mod.Callback}]}", "No module named 'mod'"),
        ("batch_size: 64}", "batch_size: 64}, eval_subset: 0", "data.eval_subset"),
        ("n_samples: 128", "n_samples: -5", "data set moons: n_samples=-5; allowed: an integer >= 4"),
        ("n_samples: 128", "n_samples: 128, noise: -3", "data set moons: noise=-3; allowed: a number in [0, inf)"),
        ("name: tiny", "name: tiny\nseed: 0\nseed: 1", "key 'seed' is given twice (lines 3 and 4)"),
    ],
)
def test_study_specs_resolve_kwargs_and_options_before_anything_runs(capsys, tmp_path, old, new, fragment):
    assert old in STUDY
    spec = tmp_path / "tiny.yaml"
    spec.write_text(STUDY.replace(old, new))
    before = snapshot(tmp_path)
    code, _, err = cli(capsys, "sweep", spec, "--dry-run", "--store", tmp_path / "s.sqlite")
    one_line_error(code, err, fragment)
    assert snapshot(tmp_path) == before


def test_data_seed_option_is_a_recorded_data_seed(capsys, tmp_path):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(STUDY.replace("n_samples: 128", "n_samples: 128, seed: 7"))
    store = tmp_path / "s.sqlite"
    code, out, err = cli(capsys, "sweep", spec, "--store", store, "--runs-dir", tmp_path / "runs")
    assert code == 0, err
    with ResultsStore(store, read_only=True) as s:
        run = s.runs("tiny")[0]
        assert run["config"]["training"]["data"]["init_args"]["seed"] == 7 and s.count_trials() == 2
        assert run["evaluation"]["data"]["options"]["seed"] == 7
    listing = sorted(os.listdir(tmp_path))
    code, out, err = cli(capsys, "sweep", spec, "--store", store, "--dry-run")
    assert code == 0 and "to do: 0 trainings, 0 trials" in out, err
    assert sorted(os.listdir(tmp_path)) == listing


# ------------------------------------------------------------------------------------ LightningCLI


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--trainer.max_epoch", "3"], "did you mean --trainer.max_epochs"),
        (["--model.optimiser", "torch.optim.SGD"], "did you mean --model.optimizer"),
        (["--confg", "x.yaml"], "did you mean --config"),
    ],
)
def test_lightning_errors_are_one_line_and_take_no_abbreviations(capsys, args, fragment):
    code, _, err = cli(capsys, "fit", "--config", ROOT / "experiments/train/moons.yaml", *args)
    one_line_error(code, err, fragment)
    assert "--help" in err and "usage" not in err


def test_a_misspelled_key_in_a_fit_config_is_one_line(capsys, tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text((ROOT / "experiments/train/moons.yaml").read_text().replace("max_epochs", "max_epoch"))
    code, _, err = cli(capsys, "fit", "--config", cfg)
    one_line_error(code, err, "max_epoch")
    assert "usage" not in err and not (tmp_path / "runs").exists()


def test_fit_never_overwrites_its_config(capsys, tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text((ROOT / "experiments/train/moons.yaml").read_text())
    before = cfg.read_bytes()
    code, _, err = cli(
        capsys,
        "fit",
        "--config",
        cfg,
        "--trainer.default_root_dir",
        tmp_path,
        "--trainer.logger",
        "false",
        "--trainer.max_epochs",
        "1",
    )
    one_line_error(code, err, "is the config")
    assert cfg.read_bytes() == before and not (tmp_path / "checkpoints").exists()
