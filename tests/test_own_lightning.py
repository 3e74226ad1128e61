"""A user's own LightningModule (not faultlab's Classifier): its .ckpt through the CLI, and the
FaultCampaign callback at the end of trainer.test / trainer.fit."""

from __future__ import annotations

import csv

import lightning as L
import pandas as pd
import pytest
import torch
from own_models import OwnDataModule, OwnLitModule, small_cnn, tiny_data

import faultlab
from faultlab.cli import main
from faultlab.lightning import FaultCampaign
from faultlab.store import ResultsStore

FAULT = "stuck_at(sa0=0.01,sa1={rate})"


def trainer(tmp_path, **kw) -> L.Trainer:
    return L.Trainer(max_steps=2, accelerator="cpu", enable_progress_bar=False, enable_model_summary=False,
                     enable_checkpointing=False, default_root_dir=tmp_path, **kw)


LABELS = ["architecture", "variant", "dataset"]  # each door labels what it was given (a class, a builder, a network;
# a data module, tensors)


def frame(path, labels: bool = False) -> pd.DataFrame:
    with ResultsStore(path) as store:
        return store.to_frame().drop(columns=["seconds"] + ([] if labels else LABELS))


@pytest.fixture
def checkpoint(tmp_path):
    """A trained (two steps) OwnLitModule saved by Lightning."""
    torch.manual_seed(0)
    model = OwnLitModule(num_classes=4)
    t = trainer(tmp_path, logger=False)
    t.fit(model, datamodule=OwnDataModule())
    t.save_checkpoint(tmp_path / "own.ckpt")
    return tmp_path / "own.ckpt", model


def test_own_lightning_checkpoint_by_class_and_by_prefix(checkpoint, tmp_path):
    ckpt, trained = checkpoint
    common = ["--weights", str(ckpt), "--data", "own_models:OwnDataModule", "--fault", FAULT, "--rates", "0,0.05",
              "--trials", "2"]
    # the LightningModule class: load_from_checkpoint, the network found at its ``backbone`` attribute
    main(["campaign", "--model", "own_models:OwnLitModule", *common, "--store", str(tmp_path / "class.sqlite")])
    # the network's builder: its weights found in the checkpoint's state_dict under the ``backbone.`` prefix
    main(["campaign", "--model", "own_models:small_cnn", *common, "--store", str(tmp_path / "prefix.sqlite")])
    by_class, by_prefix = frame(tmp_path / "class.sqlite"), frame(tmp_path / "prefix.sqlite")
    pd.testing.assert_frame_equal(by_class, by_prefix)  # the same run id and trials
    python = faultlab.run(trained.backbone, OwnDataModule(), fault=FAULT, rates=[0, 0.05], trials=2)
    pd.testing.assert_frame_equal(python.drop(columns=["seconds", *LABELS]), by_class)
    assert len(by_class) == 4 and set(python.variant) == {"Sequential"}
    assert set(frame(tmp_path / "class.sqlite", labels=True).variant) == {"OwnLitModule"}  # the class named
    assert set(frame(tmp_path / "prefix.sqlite", labels=True).variant) == {"own_models:small_cnn"}
    assert not torch.equal(trained.backbone[0].weight, small_cnn()[0].weight)  # the trained weights were used


def test_callback_after_test_logs_each_rate_to_csv_and_fills_the_store(tmp_path):
    from lightning.pytorch.loggers import CSVLogger

    torch.manual_seed(0)
    model = OwnLitModule(num_classes=4)
    dm = OwnDataModule()
    callback = FaultCampaign(FAULT, rates=[0, 0.1], trials=3, seed=0, store=tmp_path / "cb.sqlite")
    second = FaultCampaign("drop(p={rate})", rates=[0.2], trials=2, seed=0, prefix="drop")
    t = trainer(tmp_path, logger=CSVLogger(tmp_path, name="logs"), callbacks=[callback, second])
    t.fit(model, datamodule=dm)
    t.test(model, datamodule=dm)
    rows = frame(tmp_path / "cb.sqlite")
    assert len(rows) == 6 and rows.rate.tolist() == [0, 0, 0, 0.1, 0.1, 0.1]
    # the same rows as faultlab.run on the trained network and the test data
    direct = faultlab.run(model.backbone, dm, fault=FAULT, rates=[0, 0.1], trials=3)
    pd.testing.assert_frame_equal(direct.drop(columns=["seconds", *LABELS]), rows)
    assert set(frame(tmp_path / "cb.sqlite", labels=True).variant) == {"OwnLitModule"}  # the LightningModule's class
    # one row of metrics.csv at the trainer's step, a column per rate; the by-rate table a row per rate
    with open(t.logger.log_dir + "/metrics.csv") as f:
        metrics = list(csv.DictReader(f))
    (logged,) = [r for r in metrics if r.get("fault/accuracy@0.1")]
    (dropped,) = [r for r in metrics if r.get("drop/accuracy@0.2")]
    assert int(logged["step"]) == t.global_step == 2
    by_rate = pd.read_csv(t.logger.log_dir + "/fault_by_rate.csv")
    assert by_rate.rate.tolist() == [0.0, 0.1] and by_rate.stage.tolist() == ["test", "test"]
    assert by_rate.trials.dtype.kind == "i" and by_rate.trials.tolist() == [3, 3]
    for rate in (0, 0.1):
        accs = rows[rows.rate == rate].accuracy
        row = by_rate[by_rate.rate == rate].iloc[0]
        assert float(logged[f"fault/accuracy@{rate:g}"]) == pytest.approx(accs.mean()) == row.accuracy
        assert 0 <= float(logged[f"fault/ci_low@{rate:g}"]) <= accs.mean() <= float(logged[f"fault/ci_high@{rate:g}"])
        assert logged[f"fault/trials@{rate:g}"] == "3"  # an integer, not 3.0
    assert not any(k.startswith("fault/") and "@" not in k for k in logged)  # no scalar at a fake step per rate
    assert {int(r["step"]) for r in metrics} == {2}
    # the second campaign of the trainer (another fault, its own prefix) overwrote nothing
    assert pd.read_csv(t.logger.log_dir + "/drop_by_rate.csv").rate.tolist() == [0.2]
    assert float(dropped["drop/accuracy@0.2"]) == pytest.approx(second.results.accuracy.mean())


def test_callback_after_fit_uses_the_datamodule_test_set(tmp_path):
    torch.manual_seed(0)
    model = OwnLitModule(num_classes=4)
    callback = FaultCampaign(FAULT, rates=[0.05], trials=2, when="fit", metric="top2")
    t = trainer(tmp_path, logger=False, callbacks=[callback])
    t.fit(model, datamodule=OwnDataModule(n=16))
    assert len(callback.results) == 2 and (callback.results.metric >= callback.results.accuracy).all()
    assert callback.results.n_samples.iloc[0] == 16
    assert model.training  # the callback leaves the module's mode as it found it


def test_callback_rejects_a_bad_fault_at_construction():
    with pytest.raises(faultlab.FaultlabError, match="outside"):
        FaultCampaign(FAULT, rates=[1.5])


def test_callback_logs_accuracy_by_rate_to_tensorboard(tmp_path):
    pytest.importorskip("tensorboard")  # the tensorboard extra, installed by the dev extra (CI)
    from lightning.pytorch.loggers import TensorBoardLogger
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    x, y = tiny_data(16)
    callback = FaultCampaign(FAULT, rates=[0, 0.05, 0.2], trials=3, data=(x, y))
    t = trainer(tmp_path, logger=TensorBoardLogger(tmp_path), callbacks=[callback])
    model = OwnLitModule()
    t.fit(model, datamodule=OwnDataModule(n=8))
    t.test(model, datamodule=OwnDataModule(n=8))
    assert callback.results.n_samples.iloc[0] == 16
    events = EventAccumulator(t.logger.log_dir, size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    events.Reload()
    tags = events.Tags()
    means = callback.results.groupby("rate").accuracy.mean()
    for rate, mean in means.items():
        (scalar,) = events.Scalars(f"fault/accuracy@{rate:g}")
        assert scalar.step == t.global_step == 2 and scalar.value == pytest.approx(mean, abs=1e-6)
        (count,) = events.Scalars(f"fault/trials@{rate:g}")
        assert count.value == 3
    assert not [tag for tag in tags["scalars"] if tag.startswith("fault/") and "@" not in tag]
    (image,) = events.Images("fault/accuracy_vs_rate")  # the figure of accuracy against rate
    assert image.step == 2 and image.width > 300
    text = events.Tensors("fault/by_rate/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "| 0.05 |" in text and "| rate |" in text.replace("| rate | accuracy", "| rate |")
    hparams = EventAccumulator(t.logger.log_dir + "/fault")  # the campaign's hparams session, a sub-run
    hparams.Reload()
    content = hparams.PluginTagToContent("hparams")["_hparams_/experiment"]
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content).experiment
    metrics = {m.name.tag for m in experiment.metric_infos}
    assert {f"fault/accuracy@{r:g}" for r in means.index} <= metrics
    assert {"fault/template", "num_classes", "lr"} <= {h.name for h in experiment.hparam_infos}


def test_callback_logs_a_table_to_wandb_when_installed(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    from lightning.pytorch.loggers import WandbLogger

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    callback = FaultCampaign(FAULT, rates=[0, 0.1], trials=2, data=tiny_data(16))
    logger = WandbLogger(save_dir=str(tmp_path), project="faultlab-test", offline=True)
    t = trainer(tmp_path, logger=logger, callbacks=[callback])
    t.test(OwnLitModule(), datamodule=OwnDataModule(n=8))
    summary = dict(logger.experiment.summary)
    logger.experiment.finish()
    assert summary["fault/accuracy@0.1"] == pytest.approx(callback.results[callback.results.rate == 0.1]
                                                         .accuracy.mean())
    assert summary["fault/by_rate"]["_type"] == "table-file" and summary["fault/by_rate"]["nrows"] == 2


def test_fit_without_tensorboard_logs_to_csv_without_lightnings_warning(tmp_path, monkeypatch):
    """Without the tensorboard extra, ``faultlab fit`` names the CSV logger Lightning would fall back to, so
    Lightning's "tensorboardX has been removed" warning does not appear on every fit."""
    from lightning.pytorch.loggers import CSVLogger
    from lightning.pytorch.trainer.connectors.logger_connector import logger_connector

    from faultlab.commands.train import lightning_main

    monkeypatch.setattr(logger_connector, "_TENSORBOARD_AVAILABLE", False)
    monkeypatch.setattr(logger_connector, "_TENSORBOARDX_AVAILABLE", False)
    warned = logger_connector.warning_cache
    monkeypatch.setattr(warned, "warn", lambda message, *a, **k: warned.add(message))  # record every call
    warned.clear()
    L.Trainer(logger=True, default_root_dir=tmp_path / "plain")  # Lightning alone warns (the test can see it)
    assert any("tensorboardX" in m for m in warned)
    warned.clear()
    fit = lightning_main(["fit", "--config", "experiments/train/moons.yaml", "--trainer.max_epochs", "1",
                          "--trainer.default_root_dir", str(tmp_path / "fit"), "--trainer.enable_progress_bar",
                          "false"])
    assert not any("tensorboardX" in m for m in warned)
    assert isinstance(fit.trainer.logger, CSVLogger) and fit.trainer.logger.save_dir == str(tmp_path / "fit")
    assert (tmp_path / "fit" / "lightning_logs" / "version_0" / "metrics.csv").is_file()
