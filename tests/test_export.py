"""The documented export: one data dictionary for docs, Parquet metadata and frame; exact accuracies; clean rows;
NULL for the whole-network layer; masks; old stores; and a paired comparison redone from the file alone."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from digits_mlps import digits, digits_mlp
from scipy import stats

import faultlab
from faultlab.cli import main
from faultlab.store import COLUMNS, FRAME_COLUMNS, MIGRATIONS, ResultsStore, StoreError, with_store_labels
from faultlab.store.columns import METADATA_KEY, markdown_table
from faultlab.store.frame import fault_applied

ROOT = Path(__file__).resolve().parents[1]
OLD = ROOT / "tests" / "data" / "old_store" / "old_store.sqlite"
FAULT = "drop(p={rate})"
ARROW = {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64(), "bool": pa.bool_(),
         "list<bool>": pa.bool_()}  # a list's value type


def _store(path: Path) -> ResultsStore:
    """A run with float32-noisy clean accuracy (179/200), a campaign, whole-network, layer and group trials."""
    store = ResultsStore(path)
    clean = float(np.float32(179) / np.float32(200))  # 0.8949999809265137, as a float32 mean stores it
    store.add_run({"run_id": "r1", "study": "s", "architecture": "mlp", "variant": "mlp-8", "method": "vanilla",
                   "train_seed": 0, "weights_hash": "w1", "clean_accuracy": clean, "clean_loss": 0.3, "n_eval": 200,
                   "eval_hash": "e1", "evaluation": {"data": "mnist5k", "eval_subset": 200}})
    store.add_campaign({"campaign_id": "c1", "run_id": "r1", "fault": FAULT, "campaign_seed": 7,
                        "config": {"eval_subset": None, "eval_weight_scale": {"0.1": 1.0}}})
    rng = np.random.default_rng(0)
    rows = []
    for layer, group in (("*", "*"), ("fc", "classifier"), ("group:conv", "conv")):
        for t in range(2):
            mask = rng.random(200) < 0.9
            rows.append({"campaign_id": "c1", "run_id": "r1", "fault": FAULT, "rate": 0.1, "trial": t, "layer": layer,
                         "layer_group": group, "fault_seed": t, "accuracy": float(np.mean(mask, dtype=np.float32)),
                         "loss": 0.5, "seconds": 0.01, "correct": mask})
    store.add_trials(rows)
    return store


# ------------------------------------------------------------------------------------ the dictionary


def test_the_doc_table_is_the_dictionary_and_the_readme_links_it():
    doc = (ROOT / "docs" / "export.md").read_text()
    start = doc.index("| column | type |")
    table = doc[start : doc.index("\n<!-- end of generated table -->", start)]
    assert table == markdown_table(), "regenerate the table of docs/export.md (see the comment above it)"
    assert [c.name for c in COLUMNS if c.name != "correct"] == list(FRAME_COLUMNS)
    assert all(c.meaning and c.null and c.type in ("string", "int64", "float64", "bool", "list<bool>")
               for c in COLUMNS)
    assert "docs/export.md" in (ROOT / "README.md").read_text()
    assert "export.md" in (ROOT / "docs" / "campaigns.md").read_text()


def test_parquet_carries_types_and_the_dictionary(tmp_path):
    with _store(tmp_path / "s.sqlite") as store:
        path = store.export(tmp_path / "t.parquet", with_masks=True)
        frame = store.to_frame(clean_rows=True, with_masks=True)
    schema = pq.read_schema(path)
    body = json.loads(schema.metadata[METADATA_KEY])
    assert body["format"] == "faultlab-trials" and [c["name"] for c in body["columns"]] == schema.names
    assert schema.names == [*FRAME_COLUMNS, "correct"]
    for c in COLUMNS:
        field = schema.field(c.name)
        typed = field.type.value_type if pa.types.is_list(field.type) else field.type
        assert typed == ARROW[c.type] and pa.types.is_list(field.type) == (c.type == "list<bool>")
        assert field.metadata[b"meaning"].decode() == c.meaning and field.metadata[b"null"].decode() == c.null
    back = pd.read_parquet(path)
    pd.testing.assert_frame_equal(back.drop(columns="correct"), frame.drop(columns="correct"))
    assert all(np.array_equal(a, b) for a, b in zip(back.correct[1:], frame.correct[1:]))


def test_rows_scopes_null_layer_clean_row_and_store_labels(tmp_path):
    with _store(tmp_path / "s.sqlite") as store:
        df = store.to_frame(clean_rows=True)
        trials = store.to_frame()
        stored = pd.DataFrame(list(store.trials()))
    assert len(df) == 7 and df.clean.tolist() == [True] + [False] * 6 and not trials.clean.any()
    clean = df.iloc[0]
    assert (clean.rate, clean.n_samples, clean.n_correct, clean.accuracy) == (0.0, 200, 179, 0.895)
    assert pd.isna(clean.fault) and pd.isna(clean.trial) and pd.isna(clean.fault_scope)
    assert (df.clean_accuracy == 0.895).all() and (df.clean_n_correct == 179).all()
    t = df[~df.clean]
    assert t.fault_scope.tolist() == ["network"] * 2 + ["layer"] * 2 + ["group"] * 2  # the store's sort
    assert t.layer.tolist()[2:] == ["fc", "fc", "group:conv", "group:conv"] and t.layer[:2].isna().all()
    assert t.layer_group[:2].isna().all() and "*" not in set(df.layer.dropna()) | set(df.layer_group.dropna())
    assert (t.fault_applied == "drop(p=0.1)").all() and (t.campaign_seed == 7).all()
    assert (t.dataset == "mnist5k").all() and (t.test_subset == 200).all() and (t.test_hash == "e1").all()
    assert (t.accuracy == t.n_correct / t.n_samples).all()
    labels = with_store_labels(df)  # back to the store's labels: what faultlab.stats keys on
    assert len(labels) == 6 and sorted(labels.layer) == sorted(stored.layer)
    assert sorted(labels.layer_group) == sorted(stored.layer_group)


def test_csv_accuracies_are_exact_fractions(tmp_path):
    with _store(tmp_path / "s.sqlite") as store:
        store.export(tmp_path / "t.csv")
        noisy = [r["accuracy"] for r in store.trials()]
    text = (tmp_path / "t.csv").read_text()
    assert any(len(repr(a)) > 12 for a in noisy)  # the store holds float32 means
    back = pd.read_csv(tmp_path / "t.csv")
    for acc, k, n in zip(back.accuracy, back.n_correct, back.n_samples):
        assert repr(acc) == repr(k / n) and f",{acc!r}," in text
    assert "0.895" in text and "0.8949999809265137" not in text and ",*," not in text


def test_fault_applied_is_the_fault_the_engine_builds():
    from faultlab.campaign.scale import Scaled
    from faultlab.faults import full_rate_fault, parse_fault

    templates = ("drop(p={rate})", "stuck_at(sa0=0.01, sa1={rate})", "chain(quantize(16), programming(sigma={rate}))")
    for template in templates:
        for rate in (0.0, 1e-05, 0.1, 0.30000000000001):
            applied = fault_applied(template, rate, 0)
            assert parse_fault(applied).spec(full=True) == parse_fault(template, rate=rate).spec(full=True)
        assert fault_applied(template, 0.37, 16) == template.replace("{rate}", "1.0")
    assert parse_fault(fault_applied(FAULT, 0.5, 8)).spec() == full_rate_fault(FAULT).spec()
    assert fault_applied(FAULT, 0.2, 0, 1.25) == Scaled(parse_fault(FAULT, rate=0.2), 1.25).spec()


def test_a_count_that_disagrees_with_the_accuracy_is_refused(tmp_path):
    base = {"campaign_id": "c", "run_id": "r", "fault": FAULT, "rate": 0.1, "trial": 0}
    with ResultsStore(tmp_path / "s.sqlite") as store:
        with pytest.raises(StoreError, match=r"accuracy 0.5 is not 3/3 correct"):
            store.add_trials([{**base, "accuracy": 0.5, "correct": np.ones(3, bool)}])
        with pytest.raises(StoreError, match="n_correct=1 but the correct mask has 3"):
            store.add_trials([{**base, "accuracy": 1.0, "correct": np.ones(3, bool), "n_correct": 1}])
        store.add_trials([{**base, "accuracy": 0.123, "n_samples": 10},  # no count fits: n_correct NULL
                          {**base, "trial": 1, "accuracy": 0.3, "n_samples": 10}])
        assert [r["n_correct"] for r in store.trials()] == [None, 3]
        assert store.to_frame().accuracy.tolist() == [0.123, 0.3]


# ------------------------------------------------------------------------------------ old stores, the CLI


def test_an_old_store_exports_counts_and_migrates(tmp_path):
    before = OLD.read_bytes()
    with ResultsStore(OLD, read_only=True) as s:
        path = s.export(tmp_path / "old.csv")
    assert OLD.read_bytes() == before
    df = pd.read_csv(path)
    t = df[~df.clean]
    assert len(df) == 8 and df.clean.sum() == 2 and (t.fault_scope == "network").all() and df.layer.isna().all()
    assert (t.n_correct == (t.accuracy * t.n_samples).round()).all() and t.n_correct.notna().all()
    assert set(df[df.study == "oldtiny"].dataset) == {"synthetic"} and df[df.study == "own"].dataset.isna().all()
    copy = tmp_path / "copy.sqlite"
    shutil.copy(OLD, copy)
    with ResultsStore(copy) as s:  # a writer upgrades the file: n_correct filled in the store itself
        assert [n for n, in s.conn.execute("SELECT name FROM schema_migrations")][-1] == MIGRATIONS[-1][0]
        counts = [r["n_correct"] for r in s.trials()]
    assert counts == [5, 8, 7, 6, 4, 4]


def test_export_cli_refuses_a_missing_folder_and_keeps_masks_to_parquet(tmp_path, capsys):
    with _store(tmp_path / "s.sqlite"):
        pass
    store = str(tmp_path / "s.sqlite")
    with pytest.raises(SystemExit) as info:
        main(["export", "--store", store, "--out", str(tmp_path / "t.csv"), "--with-masks"])
    err = capsys.readouterr().err.strip()
    assert info.value.code == 2 and "Parquet" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "t.csv").exists()
    out = tmp_path / "new" / "deeper" / "t.parquet"
    with pytest.raises(SystemExit) as info:  # a folder the user names is never created (only results/ is)
        main(["export", "--store", store, "--out", str(out), "--with-masks"])
    assert info.value.code == 2 and "does not exist" in capsys.readouterr().err
    out.parent.mkdir(parents=True)
    main(["export", "--store", store, "--out", str(out), "--with-masks"])
    assert "wrote 6 trials" in capsys.readouterr().out
    assert pd.read_parquet(out).correct.iloc[1].dtype == np.bool_
    assert sorted(p.name for p in out.parent.iterdir()) == ["t.parquet"]  # no temporary file left


# ------------------------------------------------------------------------------------ the round trip


def _networks() -> tuple[dict, torch.Tensor, torch.Tensor]:
    """Digits MLPs: methods 'vanilla' (60 Adam steps) and 'short' (12), training seeds 0, 1, 2."""
    nets, threads = {}, torch.get_num_threads()
    torch.set_num_threads(1)  # tiny steps: a second thread only waits (on a shared machine, for seconds)
    try:
        for method, steps in (("vanilla", 60), ("short", 12)):
            for seed in (0, 1, 2):
                nets[method, seed] = digits_mlp(16, seed, steps, lr=0.02)
    finally:
        torch.set_num_threads(threads)
    return nets, *digits()[2:]


def test_a_paired_comparison_redone_from_the_parquet_equals_faultlab_stats(tmp_path):
    from faultlab.report.inputs import read_study
    from faultlab.stats.study import study_tables

    nets, x, y = _networks()
    store = tmp_path / "study.sqlite"
    for (method, seed), net in nets.items():
        faultlab.run(net, (x, y), FAULT, rates=[0.1, 0.3], trials=6, store=store, study="rt", method=method,
                     train_seed=seed, progress="off")
    out = tmp_path / "export" / "trials.parquet"
    out.parent.mkdir()
    main(["export", "--store", str(store), "--out", str(out), "--with-masks"])
    with ResultsStore(store, read_only=True) as s:
        data = read_study(s, "rt")
        tables = study_tables(data.trials, data.runs, masks=data.masks, layer_order=data.layer_order, n_resamples=50)
        clean = {r["run_id"]: r["clean_accuracy"] for r in s.runs("rt")}

    df = pd.read_parquet(out)  # from here on: pandas, numpy and scipy only
    t = df[~df["clean"] & (df["fault_scope"] == "network")]
    assert (t["n_correct"] == [int(m.sum()) for m in t["correct"]]).all()
    for row in df[df["clean"]].itertuples():
        assert row.accuracy == pytest.approx(clean[row.run_id], abs=1e-7) and row.n_samples == len(y)

    recipe, maps = tables["method_comparison"], tables["method_comparison_maps"]
    for rate in (0.1, 0.3):
        cell = t[t["rate"] == rate]
        # recipe level: one mean per training run, short - vanilla paired by training seed, t test on the d's
        runs = cell.groupby(["method", "train_seed"])["accuracy"].mean()
        d = (runs["short"] - runs["vanilla"]).to_numpy()
        row = recipe[(recipe["endpoint"] == "rate") & (recipe["rate"] == rate)].iloc[0]
        assert (row["method_a"], row["method_b"], row["design"]) == ("short", "vanilla", "paired by seed")
        assert row["estimate"] == pytest.approx(d.mean(), rel=1e-12)
        assert row["pvalue"] == pytest.approx(stats.ttest_1samp(d, 0.0).pvalue, rel=1e-9)
        # map level: the same fault map (train_seed, rate, trial) met by both methods, Wilcoxon on the counts
        pairs = cell[cell["method"] == "short"].merge(cell[cell["method"] == "vanilla"],
                                                      on=["train_seed", "rate", "trial"], suffixes=("_a", "_b"))
        assert len(pairs) == 3 * 6
        m = maps[maps["rate"] == rate].iloc[0]
        assert m["n_pairs"] == len(pairs)
        assert m["estimate"] == pytest.approx((pairs["accuracy_a"] - pairs["accuracy_b"]).mean(), rel=1e-12)
        counts = (pairs["n_correct_a"] - pairs["n_correct_b"]).to_numpy(float)
        assert m["pvalue"] == pytest.approx(stats.wilcoxon(counts).pvalue, rel=1e-12)
        # per sample (masks): each run's share of test points correct under at least 95 % of the maps
        reliability = tables["reliability_maps"]  # per run (level a)
        for run_id, g in cell.groupby("run_id"):
            masks = np.stack(g["correct"].to_list())
            share = float(np.mean(masks.sum(0) >= math.ceil(0.95 * len(masks))))
            stored = reliability[(reliability["run_id"] == run_id) & (reliability["rate"] == rate)]["reliable"]
            assert stored.item() == pytest.approx(share, abs=1e-15)
