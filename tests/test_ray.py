"""Studies as Ray tasks on a local Ray instance: the same rows as the local executor, a worker SIGKILLed
mid-campaign (Ray's retry, or a re-run, completes the study with exactly the uninterrupted rows), the CLI."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
import yaml

from faultlab import FaultlabError
from faultlab.cli import main
from faultlab.store import ResultsStore
from faultlab.sweep import expand, parse_study, run_study
from faultlab.sweep.ray_executor import MISSING_RAY, run_on_ray

ray = pytest.importorskip("ray")

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "data" / "tiny_study.yaml"
KEY = ["run_id", "fault", "rate", "trial", "layer", "equal_count"]  # a trial's unique key in the store
VALUES = ["fault_seed", "accuracy"]
KILL_TRIALS = 2 * 150  # 2 rates x 150 single-trial passes of a conv net: ~3 s of campaign to land the kill in


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False)
    yield
    ray.shutdown()


def study(**changes):
    """The tiny test study cut down to one method and one seed (runs train in well under a second)."""
    raw = yaml.safe_load(TINY.read_text())
    raw["methods"], raw["training"]["seeds"] = raw["methods"][:1], [0]
    raw.update(changes)
    return parse_study(raw)


def kill_study():
    raw = yaml.safe_load(TINY.read_text())
    spec = study(architectures=raw["architectures"][1:], campaigns=[{**raw["campaigns"][0], "trials": 150}],
                 data={**raw["data"], "options": {**raw["data"]["options"], "n_test": 2048}})
    assert len(expand(spec)) == 1
    return spec


def rows(store):
    """The trial rows (key and values), sorted by key."""
    with ResultsStore(store) as s:
        df = s.to_frame()
    return df[KEY + VALUES].sort_values(KEY).reset_index(drop=True)


@contextmanager
def one_thread():
    """Ray tasks use torch threads = their CPUs (1): the local reference must too, since float sums (and so
    accuracies) depend on the thread count."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="module")
def kill_reference(tmp_path_factory):
    """An uninterrupted (local, in-process) run of the kill study."""
    d = tmp_path_factory.mktemp("kill_ref")
    with one_thread():
        run_study(kill_study(), str(d / "ref.sqlite"), str(d / "runs"))
    df = rows(d / "ref.sqlite")
    assert len(df) == KILL_TRIALS
    return df


def test_ray_executor_gives_the_rows_of_the_local_one(tmp_path):
    spec = study()
    with one_thread():
        local = run_study(spec, str(tmp_path / "local.sqlite"), str(tmp_path / "runs_local"))
    summary = run_study(spec, str(tmp_path / "ray.sqlite"), str(tmp_path / "runs_ray"), executor="ray")
    assert summary.runs == 2 and summary.trained == 2 and summary.new_trials == local.new_trials == 2 * 6
    assert rows(tmp_path / "ray.sqlite").equals(rows(tmp_path / "local.sqlite"))
    again = run_study(spec, str(tmp_path / "ray.sqlite"), str(tmp_path / "runs_ray"), executor="ray")
    assert again.new_trials == 0 and again.outcomes == []


@pytest.mark.slow
def test_a_cluster_sweep_uses_the_rollback_journal(tmp_path, monkeypatch):
    """With --address (writers on several machines) the driver and every task open the store with SQLite's
    rollback journal; one task opening it in WAL mode would leave the file in WAL mode."""
    import sqlite3

    monkeypatch.delenv("FAULTLAB_STORE_JOURNAL", raising=False)
    store = tmp_path / "cluster.sqlite"
    summary = run_study(study(), str(store), str(tmp_path / "runs"), executor="ray", address="auto")
    assert summary.new_trials == 2 * 6
    assert sqlite3.connect(store).execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert "FAULTLAB_STORE_JOURNAL" not in os.environ


def task_pids(spec):
    """Pids of the Ray workers running this study's task (Ray titles them ``ray::<task name>``)."""
    title = f"ray::faultlab {expand(spec)[0].describe()}".encode()
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if f.read().split(b"\0")[0].strip() == title:
                    pids.append(int(pid))
        except OSError:
            continue
    return pids


def sweep_and_kill(spec, store, runs, max_retries):
    """Run the study on Ray in a thread, SIGKILL its worker once trials are stored; return
    (rows stored at the kill, the thread's summary or exception)."""
    result = {}

    def target():
        try:
            result["value"] = run_study(spec, str(store), str(runs), executor="ray", max_retries=max_retries)
        except Exception as err:  # noqa: BLE001 - handed to the test
            result["value"] = err

    thread = threading.Thread(target=target)
    thread.start()
    killed_at, deadline = None, time.time() + 120
    while killed_at is None and thread.is_alive() and time.time() < deadline:
        if store.exists():
            with ResultsStore(store) as s:
                n = s.count_trials()
            pids = task_pids(spec)
            if n >= 20 and pids:
                for pid in pids:
                    os.kill(pid, signal.SIGKILL)
                with ResultsStore(store) as s:
                    killed_at = s.count_trials()
        time.sleep(0.02)
    thread.join(timeout=180)
    assert not thread.is_alive()
    assert killed_at is not None, "the study finished before its worker could be killed"
    return killed_at, result["value"]


@pytest.mark.slow
def test_killed_worker_without_retries_then_a_rerun_completes(kill_reference, tmp_path):
    spec, store, runs = kill_study(), tmp_path / "k.sqlite", tmp_path / "runs"
    killed_at, outcome = sweep_and_kill(spec, store, runs, max_retries=0)
    assert isinstance(outcome, FaultlabError) and "1 of 1 runs failed" in str(outcome)
    assert "run the same sweep again" in str(outcome)
    partial = rows(store)
    assert killed_at <= len(partial) < KILL_TRIALS, "the kill did not land mid-campaign"
    summary = run_study(spec, str(store), str(runs), executor="ray", max_retries=0)
    assert summary.trained == 0 and summary.new_trials == KILL_TRIALS - len(partial)
    df = rows(store)
    assert not df.duplicated(KEY).any() and df.equals(kill_reference)


@pytest.mark.slow
def test_killed_worker_is_retried_by_ray(kill_reference, tmp_path):
    spec, store, runs = kill_study(), tmp_path / "k.sqlite", tmp_path / "runs"
    killed_at, summary = sweep_and_kill(spec, store, runs, max_retries=1)
    assert not isinstance(summary, Exception), summary
    # the retried task found the checkpoint and the stored trials: it ran only the missing ones
    assert [o.trained for o in summary.outcomes] == [False] and summary.new_trials <= KILL_TRIALS - killed_at
    df = rows(store)
    assert not df.duplicated(KEY).any() and df.equals(kill_reference)


def test_missing_ray_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` raise ImportError
    with pytest.raises(FaultlabError, match=MISSING_RAY.replace("[", r"\[").replace("]", r"\]")):
        run_on_ray(expand(study()), study(), str(tmp_path / "s.sqlite"), str(tmp_path / "runs"), print)


@pytest.mark.slow
def test_cli_sweep_on_a_local_ray_instance(tmp_path):
    """The real user path: no Ray in the process, so the CLI starts (and stops) a local instance."""
    spec = tmp_path / "spec.yaml"
    raw = yaml.safe_load(TINY.read_text())
    raw["methods"], raw["training"]["seeds"] = raw["methods"][:1], [0]
    spec.write_text(yaml.safe_dump(raw))
    res = subprocess.run([sys.executable, "-m", "faultlab.cli", "sweep", str(spec), "--store", str(tmp_path / "s.db"),
                          "--runs-dir", str(tmp_path / "runs"), "--executor", "ray", "--workers", "2"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "2 runs (2 trained now), 12 new trials" in res.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--address", "auto"], "--address needs --executor ray"),
    (["--executor", "ray", "--max-retries", "-1"], "--max_retries: -1 does not satisfy v>=0"),
    (["--executor", "ray", "--address", "not-an-address"], "--address not-an-address: Invalid address format"),
    (["--gpus-per-run", "1"], "--gpus-per-run needs --executor ray"),
    (["--executor", "ray", "--gpus-per-run", "-1"], "--gpus_per_run: -1 does not satisfy v>=0"),
    (["--executor", "ray", "--address", "127.0.0.1:{closed}"], "--address 127.0.0.1:{closed}: nothing answers there"),
    (["--executor", "ray", "--address", "ray://127.0.0.1:{closed}"], "nothing answers there"),
])
def test_cli_option_errors_are_one_line(monkeypatch, capsys, tmp_path, args, message):
    with socket.socket() as probe:  # a port that was just free: nothing listens there
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    args, message = [a.format(closed=closed) for a in args], message.format(closed=closed)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)  # as in a fresh CLI process, not this test's Ray
    t0 = time.monotonic()
    with pytest.raises(SystemExit) as exit_:
        main(["sweep", str(TINY), "--store", str(tmp_path / "e.sqlite"), "--runs-dir", str(tmp_path / "runs"), *args])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith("faultlab: error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "runs").exists()
    if "answers" in message:
        assert not (tmp_path / "e.sqlite").exists()
    assert time.monotonic() - t0 < 30  # no minutes of Ray connection retries


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without GPUs")
def test_gpus_per_run_beyond_the_cluster_is_one_line_and_writes_no_rows(tmp_path):
    store = tmp_path / "s.sqlite"
    with pytest.raises(FaultlabError, match=r"--gpus-per-run 1: no node of the Ray cluster has that many GPUs "
                                            r"\(largest: 0\)"):
        run_study(study(), str(store), str(tmp_path / "runs"), executor="ray", gpus_per_run=1)
    with ResultsStore(store) as s:
        assert s.count_trials() == 0
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_runs_reserving_gpus_schedule_and_complete(tmp_path):
    """Tasks asking for half a GPU run on an instance declaring one (Ray schedules on declared resources;
    without a real GPU the task itself falls back to the CPU)."""
    script = f"""
import ray, yaml
from faultlab.sweep import parse_study, run_study
raw = yaml.safe_load(open({str(TINY)!r}))
raw["methods"], raw["training"]["seeds"] = raw["methods"][:1], [0]
ray.init(num_cpus=2, num_gpus=1, include_dashboard=False)
s = run_study(parse_study(raw), {str(tmp_path / "s.sqlite")!r}, {str(tmp_path / "runs")!r}, executor="ray",
              gpus_per_run=0.5)
print("runs", s.runs, "trials", s.new_trials)
"""
    res = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "runs 2 trials 12" in res.stdout
