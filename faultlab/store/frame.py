"""The trial table read from the store (one row per fault trial; with ``clean_rows`` one more per run for its
clean evaluation) and its Parquet/CSV export. Every column is defined once, in :mod:`.columns` (docs/export.md).

The table differs from the store's rows where the store keeps internal labels: a whole-network trial's layer is
NULL (the store says ``*``), ``fault_scope`` names the scope, ``accuracy`` is exactly ``n_correct / n_samples``.
:func:`with_store_labels` turns it back into the store's labels (what ``faultlab.stats`` keys on).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import columns
from .columns import FRAME_COLUMNS, MASK_COLUMN
from .errors import StoreError
from .rows import ALL_LAYERS, GROUP_PREFIX, count_of, norm_rate, unpack_correct

FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}
_STRING = pd.Series(["x"]).dtype  # pandas' own string dtype ("str" from pandas 3, object before)
_TRIAL_FIELDS = ("run_id", "campaign_id", "fault", "rate", "equal_count", "layer", "layer_group", "trial",
                 "fault_seed", "n_samples", "n_correct", "accuracy", "loss", "metric_name", "metric", "seconds")
_ORDER = "r.study, r.architecture, r.method, r.train_seed, t.fault, t.layer, t.rate, t.trial, t.rowid"
_RUN_FIELDS = ("run_id", "study", "architecture", "variant", "method", "train_seed", "weights_hash", "evaluation",
               "config", "eval_hash", "clean_accuracy", "clean_loss", "n_eval")
_RUN_ORDER = "study, architecture, method, train_seed, run_id"


# ------------------------------------------------------------------------------------ reading


def _json(text: str | None) -> dict:
    value = json.loads(text) if text else None
    return value if isinstance(value, dict) else {}


def _dataset(evaluation: dict, config: dict) -> tuple[str | None, int | None]:
    """(data set, eval_subset) from a run's ``evaluation`` (``{"data": name, ...}`` from a campaign door,
    ``{"data": {"name", "options", "eval_subset"}}`` from a sweep), else an old sweep run's config ``data``."""
    data = evaluation.get("data")
    if isinstance(data, dict):
        return data.get("name"), data.get("eval_subset")
    if isinstance(data, str):
        return data, evaluation.get("eval_subset")
    old = config.get("data")
    return (old.get("name"), old.get("eval_subset")) if isinstance(old, dict) else (None, None)


def _campaigns(conn: sqlite3.Connection) -> pd.DataFrame:
    """Per campaign: run, seed, ``eval_subset`` and the evaluation weight scale of each rate."""
    out = []
    for cid, run_id, seed, text in conn.execute("SELECT campaign_id, run_id, campaign_seed, config FROM campaigns"):
        config = _json(text)
        scales = config.get("eval_weight_scale") if isinstance(config.get("eval_weight_scale"), dict) else {}
        out.append({"campaign_id": cid, "run_id": run_id, "campaign_seed": seed,
                    "eval_subset": config.get("eval_subset"),
                    "scales": {norm_rate(k): float(v) for k, v in scales.items() if float(v) != 1.0}})
    return pd.DataFrame(out, columns=["campaign_id", "run_id", "campaign_seed", "eval_subset", "scales"])


def _runs(conn: sqlite3.Connection, study: str | None, campaigns: pd.DataFrame) -> pd.DataFrame:
    """Per run: the run-level columns of the table, and its clean loss and number of test samples."""
    where, params = ("WHERE study = ?", (study,)) if study is not None else ("", ())
    records = conn.execute(f"SELECT {', '.join(_RUN_FIELDS)} FROM runs {where} ORDER BY {_RUN_ORDER}", params)
    subsets = campaigns.dropna(subset=["eval_subset"]).groupby("run_id")["eval_subset"].min().to_dict()
    out = []
    for row in records:
        r = dict(zip(_RUN_FIELDS, row))
        dataset, subset = _dataset(_json(r.pop("evaluation")), _json(r.pop("config")))
        kept = [int(s) for s in (subset, subsets.get(r["run_id"])) if s is not None]
        k = count_of(r["clean_accuracy"], r["n_eval"])
        out.append({**r, "dataset": dataset, "test_subset": min(kept) if kept else None,
                    "test_hash": r.pop("eval_hash"), "clean_n_correct": k,
                    "clean_accuracy": k / r["n_eval"] if k is not None else r["clean_accuracy"]})
    names = [c for c in _RUN_FIELDS if c not in ("evaluation", "config", "eval_hash")]
    return pd.DataFrame(out, columns=[*names, "dataset", "test_subset", "test_hash", "clean_n_correct"])


def fault_applied(template: str, rate: float, equal_count: int, scale: float | None = None) -> str:
    """The fault a trial applied: ``template`` at ``rate`` (at 1 for an equal-count trial, which sets exactly K
    weights faulty), with the evaluation weight scale as ``*s`` (``faultlab.campaign.scale.Scaled``)."""
    text = template.replace("{rate}", repr(1.0 if equal_count else float(rate)))
    return text if scale is None or equal_count else f"{text}*{scale:g}"


def _trial_columns(df: pd.DataFrame, campaigns: pd.DataFrame) -> pd.DataFrame:
    """Campaign seed, applied fault, scope and exact accuracy of the fault trials; the store's ``*`` as NULL."""
    seeds = dict(zip(campaigns["campaign_id"], campaigns["campaign_seed"]))
    scales = dict(zip(campaigns["campaign_id"], campaigns["scales"]))
    df["campaign_seed"] = df["campaign_id"].map(seeds)
    keys = list(zip(df["campaign_id"], df["fault"], df["rate"], df["equal_count"].fillna(0).astype(int)))
    applied = {k: fault_applied(k[1], k[2], k[3], scales.get(k[0], {}).get(k[2])) for k in set(keys)}
    df["fault_applied"] = [applied[k] for k in keys]
    whole = df["layer"] == ALL_LAYERS
    df["fault_scope"] = np.where(whole, "network", np.where(df["layer"].str.startswith(GROUP_PREFIX), "group",
                                                            "layer"))
    df["layer"] = df["layer"].where(~whole, None)
    df["layer_group"] = df["layer_group"].where(~(whole | (df["layer_group"] == ALL_LAYERS)), None)
    exact = df["n_correct"].notna() & (df["n_samples"] > 0)
    df["accuracy"] = df["accuracy"].where(~exact, df["n_correct"] / df["n_samples"])
    df["clean"] = False
    return df


def _clean_rows(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run with a clean evaluation: rate 0, no fault, its clean count, accuracy and loss."""
    runs = runs[runs["clean_accuracy"].notna()]
    return runs.assign(clean=True, rate=0.0, n_samples=runs["n_eval"], n_correct=runs["clean_n_correct"],
                       accuracy=runs["clean_accuracy"], loss=runs["clean_loss"])


def read_frame(conn: sqlite3.Connection, study: str | None = None, *, clean_rows: bool = False,
               with_masks: bool = False) -> pd.DataFrame:
    """The trial table (``columns.FRAME_COLUMNS``, plus ``correct`` with ``with_masks``): the fault trials, stably
    sorted, after one clean row per run (by study, architecture, method, seed) when ``clean_rows``."""
    campaigns = _campaigns(conn)
    runs = _runs(conn, study, campaigns)
    fields = [f"t.{c}" for c in _TRIAL_FIELDS] + (["t.correct"] if with_masks else [])
    sql = f"SELECT {', '.join(fields)} FROM trials t LEFT JOIN runs r ON r.run_id = t.run_id"
    params: tuple = ()
    if study is not None:
        sql += " WHERE r.study = ?"
        params = (study,)
    names = [*_TRIAL_FIELDS, *([MASK_COLUMN] if with_masks else [])]
    trials = pd.DataFrame.from_records(conn.execute(f"{sql} ORDER BY {_ORDER}", params).fetchall(), columns=names)
    if with_masks:
        trials[MASK_COLUMN] = [None if b is None else unpack_correct(b, n)
                               for b, n in zip(trials[MASK_COLUMN], trials["n_samples"])]
    trials = trials.astype({"n_correct": "Int64", "n_samples": "Int64", "equal_count": "Int64"})
    trials = _trial_columns(trials, campaigns)
    run_side = runs.drop(columns=["clean_loss", "n_eval"])
    parts = [trials.merge(run_side, on="run_id", how="left")]
    if clean_rows:
        parts.insert(0, _clean_rows(runs))
    order = [*FRAME_COLUMNS, *([MASK_COLUMN] if with_masks else [])]
    parts = [p.reindex(columns=order) for p in parts if not p.empty]
    df = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=order)
    strings = {c: _STRING for c in order if columns.BY_NAME[c].type == "string"}
    types: dict[str, Any] = {**strings, **columns.pandas_dtypes(tuple(order))}
    return df.astype(types)


def with_store_labels(frame: pd.DataFrame) -> pd.DataFrame:
    """The fault trials of a trial table in the store's labels, which ``faultlab.stats`` keys on: clean rows
    dropped, a whole-network trial's ``layer`` and ``layer_group`` (NULL in the table) as ``ALL_LAYERS``.
    Also takes an older export (no ``clean``/``fault_scope``) or a frame already in the store's labels."""
    df = frame[~frame["clean"].astype(bool)] if "clean" in frame.columns else frame
    df = df.reset_index(drop=True)
    if "layer" not in df.columns:
        return df
    whole = df["fault_scope"].eq("network") if "fault_scope" in df.columns else df["layer"].isna()
    df["layer"] = df["layer"].where(~whole, ALL_LAYERS)
    if "layer_group" in df.columns:
        df["layer_group"] = df["layer_group"].where(~whole, ALL_LAYERS)
    return df


# ------------------------------------------------------------------------------------ writing


def resolve_format(path: Path, fmt: str | None) -> str:
    """The export format: ``fmt`` if given, else inferred from the file suffix."""
    if fmt is None:
        fmt = FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise StoreError(f"cannot infer export format from {path.name!r}; use a .parquet or .csv "
                             "suffix or pass fmt='parquet'|'csv'")
    if fmt not in ("parquet", "csv"):
        raise StoreError(f"unknown export format {fmt!r}; use 'parquet' or 'csv'")
    return fmt


def check_masks(fmt: str, with_masks: bool) -> None:
    """Masks are a list<bool> column: Parquet only (a CSV cell would be read back as a number)."""
    if with_masks and fmt != "parquet":
        raise StoreError("per-sample masks (with_masks / --with-masks) are a list<bool> column and need Parquet; "
                         "export to a .parquet file")


def _write_parquet(df: pd.DataFrame, path: Path, study: str | None) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = tuple(df.columns)
    table = pa.Table.from_pandas(df, schema=columns.arrow_schema(names), preserve_index=False)
    meta = {**(table.schema.metadata or {}), **columns.file_metadata(names, study)}
    pq.write_table(table.replace_schema_metadata(meta), path)


def write_frame(df: pd.DataFrame, path: Path, fmt: str, study: str | None = None) -> Path:
    """Write ``df`` to ``path`` as Parquet (with the dictionary as schema metadata) or CSV, whole or not at all
    (``faultlab.files.atomic_path``: an OS refusal is one line); the folder is created if missing."""
    from faultlab import files

    check_masks(fmt, MASK_COLUMN in df.columns)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with files.atomic_path(path, "export") as tmp:
            if fmt == "parquet":
                _write_parquet(df, tmp, study)
            else:
                df.to_csv(tmp, index=False)
    except OSError as exc:  # not a refusal files.py words (those are one OutputRefused line already)
        raise (files.refusal(exc, path, "export")
               or StoreError(f"cannot write export {path}: {exc.strerror or exc}; pick another path")) from None
    return path
