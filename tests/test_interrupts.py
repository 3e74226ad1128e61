"""No harm from an interrupt: a sweep (local workers or Ray tasks) stopped by SIGINT or SIGTERM stops everything it
started and counts what is stored; stats and report interrupted end in one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import lightning  # noqa: F401  (imported here, its log handler keeps the real stderr, not one test's capture)
import pytest
import yaml
from reliability_tools import alive, catches_sigterm, ended_by, trials_in, workers_of
from test_guards import make_store, one_line_error, snapshot
from test_reliability import FAULT, STUDY, write_study

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------ interrupts

SLOW_STUDY = {**STUDY, "name": "intr", "training": {"seeds": [0, 1, 2, 3], "trainer": {"max_epochs": 1}},
              "data": {"name": "moons", "options": {"n_samples": 4000, "batch_size": 256}},
              "architectures": [{"arch": "mlp", "kwargs": {"hidden": [16]}}],
              "campaigns": [{"fault": FAULT, "rates": [0.1, 0.2, 0.3], "trials": 400, "trials_per_pass": 1}]}


def interrupt_sweep(tmp_path: Path, signum: int, *extra: str) -> tuple[subprocess.Popen, str, int, set[int]]:
    spec = write_study(tmp_path, yaml.safe_dump(SLOW_STUDY, sort_keys=False))
    store = tmp_path / "s.sqlite"
    proc = subprocess.Popen([sys.executable, "-m", "faultlab.cli", "sweep", str(spec), "--store", str(store),
                             "--runs-dir", str(tmp_path / "runs"), "--workers", "2", *extra],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline, workers = time.monotonic() + 240, set()
    while trials_in(store) < 5 and time.monotonic() < deadline and proc.poll() is None:
        workers |= workers_of(proc.pid)
        time.sleep(0.1)
    workers |= workers_of(proc.pid)
    assert proc.poll() is None, "the sweep ended before it could be interrupted"
    proc.send_signal(signum)
    t0 = time.monotonic()
    _, err = proc.communicate(timeout=60)
    return proc, err, time.monotonic() - t0, workers


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_an_interrupted_sweep_stops_its_workers_and_counts_what_is_stored(tmp_path):
    proc, err, seconds, workers = interrupt_sweep(tmp_path, signal.SIGINT)
    assert ended_by(proc.returncode, signal.SIGINT) and seconds < 20, (seconds, err)
    lines = [line for line in err.splitlines() if line.startswith("faultlab:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    stored = trials_in(tmp_path / "s.sqlite")
    assert f"interrupted (SIGINT): {stored} trials of study intr are stored" in lines[0]
    assert workers and not [p for p in workers if alive(p)], "a worker outlived the sweep"
    time.sleep(2)
    assert trials_in(tmp_path / "s.sqlite") == stored, "a trial was written after the sweep ended"
    assert not list((tmp_path / "runs").rglob("*.tmp"))


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_an_interrupted_ray_sweep_stops_its_tasks_and_counts_what_is_stored(tmp_path):
    pytest.importorskip("ray")
    proc, err, seconds, _ = interrupt_sweep(tmp_path, signal.SIGTERM, "--executor", "ray")
    assert ended_by(proc.returncode, signal.SIGTERM) and seconds < 40, (seconds, err)
    lines = [line for line in err.splitlines() if line.startswith("faultlab:")]
    stored = trials_in(tmp_path / "s.sqlite")
    assert len(lines) == 1 and f"interrupted (SIGTERM): {stored} trials" in lines[0], err
    time.sleep(3)
    assert trials_in(tmp_path / "s.sqlite") == stored, "a trial was written after the sweep ended"


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
@pytest.mark.parametrize("command", ["stats", "report"])
def test_stats_and_report_interrupted_end_in_one_line(tmp_path, command):
    store = make_store(tmp_path / "S.sqlite", trials=40)
    out = ["--csv", str(tmp_path / "tables")] if command == "stats" else ["--out", str(tmp_path / "r.pdf")]
    before = snapshot(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "faultlab.cli", command, "demo", "--store", str(store),
                             "--resamples", "200000", *out], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not catches_sigterm(proc.pid) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert ended_by(proc.returncode, signal.SIGINT), err
    one_line_error(2, err, "interrupted (SIGINT): no output was written or changed")
    assert snapshot(tmp_path) == before and sorted(os.listdir(tmp_path)) == ["S.sqlite"]
