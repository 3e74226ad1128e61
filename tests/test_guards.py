"""Bad input and interruptions: one clear line, exit status 2 (128 + signal for an interrupt), nothing written,
no input ever overwritten, read-only commands leave the store's folder byte for byte as it was (bad study specs
and LightningCLI configs: test_config_refusals.py)."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_run import cli
from tiny_checkpoint import fit_checkpoint

from faultlab.commands._guards import atomic_path
from faultlab.store import ResultsStore
from faultlab.store.migrations import MIGRATIONS

ROOT = Path(__file__).resolve().parents[1]
FAULT = "drop(p={rate})"




def one_line_error(code: int, err: str, fragment: str = "") -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("faultlab: error:"), err
    assert "Traceback" not in err and fragment in err, err


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with the hash of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def make_store(path: Path, study: str = "demo", trials: int = 4) -> Path:
    with ResultsStore(path) as s:
        for method in ("vanilla", "dropconnect"):
            run = f"r-{method}"
            s.add_run(
                {
                    "run_id": run,
                    "study": study,
                    "architecture": "mlp",
                    "variant": "mlp",
                    "method": method,
                    "train_seed": 0,
                    "clean_accuracy": 0.9,
                    "n_eval": 10,
                }
            )
            s.add_campaign({"campaign_id": f"c-{method}", "run_id": run, "fault": FAULT})
            s.add_trials(
                [
                    {
                        "campaign_id": f"c-{method}",
                        "run_id": run,
                        "fault": FAULT,
                        "rate": rate,
                        "trial": t,
                        "accuracy": 0.8 - rate + 0.01 * t,
                        "loss": 1.0,
                        "seconds": 0.1,
                    }
                    for rate in (0.1, 0.2)
                    for t in range(trials)
                ]
            )
    return path


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return make_store(tmp_path / "S.sqlite")


# ------------------------------------------------------------------------------------ outputs vs inputs


@pytest.mark.parametrize(
    "argv",
    [
        ["export", "--store", "{S}", "--out", "{S}", "--format", "csv"],
        ["export", "--store", "{S}", "--out", "{S}", "--format", "csv", "--force"],
        ["export", "--store", "{S}", "--out", "{S}-wal", "--format", "parquet", "--force"],
        ["report", "demo", "--store", "{S}", "--out", "{S}"],
        ["report", "demo", "--store", "{S}", "--out", "{S}", "--force"],
        ["stats", "demo", "--store", "{S}", "--csv", "{S}"],
        ["export", "--store", "{S}", "--out", "{dir}"],
        ["export", "--store", "{S}", "--out", "{dir}", "--format", "csv"],
        ["export", "--store", "{S}", "--out", "{dir}/study.csv"],  # an existing YAML renamed .csv
        ["export", "--store", "{S}", "--out", "{dir}/other.sqlite", "--format", "csv"],
        ["export", "--store", "{S}", "--out", "{dir}/t.parquet", "--format", "csv"],
        ["report", "demo", "--store", "{S}", "--out", "{dir}/study.yaml"],
        ["report", "demo", "--store", "{S}", "--spec", "{dir}/study.yaml", "--out", "{dir}/study.yaml", "--force"],
        ["stats", "demo", "--store", "{S}", "--csv", "{dir}/study.yaml"],
    ],
)
def test_an_output_never_overwrites_an_input(capsys, store, argv):
    folder = store.parent
    (folder / "study.yaml").write_text("name: demo\n")
    (folder / "study.csv").write_bytes(b"\x00\x01binary")
    make_store(folder / "other.sqlite")
    before = snapshot(folder)
    code, out, err = cli(capsys, *[a.format(S=store, dir=folder) for a in argv])
    one_line_error(code, err)
    assert snapshot(folder) == before and out == ""


def test_force_replaces_a_file_of_another_kind_but_a_store_only_when_it_is_not_read(capsys, store, tmp_path):
    other = tmp_path / "notes.csv"
    other.write_bytes(b"\x00binary notes")
    code, _, err = cli(capsys, "export", "--store", store, "--out", other)
    one_line_error(code, err, "--force")
    code, out, _ = cli(capsys, "export", "--store", store, "--out", other, "--force")
    assert code == 0 and other.read_text().startswith("study,run_id")
    code, out, _ = cli(capsys, "export", "--store", store, "--out", other)  # now a CSV output: replaced freely
    assert code == 0 and "wrote 16 trials" in out


def test_atomic_path_leaves_the_old_file_whole_when_the_write_fails(tmp_path):
    out = tmp_path / "t.csv"
    out.write_text("old,table\n")
    with pytest.raises(RuntimeError), atomic_path(out) as tmp:
        tmp.write_text("half a ta")
        raise RuntimeError("interrupted")
    assert out.read_text() == "old,table\n" and sorted(os.listdir(tmp_path)) == ["t.csv"]


# ------------------------------------------------------------------------------------ read-only commands


def test_read_only_commands_write_nothing_beside_the_store(capsys, store, tmp_path):
    export = tmp_path / "out"
    export.mkdir()
    before = snapshot(store.parent)
    listing = sorted(os.listdir(store.parent))
    code, _, err = cli(capsys, "export", "--store", store, "--out", export / "t.csv")
    assert code == 0, err
    code, _, err = cli(capsys, "stats", "demo", "--store", store, "--csv", export / "tables", "--resamples", "20")
    assert code == 0, err
    code, _, err = cli(capsys, "report", "demo", "--store", store, "--out", export / "demo.pdf", "--resamples", "20")
    assert code == 0, err
    after = {k: v for k, v in snapshot(store.parent).items() if not k.startswith("out/")}
    assert after == before
    assert sorted(os.listdir(store.parent)) == listing  # no -wal, no -shm
    assert (export / "demo.pdf").read_bytes().startswith(b"%PDF") and list((export / "tables").glob("*.csv"))
    assert not [p for p in export.rglob("*") if ".tmp" in p.name or p.name.startswith(".")]


def test_a_store_of_an_older_schema_is_read_without_being_upgraded(capsys, tmp_path):
    old = tmp_path / "old.sqlite"
    conn = sqlite3.connect(old, isolation_level=None)
    conn.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    from faultlab.store.migrations import split_statements

    for stmt in split_statements(MIGRATIONS[0][1]):
        conn.execute(stmt)
    conn.execute("INSERT INTO schema_migrations VALUES (?, 'then')", (MIGRATIONS[0][0],))
    conn.execute("INSERT INTO runs (run_id, study) VALUES ('r', 'old')")
    conn.execute("INSERT INTO trials (run_id, fault, rate, trial, accuracy) VALUES ('r', 'f', 0.1, 0, 0.5)")
    conn.close()
    before = snapshot(tmp_path)
    code, out, err = cli(capsys, "export", "--store", old, "--out", tmp_path / "t.csv")
    assert code == 0 and "wrote 1 trials" in out, err
    assert {k: v for k, v in snapshot(tmp_path).items() if k != "t.csv"} == before


@pytest.mark.parametrize("content", [b"", b"hello, not a store\n", "truncated"])
def test_a_bad_store_is_one_line_and_untouched(capsys, tmp_path, store, content):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(store.read_bytes()[:2048] if content == "truncated" else content)
    before = snapshot(tmp_path)
    for argv in (
        ["export", "--store", bad, "--out", tmp_path / "t.csv"],
        ["stats", "demo", "--store", bad],
        ["report", "demo", "--store", bad, "--out", tmp_path / "r.pdf"],
    ):
        code, _, err = cli(capsys, *argv)
        one_line_error(code, err)
    assert snapshot(tmp_path) == before


# ------------------------------------------------------------------------------------ numeric options


CAMPAIGN = ["campaign", "--checkpoint", "missing.ckpt", "--fault", FAULT, "--rates", "0.1", "--store", "{S}"]


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (CAMPAIGN + ["--eval-subset", "-5"], "--eval_subset"),
        (CAMPAIGN + ["--eval-subset", "0"], "--eval_subset"),
        (CAMPAIGN + ["--seed", "-1"], "--seed"),
        (CAMPAIGN + ["--seed", str(2**63)], "--seed"),
        (CAMPAIGN + ["--train-seed", "x"], "--train_seed"),
        (CAMPAIGN + ["--trials", "0"], "--trials"),
        (CAMPAIGN + ["--rates", "0.1,nan"], "--rates"),
        (CAMPAIGN + ["--rates", "0.1,1.5"], "outside [0, 1]"),
        (CAMPAIGN + ["--rates", ","], "--rates"),
        (CAMPAIGN + ["--min-trials", "1"], "--min_trials"),
        (CAMPAIGN + ["--max-trials", "0"], "--max_trials"),
        (CAMPAIGN + ["--ci-halfwidth", "0"], "--ci_halfwidth"),
        (CAMPAIGN + ["--bn-recalibration", "-1"], "--bn_recalibration"),
        (CAMPAIGN + ["--trials-per-pass", "0"], "--trials_per_pass"),
        (CAMPAIGN + ["--equal-count", "0,4", "--per-layer", "layer"], "--equal_count"),
        (CAMPAIGN + ["--device", "gpu"], "did you mean 'cuda'"),
        (CAMPAIGN + ["--rate", "0.1"], "did you mean --rates"),
        (CAMPAIGN + ["--check", "x.ckpt"], "--check: unknown option"),  # no abbreviations
        (["stats", "plan", "--margin", "1.5"], "--margin"),
        (["stats", "plan", "--margin", "0"], "--margin"),
        (["stats", "plan", "--confidence", "1"], "--confidence"),
        (["stats", "plan", "--confidence", "-0.5"], "--confidence"),
        (["stats", "plan", "--resamples", "0"], "--resamples"),
        (["stats", "plan", "--population", "0"], "--population"),
        (["stats", "plan", "--pilot-std", "-1"], "--pilot_std"),
        (["report", "demo", "--store", "{S}", "--fraction", "0"], "--fraction"),
        (["report", "demo", "--store", "{S}", "--seed", "-3"], "--seed"),
        (["sweep", "experiments/demo.yaml", "--workers", "0"], "--workers"),
        (["sweep", "experiments/demo.yaml", "--max-retries", "-1"], "--max_retries"),
        (["sweep", "experiments/demo.yaml", "--gpus-per-run", "-1"], "--gpus_per_run"),
    ],
)
def test_numeric_options_are_checked_when_parsed(capsys, store, argv, fragment):
    before = snapshot(store.parent)
    code, _, err = cli(capsys, *[a.replace("{S}", str(store)) for a in argv])
    one_line_error(code, err, fragment)
    assert snapshot(store.parent) == before


@pytest.mark.skipif(sys.platform != "linux", reason="uses chattr")
def test_read_only_store_is_refused_before_loading_anything(capsys, tmp_path, store):
    if subprocess.run(["chattr", "+i", str(store)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i not permitted here")
    try:
        from faultlab.store import StoreError

        with pytest.raises(StoreError, match="not writable"):
            ResultsStore(store)
    finally:
        subprocess.run(["chattr", "-i", str(store)])


# ------------------------------------------------------------------------------------ checkpoints, devices, data


def _checkpoint(path: Path, arch: str, data) -> Path:
    import lightning as L

    from faultlab.training import Classifier

    L.seed_everything(0, verbose=False)
    model = Classifier(arch=arch, num_classes=data.num_classes, input_shape=data.input_shape)
    return fit_checkpoint(path, model, data, steps=1)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    from faultlab.data import Moons, Synthetic

    folder = tmp_path_factory.mktemp("ckpts")
    return {
        "moons": _checkpoint(folder / "moons.ckpt", "moons_net", Moons(n_samples=64)),
        "synthetic": _checkpoint(folder / "mlp.ckpt", "mlp", Synthetic(n_train=64, n_test=32)),
    }


def campaign(checkpoint, store, *extra):
    return [
        "campaign",
        "--checkpoint",
        checkpoint,
        "--data",
        "synthetic",
        "--fault",
        FAULT,
        "--rates",
        "0.1",
        "--trials",
        "2",
        "--store",
        store,
        *extra,
    ]


def test_bad_checkpoints_devices_and_data_are_one_line_and_write_no_store(capsys, tmp_path, checkpoints):
    text = tmp_path / "notes.ckpt"
    text.write_text("not a checkpoint\n")
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(checkpoints["synthetic"].read_bytes()[:1500])
    store = tmp_path / "r.sqlite"
    cases = [
        (campaign(text, store), "cannot load checkpoint"),
        (campaign(truncated, store), "cannot load checkpoint"),
        (campaign(tmp_path, store), "is a folder"),
        (campaign(checkpoints["moons"], store, "--data", "mnist5k"), "trained on inputs of shape (2,)"),
        (campaign(checkpoints["synthetic"], store, "--data", "digits"), "trained on inputs of shape (1, 28, 28)"),
        (campaign(checkpoints["synthetic"], store, "--eval-subset", "5000"), "has only 256 samples"),
        (campaign(checkpoints["synthetic"], checkpoints["synthetic"]), "is the checkpoint this command reads"),
        (campaign(checkpoints["synthetic"], tmp_path / "notes.ckpt"), "not a results store"),
        (campaign(checkpoints["synthetic"], tmp_path), "is a folder"),
    ]
    import torch

    if not torch.cuda.is_available():
        cases.append((campaign(checkpoints["synthetic"], store, "--device", "cuda"), "no CUDA GPU"))
        cases.append((campaign(text, store, "--device", "cuda:1"), "no CUDA GPU"))  # before the checkpoint
    before = snapshot(tmp_path)
    for argv, fragment in cases:
        code, _, err = cli(capsys, *argv)
        one_line_error(code, err, fragment)
    assert snapshot(tmp_path) == before and not store.exists()


def test_an_immutable_store_is_refused_before_any_evaluation(capsys, tmp_path, checkpoints):
    store = make_store(tmp_path / "r.sqlite")
    if subprocess.run(["chattr", "+i", str(store)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i not permitted here")
    try:
        code, out, err = cli(capsys, *campaign(checkpoints["synthetic"], store))
    finally:
        subprocess.run(["chattr", "-i", str(store)])
    one_line_error(code, err, "not writable")
    assert "clean accuracy" not in out


# ------------------------------------------------------------------------------------ interrupts


def _count(store: Path) -> int:
    try:
        with ResultsStore(store, read_only=True) as s:
            return s.count_trials()
    except Exception:  # not created yet
        return 0


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_campaign_ends_in_one_line_and_resumes(tmp_path, checkpoints, signum):
    store = tmp_path / "r.sqlite"
    argv = [
        sys.executable,
        "-m",
        "faultlab.cli",
        *map(str, campaign(checkpoints["synthetic"], store)[:-4]),
        "--rates",
        "0.1,0.2,0.3",
        "--trials",
        "400",
        "--trials-per-pass",
        "1",
        "--store",
        str(store),
    ]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while _count(store) < 5 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err
    lines = [line for line in err.strip().splitlines() if line.startswith("faultlab:") or "Traceback" in line]
    assert len(lines) == 1 and "interrupted" in lines[0] and "re-run the same command to resume" in lines[0], err
    assert "Traceback" not in err
    stored = _count(store)
    assert f"{stored} trials of run" in lines[0]
    with sqlite3.connect(store) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
