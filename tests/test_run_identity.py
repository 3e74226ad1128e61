"""One run identity through every door (run id = study + a hash of the weights), the study spec stored with
its data (the report shows what ran), the refusals that keep a store's runs from mixing trainings, test sets
or campaign seeds, and stores written before migration 0004 (read unchanged, migrated, resumed)."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import lightning as L
import pytest
import torch
import yaml
from cli_run import cli
from pypdf import PdfReader
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import faultlab
from faultlab.campaign import CampaignError
from faultlab.campaign.identity import IdentityError, differences, weights_hash
from faultlab.cli import main
from faultlab.data import build_data
from faultlab.lightning import FaultCampaign
from faultlab.store import FRAME_COLUMNS, MIGRATIONS, ResultsStore
from faultlab.sweep import expand, load_study, parse_study
from faultlab.sweep.earlier import comparable, earlier_training
from faultlab.sweep.stored import study_record
from faultlab.training import load_classifier

OLD = Path(__file__).resolve().parent / "data" / "old_store"
FAULT = "drop(p={rate})"
QUESTION = "Do the doors meet on one run?"
OPTIONS = {"input_shape": [1, 8, 8], "num_classes": 4, "n_train": 64, "n_test": 32, "batch_size": 32}


def adam(lr: float) -> dict:
    """A study's ``training.model`` training with Adam at ``lr``."""
    return {"optimizer": {"class_path": "torch.optim.Adam", "init_args": {"lr": lr}}}


TRAINING = {"seeds": [0], "trainer": {"max_epochs": 1}, "model": adam(0.01)}
STUDY = {
    "name": "door", "question": QUESTION, "data": {"name": "synthetic", "options": OPTIONS},
    "training": TRAINING, "architectures": [{"arch": "mlp", "kwargs": {"hidden": [8]}}],
    "methods": [{"name": "vanilla"}], "campaigns": [{"fault": FAULT, "rates": [0.1, 0.3], "trials": 2}],
}
FIX = "use a new study name or a new --store"




def write_study(path: Path, **changes) -> Path:
    """STUDY with top-level ``changes`` (a dict value updates that block), as YAML at ``path``."""
    raw = copy.deepcopy(STUDY)
    for key, value in changes.items():
        raw[key] = {**raw[key], **value} if isinstance(value, dict) else value
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw))
    return path


def one_line(code: int, err: str, *fragments: str) -> None:
    print("MSG", err.strip())
    assert code == 2, err
    line = err.strip()
    assert line.startswith("faultlab: error: ") and "\n" not in line and "Traceback" not in line, err
    for fragment in fragments:
        assert fragment in line, line


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """The study swept once: its folder (door.yaml, s.sqlite, runs/), its checkpoint and its test tensors."""
    d = tmp_path_factory.mktemp("door")
    main(["sweep", str(write_study(d / "door.yaml")), "--store", str(d / "s.sqlite"), "--runs-dir", str(d / "runs")])
    (ckpt,) = (d / "runs" / "cache").glob("*.ckpt")
    x, y = build_data("synthetic", seed=0, **OPTIONS).tensors("test")
    return d, ckpt, x, y


@pytest.fixture
def store(swept, tmp_path) -> Path:
    """A copy of the swept store, for a test to write to."""
    d = swept[0]
    assert not Path(f"{d / 's.sqlite'}-wal").exists()  # every writer closed: the file is the whole store
    shutil.copy(d / "s.sqlite", tmp_path / "s.sqlite")
    return tmp_path / "s.sqlite"


def contents(path: Path) -> tuple[list[dict], int]:
    with ResultsStore(path, read_only=True) as s:
        return s.runs(), s.count_trials()


# ------------------------------------------------------------------------------------ one identity, every door


def test_the_same_weights_through_every_door_land_on_the_same_rows(swept, store, tmp_path, capsys):
    d, ckpt, x, y = swept
    (run,), n = contents(store)
    net = load_classifier(str(ckpt)).net
    assert n == 4 and run["weights_hash"] == weights_hash(net)  # the sweep's run: study + weights hash
    common = ["--fault", FAULT, "--rates", "0.1,0.3", "--trials", "2", "--seed", "0", "--study", "door",
              "--store", store, "--data", "synthetic", "--data-args", json.dumps({**OPTIONS, "seed": 0})]
    # the checkpoint file; its network's state_dict under --model/--weights
    code, out, err = cli(capsys, "campaign", "--checkpoint", ckpt, *common)
    assert code == 0 and f"run {run['run_id']} " in out and "0 new trials" in out, err
    torch.save(net.state_dict(), tmp_path / "w.pt")
    model_args = json.dumps({"in_features": 64, "hidden": [8], "num_classes": 4})
    code, out, err = cli(capsys, "campaign", "--model", "mlp", "--model-args", model_args,
                         "--weights", tmp_path / "w.pt", *common)
    assert code == 0 and f"run {run['run_id']} " in out and "0 new trials" in out, err
    # faultlab.run on the network; the FaultCampaign callback on its LightningModule
    df = faultlab.run(net, (x, y), fault=FAULT, rates=[0.1, 0.3], trials=2, seed=0, study="door", store=store)
    assert set(df.run_id) == {run["run_id"]} and len(df) == 4
    callback = FaultCampaign(FAULT, rates=[0.1, 0.3], trials=2, seed=0, study="door", store=store, data=(x, y))
    trainer = L.Trainer(logger=False, callbacks=[callback], enable_progress_bar=False, enable_model_summary=False)
    trainer.test(load_classifier(str(ckpt)), dataloaders=DataLoader(TensorDataset(x, y), batch_size=32), verbose=False)
    assert set(callback.results.run_id) == {run["run_id"]} and len(callback.results) == 4
    # the sweep again
    code, out, err = cli(capsys, "sweep", d / "door.yaml", "--store", store, "--runs-dir", d / "runs")
    assert code == 0 and "0 new trials" in out, err
    runs, trials = contents(store)
    assert [r["run_id"] for r in runs] == [run["run_id"]] and trials == n  # one run, no duplicate trial
    assert runs[0]["variant"] == run["variant"] and runs[0]["eval_hash"] == run["eval_hash"]  # as first stored


# ------------------------------------------------------------------------------------ the spec stored with the data


def test_the_report_shows_the_spec_the_sweep_ran_not_the_edited_file(swept, store, tmp_path, monkeypatch, capsys):
    d = swept[0]
    with ResultsStore(store, read_only=True) as s:
        stored = s.study_spec("door")
    assert stored == study_record(load_study(d / "door.yaml")[0]) and stored["question"] == QUESTION
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results").mkdir()
    shutil.copy(store, tmp_path / "results" / "door.sqlite")
    edited = write_study(tmp_path / "experiments" / "door.yaml", question="An edited question?",
                         training={"model": adam(0.5)})  # the spec file edited after the sweep
    code, out, err = cli(capsys, "report", "door", "--resamples", "50")
    assert code == 0, err
    page1 = " ".join(PdfReader(tmp_path / "reports" / "door.pdf").pages[0].extract_text().split())
    assert QUESTION in page1 and "edited" not in page1
    code, out, err = cli(capsys, "stats", "door", "--resamples", "50")
    assert code == 0 and f"study door: {QUESTION}" in out, err
    # --spec (report and stats): an explicit override, with one warning line when it differs from the stored spec
    code, out, err = cli(capsys, "stats", "door", "--spec", edited, "--resamples", "50", "--force")
    assert code == 0 and err.count("\n") == 1 and "warning: --spec" in err and "differs from the spec stored" in err
    assert "study door: An edited question?" in out


def test_study_specs_are_versioned_and_the_latest_is_read(tmp_path):
    with ResultsStore(tmp_path / "s.sqlite") as s:
        first = s.record_study("x", {"question": "A"})
        s.record_study("x", {"question": "B"})
        assert s.record_study("x", {"question": "A"}) == first  # the same spec: the same hash
        assert s.study_spec("x") == {"question": "A"} and s.study_spec("y") is None
        assert s.conn.execute("SELECT COUNT(*) FROM studies").fetchone()[0] == 2


# ------------------------------------------------------------------------------------ refusals


@pytest.mark.parametrize(("change", "fragment"), [
    ({"training": {"model": adam(0.02)}}, "with training.model.optimizer.init_args.lr 0.01; this spec has 0.02"),
    ({"training": {"trainer": {"max_epochs": 2}}}, "trained with training.trainer.max_epochs 1; this spec has 2"),
    ({"data": {"options": {**OPTIONS, "n_train": 48}}}, "trained with data.options.n_train 64; this spec has 48"),
    ({"data": {"eval_subset": 16}}, "evaluated with data.eval_subset unset; this spec has 16"),
    ({"seed": 1}, "ran drop(p={rate}) with campaign seed 0; this spec has 1"),
    ({"campaigns": [{**STUDY["campaigns"][0], "layers": {"kinds": ["linear"], "last": False}}]},
     "ran drop(p={rate}) with layers"),
])
def test_a_study_rerun_that_would_change_stored_numbers_is_refused(swept, store, tmp_path, capsys, change, fragment):
    d = swept[0]
    spec = write_study(tmp_path / "door.yaml", **change)
    before = contents(store)
    for dry in (["--dry-run"], []):  # refused before anything trains, and --dry-run says so too
        code, out, err = cli(capsys, "sweep", spec, "--store", store, "--runs-dir", d / "runs", *dry)
        one_line(code, err, "holds study 'door' run mlp-64-8-4 / vanilla / seed 0", fragment, FIX)
    assert contents(store) == before
    with ResultsStore(store, read_only=True) as s:
        assert s.study_spec("door")["question"] == QUESTION


def test_a_study_that_only_grows_or_rewords_is_not_refused(swept, store, tmp_path, capsys):
    spec = write_study(tmp_path / "door.yaml", question="Reworded?", training={"seeds": [0, 1]},
                       campaigns=[*STUDY["campaigns"], {"fault": "stuck_at(sa0=0,sa1={rate})", "rates": [0.01]}])
    code, out, err = cli(capsys, "sweep", spec, "--store", store, "--runs-dir", swept[0] / "runs", "--dry-run")
    assert code == 0 and "to do: 1 trainings" in out, err


def test_a_campaign_on_other_test_samples_or_another_seed_is_refused(swept, store, capsys):
    _, ckpt, x, y = swept
    net = load_classifier(str(ckpt)).net
    before = contents(store)
    run = dict(fault=FAULT, rates=[0.1, 0.3], trials=2, study="door", store=store)
    with pytest.raises(IdentityError, match="evaluated on 32 test samples.*this campaign evaluates 16.*never mix"):
        faultlab.run(net, (x, y), eval_subset=16, **run)
    with pytest.raises(IdentityError, match="this campaign evaluates other samples, 32"):
        faultlab.run(net, (x + 1, y), **run)
    with pytest.raises(CampaignError, match="with seed 0; this campaign has seed 1: use a new study name"):
        faultlab.run(net, (x, y), seed=1, **run)
    code, out, err = cli(capsys, "campaign", "--checkpoint", ckpt, "--data", "synthetic", "--data-args",
                         json.dumps({**OPTIONS, "seed": 0}), "--eval-subset", "16", "--fault", FAULT, "--rates", "0.1",
                         "--study", "door", "--store", store)
    one_line(code, err, "evaluated on 32 test samples", "this campaign evaluates 16")
    assert contents(store) == before  # the run's clean accuracy and test set are as they were


def test_a_second_network_for_a_stored_seed_is_refused(swept, store):
    _, ckpt, x, y = swept
    other = load_classifier(str(ckpt)).net
    with torch.no_grad():
        next(other.parameters()).add_(0.01)
    (run,), _ = contents(store)
    with pytest.raises(IdentityError, match=f"holds study 'door' run {run['variant']} / vanilla / seed 0 with other "
                                            "weights.*use a new study name"):
        faultlab.run(other, (x, y), fault=FAULT, rates=[0.1], trials=2, study="door", train_seed=0,
                     label=run["variant"], store=store)


# ------------------------------------------------------------------------------------ stores before migration 0004


def test_an_old_store_reads_unchanged_migrates_and_resumes(tmp_path, capsys):
    old = OLD / "old_store.sqlite"
    before = old.read_bytes()
    with ResultsStore(old, read_only=True) as s:  # read: migrated in memory, never in the file
        frame = s.to_frame()
        (swept,) = s.runs("oldtiny")
        assert s.study_spec("oldtiny") is None
    assert old.read_bytes() == before and sorted(p.name for p in OLD.iterdir() if "sqlite" in p.name) == [old.name]
    assert tuple(frame.columns) == FRAME_COLUMNS and len(frame) == 6 and frame.weights_hash.notna().all()
    store = tmp_path / "old.sqlite"
    shutil.copy(old, store)
    # its study file, in the earlier training format, is refused in one line that says how to write it now
    code, out, err = cli(capsys, "sweep", OLD / "study.yaml", "--store", store, "--runs-dir", tmp_path / "runs")
    one_line(code, err, "training.epochs is the old study format", "trainer: {max_epochs: N}")
    # rewritten so, the old sweep resumes: its run is its cell's (an earlier version labelled it mlp-64-8-10), so a
    # finished sweep trains nothing and runs no trial again
    raw = yaml.safe_load((OLD / "study.yaml").read_text())
    raw["training"] = {"seeds": [0], "trainer": {"max_epochs": 1}, "model": adam(0.01)}
    resume = ["sweep", tmp_path / "study.yaml", "--store", store, "--runs-dir", tmp_path / "runs"]
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(raw))
    code, out, err = cli(capsys, *resume)
    assert code == 0 and "0 new trials" in out and not (tmp_path / "runs").exists(), err
    # a rewrite that changes the run's training is refused like any other
    (tmp_path / "study.yaml").write_text(yaml.safe_dump({**raw, "training": {**raw["training"], "model": adam(0.02)}}))
    code, out, err = cli(capsys, *resume, "--dry-run")
    one_line(code, err, "run mlp-64-8-4 / vanilla / seed 0 trained with training.model.optimizer.init_args.lr 0.01; "
                        "this spec has 0.02")
    # grown by a rate, it trains the run again: the same training gives the same weights, so the run is adopted
    # (the old store knew it by the hash of its earlier training config), its weights hash recorded, its trials kept
    raw["campaigns"][0]["rates"] = [0.1, 0.2, 0.3]
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(raw))
    code, out, err = cli(capsys, *resume)
    assert code == 0 and "1 trained now), 2 new trials" in out, err
    (ckpt,) = (tmp_path / "runs" / "cache").glob("*.ckpt")
    with ResultsStore(store) as s:
        applied = [n for n, in s.conn.execute("SELECT name FROM schema_migrations ORDER BY rowid")]
        (run,) = s.runs("oldtiny")
        assert applied == [name for name, _ in MIGRATIONS] and s.count_trials() == 8
        assert run["run_id"] == swept["run_id"] and run["weights_hash"] == weights_hash(load_classifier(str(ckpt)).net)
        assert s.study_spec("oldtiny")["question"] == "Does an old store still read, migrate and resume?"
    # a faultlab.run campaign stored before: already keyed by its weights hash, the same rows
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 4))
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(16, 1, 8, 8, generator=g), torch.randint(0, 4, (16,), generator=g)
    df = faultlab.run(net, (x, y), fault=FAULT, rates=[0.2], trials=2, study="own", store=store)
    assert len(df) == 2 and df.run_id.nunique() == 1 and contents(store)[1] == 8


def test_two_architectures_with_one_label_are_refused():
    from faultlab.sweep import StudySpecError, expand, parse_study

    raw = copy.deepcopy(STUDY)
    raw["architectures"] = [{"arch": "mlp", "kwargs": {"hidden": [8]}}, {"arch": "mlp", "kwargs": {"hidden": [8],
                                                                                              "bias": True}}]
    with pytest.raises(StudySpecError, match="both labelled 'mlp-64-8-4'; give them distinct 'name:'s"):
        expand(parse_study(raw))


def test_an_earlier_training_config_reads_as_the_fit_config_of_its_training():
    """What an earlier sweep stored with its run (``epochs``, ``optimizer``, ``lr``, ``options``, a method mapping)
    reads as the fit config of the study that now writes the same training, so the run is adopted on resume."""
    old = {"arch": "mlp", "arch_kwargs": {"hidden": [8]}, "data": {"name": "synthetic", "options": OPTIONS},
           "fault_aware": {"method": "dropconnect", "fault": "drop(p=0.3)"}, "seed": 0, "epochs": 3,
           "optimizer": "sgd", "lr": 0.1, "options": {"weight_decay": 1e-4, "scheduler": "step", "milestones": [2]},
           "trainer": {"gradient_clip_val": 1.0}}
    sgd = {"class_path": "torch.optim.SGD", "init_args": {"lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4}}
    step = {"class_path": "torch.optim.lr_scheduler.MultiStepLR", "init_args": {"milestones": [2], "gamma": 0.1}}
    raw = {**STUDY, "training": {"seeds": [0], "trainer": {"max_epochs": 3, "gradient_clip_val": 1.0},
                                 "model": {"optimizer": sgd, "lr_scheduler": step}},
           "methods": [{"name": "dropconnect", "fault_aware": {"class_path": "DropConnect", "init_args": {"p": 0.3}}}]}
    (plan,) = expand(parse_study(raw))
    assert differences(comparable(earlier_training(old)), comparable(plan.config)) == []
    assert earlier_training({"training": old, "config_hash": "0123"}) == earlier_training(old)  # as main stored it
    assert earlier_training({**old, "lr": 0.2})["model"]["optimizer"]["init_args"]["lr"] == 0.2
    assert earlier_training(plan.config) is None and earlier_training({**old, "optimizer": "lion"}) is None
    # the Classifier's default optimizer is Adam at lr 1e-3, as the earlier default training block was
    default = {**old, "optimizer": "adam", "lr": 1e-3, "options": {}}
    assert comparable(earlier_training(default))["model"]["optimizer"] == comparable({})["model"]["optimizer"]
