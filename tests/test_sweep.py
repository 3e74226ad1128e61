"""Studies end to end through the CLI: rows, resume after SIGKILL, two workers, determinism, bad specs."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from cli_run import cli

from faultlab.cli import main
from faultlab.store import ResultsStore
from faultlab.sweep import StudySpecError, expand, load_study, parse_study

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "data" / "tiny_study.yaml"
COLS = ["run_id", "rate", "trial", "fault_seed", "accuracy", "loss"]


def sweep(*args, **kw):
    return subprocess.run([sys.executable, "-m", "faultlab.cli", "sweep", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, **kw)


def frame(store):
    with ResultsStore(store) as s:
        return s.to_frame("tiny")[COLS].sort_values(["run_id", "rate", "trial"]).reset_index(drop=True)


def write_spec(tmp_path, **changes):
    raw = yaml.safe_load(TINY.read_text())
    for key, value in changes.items():
        raw[key] = value
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run of the tiny study."""
    d = tmp_path_factory.mktemp("ref")
    res = sweep(TINY, "--store", d / "r.sqlite", "--runs-dir", d / "runs")
    assert res.returncode == 0, res.stderr[-3000:]
    return d, res


def test_tiny_study_stores_every_trial(reference, capsys):
    d, res = reference
    df = frame(d / "r.sqlite")
    assert len(df) == 8 * 2 * 3
    with ResultsStore(d / "r.sqlite") as s:
        runs = s.runs("tiny")
    assert len(runs) == 8 and {r["method"] for r in runs} == {"vanilla", "dropconnect"}
    assert "8 runs (8 trained now), 48 new trials" in res.stdout
    code, out, err = cli(capsys, "sweep", TINY, "--store", d / "r.sqlite", "--runs-dir", d / "runs")
    assert code == 0 and "0 trained now), 0 new trials" in out, err


@pytest.mark.slow
def test_same_spec_twice_gives_identical_accuracies(reference, tmp_path):
    d, _ = reference
    res = sweep(TINY, "--store", tmp_path / "b.sqlite", "--runs-dir", tmp_path / "runs")
    assert res.returncode == 0, res.stderr[-3000:]
    assert frame(tmp_path / "b.sqlite").equals(frame(d / "r.sqlite"))


@pytest.mark.slow
def test_resume_after_sigkill_gives_the_uninterrupted_rows(reference, tmp_path):
    d, _ = reference
    store, runs = tmp_path / "k.sqlite", tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-m", "faultlab.cli", "sweep", str(TINY), "--store", str(store),
                             "--runs-dir", str(runs)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    killed_at = None
    while time.time() < deadline and proc.poll() is None:
        if store.exists():
            with ResultsStore(store) as s:
                n = s.count_trials()
            if n >= 10:
                os.kill(proc.pid, signal.SIGKILL)
                killed_at = n
                break
        time.sleep(0.05)
    proc.wait()
    assert killed_at is not None and proc.returncode == -signal.SIGKILL, "sweep finished before it could be killed"
    assert len(frame(store)) < 48
    res = sweep(TINY, "--store", store, "--runs-dir", runs)
    assert res.returncode == 0, res.stderr[-3000:]
    assert frame(store).equals(frame(d / "r.sqlite"))


@pytest.mark.slow
def test_two_workers_share_one_store(reference, tmp_path):
    d, _ = reference
    res = sweep(TINY, "--store", tmp_path / "w.sqlite", "--runs-dir", d / "runs", "--workers", "2")
    assert res.returncode == 0, res.stderr[-3000:]
    df = frame(tmp_path / "w.sqlite")
    assert len(df) == 48 and not df.duplicated(["run_id", "rate", "trial"]).any()


def test_dry_run_prints_the_grid(tmp_path, capsys):
    """In process, without the estimate (its measured steps: tests/test_dry_run.py)."""
    code, out, _ = cli(capsys, "sweep", TINY, "--store", tmp_path / "d.sqlite", "--runs-dir", tmp_path / "runs",
                       "--dry-run", "--no-estimate")
    assert code == 0
    assert "8 runs = 2 architectures x 2 methods x 2 seeds" in out
    assert "to do: 8 trainings, 48 trials" in out
    assert not (tmp_path / "d.sqlite").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"architecturez": []}, "architecturez: unknown option (did you mean architectures?)"),
        ({"methods": []}, "methods: empty"),
        ({"campaigns": [{"fault": "drop(p={rate})", "rates": [0.1, 1.2]}]},
         "campaigns[0].rates: 1.2 is outside [0, 1]"),
        ({"architectures": [{"arch": "mlp"}, {"arch": "mlp"}]}, "architectures: duplicate entries"),
        ({"architectures": [{"arch": "resnet2O"}]}, "architectures[0].arch: unknown architecture 'resnet2O'"),
        ({"training": {"trainer": {"max_epochs": "two"}}}, "training.trainer.max_epochs: expected int"),
        ({"training": {"epochs": 2}}, "training.epochs is the old study format"),
        ({"campaigns": [{"fault": "drop(p={rate})", "rates": [0.1], "seed": 3}]},
         "campaigns[0].seed: set by the study"),
        ({"campaigns": [{"fault": "drop(p=0.1)", "rates": [0.1]}]}, "campaigns[0].fault"),
        ({"methods": [{"name": "x", "fault_aware": {"method": "dropkonnect"}}]}, "methods[0].fault_aware"),
    ],
)
def test_bad_specs_are_one_clear_line(tmp_path, change, message, capsys):
    """In process (the exit path of a subprocess is the malformed-YAML test's): exit 2, one line, nothing written."""
    path = write_spec(tmp_path, **change)
    with pytest.raises(StudySpecError) as err:
        load_study(path)
    assert message in str(err.value)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["sweep", str(path), "--store", str(tmp_path / "s.sqlite"), "--runs-dir", str(tmp_path / "runs")])
    err_text = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and message in err_text and "\n" not in err_text and "Traceback" not in err_text
    assert not (tmp_path / "s.sqlite").exists()


def test_malformed_yaml_and_bad_store_folder(tmp_path, capsys):
    """The malformed YAML through a real process (its exit status), the bad folder in this one."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\narchitectures: [\n")
    res = sweep(bad)
    assert res.returncode == 2 and "malformed YAML" in res.stderr
    code, _, err = cli(capsys, "sweep", TINY, "--store", "/nonexistent/faultlab/s.sqlite")
    assert code == 2 and "/nonexistent/faultlab" in err and "Traceback" not in err


@pytest.mark.parametrize("path", sorted(ROOT.glob("experiments/*.yaml")), ids=lambda p: p.stem)
def test_every_study_in_experiments_passes_its_dry_run(path, tmp_path, capsys):
    """``faultlab sweep X --dry-run``: every class path, option and value of the study checked, nothing written
    (the time estimate's measured steps are tested on a tiny study: tests/test_dry_run.py)."""
    main(["sweep", str(path), "--dry-run", "--no-estimate", "--store", str(tmp_path / "s.sqlite"),
          "--runs-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert " runs = " in out and "to do:" in out
    assert not list(tmp_path.iterdir())


def test_run_ids_follow_the_config():
    spec = parse_study(yaml.safe_load(TINY.read_text()))
    plans = expand(spec)
    assert len({p.config_hash for p in plans}) == 8
    raw = yaml.safe_load(TINY.read_text())
    raw["training"]["model"]["optimizer"]["init_args"]["lr"] = 0.02
    changed = expand(parse_study(raw))
    assert not {p.config_hash for p in plans} & {p.config_hash for p in changed}


def faultlab(*args):
    return subprocess.run([sys.executable, "-m", "faultlab.cli", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


@pytest.mark.slow
def test_stats_and_report_commands_on_a_swept_study(reference, tmp_path):
    d, _ = reference
    res = faultlab("stats", "tiny", "--store", d / "r.sqlite", "--csv", tmp_path / "tables", "--resamples", "200")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "== method_comparison ==" in res.stdout and (tmp_path / "tables" / "method_comparison.csv").is_file()
    pdf = tmp_path / "tiny.pdf"
    res = faultlab("report", "tiny", "--store", d / "r.sqlite", "--out", pdf, "--spec", TINY, "--resamples", "200")
    assert res.returncode == 0, res.stderr[-3000:]
    assert pdf.is_file() and "wrote" in res.stdout
    missing = faultlab("report", "nostudy", "--store", d / "r.sqlite", "--out", tmp_path / "x.pdf")
    assert missing.returncode == 2 and "has no trials" in missing.stderr and not (tmp_path / "x.pdf").exists()
    assert faultlab("report", "tiny", "--store", tmp_path / "none.sqlite").returncode == 2


def test_stats_plan():
    res = faultlab("stats", "plan", "--margin", "0.01", "--confidence", "0.99", "--pilot-std", "0.03",
                   "--halfwidth", "0.005")
    assert res.returncode == 0
    assert "= 16588 trials per cell" in res.stdout and "n = 243 trials per cell" in res.stdout
