"""Tests for faultlab.store: migrations, idempotent trial writes, masks, frames, export, concurrency."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from faultlab import FaultlabError
from faultlab.store import FRAME_COLUMNS, MIGRATIONS, ResultsStore, StoreError
from faultlab.store.rows import norm_rate

FAULT = "drop(p={rate})"


def _run(run_id: str = "r1", **kw) -> dict:
    row = {"run_id": run_id, "study": "s1", "architecture": "lenet", "variant": "base", "method": "plain",
           "train_seed": 0, "checkpoint": "ckpt.pt", "weights_hash": "abc", "clean_accuracy": 0.9,
           "clean_loss": 0.3, "n_eval": 10, "config": {"lr": 0.1}}
    row.update(kw)
    return row


def _trial(trial: int, rate: float = 0.1, run_id: str = "r1", layer: str = "*", **kw) -> dict:
    row = {"campaign_id": "c1", "run_id": run_id, "fault": FAULT, "rate": rate, "trial": trial,
           "layer": layer, "fault_seed": 1000 + trial, "accuracy": 0.5, "loss": 1.0, "seconds": 0.01}
    row.update(kw)
    if "correct" in kw and "accuracy" not in kw:  # a campaign's accuracy is the mean of its mask
        row["accuracy"] = float(np.mean(kw["correct"]))
    return row


@pytest.fixture
def store(tmp_path: Path):
    with ResultsStore(tmp_path / "results.db") as s:
        s.add_run(_run())
        s.add_campaign({"campaign_id": "c1", "run_id": "r1", "fault": FAULT, "sweep_param": "rate",
                        "campaign_seed": 7, "bn_recalibration": 0, "layers": "conv*", "scope": "weights"})
        yield s


def test_migrations_idempotent_and_wal(tmp_path: Path):
    path = tmp_path / "results.db"
    ResultsStore(path).close()
    with ResultsStore(path) as s:
        names = [r[0] for r in s.conn.execute("SELECT name FROM schema_migrations")]
        assert names == [name for name, _ in MIGRATIONS]
        assert s.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in s.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"runs", "campaigns", "trials", "schema_migrations"} <= tables
    assert len({name for name, _ in MIGRATIONS}) == len(MIGRATIONS)


def test_run_upsert_updates_clean_accuracy(store: ResultsStore):
    created = store.get_run("r1")["created_at"]
    store.add_run({"run_id": "r1", "clean_accuracy": 0.95})
    run = store.get_run("r1")
    assert run["clean_accuracy"] == 0.95
    assert run["architecture"] == "lenet" and run["config"] == {"lr": 0.1}
    assert run["created_at"] == created
    assert len(store.runs()) == 1 and store.runs("other") == [] and store.studies() == ["s1"]
    assert store.get_run("missing") is None


def test_campaign_insert_or_ignore_and_unknown_run(store: ResultsStore):
    store.add_campaign({"campaign_id": "c1", "run_id": "r1", "fault": "other"})
    assert [c["fault"] for c in store.campaigns("r1")] == [FAULT]
    with pytest.raises(StoreError, match="add_run"):
        store.add_campaign({"campaign_id": "c2", "run_id": "nope"})


def done_trials(store: ResultsStore, run_id: str, fault: str, rate: float, layer: str = "*") -> set[int]:
    """The trial indices stored for one cell (what a resumed campaign skips)."""
    rows = store.trials("run_id = ? AND fault = ? AND rate = ? AND layer = ?", (run_id, fault, norm_rate(rate), layer))
    return {r["trial"] for r in rows}


def test_add_trials_idempotent_and_partial_overlap(store: ResultsStore):
    assert store.add_trials([_trial(i) for i in range(5)]) == 5
    assert store.add_trials([_trial(i) for i in range(5)]) == 0
    assert done_trials(store, "r1", FAULT, 0.1) == set(range(5))
    assert store.add_trials([_trial(i) for i in range(3, 8)]) == 3
    assert done_trials(store, "r1", FAULT, 0.1) == set(range(8))
    assert store.count_trials() == 8
    # another layer or rate is a different cell
    assert store.add_trials([_trial(0, layer="conv1"), _trial(0, rate=0.2)]) == 2
    assert done_trials(store, "r1", FAULT, 0.1, layer="conv1") == {0}
    assert store.count_trials(layer="*", rate=0.1) == 8
    assert store.count_trials("rate > ?", (0.15,)) == 1


def test_rate_is_normalised(store: ResultsStore):
    rate = 0.1 + 0.2  # 0.30000000000000004
    store.add_trials([_trial(0, rate=rate)])
    assert done_trials(store, "r1", FAULT, 0.3) == {0}
    assert store.add_trials([_trial(0, rate=0.3)]) == 0


def test_missing_key_writes_nothing(store: ResultsStore):
    rows = [_trial(0), _trial(1)]
    del rows[1]["accuracy"]
    with pytest.raises(StoreError, match="'accuracy'"):
        store.add_trials(rows)
    assert store.count_trials() == 0
    with pytest.raises(StoreError, match="unknown column"):
        store.add_trials([_trial(0, acc=1.0)])
    assert store.count_trials() == 0
    assert issubclass(StoreError, FaultlabError)


def test_failed_transaction_rolls_back(store: ResultsStore):
    store.conn.execute("CREATE TRIGGER boom BEFORE INSERT ON trials WHEN NEW.trial = 3 "
                       "BEGIN SELECT RAISE(ABORT, 'boom'); END")
    with pytest.raises(sqlite3.IntegrityError):
        store.add_trials([_trial(i) for i in range(5)])
    assert store.count_trials() == 0


@pytest.mark.parametrize("n", [1, 7, 8, 13, 1001])
def test_packbits_round_trip_and_per_sample_counts(store: ResultsStore, n: int):
    rng = np.random.default_rng(n)
    masks = [rng.random(n) < 0.6 for _ in range(6)]
    rows = [_trial(i, correct=m, accuracy=float(m.mean())) for i, m in enumerate(masks)]
    store.add_trials(rows)
    got = list(store.trials("run_id = ?", ("r1",), with_correct=True))
    assert [r["n_samples"] for r in got] == [n] * 6
    for row, mask in zip(got, masks):
        assert row["correct"].dtype == np.bool_ and np.array_equal(row["correct"], mask)
    assert "correct" not in next(store.trials())
    counts, n_trials = store.per_sample_counts("r1", FAULT, 0.1)
    assert n_trials == 6 and counts.dtype == np.int64
    assert np.array_equal(counts, np.sum(masks, axis=0))
    # resume: re-adding stored trials plus one new keeps counts consistent with stored trials
    extra = rng.random(n) < 0.5
    store.add_trials(rows + [_trial(6, correct=extra)])
    counts, n_trials = store.per_sample_counts("r1", FAULT, 0.1)
    assert n_trials == 7 and np.array_equal(counts, np.sum(masks + [extra], axis=0))


def test_per_sample_counts_empty_and_bad_mask(store: ResultsStore):
    counts, n = store.per_sample_counts("r1", FAULT, 0.5)
    assert n == 0 and counts.size == 0
    with pytest.raises(StoreError, match="n_samples"):
        store.add_trials([_trial(0, correct=np.ones(5, bool), n_samples=4)])
    with pytest.raises(StoreError, match="1-D"):
        store.add_trials([_trial(0, correct=np.ones((2, 2), bool))])


def _fill(store: ResultsStore) -> None:
    store.add_run(_run("r2", study="s2", architecture="resnet", train_seed=1))
    store.add_trials([_trial(t, rate=r) for r in (0.2, 0.1) for t in (1, 0)])
    store.add_trials([_trial(t, run_id="r2", layer=lay, correct=np.ones(3, bool), metric_name="top5", metric=0.97)
                      for lay in ("fc", "conv") for t in range(2)])


def test_to_frame_columns_rows_and_order(store: ResultsStore):
    _fill(store)
    df = store.to_frame()
    assert tuple(df.columns) == FRAME_COLUMNS and len(df) == 8
    assert list(df["study"]) == ["s1"] * 4 + ["s2"] * 4
    assert list(df["rate"][:4]) == [0.1, 0.1, 0.2, 0.2] and list(df["trial"][:4]) == [0, 1, 0, 1]
    assert list(df["layer"][4:]) == ["conv", "conv", "fc", "fc"]
    assert df["n_samples"].iloc[-1] == 3 and df["clean_accuracy"].iloc[0] == 0.9
    assert len(store.to_frame("s2")) == 4 and store.to_frame("none").empty


@pytest.mark.parametrize("suffix,fmt", [(".parquet", None), (".csv", None), (".out", "csv")])
def test_export_round_trip(store: ResultsStore, tmp_path: Path, suffix: str, fmt: str | None):
    _fill(store)
    path = store.export(tmp_path / f"tidy{suffix}", fmt=fmt)
    expected = store.to_frame(clean_rows=True)
    if path.suffix == ".parquet":
        pd.testing.assert_frame_equal(pd.read_parquet(path), expected)
    else:
        pd.testing.assert_frame_equal(pd.read_csv(path), expected, check_dtype=False)


def test_export_bad_format(store: ResultsStore, tmp_path: Path):
    with pytest.raises(StoreError, match="infer"):
        store.export(tmp_path / "tidy.xlsx")
    with pytest.raises(StoreError, match="unknown export format"):
        store.export(tmp_path / "tidy.csv", fmt="json")
    assert not (tmp_path / "tidy.xlsx").exists()


def test_bad_folder_creates_nothing(tmp_path: Path):
    missing = tmp_path / "nope" / "deeper"
    with pytest.raises(StoreError, match="does not exist") as info:
        ResultsStore(missing / "results.db")
    assert str(missing) in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "nope").exists()
    with pytest.raises(StoreError, match="is a folder"):
        ResultsStore(tmp_path)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database" * 100)
    with pytest.raises(StoreError, match="not a database"):
        ResultsStore(junk)


def _worker(path: str, start: int, count: int, n_samples: int, journal: str = "wal") -> int:
    """Write trials [start, start+count) in small batches; return how many this process inserted."""
    inserted = 0
    with ResultsStore(path, journal=journal) as s:
        for lo in range(start, start + count, 10):
            rows = [_trial(t, correct=np.arange(n_samples) % (t % 5 + 2) == 0)
                    for t in range(lo, min(lo + 10, start + count))]
            inserted += s.add_trials(rows)
    return inserted


@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_concurrent_writers_no_duplicates(tmp_path: Path, journal: str):
    path = str(tmp_path / "results.db")  # not created beforehand: workers race to create and migrate it
    n_proc, per, step, n_samples = 4, 200, 100, 37
    ctx = mp.get_context("spawn")
    with ctx.Pool(n_proc) as pool:
        inserted = pool.starmap(_worker, [(path, k * step, per, n_samples, journal) for k in range(n_proc)])
    expected = step * (n_proc - 1) + per
    assert sum(inserted) == expected
    with ResultsStore(path, journal=journal) as s:
        assert s.journal == journal
        assert s.count_trials() == expected
        assert done_trials(s, "r1", FAULT, 0.1) == set(range(expected))
        dupes = s.conn.execute("SELECT COUNT(*) FROM (SELECT run_id, fault, rate, trial, layer FROM trials "
                               "GROUP BY 1, 2, 3, 4, 5 HAVING COUNT(*) > 1)").fetchone()[0]
        assert dupes == 0
        counts, n = s.per_sample_counts("r1", FAULT, 0.1)
        ref = sum((np.arange(n_samples) % (t % 5 + 2) == 0).astype(int) for t in range(expected))
        assert n == expected and np.array_equal(counts, ref)


def test_journal_mode_from_the_environment(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("FAULTLAB_STORE_JOURNAL", "delete")
    with ResultsStore(tmp_path / "a.db") as s:
        assert s.journal == "delete" and not (tmp_path / "a.db-wal").exists()
    monkeypatch.setenv("FAULTLAB_STORE_JOURNAL", "nfs")
    with pytest.raises(StoreError, match="journal mode 'nfs'"):
        ResultsStore(tmp_path / "b.db")
