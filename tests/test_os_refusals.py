"""No harm from the operating system's refusals (a full disk, an unwritable folder, a read-only store): every
output is one line with exit status 2, committed rows are kept, a refused fit leaves no log behind and its
checkpoint whole, and concurrent reports to one path each write their own file."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import lightning  # noqa: F401  (imported here, its log handler keeps the real stderr, not one test's capture)
import pytest
from reliability_tools import file_size_limit, trials_in, unwritable
from test_guards import _checkpoint, cli, make_store, one_line_error, snapshot
from test_reliability import write_study

from faultlab.cli import main
from faultlab.store import ResultsStore

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------ the OS says no


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, Path]:
    """A store, and earlier outputs of every command (which a refused write must leave whole: the tests that
    share them check that they do)."""
    store = make_store(tmp_path_factory.mktemp("outputs") / "S.sqlite")
    out = store.parent / "out"
    out.mkdir()
    for argv in (["export", "--store", store, "--out", out / "t.csv"],
                 ["stats", "demo", "--store", store, "--csv", out / "tables", "--resamples", "20"],
                 ["report", "demo", "--store", store, "--out", out / "r.pdf", "--resamples", "20"]):
        main([str(a) for a in argv])
    return {"store": store, "out": out}


def writes(o: dict[str, Path]) -> list[list]:
    s, out = o["store"], o["out"]
    return [["export", "--store", s, "--out", out / "t.csv"],
            ["export", "--store", s, "--out", out / "t.parquet"],
            ["stats", "demo", "--store", s, "--csv", out / "tables", "--resamples", "20"],
            ["report", "demo", "--store", s, "--out", out / "r.pdf", "--resamples", "20"]]


def test_a_full_disk_is_one_line_for_every_output_and_harms_nothing(capsys, outputs):
    before = snapshot(outputs["store"].parent)
    for argv in writes(outputs):
        with file_size_limit(512):
            code, _, err = cli(capsys, *argv)
        one_line_error(code, err, "cannot write")
        assert "ulimit -f" in err and "existing files are unchanged" in err
    assert snapshot(outputs["store"].parent) == before  # no half-written, empty or temporary file


def test_an_unwritable_output_folder_is_one_line_before_any_work(capsys, outputs):
    before = snapshot(outputs["store"].parent)
    with unwritable(outputs["out"]):
        for argv in writes(outputs):
            code, _, err = cli(capsys, *argv)
            one_line_error(code, err, "not writable")
    assert snapshot(outputs["store"].parent) == before


def test_a_full_disk_under_the_store_is_one_line_and_keeps_every_committed_row(capsys, tmp_path):
    from test_guards import campaign

    from faultlab.data import Synthetic

    ckpt = _checkpoint(tmp_path / "mlp.ckpt", "mlp", Synthetic(n_train=64, n_test=32))
    store = make_store(tmp_path / "r.sqlite")
    n0 = trials_in(store)
    with file_size_limit(store.stat().st_size + 16384):
        code, _, err = cli(capsys, *campaign(ckpt, store)[:-6], "--rates", "0.1,0.2,0.3", "--trials", "3000",
                           "--trials-per-pass", "50", "--store", store)
    one_line_error(code, err, f"cannot write store {store}")
    with sqlite3.connect(store) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert trials_in(store) >= n0


def test_a_refused_fit_leaves_no_log_behind_and_its_checkpoint_whole(capsys, tmp_path):
    root = tmp_path / "run"
    (root / "checkpoints").mkdir(parents=True)
    with zipfile.ZipFile(root / "checkpoints" / "last.ckpt", "w") as z:  # an earlier checkpoint
        z.writestr("archive/data.pkl", b"earlier weights")
    before = snapshot(tmp_path)
    argv = ["fit", "--config", ROOT / "experiments/train/moons.yaml", "--trainer.max_epochs", "1",
            "--trainer.default_root_dir", root]
    with file_size_limit(2048):
        code, _, err = cli(capsys, *argv)
    one_line_error(code, err, f"cannot write faultlab fit outputs under {root}")
    with unwritable(root):
        code, _, err = cli(capsys, *argv)
    one_line_error(code, err, "cannot write")
    assert snapshot(tmp_path) == before and sorted(p.name for p in root.rglob("*")) == ["checkpoints", "last.ckpt"]


def test_a_refused_runs_dir_is_one_line_before_any_work(capsys, tmp_path):
    big = [{"arch": "mlp", "kwargs": {"hidden": [512, 512]}}]  # a 1 MB checkpoint: larger than the store
    spec, store, runs = write_study(tmp_path, architectures=big), tmp_path / "s.sqlite", tmp_path / "runs"
    runs.mkdir()
    with unwritable(runs):
        code, _, err = cli(capsys, "sweep", spec, "--store", store, "--runs-dir", runs / "x")
    one_line_error(code, err, "--runs-dir")
    assert not store.exists()
    with file_size_limit(512 * 1024):  # the checkpoint cannot be written, the store can
        code, _, err = cli(capsys, "sweep", spec, "--store", store, "--runs-dir", runs)
    one_line_error(code, err, "cannot write checkpoint")
    assert not [p for p in runs.rglob("*") if p.is_file()] and trials_in(store) == 0


@pytest.mark.skipif(sys.platform != "linux", reason="mounts a tmpfs")
def test_a_really_full_disk_is_one_line(capsys, tmp_path):
    """ENOSPC from a full 1 MiB tmpfs (root only; the RLIMIT_FSIZE cases above run everywhere)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        store = make_store(disk / "S.sqlite")
        with contextlib.suppress(OSError), (disk / "filler").open("wb") as f:  # until the disk is full
            while True:
                f.write(b"\0" * 4096)
                f.flush()
        before = snapshot(disk)
        for argv in (["export", "--store", store, "--out", disk / "t.csv"],
                     ["report", "demo", "--store", store, "--out", disk / "r.pdf", "--resamples", "20"]):
            code, _, err = cli(capsys, *argv)
            one_line_error(code, err, "the disk is full")
        assert snapshot(disk) == before
    finally:
        if subprocess.run(["umount", str(disk)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(disk)])  # a file still open: detach it now, free it when closed


def _render(store: str, out: str) -> None:
    from faultlab.report import render_report

    with ResultsStore(store, read_only=True) as s:
        render_report(s, "demo", out, n_resamples=20)


@pytest.mark.skipif(sys.platform != "linux", reason="forks")
def test_concurrent_reports_to_one_path_each_write_their_own_file(tmp_path):
    """Two ``faultlab report`` runs to one --out shared one temporary file: one crashed, the PDF was corrupt."""
    import multiprocessing

    pypdf = pytest.importorskip("pypdf")
    store = make_store(tmp_path / "S.sqlite")
    out = tmp_path / "r.pdf"
    fork = multiprocessing.get_context("fork")  # the renderer faultlab report runs, in 2 processes at once
    procs = [fork.Process(target=_render, args=(str(store), str(out))) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    assert [p.exitcode for p in procs] == [0, 0]
    assert len(pypdf.PdfReader(out).pages) > 3
    assert sorted(os.listdir(tmp_path)) == ["S.sqlite", "r.pdf"]
