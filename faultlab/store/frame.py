"""The tidy long table (one row per trial) and its Parquet/CSV export."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd

from .errors import StoreError

FRAME_DTYPES: dict[str, str] = {
    "study": "object",
    "run_id": "object",
    "architecture": "object",
    "variant": "object",
    "method": "object",
    "train_seed": "Int64",
    "weights_hash": "object",
    "clean_accuracy": "float64",
    "campaign_id": "object",
    "fault": "object",
    "rate": "float64",
    "trial": "Int64",
    "layer": "object",
    "layer_group": "object",
    "equal_count": "Int64",
    "fault_seed": "Int64",
    "accuracy": "float64",
    "loss": "float64",
    "seconds": "float64",
    "n_samples": "Int64",
    "metric_name": "object",  # a metric beyond top-1 (e.g. top5), or None
    "metric": "float64",
}
FRAME_COLUMNS = tuple(FRAME_DTYPES)

_RUN_SIDE = ("study", "architecture", "variant", "method", "train_seed", "weights_hash", "clean_accuracy")
_SELECT = ", ".join([f"r.{c}" for c in _RUN_SIDE[:1]] + ["t.run_id"] + [f"r.{c}" for c in _RUN_SIDE[1:]]
                    + [f"t.{c}" for c in FRAME_COLUMNS[8:]])
_ORDER = "r.study, r.architecture, r.method, r.train_seed, t.fault, t.layer, t.rate, t.trial, t.rowid"
FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


def read_frame(conn: sqlite3.Connection, study: str | None = None) -> pd.DataFrame:
    """One row per trial joined with its run's columns, stably sorted (no mask blob)."""
    sql = f"SELECT {_SELECT} FROM trials t LEFT JOIN runs r ON r.run_id = t.run_id"
    params: tuple = ()
    if study is not None:
        sql += " WHERE r.study = ?"
        params = (study,)
    rows = conn.execute(f"{sql} ORDER BY {_ORDER}", params).fetchall()
    df = pd.DataFrame.from_records(rows, columns=list(FRAME_COLUMNS))
    # numeric columns get fixed (nullable) dtypes; text columns keep pandas' default string dtype
    return df.astype({c: t for c, t in FRAME_DTYPES.items() if t != "object"})


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


def write_frame(df: pd.DataFrame, path: Path, fmt: str) -> Path:
    """Write ``df`` to ``path`` as Parquet or CSV (no index)."""
    if not path.parent.is_dir():
        raise StoreError(f"export folder {path.parent} does not exist; create it first")
    if fmt == "parquet":
        df.to_parquet(path, index=False)
    else:
        df.to_csv(path, index=False)
    return path
