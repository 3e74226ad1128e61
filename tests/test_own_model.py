"""Campaigns on a user's own networks and data: the Python API, the CLI's --model/--weights/--data specs,
and one-line errors for bad input (nothing written)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from own_models import OwnDataModule, small_cnn, tiny_data
from tiny_checkpoint import fit_checkpoint

import faultlab
from faultlab.cli import main
from faultlab.store import FRAME_COLUMNS, ResultsStore

FAULT = "stuck_at(sa0=0.01,sa1={rate})"


def cli(*args: str) -> None:
    main(["campaign", "--fault", FAULT, "--seed", "0", *args])


def stored(path) -> pd.DataFrame:
    with ResultsStore(path) as store:
        return store.to_frame()


LABELS = ["architecture", "variant", "dataset"]  # what each door was given: `--model own_models:small_cnn`, a
# Sequential; `--data tensors:FILE`, tensors


def same_rows(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Equal trial for trial (same run id, same trials), except the measured seconds and the labels."""
    pd.testing.assert_frame_equal(a.drop(columns=["seconds", *LABELS]), b.drop(columns=["seconds", *LABELS]))


def one_line_error(capsys, *args: str) -> str:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        cli(*args)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("faultlab: error: ") and "\n" not in err and "Traceback" not in err
    return err


@pytest.fixture
def own_files(tmp_path):
    """A user's saved state_dict and test tensors."""
    torch.save(small_cnn().state_dict(), tmp_path / "weights.pt")
    x, y = tiny_data()
    torch.save({"x": x, "y": y}, tmp_path / "test.pt")
    return tmp_path


def test_five_line_python_call_equals_the_cli_rows(own_files):
    cli("--model", "own_models:small_cnn", "--weights", str(own_files / "weights.pt"),
        "--data", f"tensors:{own_files / 'test.pt'}", "--rates", "0,0.05", "--trials", "3",
        "--store", str(own_files / "cli.sqlite"))
    # the five lines a user writes
    net = small_cnn()
    net.load_state_dict(torch.load(own_files / "weights.pt"))
    data = torch.load(own_files / "test.pt")
    df = faultlab.run(net, (data["x"], data["y"]), fault=FAULT, rates=[0, 0.05], trials=3, seed=0)
    assert tuple(df.columns) == FRAME_COLUMNS and len(df) == 6
    same_rows(df, stored(own_files / "cli.sqlite"))
    assert df.variant.iloc[0] == "Sequential" and df.weights_hash.nunique() == 1
    assert set(stored(own_files / "cli.sqlite").variant) == {"own_models:small_cnn"}  # labelled as named
    assert df.accuracy.std() > 0  # the faults do something
    # and a DataLoader gives the same rows; a store path is written
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data["x"], data["y"]), batch_size=5)
    df2 = faultlab.run(net, loader, fault=FAULT, rates=[0, 0.05], trials=3, store=own_files / "api.sqlite")
    same_rows(df2, df)
    same_rows(stored(own_files / "api.sqlite"), df)


def test_the_frame_works_with_faultlab_stats(own_files):
    from faultlab.stats import cell_summary

    net = small_cnn()
    x, y = tiny_data()
    df = faultlab.run(net, (x, y), fault=FAULT, rates=[0, 0.1], trials=4)
    cells = cell_summary(df, n_resamples=200)
    assert len(cells) == 2


def test_torchvision_resnet18_state_dict_with_tensors_data(tmp_path):
    import torchvision

    torch.manual_seed(0)
    net = torchvision.models.resnet18(num_classes=10).eval()
    torch.save(net.state_dict(), tmp_path / "resnet18.pt")
    g = torch.Generator().manual_seed(1)
    x, y = torch.rand(8, 3, 32, 32, generator=g), torch.randint(0, 10, (8,), generator=g)
    np.savez(tmp_path / "test.npz", x=x.numpy(), y=y.numpy())
    cli("--model", "torchvision:resnet18", "--model-args", "num_classes=10", "--weights", str(tmp_path / "resnet18.pt"),
        "--data", f"tensors:{tmp_path / 'test.npz'}", "--rates", "0.01", "--trials", "2",
        "--layers.kinds", "linear", "--store", str(tmp_path / "s.sqlite"))  # all 11 M weights: 6 s a trial here
    df = stored(tmp_path / "s.sqlite")
    with torch.no_grad():
        clean = (net(x).argmax(1) == y).float().mean().item()
    assert len(df) == 2 and set(df.variant) == set(df.architecture) == {"torchvision:resnet18"}  # as named
    assert df.clean_accuracy.iloc[0] == pytest.approx(clean)


def test_timm_model_from_safetensors_with_tensors_data(tmp_path):
    import timm
    from safetensors.torch import save_file

    torch.manual_seed(0)
    net = timm.create_model("test_resnet", num_classes=5).eval()
    save_file(net.state_dict(), tmp_path / "net.safetensors")
    x, y = torch.rand(8, 3, 32, 32), torch.randint(0, 5, (8,))
    torch.save((x, y), tmp_path / "test.pt")
    cli("--model", "timm:test_resnet", "--model-args", "num_classes=5", "--weights", str(tmp_path / "net.safetensors"),
        "--data", f"tensors:{tmp_path / 'test.pt'}", "--rates", "0,0.02", "--trials", "2", "--metric", "top2",
        "--store", str(tmp_path / "s.sqlite"))
    df = stored(tmp_path / "s.sqlite")
    assert len(df) == 4 and set(df.metric_name) == {"top2"}
    assert (df.metric >= df.accuracy).all()  # top-2 accuracy is never below top-1
    same_rows(df, faultlab.run(net, (x, y), fault=FAULT, rates=[0, 0.02], trials=2, metric="top2"))
    assert set(df.variant) == {"timm:test_resnet"}


def test_pickled_module_needs_no_spec_and_torchscript_gives_its_weights(own_files, capsys):
    net = small_cnn().eval()
    torch.save(net, own_files / "whole.pt")
    torch.jit.script(net).save(str(own_files / "scripted.pt"))
    data = ["--data", f"tensors:{own_files / 'test.pt'}", "--rates", "0.05", "--trials", "2"]
    cli("--weights", str(own_files / "whole.pt"), *data, "--store", str(own_files / "whole.sqlite"))
    cli("--model", "own_models:small_cnn", "--weights", str(own_files / "scripted.pt"), *data,
        "--store", str(own_files / "scripted.sqlite"))
    same_rows(stored(own_files / "whole.sqlite"), stored(own_files / "scripted.sqlite"))  # same weights, same rows
    err = one_line_error(capsys, "--weights", str(own_files / "scripted.pt"), *data,
                         "--store", str(own_files / "s.sqlite"))
    assert "TorchScript" in err and "--model" in err and not (own_files / "s.sqlite").exists()


def test_datamodule_class_path_is_evaluated_on_its_test_loader(tmp_path):
    torch.save(small_cnn().state_dict(), tmp_path / "w.pt")
    cli("--model", "own_models:small_cnn", "--weights", str(tmp_path / "w.pt"), "--data", "own_models:OwnDataModule",
        "--data-args", "n=16,seed=3", "--rates", "0.05", "--trials", "2", "--store", str(tmp_path / "s.sqlite"))
    net = small_cnn()
    same_rows(stored(tmp_path / "s.sqlite"),
              faultlab.run(net, OwnDataModule(n=16, seed=3), fault=FAULT, rates=[0.05], trials=2))
    x, _ = tiny_data(16, 3)
    with ResultsStore(tmp_path / "s.sqlite") as store:
        assert store.runs()[0]["n_eval"] == len(x)
        assert store.runs()[0]["evaluation"]["data_args"] == {"n": 16, "seed": 3}


def test_image_folder_of_generated_pngs(tmp_path):
    from PIL import Image

    from faultlab.data.specs import resolve_data

    rng = np.random.default_rng(0)
    pixels = {}
    for label in ("cat", "dog"):
        (tmp_path / "images" / label).mkdir(parents=True)
        for i in range(3):
            img = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
            Image.fromarray(img).save(tmp_path / "images" / label / f"{i}.png")
            pixels[(label, i)] = img
    source = resolve_data(f"imagefolder:{tmp_path / 'images'}", normalize="none")
    assert source.x.shape == (6, 3, 8, 8) and source.y.tolist() == [0, 0, 0, 1, 1, 1]
    assert torch.allclose(source.x[3], torch.from_numpy(pixels[("dog", 0)]).permute(2, 0, 1).float() / 255)
    standard = resolve_data(f"imagefolder:{tmp_path / 'images'}").x  # normalize=dataset: per-channel mean 0, std 1
    assert torch.allclose(standard.mean((0, 2, 3)), torch.zeros(3), atol=1e-5)
    resized = resolve_data(f"imagefolder:{tmp_path / 'images'}", image_size=4, normalize="[0.5, 0.25]")
    assert resized.x.shape == (6, 3, 4, 4) and resized.describe["normalize"] == [[0.5], [0.25]]

    torch.save(small_cnn(num_classes=2, in_channels=3).state_dict(), tmp_path / "w.pt")
    cli("--model", "own_models:small_cnn", "--model-args", "num_classes=2,in_channels=3", "--weights",
        str(tmp_path / "w.pt"), "--data", f"imagefolder:{tmp_path / 'images'}", "--normalize", "none",
        "--rates", "0.05", "--trials", "2", "--store", str(tmp_path / "s.sqlite"))
    with ResultsStore(tmp_path / "s.sqlite") as store:
        evaluation = store.runs()[0]["evaluation"]
    assert evaluation["normalize"] == "none" and evaluation["classes"] == ["cat", "dog"] and store_trials(tmp_path) == 2


def store_trials(path) -> int:
    return len(stored(path / "s.sqlite"))


def test_normalize_option_of_built_in_image_sets():
    from faultlab.data import build_data

    raw = build_data("digits", normalize="none").tensors("test")[0]
    assert raw.min() >= 0 and raw.max() <= 1
    standard = build_data("digits").tensors("test")[0]
    assert abs(standard.mean().item()) < 0.1  # the whole set is standardised; its test split nearly so
    explicit = build_data("digits", normalize=[0.5, 0.25]).tensors("test")[0]
    assert torch.allclose(explicit, (raw - 0.5) / 0.25)
    mnist = build_data("mnist5k", normalize="none", eval_subset=50).tensors("test")[0]
    assert mnist.min() == 0 and mnist.max() <= 1


def test_torchvision_data_sets_by_name_fail_offline_in_one_line(tmp_path, capsys):
    torch.save(small_cnn().state_dict(), tmp_path / "w.pt")
    for name in ("cifar100", "fashionmnist", "svhn"):
        err = one_line_error(capsys, "--model", "own_models:small_cnn", "--weights", str(tmp_path / "w.pt"),
                             "--data", name, "--data-dir", str(tmp_path / "data"), "--rates", "0.1",
                             "--store", str(tmp_path / "s.sqlite"))
        assert f"{name}: files not found" in err
    assert not (tmp_path / "s.sqlite").exists()


# ------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(("model", "expected"), [
    ("resnet2", "did you mean 'resnet20' or 'resnet32'"),
    ("resnet18", "did you mean torchvision:resnet18 or timm:resnet18?"),  # a bare library name
    ("torchvision:resnet81", "did you mean torchvision:resnet18"),
    ("timm:test_resnte", "did you mean 'timm:test_resnet'"),
    ("own_models:smal_cnn", "has no 'smal_cnn'"),
])
def test_unknown_model_name_is_one_line_with_a_suggestion(own_files, capsys, model, expected):
    err = one_line_error(capsys, "--model", model, "--weights", str(own_files / "weights.pt"),
                         "--data", f"tensors:{own_files / 'test.pt'}", "--rates", "0.1",
                         "--store", str(own_files / "s.sqlite"))
    assert expected in err
    assert not (own_files / "s.sqlite").exists()


def test_weights_of_another_architecture_name_the_first_keys(own_files, capsys):
    err = one_line_error(capsys, "--model", "mlp", "--weights", str(own_files / "weights.pt"),
                         "--data", f"tensors:{own_files / 'test.pt'}", "--rates", "0.1",
                         "--store", str(own_files / "s.sqlite"))
    assert "do not fit MLP" in err and "missing " in err and "unexpected 0.weight" in err
    err = one_line_error(capsys, "--model", "own_models:small_cnn", "--model-args", "num_classes=3",
                         "--weights", str(own_files / "weights.pt"), "--data", f"tensors:{own_files / 'test.pt'}",
                         "--rates", "0.1", "--store", str(own_files / "s.sqlite"))
    assert "shape 5.weight [4, 96] in file vs [3, 96] in model" in err and "num_classes" in err
    err = one_line_error(capsys, "--weights", str(own_files / "weights.pt"), "--data",
                         f"tensors:{own_files / 'test.pt'}", "--rates", "0.1", "--store", str(own_files / "s.sqlite"))
    assert "pass --model SPEC" in err
    assert not (own_files / "s.sqlite").exists()


def test_data_of_the_wrong_shape_is_one_line(own_files, capsys):
    torch.save({"x": torch.randn(4, 3, 8, 8), "y": torch.zeros(4, dtype=torch.long)}, own_files / "rgb.pt")
    err = one_line_error(capsys, "--model", "own_models:small_cnn", "--weights", str(own_files / "weights.pt"),
                         "--data", f"tensors:{own_files / 'rgb.pt'}", "--rates", "0.1",
                         "--store", str(own_files / "s.sqlite"))
    assert "data of shape [3, 8, 8] (per sample) do not fit Sequential" in err
    torch.save({"x": torch.randn(4, 1, 8, 8), "y": torch.full((4,), 7)}, own_files / "labels.pt")
    err = one_line_error(capsys, "--model", "own_models:small_cnn", "--weights", str(own_files / "weights.pt"),
                         "--data", f"tensors:{own_files / 'labels.pt'}", "--rates", "0.1",
                         "--store", str(own_files / "s.sqlite"))
    assert "labels go up to 7 but Sequential outputs 4 classes" in err
    assert not (own_files / "s.sqlite").exists()


# ------------------------------------------------------------------------------------ metrics beyond top-1


def test_top_k_and_user_metrics_are_stored_per_trial():
    from own_models import mean_margin

    from faultlab.campaign.metrics import resolve_metric, topk_correct

    net = small_cnn()
    x, y = tiny_data(40)
    top1 = faultlab.run(net, (x, y), fault=FAULT, rates=[0.1], trials=3, metric="top1")
    assert top1.metric.tolist() == pytest.approx(top1.accuracy.tolist(), abs=1e-7)  # top-1 is the accuracy
    assert (faultlab.run(net, (x, y), fault=FAULT, rates=[0.1], trials=3, metric="top4").metric == 1.0).all()
    margin = faultlab.run(net, (x, y), fault=FAULT, rates=[0.0], trials=2, metric=mean_margin)
    with torch.no_grad():
        expected = mean_margin(net.eval()(x), y).mean().item()
    assert set(margin.metric_name) == {"mean_margin"}
    clean = faultlab.run(net, (x, y), fault="drop(p={rate})", rates=[0.0], trials=1, metric=mean_margin)
    assert clean.metric.iloc[0] == pytest.approx(expected, rel=1e-5)  # drop at rate 0 is the clean network
    logits = torch.tensor([[[0.1, 0.5, 0.4], [0.9, 0.04, 0.06]]])
    assert topk_correct(logits, torch.tensor([2, 1]), 2).tolist() == [[True, False]]
    assert resolve_metric("own_models:mean_margin").name == "own_models:mean_margin"
    with pytest.raises(faultlab.FaultlabError, match="unknown metric"):
        resolve_metric("top-5")


def test_stacked_trials_store_the_metric_of_each_map():
    from torch import nn

    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 4))  # conv-free: stacked on CPU
    x, y = tiny_data(40)
    one = faultlab.run(mlp, (x, y), fault=FAULT, rates=[0.2], trials=4, metric="top2")
    from faultlab.campaign import CampaignSpec, run_campaign
    from faultlab.campaign.identity import module_run
    from faultlab.campaign.metrics import resolve_metric

    with ResultsStore(":memory:") as store:
        spec = CampaignSpec(FAULT, [0.2], trials=4, trials_per_pass=1)
        run_campaign(mlp, x, y, spec, store, module_run(mlp), progress="off", metric=resolve_metric("top2"))
        per_map = store.to_frame()
    assert per_map.metric.tolist() == pytest.approx(one.metric.tolist())


def test_an_old_store_migrates_to_the_metric_columns(tmp_path):
    import sqlite3

    from faultlab.store.migrations import MIGRATIONS, split_statements

    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)  # a store written before metrics existed: migrations 0001 and 0002 only
    conn.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    for name, sql in MIGRATIONS[:2]:
        for stmt in split_statements(sql):
            conn.execute(stmt)
        conn.execute("INSERT INTO schema_migrations VALUES (?, '2025-01-01')", (name,))
    conn.execute("INSERT INTO runs (run_id, study) VALUES ('r', 'old')")
    conn.execute("INSERT INTO trials (campaign_id, run_id, fault, rate, trial, accuracy) "
                 "VALUES ('c', 'r', 'f', 0.1, 0, 0.5)")
    conn.commit()
    conn.close()
    with ResultsStore(path) as store:
        assert [n for n, in store.conn.execute("SELECT name FROM schema_migrations")][-1] == MIGRATIONS[-1][0]
        store.add_trials([{"campaign_id": "c", "run_id": "r", "fault": "f", "rate": 0.1, "trial": 1, "accuracy": 0.6,
                           "metric_name": "top5", "metric": 0.9}])
        df = store.to_frame()
    assert tuple(df.columns) == FRAME_COLUMNS
    assert df.metric_name.isna().tolist() == [True, False] and df.metric_name.iloc[1] == "top5"
    assert df.metric.isna().tolist() == [True, False]
    assert df.accuracy.tolist() == [0.5, 0.6]


def test_a_faultlab_checkpoint_takes_the_new_data_and_metric_options(tmp_path):
    import lightning as L

    from faultlab.data import Digits
    from faultlab.training import Classifier

    L.seed_everything(0, verbose=False)
    model = Classifier(arch="mlp", arch_kwargs={"hidden": [16]}, num_classes=10, input_shape=(1, 8, 8))
    fit_checkpoint(tmp_path / "mlp.ckpt", model, Digits(normalize="none"), steps=1)
    cli("--checkpoint", str(tmp_path / "mlp.ckpt"), "--data", "digits", "--normalize", "none", "--metric", "top3",
        "--rates", "0.1", "--trials", "2", "--store", str(tmp_path / "s.sqlite"))
    with ResultsStore(tmp_path / "s.sqlite") as store:
        run = store.runs()[0]
        df = store.to_frame()
    assert run["evaluation"]["normalize"] == "none" and run["config"]["arch"] == "mlp"
    assert set(df.metric_name) == {"top3"} and (df.metric >= df.accuracy).all()


def test_python_call_with_bad_input_raises_one_line_and_writes_nothing(tmp_path):
    net = small_cnn()
    x, y = tiny_data(8)
    for data, message in [((x[:, :, :4], y), "do not fit Sequential"), ((x, y + 10), "labels go up to"),
                          ("nonsense", "unknown dataset 'nonsense'"), (3, "data of type int")]:
        with pytest.raises(faultlab.FaultlabError, match=message) as err:
            faultlab.run(net, data, fault=FAULT, rates=[0.1], trials=2, store=tmp_path / "s.sqlite")
        assert "\n" not in str(err.value)
    with pytest.raises(faultlab.FaultlabError, match="outside"):
        faultlab.run(net, (x, y), fault=FAULT, rates=[2.0], store=tmp_path / "s.sqlite")
    assert not (tmp_path / "s.sqlite").exists()


def test_python_call_takes_every_campaign_option_with_the_specs_defaults(tmp_path):
    """``faultlab.run`` and ``FaultCampaign`` build ``CampaignSpec`` from keyword options: its defaults, any of
    its fields (here ``eval_subset`` and ``layers`` as kinds), and a misspelled one is one line naming the field."""
    from dataclasses import fields

    from faultlab.campaign import CampaignError, CampaignSpec
    from faultlab.lightning import FaultCampaign

    net = small_cnn()
    x, y = tiny_data(16)
    default_trials = next(f.default for f in fields(CampaignSpec) if f.name == "trials")
    df = faultlab.run(net, (x, y), fault=FAULT, rates=[0.1], eval_subset=8, layers=["linear"])
    assert len(df) == default_trials and (df.n_samples == 8).all()
    assert FaultCampaign(FAULT, rates=[0.1]).spec == CampaignSpec(fault=FAULT, rates=[0.1])
    for call in (lambda: faultlab.run(net, (x, y), fault=FAULT, rates=[0.1], trails=3, store=tmp_path / "s.sqlite"),
                 lambda: FaultCampaign(FAULT, rates=[0.1], trails=3)):
        with pytest.raises(CampaignError, match="trails: not a campaign option \\(did you mean 'trials'\\?\\)"):
            call()
    assert not (tmp_path / "s.sqlite").exists()


def test_bn_recalibration_gives_every_trial_the_same_training_batches():
    """Each trial re-estimates BatchNorm on the same first N training batches, whichever door gave them (a
    DataLoader, a generator function): with no fault (p = 0) every trial is the same network."""
    net = small_cnn()
    x, y = tiny_data(16)
    train = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*tiny_data(64, seed=1)), batch_size=8)
    df = faultlab.run(net, (x, y), fault="drop(p={rate})", rates=[0.0], trials=4, bn_recalibration=2, train_data=train)
    assert df.accuracy.nunique() == 1 and df.loss.nunique() == 1
    once = faultlab.run(net, (x, y), fault="drop(p={rate})", rates=[0.0], trials=4, bn_recalibration=2,
                        train_data=lambda: iter(train))
    assert once.loss.tolist() == df.loss.tolist()
