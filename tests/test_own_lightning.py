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


def frame(path) -> pd.DataFrame:
    with ResultsStore(path) as store:
        return store.to_frame().drop(columns="seconds")


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
    pd.testing.assert_frame_equal(by_class, by_prefix)
    python = faultlab.run(trained.backbone, OwnDataModule(), fault=FAULT, rates=[0, 0.05], trials=2)
    pd.testing.assert_frame_equal(python.drop(columns="seconds"), by_class)
    assert by_class.architecture.iloc[0] == "Sequential" and len(by_class) == 4
    assert not torch.equal(trained.backbone[0].weight, small_cnn()[0].weight)  # the trained weights were used


def test_callback_after_test_logs_each_rate_to_csv_and_fills_the_store(tmp_path):
    from lightning.pytorch.loggers import CSVLogger

    torch.manual_seed(0)
    model = OwnLitModule(num_classes=4)
    dm = OwnDataModule()
    callback = FaultCampaign(FAULT, rates=[0, 0.1], trials=3, seed=0, store=tmp_path / "cb.sqlite")
    t = trainer(tmp_path, logger=CSVLogger(tmp_path, name="logs"), callbacks=[callback])
    t.fit(model, datamodule=dm)
    t.test(model, datamodule=dm)
    rows = frame(tmp_path / "cb.sqlite")
    assert len(rows) == 6 and rows.rate.tolist() == [0, 0, 0, 0.1, 0.1, 0.1]
    # the same rows as faultlab.run on the trained network and the test data
    direct = faultlab.run(model.backbone, dm, fault=FAULT, rates=[0, 0.1], trials=3)
    pd.testing.assert_frame_equal(direct.drop(columns="seconds"), rows)
    with open(t.logger.log_dir + "/metrics.csv") as f:
        logged = [r for r in csv.DictReader(f) if r.get("fault/rate")]
    assert [float(r["fault/rate"]) for r in logged] == [0.0, 0.1]
    for r, rate in zip(logged, (0.0, 0.1)):
        accs = rows[rows.rate == rate].accuracy
        assert float(r["fault/accuracy"]) == pytest.approx(accs.mean())
        assert float(r["fault/ci_low"]) < accs.mean() < float(r["fault/ci_high"]) or accs.std() == 0
        assert float(r["fault/trials"]) == 3


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


def test_callback_with_explicit_tensors_and_tensorboard_when_installed(tmp_path):
    pytest.importorskip("tensorboard")
    from lightning.pytorch.loggers import TensorBoardLogger

    x, y = tiny_data(16)
    callback = FaultCampaign(FAULT, rates=[0.05], trials=2, data=(x, y))
    t = trainer(tmp_path, logger=TensorBoardLogger(tmp_path), callbacks=[callback])
    dm = OwnDataModule(n=8)
    dm.setup("test")
    t.test(OwnLitModule(), dataloaders=dm.test_dataloader())
    assert callback.results.n_samples.iloc[0] == 16
