"""One configuration language: every command takes --config and --print_config (a printed config runs unchanged),
config files are read safely (no duplicated keys, no alias bombs), and the small things: --version, the fault
list, default output folders in a fresh clone, no Lightning noise."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
from cli_run import cli
from tiny_checkpoint import fit_checkpoint

from faultlab.parsing import MAX_NODES, ConfigError, load_yaml

ROOT = Path(__file__).resolve().parents[1]
FAULT = "drop(p={rate})"




def one_line(code: int, err: str, fragment: str) -> None:
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("faultlab: error:"), err
    assert fragment in lines[0], lines[0]


# ------------------------------------------------------------------------------------ safe YAML

BOMB = "\n".join(["    a: &a [x, x, x, x, x, x, x, x, x]"]
                 + [f"    {chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]" for i in range(9)])


def test_a_duplicated_key_is_one_line_naming_key_and_lines(tmp_path, capsys):
    study = (ROOT / "tests/data/tiny_study.yaml").read_text().replace("  seeds: [0, 1]\n",
                                                                      "  seeds: [0, 1]\n  seeds: [0]\n")
    (tmp_path / "s.yaml").write_text(study)
    code, _, err = cli(capsys, "sweep", tmp_path / "s.yaml", "--dry-run", "--store", tmp_path / "x.sqlite")
    one_line(code, err, "key 'seeds' is given twice (lines 7 and 8)")
    (tmp_path / "c.yaml").write_text(f"fault: {FAULT}\nrates: [0.1]\ntrials: 3\ntrials: 5\n")
    code, _, err = cli(capsys, "campaign", "--config", tmp_path / "c.yaml", "--checkpoint", "x.ckpt")
    one_line(code, err, "key 'trials' is given twice (lines 3 and 4)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml", "s.yaml"]


def test_an_alias_bomb_is_refused_at_once(tmp_path, capsys):
    """'Billion laughs' under architectures[].kwargs: 9^10 values if expanded; refused from the node graph."""
    (tmp_path / "bomb.yaml").write_text(f"name: bomb\narchitectures:\n  - arch: mlp\n    kwargs:\n{BOMB}\n")
    t0 = time.perf_counter()
    code, _, err = cli(capsys, "sweep", tmp_path / "bomb.yaml", "--dry-run", "--store", tmp_path / "x.sqlite")
    seconds = time.perf_counter() - t0
    one_line(code, err, f"aliases expand to more than {MAX_NODES:,} values")
    assert seconds < 1.0, seconds
    with pytest.raises(ConfigError, match="refers to the node that contains it"):
        load_yaml("a: &a [1, *a]\n")
    assert load_yaml("x: &x {k: 1e-3}\ny: *x\nd: 2024-01-01\n") == {"x": {"k": 0.001}, "y": {"k": 0.001},
                                                                     "d": "2024-01-01"}


# ------------------------------------------------------------------------------------ --print_config


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    import lightning as L

    from faultlab.data import Synthetic
    from faultlab.training import Classifier

    path = tmp_path_factory.mktemp("ckpt") / "mlp.ckpt"
    L.seed_everything(0, verbose=False)
    data = Synthetic(n_train=64, n_test=32)
    return fit_checkpoint(path, Classifier(arch="mlp", num_classes=data.num_classes, input_shape=data.input_shape),
                          data, steps=1)


def test_a_printed_campaign_config_runs_unchanged(tmp_path, capsys, checkpoint):
    flags = ["--checkpoint", checkpoint, "--data", "synthetic", "--fault", FAULT, "--rates", "0.1,0.2", "--trials",
             "2", "--layers.kinds", "linear", "--store", tmp_path / "a.sqlite"]
    code, printed, _ = cli(capsys, "campaign", *flags, "--print_config")
    assert code == 0 and "fault: drop(p={rate})" in printed
    (tmp_path / "c.yaml").write_text(printed)
    code, out, err = cli(capsys, "campaign", "--config", tmp_path / "c.yaml")
    assert code == 0, err
    assert re.search(r"clean accuracy [\d.]+ on 256 test samples; 4 new trials", out)
    code, bare, _ = cli(capsys, "campaign", "--print_config")  # every default, then the options after --config
    assert code == 0
    (tmp_path / "bare.yaml").write_text(bare)
    code, out, err = cli(capsys, "campaign", "--config", tmp_path / "bare.yaml", *flags[:-1], tmp_path / "b.sqlite")
    assert code == 0 and "4 new trials" in out, err


def test_a_printed_study_runs_unchanged(tmp_path, capsys):
    store = tmp_path / "d.sqlite"
    code, printed, _ = cli(capsys, "sweep", "experiments/demo.yaml", "--print_config")
    assert code == 0 and "class_path: DropConnect" in printed and "max_epochs: 2" in printed
    (tmp_path / "demo.yaml").write_text(printed)
    fresh = ("--store", store, "--runs-dir", tmp_path / "runs")  # not the results/ and runs/ `make demo` leaves
    code, from_file, err = cli(capsys, "sweep", "experiments/demo.yaml", "--dry-run", "--no-estimate", *fresh)
    assert code == 0, err
    code, from_printed, err = cli(capsys, "sweep", "--config", tmp_path / "demo.yaml", "--dry-run", "--no-estimate",
                                  *fresh)
    assert code == 0, err
    assert from_printed == from_file and "to do: 18 trainings, 1440 trials" in from_printed
    code, again, _ = cli(capsys, "sweep", "--dry-run", tmp_path / "demo.yaml", "--print_config")  # file anywhere
    assert again == printed + "dry_run: true\n" and "dry_run" not in printed


def test_the_study_example_of_the_docs_passes_its_dry_run(tmp_path, capsys):
    docs = (ROOT / "docs" / "campaigns.md").read_text()
    (example,) = [b for b in re.findall(r"```yaml\n(.*?)```", docs, flags=re.S) if b.startswith("name: demo")]
    (tmp_path / "example.yaml").write_text(example)
    code, out, err = cli(capsys, "sweep", tmp_path / "example.yaml", "--dry-run", "--no-estimate", "--store",
                         tmp_path / "x.sqlite")
    assert code == 0 and "8 runs = 2 architectures x 2 methods x 2 seeds" in out, err


# ------------------------------------------------------------------------------------ the small things


def test_version_and_the_fault_list(capsys):
    import faultlab
    from faultlab.faults import FAULTS, PRESETS

    code, out, _ = cli(capsys, "--version")
    assert code == 0 and out.strip() == f"faultlab {faultlab.__version__}"
    code, out, _ = cli(capsys, "faults")
    assert code == 0
    for name, cls in FAULTS.items():
        assert f"\n{name}(" in out or out.startswith(f"{name}(")
        for param in cls._param_names:
            assert re.search(rf"^    {param}( = [^:]+)?: \S", out, flags=re.M), (name, param)  # with a unit
    assert all(f"{name}: " in out for name in PRESETS) and "g_sa1 = " in out and "µS" in out
    code, _, err = cli(capsys, "campaign", "--fault", "help", "--checkpoint", "x.ckpt")
    one_line(code, err, "--fault: 'faultlab faults' lists the fault models, their parameters and units")
    code, _, err = cli(capsys, "campaign", "--fault", "stuk_at(sa0={rate})", "--rates", "0.1", "--checkpoint", "x")
    one_line(code, err, "'faultlab faults' lists the fault models")


def test_commands_create_their_default_folders_in_a_fresh_clone(tmp_path, capsys, checkpoint, monkeypatch):
    """The README tour's campaign writes results/faultlab.sqlite; no results/ folder exists yet."""
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(capsys, "campaign", "--checkpoint", checkpoint, "--data", "synthetic", "--fault", FAULT,
                         "--rates", "0.1", "--trials", "1")
    assert code == 0 and (tmp_path / "results" / "faultlab.sqlite").is_file(), err
    (tmp_path / "results" / "faultlab.sqlite").rename(tmp_path / "kept.sqlite")
    (tmp_path / "results").rmdir()
    code, out, err = cli(capsys, "export", "--store", "kept.sqlite", "--out", "results/trials.csv")
    assert code == 0 and (tmp_path / "results" / "trials.csv").is_file(), err
    code, _, err = cli(capsys, "export", "--store", "kept.sqlite", "--out", "elsewhere/trials.csv")
    one_line(code, err, "folder elsewhere does not exist")  # a folder the user names is never created


def test_lightning_warnings_and_tips_are_kept_quiet():
    import logging

    from lightning.pytorch.utilities import rank_zero_info
    from lightning.pytorch.utilities._pytree import _tree_flatten

    from faultlab.training.cli import quiet_lightning

    with warnings.catch_warnings(record=True) as before:
        warnings.simplefilter("always")
        _tree_flatten(1)  # Lightning's LeafSpec use: torch's FutureWarning
    assert any("LeafSpec" in str(w.message) for w in before)
    quiet_lightning()
    with warnings.catch_warnings(record=True) as after:
        _tree_flatten(1)
    assert not any("LeafSpec" in str(w.message) for w in after)
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append  # type: ignore[method-assign]
    from faultlab.training.cli import LIGHTNING_LOGGERS

    logs = [logging.getLogger(name) for name in LIGHTNING_LOGGERS]  # whichever Lightning imported last logs
    levels = [log.level for log in logs]
    for log in logs:
        log.setLevel(logging.INFO)
        log.addHandler(handler)
    try:
        rank_zero_info("💡 Tip: For seamless cloud logging, try installing an advertised package")
        rank_zero_info("GPU available: False")
    finally:
        for log, level in zip(logs, levels):
            log.removeHandler(handler)
            log.setLevel(level)
    assert [r.getMessage() for r in records] == ["GPU available: False"]


def test_a_study_dry_run_prints_no_lightning_info_lines():
    """The study check builds a fit parser (it seeds): Lightning's "Seed set to 0" / "GPU available" lines were
    printed before the plan (a fresh process: Lightning's own handler writes them). The tiny study: its estimate
    trains a step of each architecture and method as the demo's does, in a third of the demo's time."""
    proc = subprocess.run([sys.executable, "-m", "faultlab.cli", "sweep", "tests/data/tiny_study.yaml", "--dry-run"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("study tiny:") and "\nestimate: " in proc.stdout, proc.stdout[:200]
    said = proc.stdout + proc.stderr
    assert "Seed set" not in said and "GPU available" not in said, said[:300]
