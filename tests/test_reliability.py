"""No harm from a careless researcher (issue 26): one case per family. Names never become paths; a study
file that runs code or bombs the parser is refused before work; interrupts stop everything they started;
nothing mixes or overrides silently; bad inputs are refused where they enter (interrupts: test_interrupts.py; the
OS's refusals: test_os_refusals.py). Every refusal is one line with exit status 2, leaves the inputs as they were
and writes nothing."""

from __future__ import annotations

import os
import time
from pathlib import Path

import lightning  # noqa: F401  (imported here, its log handler keeps the real stderr, not one test's capture)
import numpy as np
import pytest
import torch
import yaml
from reliability_tools import trials_in
from test_guards import _checkpoint, cli, make_store, one_line_error, snapshot

from faultlab import FaultlabError
from faultlab.names import BadNameError, check_name, is_safe_name
from faultlab.store import ResultsStore

ROOT = Path(__file__).resolve().parents[1]
FAULT = "drop(p={rate})"
STUDY = {
    "name": "tiny",
    "data": {"name": "moons", "options": {"n_samples": 128, "batch_size": 64}},
    "training": {"seeds": [0], "trainer": {"max_epochs": 1}},
    "architectures": [{"arch": "moons_net"}],
    "methods": [{"name": "vanilla"}],
    "campaigns": [{"fault": FAULT, "rates": [0.2], "trials": 2}],
}


def write_study(folder: Path, text: str | None = None, **changes) -> Path:
    spec = folder / "study.yaml"
    spec.write_text(text if text is not None else yaml.safe_dump({**STUDY, **changes}, sort_keys=False))
    return spec


# ------------------------------------------------------------------------------------ names are names


@pytest.mark.parametrize("name", ["demo", "mnist_lb-2", "v1.2", "A" * 64])
def test_plain_names_pass(name):
    assert check_name(name) == name and is_safe_name(name)


@pytest.mark.parametrize("name", ["", "../../x", "a/b", "a\\b", "..", ".hidden", "-rf", "a..b", "x" * 65, "café",
                                  "two words", "nul\x00", "name\n", 7])
def test_names_that_would_be_paths_are_one_line(name):
    with pytest.raises(BadNameError) as err:
        check_name(name, "study name")
    assert "\n" not in str(err.value) and "a name is" in str(err.value) and not is_safe_name(name)


def test_a_report_name_never_writes_outside_its_folder(capsys, tmp_path, monkeypatch):
    """``faultlab report ../../x`` read results/../../x.sqlite and overwrote an unrelated ../x.pdf."""
    cwd = tmp_path / "a" / "b"
    for sub in ("results", "reports"):
        (cwd / sub).mkdir(parents=True)
    make_store(tmp_path / "a" / "x.sqlite", study="../../x")
    (tmp_path / "a" / "x.pdf").write_bytes(b"%PDF-1.4 someone else's paper\n%%EOF\n")
    monkeypatch.chdir(cwd)
    before = snapshot(tmp_path)
    for argv in (["report", "../../x"], ["stats", "../../x"], ["stats", "plan", "--from", "../../x",
                                                               "--train-seconds", "1"]):
        code, out, err = cli(capsys, *argv)
        one_line_error(code, err, "'../../x' holds a path separator")
    assert snapshot(tmp_path) == before


def test_a_study_name_never_becomes_a_path(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = write_study(tmp_path, name="../../x")
    before = snapshot(tmp_path)
    for argv in (["sweep", spec], ["sweep", spec, "--dry-run"], ["sweep", spec, "--store", tmp_path / "s.sqlite"]):
        code, _, err = cli(capsys, *argv)
        one_line_error(code, err, "name: '../../x'")
    assert snapshot(tmp_path) == before and sorted(os.listdir(tmp_path)) == ["study.yaml"]


def test_campaign_and_python_study_names_are_checked(capsys, tmp_path):
    store = tmp_path / "s.sqlite"
    code, _, err = cli(capsys, "campaign", "--checkpoint", "missing.ckpt", "--fault", FAULT, "--rates", "0.1",
                       "--store", store, "--study", "../x")
    one_line_error(code, err, "--study '../x'")
    with pytest.raises(BadNameError):
        import faultlab

        faultlab.run(torch.nn.Linear(2, 2), (torch.zeros(4, 2), torch.zeros(4, dtype=torch.long)), FAULT,
                     rates=[0.1], trials=1, study="a/b")
    assert not store.exists()


def test_a_fit_config_named_dot_dot_never_writes_above_runs(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "...yaml").write_text((ROOT / "experiments/train/moons.yaml").read_text())  # its stem is ".."
    code, _, err = cli(capsys, "fit", "--config", tmp_path / "...yaml", "--trainer.max_epochs", "1")
    one_line_error(code, err, "run name (the config file's name) '..'")
    assert sorted(os.listdir(tmp_path)) == ["...yaml"]


def test_an_existing_file_is_replaced_only_when_it_is_an_earlier_output(capsys, tmp_path):
    store = make_store(tmp_path / "S.sqlite")
    other_pdf, other_csv = tmp_path / "paper.pdf", tmp_path / "measurements.csv"
    other_pdf.write_bytes(b"%PDF-1.4 someone else's paper\n%%EOF\n")
    other_csv.write_text("voltage,current\n0.1,2e-6\n")
    before = snapshot(tmp_path)
    for argv, fragment in (
        (["report", "demo", "--store", store, "--out", other_pdf, "--resamples", "20"], "not a report written by"),
        (["export", "--store", store, "--out", other_csv], "not a trials table written by"),
    ):
        code, _, err = cli(capsys, *argv)
        one_line_error(code, err, fragment)
    assert snapshot(tmp_path) == before
    code, _, err = cli(capsys, "report", "demo", "--store", store, "--out", other_pdf, "--resamples", "20", "--force")
    assert code == 0 and snapshot(tmp_path)["paper.pdf"] != before["paper.pdf"], err
    code, _, err = cli(capsys, "report", "demo", "--store", store, "--out", other_pdf, "--resamples", "20")
    assert code == 0, err  # now an earlier report: replaced freely
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


# ------------------------------------------------------------------------------------ configs that run code


def test_a_misspelt_callback_class_path_fails_at_dry_run(capsys, tmp_path):
    callback = {"class_path": "lightning.pytorch.callbacks.EarlyStoping"}
    spec = write_study(tmp_path, training={"seeds": [0], "trainer": {"max_epochs": 1, "callbacks": [callback]}})
    before = snapshot(tmp_path)
    code, _, err = cli(capsys, "sweep", spec, "--dry-run", "--store", tmp_path / "s.sqlite")
    one_line_error(code, err, "EarlyStoping")
    assert snapshot(tmp_path) == before


def test_the_docs_say_that_class_paths_in_a_config_import_and_run_code():
    text = " ".join((ROOT / "README.md").read_text().split() + " ".join(
        p.read_text() for p in (ROOT / "docs").glob("*.md")).split())
    sentences = [s for s in text.split(". ") if "class_path" in s and "import" in s and "run" in s]
    assert sentences, "no sentence says that a study/config naming class_path imports and runs it"


# ------------------------------------------------------------------------------------ YAML bombs and duplicates

BOMB = """name: bomb
data: {name: moons, options: {n_samples: 128}}
training: {seeds: [0], trainer: {max_epochs: 1}}
methods: [{name: vanilla}]
campaigns: [{fault: "drop(p={rate})", rates: [0.1], trials: 2}]
architectures:
  - arch: mlp
    kwargs:
      hidden:
        - &a [1, 1, 1, 1, 1, 1, 1, 1, 1]
        - &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
        - &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
        - &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
        - &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
        - &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
"""  # 9^6 = 531,441 leaves from a 700-byte file


def test_a_yaml_alias_bomb_is_refused_fast(capsys, tmp_path):
    spec = write_study(tmp_path, BOMB)
    t0 = time.monotonic()
    code, _, err = cli(capsys, "sweep", spec, "--dry-run", "--store", tmp_path / "s.sqlite")
    assert time.monotonic() - t0 < 10 and len(err) < 1000, f"{time.monotonic() - t0:.0f} s, {len(err)} characters"
    one_line_error(code, err, "alias")


def test_a_duplicated_yaml_key_is_refused(capsys, tmp_path):
    text = yaml.safe_dump(STUDY, sort_keys=False).replace("training:", "training: {seeds: [0, 1, 2]}\n"
                                                                     "training:", 1)
    spec = write_study(tmp_path, text)
    code, _, err = cli(capsys, "sweep", spec, "--dry-run", "--store", tmp_path / "s.sqlite")
    one_line_error(code, err, "training")
    assert "duplicate" in err.lower()


# ------------------------------------------------------------------------------------ silent mixing and overrides


@pytest.fixture(scope="module")
def moons_checkpoint(tmp_path_factory) -> Path:
    from faultlab.data import Moons

    return _checkpoint(tmp_path_factory.mktemp("moons") / "moons.ckpt", "moons_net", Moons(n_samples=400))


def test_one_run_never_mixes_test_sets(capsys, tmp_path, moons_checkpoint):
    """Re-running a campaign on another test subset kept the old rows: the run's curve mixed test sets of 100
    and 50 samples and its clean accuracy was overwritten."""
    store = tmp_path / "s.sqlite"
    base = ["campaign", "--checkpoint", moons_checkpoint, "--data", "moons", "--data-args", "n_samples=400",
            "--fault", FAULT, "--rates", "0.1", "--store", store]
    code, out, err = cli(capsys, *base, "--eval-subset", "100", "--trials", "2")
    assert code == 0, err
    clean = float(out.split("clean accuracy ")[1].split()[0])
    code, _, err = cli(capsys, *base, "--eval-subset", "50", "--trials", "4")
    if code != 0:
        one_line_error(code, err, "eval")
    with ResultsStore(store, read_only=True) as s:
        frame = s.to_frame()
    assert (frame.groupby("run_id")["n_samples"].nunique() == 1).all(), "one run's trials mix test sets"
    first = frame[frame["n_samples"] == 100]
    assert (first["clean_accuracy"].round(4) == round(clean, 4)).all(), "the first run's clean accuracy changed"


ADAM = {"class_path": "torch.optim.Adam", "init_args": {"lr": 0.01}}
DROPCONNECT = {"class_path": "DropConnect", "init_args": {"p": 0.2}}
TWO_METHODS = {"training": {"seeds": [0, 1], "trainer": {"max_epochs": 1}, "model": {"optimizer": ADAM}},
               "methods": [{"name": "vanilla"}, {"name": "dropconnect", "fault_aware": DROPCONNECT}]}


def test_an_edited_study_never_mixes_with_its_old_runs(capsys, tmp_path):
    """Editing the learning rate and re-running added a second set of runs per (architecture, method, seed);
    ``stats`` and ``report`` then crashed."""
    store, runs = tmp_path / "s.sqlite", tmp_path / "runs"
    code, _, err = cli(capsys, "sweep", write_study(tmp_path, **TWO_METHODS), "--store", store, "--runs-dir", runs)
    assert code == 0, err
    edited = {**TWO_METHODS, "training": {**TWO_METHODS["training"],
                                          "model": {"optimizer": {**ADAM, "init_args": {"lr": 0.05}}}}}
    code, _, err = cli(capsys, "sweep", write_study(tmp_path, **edited), "--store", store, "--runs-dir", runs)
    if code != 0:
        one_line_error(code, err, "training.model.optimizer.init_args.lr 0.01; this spec has 0.05")
    code, _, err = cli(capsys, "stats", "tiny", "--store", store, "--csv", tmp_path / "t", "--resamples", "20")
    assert code == 0, err


def test_a_changed_study_seed_is_refused_or_run(capsys, tmp_path):
    store, runs = tmp_path / "s.sqlite", tmp_path / "runs"
    code, _, err = cli(capsys, "sweep", write_study(tmp_path), "--store", store, "--runs-dir", runs)
    assert code == 0, err
    before = trials_in(store)
    code, out, err = cli(capsys, "sweep", write_study(tmp_path, seed=5), "--store", store, "--runs-dir", runs)
    if code != 0:
        one_line_error(code, err, "seed")
    else:
        assert trials_in(store) > before, "a changed campaign seed was silently ignored"


def test_the_epoch_count_has_one_source(capsys, tmp_path):
    spec = write_study(tmp_path, training={"epochs": 2, "seeds": [0], "trainer": {"max_epochs": 3}})
    code, _, err = cli(capsys, "sweep", spec, "--dry-run", "--store", tmp_path / "s.sqlite")
    one_line_error(code, err, "training.epochs is the old study format; training is now a partial 'faultlab fit' "
                              "config: write training: {seeds: [...], trainer: {max_epochs: N}")


# ------------------------------------------------------------------------------------ inputs where they enter


def tensors_file(folder: Path, x, y) -> Path:
    path = folder / "test.pt"
    torch.save({"x": x, "y": y}, path)
    return path


X = torch.randn(40, 2)
Y = torch.randint(0, 2, (40,))
BAD_DATA = [
    (torch.full((40, 2), float("nan")), Y, "NaN"),
    (X.clone().index_fill_(0, torch.tensor([7]), float("inf")), Y, "infinite"),
    (X, Y - 1, "negative"),
    (X, Y.float() + 0.5, "not integer class indices"),
    (X, Y[:, None], "y[:, 0]"),
    (X, torch.nn.functional.one_hot(Y, 2), "one-hot: pass y.argmax(1)"),
    (X, Y[:30], "40 samples but labels (y) 30"),
    (X, Y + 3, "labels go up to"),
]


@pytest.mark.parametrize(("x", "y", "fragment"), BAD_DATA)
def test_bad_test_data_is_refused_in_one_line_before_anything_is_written(capsys, tmp_path, moons_checkpoint,
                                                                        x, y, fragment):
    data = tensors_file(tmp_path, x, y)
    store = tmp_path / "s.sqlite"
    before = snapshot(tmp_path)
    code, _, err = cli(capsys, "campaign", "--checkpoint", moons_checkpoint, "--data", f"tensors:{data}",
                       "--fault", FAULT, "--rates", "0.1", "--trials", "2", "--store", store)
    one_line_error(code, err, fragment)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(("x", "y", "fragment"), BAD_DATA)
def test_bad_test_data_is_refused_by_faultlab_run(tmp_path, x, y, fragment):
    import faultlab

    net = torch.nn.Sequential(torch.nn.Linear(2, 2))
    store = tmp_path / "s.sqlite"
    with pytest.raises(FaultlabError, match=fragment.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")) as err:
        faultlab.run(net, (x, y), FAULT, rates=[0.1], trials=2, store=store)
    assert "\n" not in str(err.value) and not store.exists()


def test_bad_test_data_is_refused_by_the_lightning_callback(tmp_path):
    import lightning as L

    from faultlab.lightning import FaultCampaign

    net = torch.nn.Sequential(torch.nn.Linear(2, 2))

    class Module(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def test_step(self, batch, batch_idx):
            return None

    store = tmp_path / "s.sqlite"
    callback = FaultCampaign(FAULT, rates=[0.1], trials=2, store=store, data=(BAD_DATA[0][0], Y))
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False,
                        enable_checkpointing=False, default_root_dir=tmp_path, callbacks=[callback])
    with pytest.raises(FaultlabError, match="NaN") as err:
        trainer.test(Module(), dataloaders=torch.utils.data.DataLoader(list(zip(X, Y)), batch_size=8))
    assert "\n" not in str(err.value) and not store.exists()


@pytest.mark.parametrize(("y", "fragment"), [(np.array(["cat", "dog"] * 20), "text"),
                                             (np.arange(40, dtype=np.float64) % 2, "pass y.long()")])
def test_labels_from_numpy_files_are_checked(capsys, tmp_path, moons_checkpoint, y, fragment):
    data = tmp_path / "test.npz"
    np.savez(data, x=X.numpy(), y=y)
    code, _, err = cli(capsys, "campaign", "--checkpoint", moons_checkpoint, "--data", f"tensors:{data}",
                       "--fault", FAULT, "--rates", "0.1", "--store", tmp_path / "s.sqlite")
    one_line_error(code, err, fragment)
    assert not (tmp_path / "s.sqlite").exists()


@pytest.mark.parametrize(("options", "fragment"), [
    ({"n_samples": -5}, "n_samples=-5"),
    ({"noise": -3}, "noise=-3"),
    ({"batch_size": 0}, "batch_size=0"),
    ({"eval_batch_size": 0}, "eval_batch_size=0"),
    ({"n_samples": "many"}, "n_samples='many'"),
    ({"noise": float("nan")}, "noise=nan"),
])
def test_data_options_out_of_range_fail_at_dry_run(capsys, tmp_path, options, fragment):
    spec = write_study(tmp_path, data={"name": "moons", "options": {"n_samples": 128, **options}})
    before = snapshot(tmp_path)
    code, _, err = cli(capsys, "sweep", spec, "--dry-run", "--store", tmp_path / "s.sqlite")
    one_line_error(code, err, fragment)
    assert snapshot(tmp_path) == before
