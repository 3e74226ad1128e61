"""Sequential seeds end to end: ``faultlab sweep --until-decided`` on a small digits study stops before its maximum
when the effect is large, resumes after kill -9 (with --workers 2) with the same looks, never revises a recorded
look, and the stats and the report state the design and the looks; the study's contrasts: and sequential: blocks
are checked in one line."""

import contextlib
import io
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from faultlab.cli import main
from faultlab.stats.vocabulary import Decision
from faultlab.store import ResultsStore, StoreError
from faultlab.sweep import StudySpecError, checkpoint_path, expand, load_study
from faultlab.sweep.sequential import run_until_decided, runs_per_arm

ROOT = Path(__file__).resolve().parents[1]
# 1 epoch of an MLP on scikit-learn's digits; DropConnect (p = 0.5) underfits in one epoch, so under weight drops
# it is far worse than vanilla: -12.6 pp at 3 runs per arm (t = -5.5, bound 69.5: continue), -12.4 pp at 5
# (t = -9.4, bound 5.5: worse), so the sweep stops at look 2 of 4 with 10 of at most 18 runs trained.
STUDY = {
    "name": "seqdigits",
    "data": {"name": "digits", "options": {"batch_size": 64}},
    "training": {"trainer": {"max_epochs": 1},
                 "model": {"optimizer": {"class_path": "torch.optim.Adam", "init_args": {"lr": 0.01}}}},
    "architectures": [{"name": "mlp", "arch": "mlp", "kwargs": {"hidden": [32]}}],
    "methods": [{"name": "vanilla"},
                {"name": "dropconnect", "fault_aware": {"class_path": "DropConnect", "init_args": {"p": 0.5}}}],
    "campaigns": [{"name": "drops", "fault": "drop(p={rate})", "rates": [0.3, 0.5], "trials": 4}],
    "contrasts": [{"kind": "method", "method": "dropconnect", "baseline": "vanilla", "campaign": "drops"}],
    "sequential": {"first": 3, "step": 2, "max_runs": 9},
}
SAME = ["look", "runs_per_arm", "contrast", "fault", "scope", "n_runs", "decision", "reason"]
NUMBERS = ["estimate", "se", "statistic", "efficacy_bound", "futility_bound", "equivalence_bound"]


def write(path: Path, **changes) -> Path:
    raw = {**STUDY, **changes}
    path.write_text(yaml.safe_dump({k: v for k, v in raw.items() if v is not None}))
    return path


def looks_of(store: Path):
    with ResultsStore(store, read_only=True) as s:
        return s.looks("seqdigits")


def same_looks(a: list[dict], b: list[dict]) -> None:
    assert [[r[k] for k in SAME] for r in a] == [[r[k] for k in SAME] for r in b]
    np.testing.assert_allclose([[r[k] for k in NUMBERS] for r in a], [[r[k] for k in NUMBERS] for r in b],
                               rtol=1e-9)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted sequential sweep, in this process."""
    d = tmp_path_factory.mktemp("seq")
    spec, _ = load_study(write(d / "study.yaml"))
    out = io.StringIO()
    t0 = time.perf_counter()
    summary = run_until_decided(spec, str(d / "s.sqlite"), str(d / "runs"), stream=out)
    return d, summary, out.getvalue(), time.perf_counter() - t0


def test_a_large_effect_stops_before_the_maximum(reference):
    d, summary, printed, seconds = reference
    looks = looks_of(d / "s.sqlite")
    assert [(r["look"], r["runs_per_arm"], r["decision"]) for r in looks] == [(1, 3, "continue"), (2, 5, "worse")]
    assert looks[1]["statistic"] < -looks[1]["efficacy_bound"] < 0 and looks[0]["efficacy_bound"] > 10
    assert summary.decided and summary.trained == summary.runs == 10 < summary.worst_case == 18
    with ResultsStore(d / "s.sqlite", read_only=True) as s:
        runs = s.runs("seqdigits")
        assert s.count_trials() == 10 * 2 * 4
    assert sorted((r["method"], r["train_seed"]) for r in runs) == sorted(
        (m, k) for m in ("vanilla", "dropconnect") for k in range(5))
    assert "look 2 (5 runs per arm): 1 of 1 contrast(s) decided" in printed
    assert "dropconnect vs vanilla on mlp [drop(p={rate}), network]: worse (-12.4 pp, t = -9.42" in printed
    print(f"sequential reference: {len(looks)} looks, {summary.runs} runs of at most {summary.worst_case}, "
          f"{seconds:.1f} s")


@pytest.mark.slow
def test_resume_after_sigkill_with_two_workers_gives_the_same_looks(reference, tmp_path, capsys):
    """A real sweep killed with SIGKILL once look 1 is recorded (while stage 2 trains), then resumed with
    --workers 2: the recorded look is replayed and the verdicts are the uninterrupted sweep's. Look 1's checkpoints
    come from the reference's cache (its campaigns run again), so the kill lands in stage 2's training."""
    d, _, _, _ = reference
    spec, store, runs = write(tmp_path / "study.yaml"), tmp_path / "k.sqlite", tmp_path / "runs"
    plans = {(p.method.name, p.seed): p for p in expand(load_study(spec)[0])}
    (runs / "cache").mkdir(parents=True)
    for (_, seed), plan in plans.items():
        if seed < 3:
            shutil.copy(checkpoint_path(plan, d / "runs"), checkpoint_path(plan, runs))
    args = ["sweep", str(spec), "--until-decided", "--store", str(store), "--runs-dir", str(runs)]
    proc = subprocess.Popen([sys.executable, "-m", "faultlab.cli", *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)  # killed with its process group
    deadline, recorded = time.time() + 400, 0
    while time.time() < deadline and proc.poll() is None and not recorded:
        try:
            with contextlib.closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5)) as conn:
                recorded = conn.execute("SELECT COUNT(*) FROM sequential_looks").fetchone()[0]
        except sqlite3.Error:  # not created or not migrated yet
            pass
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert recorded and proc.returncode == -signal.SIGKILL, "the sweep finished before it could be killed"
    assert [r["look"] for r in looks_of(store)] == [1]
    with ResultsStore(store, read_only=True) as s:
        assert len(s.runs("seqdigits")) < 10
    capsys.readouterr()
    main([*args, "--workers", "2"])
    out = capsys.readouterr().out
    assert "look 1 (3 runs per arm): 0 of 1 contrast(s) decided (recorded)" in out
    assert "every primary contrast decided at look 2 (5 runs per arm); 10 runs of at most 18" in out
    same_looks(looks_of(store), looks_of(d / "s.sqlite"))


def test_an_interrupted_stage_resumes_without_redoing_stored_runs(reference, tmp_path):
    """As if killed in stage 2 after vanilla's seeds 3 and 4 were stored but before dropconnect's: the resumed sweep
    replays look 1, campaigns only the two missing runs (their checkpoints are cached), keeps every stored row, and
    records the uninterrupted sweep's look 2."""
    d, _, _, _ = reference
    store = tmp_path / "i.sqlite"
    shutil.copy(d / "s.sqlite", store)
    gone = "SELECT run_id FROM runs WHERE method = 'dropconnect' AND train_seed >= 3"
    with ResultsStore(store) as s:
        s.conn.execute("DELETE FROM sequential_looks WHERE look = 2")
        s.conn.execute(f"DELETE FROM trials WHERE run_id IN ({gone})")
        s.conn.execute(f"DELETE FROM campaigns WHERE run_id IN ({gone})")
        s.conn.execute(f"DELETE FROM runs WHERE run_id IN ({gone})")
        kept = s.conn.execute("SELECT campaign_id, trial, layer, accuracy FROM trials ORDER BY 1, 2").fetchall()
    assert len(kept) == 8 * 8
    spec, _ = load_study(write(tmp_path / "study.yaml"))
    out = io.StringIO()
    summary = run_until_decided(spec, str(store), str(d / "runs"), stream=out)
    assert summary.trained == 0 and summary.new_trials == 2 * 8 and summary.runs == 10 and summary.decided
    assert "look 1 (3 runs per arm): 0 of 1 contrast(s) decided (recorded)" in out.getvalue()
    with ResultsStore(store, read_only=True) as s:
        after = s.conn.execute("SELECT campaign_id, trial, layer, accuracy FROM trials ORDER BY 1, 2").fetchall()
    assert set(kept) <= set(after) and len(after) == 10 * 8
    same_looks(looks_of(store), looks_of(d / "s.sqlite"))


def test_a_recorded_look_is_never_revised(reference, tmp_path):
    """Look 1 recorded as futility (as if the data had said so): a re-run replays it and trains nothing more."""
    d, _, _, _ = reference
    store = tmp_path / "r.sqlite"
    shutil.copy(d / "s.sqlite", store)
    with ResultsStore(store) as s:
        s.conn.execute("DELETE FROM sequential_looks WHERE look = 2")
        s.conn.execute("UPDATE sequential_looks SET decision = 'futility'")
    spec, _ = load_study(write(tmp_path / "study.yaml"))
    out = io.StringIO()
    summary = run_until_decided(spec, str(store), str(d / "runs"), stream=out)
    assert summary.trained == 0 and summary.decided and summary.runs == 6
    assert [(r["look"], r["decision"]) for r in looks_of(store)] == [(1, "futility")]
    assert "(recorded)" in out.getvalue() and "look 2" not in out.getvalue()


def test_a_changed_design_is_refused_in_one_line(reference, tmp_path, capsys):
    d, _, _, _ = reference
    path = write(tmp_path / "study.yaml", sequential={"first": 3, "step": 2, "max_runs": 11})
    with pytest.raises(SystemExit) as exc:
        main(["sweep", str(path), "--until-decided", "--store", str(d / "s.sqlite"), "--runs-dir", str(d / "runs")])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and "made with sequential max_runs 9" in err and "\n" not in err


def test_dry_run_states_the_design_and_the_looks(reference, tmp_path, capsys):
    d, _, _, _ = reference
    path = write(tmp_path / "study.yaml")
    main(["sweep", str(path), "--until-decided", "--dry-run", "--store", str(tmp_path / "new.sqlite"),
          "--runs-dir", str(tmp_path / "runs")])
    out = capsys.readouterr().out
    assert "looks at 3, 5, 7, 9 runs per arm (at most 9); alpha 0.05 over 1 primary contrast(s)" in out
    assert "dropconnect vs vanilla on mlp: mlp · dropconnect, mlp · vanilla" in out
    assert "look 1 (3 runs) |t| >= 69.5, look 2 (5 runs) |t| >= 5.53" in out  # each look's efficacy bound
    assert "warning: look(s) 1 (3 runs per arm) cannot plausibly decide" in out and "first: 4, step: 2" in out
    assert "to do: at least 6 trainings (every contrast decided at the first look), at most 18" in out
    assert not (tmp_path / "new.sqlite").exists() and not (tmp_path / "runs").exists()
    main(["sweep", str(path), "--until-decided", "--dry-run", "--store", str(d / "s.sqlite"),
          "--runs-dir", str(d / "runs")])
    out = capsys.readouterr().out
    assert "look 2 (5 runs per arm): 1 of 1 contrast(s) decided" in out
    assert "every primary contrast is decided: nothing to train" in out


def test_stats_and_report_state_the_design_and_the_looks(reference, tmp_path, capsys):
    from faultlab.report import render_report
    from faultlab.report.inputs import read_study
    from faultlab.stats.study import spec_contrasts

    d, _, _, _ = reference
    main(["stats", "seqdigits", "--store", str(d / "s.sqlite"), "--csv", str(tmp_path / "tables"),
          "--resamples", "100"])
    out = capsys.readouterr().out
    assert "Sequential looks:\n  sequential seeds: looks at 3, 5, 7, 9 runs per arm (at most 9)" in out
    assert "Sequential seeds: the sweep stopped at look 2 (5 runs per arm)" in out
    assert "look 1 (3 runs per arm): 0 of 1 contrast(s) decided" in out and "worse (-12.4 pp" in out
    assert (tmp_path / "tables" / "sequential_looks.csv").is_file()
    with ResultsStore(d / "s.sqlite", read_only=True) as store:
        spec = store.study_spec("seqdigits")
        data = read_study(store, "seqdigits")
        summary = render_report(store, "seqdigits", tmp_path / "r.pdf", spec=spec, n_resamples=100)
    (declared,) = spec_contrasts(spec, data.trials)  # the stored spec's contrast, its campaign resolved
    assert (declared.fault, declared.scope, declared.campaign) == ("drop(p={rate})", "network", None)
    assert list(data.looks["decision"]) == [Decision.CONTINUE, Decision.WORSE]
    assert "Sequential seeds: the looks (recipe level)" in summary.pages


def test_runs_per_arm_keeps_a_shared_arm_training_while_any_contrast_is_open():
    arms = [("a", "m"), ("b", "m"), ("c", "m"), ("d", "m")]
    look1 = [{"decision": "better", "arms": [("a", "m"), ("b", "m")]},
             {"decision": "continue", "arms": [("b", "m"), ("c", "m")]}]
    look2 = [{"decision": "continue", "arms": [("b", "m"), ("c", "m")]}]
    assert runs_per_arm(arms, [3, 5, 7], [], 0) == dict.fromkeys(arms, 3)
    assert runs_per_arm(arms, [3, 5, 7], [look1], 1) == {("a", "m"): 3, ("b", "m"): 5, ("c", "m"): 5, ("d", "m"): 3}
    assert runs_per_arm(arms, [3, 5, 7], [look1, look2], 2) == {("a", "m"): 3, ("b", "m"): 7, ("c", "m"): 7,
                                                               ("d", "m"): 3}


def test_a_look_is_recorded_once(tmp_path):
    row = {"study": "s", "look": 1, "runs_per_arm": 3, "contrast": "x", "fault": "f", "scope": "network",
           "arms": [("a", "m"), ("b", "m")], "estimate": 0.1, "se": float("nan"), "decision": "continue",
           "first_look": 3, "step": 2, "max_runs": 9, "alpha": 0.05, "futility": True, "power": 0.8}
    with ResultsStore(tmp_path / "s.sqlite") as s:
        s.record_look([row])
        with pytest.raises(StoreError, match="look 1 of study 's' is already recorded"):
            s.record_look([row])
        (back,) = s.looks("s")
    assert back["arms"] == [("a", "m"), ("b", "m")] and np.isnan(back["se"]) and back["futility"] is True


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"contrasts": [{"kind": "method", "method": "dropconnect", "baseline": "vanilla", "architectures": ["mpl"]}]},
         "contrasts[0]: 'mpl' is not an architecture of the study (architectures: mlp)"),
        ({"contrasts": [{"kind": "method", "method": "dropkonnect", "baseline": "vanilla"}]},
         "contrasts[0]: method 'dropkonnect' is not in the study"),
        ({"contrasts": [{"kind": "metod"}]}, "contrasts[0]: kind 'metod'; allowed: method, architecture, factor"),
        ({"contrasts": [{"kind": "method", "method": "dropconnect", "baseline": "vanilla", "campaign": "dorps"}]},
         "contrasts[0].campaign: 'dorps' is not a campaign name; allowed: drops"),
        ({"contrasts": [{"kind": "method", "method": "dropconnect", "baseline": "vanilla", "scope": "count:16"}]},
         "contrasts[0].scope: no campaign gives 'count:16'; the campaigns give: network"),
        ({"contrasts": [{"kind": "method", "method": "dropconnect", "baseline": "vanilla", "endpoint": "rate",
                         "rate": 0.2}]}, "contrasts[0].rate: 0.2 is not a rate of its campaigns; allowed: 0.3, 0.5"),
        ({"contrasts": [{"kind": "method", "method": "dropconnect", "baseline": "vanilla", "campaign": "drops"}] * 2},
         "contrasts[1]: the same comparison as contrasts[0] ('dropconnect vs vanilla on mlp') on the same fault "
         "surface; remove one, or give them distinct name:s"),
        ({"sequential": {"first": 1}}, "sequential.first: 1; allowed: a t test needs 2 runs per arm"),
        ({"sequential": {"first": 3, "max_runs": 2}}, "sequential.max_runs: 2; allowed: at least first (3)"),
    ],
)
def test_bad_contrasts_and_sequential_blocks_are_one_line(tmp_path, change, message, capsys):
    path = write(tmp_path / "study.yaml", **change)
    with pytest.raises(StudySpecError) as err:
        load_study(path)
    assert message in str(err.value)
    with pytest.raises(SystemExit) as exc:
        main(["sweep", str(path), "--dry-run", "--store", str(tmp_path / "s.sqlite")])
    err_text = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and message in err_text and "\n" not in err_text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sequential": None}, "--until-decided needs a sequential: block in the study"),
        ({"training": {**STUDY["training"], "seeds": [3, 7]}},
         "training.seeds: [3, 7] has 2 seeds, fewer than sequential.max_runs = 9, and does not start 0, 1, 2"),
        ({"contrasts": None, "methods": [{"name": "a"}, {"name": "b"}]},
         "--until-decided: study 'seqdigits' has no primary contrast"),
    ],
)
def test_until_decided_refuses_what_it_cannot_run(tmp_path, change, message, capsys):
    path = write(tmp_path / "study.yaml", **change)
    with pytest.raises(SystemExit) as exc:
        main(["sweep", str(path), "--until-decided", "--store", str(tmp_path / "s.sqlite"),
              "--runs-dir", str(tmp_path / "runs")])
    err_text = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and message in err_text and "\n" not in err_text
    assert not (tmp_path / "s.sqlite").exists() and not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_ray_executor_gives_the_same_looks(reference, tmp_path):
    pytest.importorskip("ray")
    d, _, _, _ = reference
    spec, _ = load_study(write(tmp_path / "study.yaml"))
    summary = run_until_decided(spec, str(tmp_path / "r.sqlite"), str(tmp_path / "runs"), workers=2,
                                executor="ray", stream=io.StringIO())
    assert summary.trained == 10
    same_looks(looks_of(tmp_path / "r.sqlite"), looks_of(d / "s.sqlite"))
