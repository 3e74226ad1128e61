"""The looks of a sequential sweep (``faultlab sweep --until-decided``): one row per primary contrast tested at a
look, in the ``sequential_looks`` table (migration 0006). A look is written whole, in one transaction, and never
revised: a resumed sweep replays the recorded looks and continues from the first unrecorded one.

Columns: ``study``, ``look`` (1, 2, ...), ``runs_per_arm`` (the look's planned runs per arm), ``contrast`` (label),
``fault`` / ``scope`` (the surface), ``arms`` (the contrast's arms, a list of [variant, method]; JSON in the file),
``n_runs`` (fewest runs of an arm), ``estimate`` / ``se`` / ``df`` / ``statistic`` (t = estimate / se),
``efficacy_bound`` / ``futility_bound`` / ``equivalence_bound`` (t scale), ``margin``, ``decision`` and ``reason``
(typed values of :mod:`faultlab.stats.vocabulary`), and the design: ``first_look``, ``step``, ``max_runs``,
``alpha``, ``futility`` (0/1), ``power``; ``created_at``.
"""

from __future__ import annotations

import json
import math
import sqlite3
from typing import Any

from .errors import StoreError
from .rows import check_columns, now, plain

LOOK_COLUMNS = (
    "study", "look", "runs_per_arm", "contrast", "fault", "scope", "arms", "n_runs", "estimate", "se", "df",
    "statistic", "efficacy_bound", "futility_bound", "equivalence_bound", "margin", "decision", "reason",
    "first_look", "step", "max_runs", "alpha", "futility", "power", "created_at",
)
LOOK_REQUIRED = ("study", "look", "runs_per_arm", "contrast", "fault", "scope", "arms", "decision", "first_look",
                 "step", "max_runs", "alpha", "futility", "power")
_FLOATS = ("estimate", "se", "df", "statistic", "efficacy_bound", "futility_bound", "equivalence_bound", "margin")


def _encode(row: dict, stamp: str) -> tuple:
    check_columns(row, LOOK_COLUMNS, LOOK_REQUIRED, "look")
    out = {k: plain(v) for k, v in row.items()}
    out["arms"] = json.dumps([list(a) for a in out["arms"]])
    for key in _FLOATS:  # NaN (not computed) is stored as NULL
        v = out.get(key)
        out[key] = None if v is None or not math.isfinite(float(v)) else float(v)
    out["futility"] = int(bool(out["futility"]))
    out["decision"], out["reason"] = str(out["decision"]), None if out.get("reason") is None else str(out["reason"])
    out.setdefault("created_at", stamp)
    return tuple(out.get(c) for c in LOOK_COLUMNS)


def insert_look(conn: sqlite3.Connection, rows: list[dict]) -> None:
    """Insert one look's rows (inside the caller's transaction); a look already recorded is refused."""
    if not rows:
        raise StoreError("a look needs at least one contrast row")
    keys = {(r.get("study"), r.get("look")) for r in rows}
    if len(keys) != 1:
        raise StoreError(f"one look at a time: rows of {sorted(keys, key=str)}")
    (study, look), = keys
    if conn.execute("SELECT 1 FROM sequential_looks WHERE study = ? AND look = ?", (study, look)).fetchone():
        raise StoreError(f"look {look} of study {study!r} is already recorded (is another sweep of it running?); "
                         "recorded looks are never revised")
    stamp = now()
    values = [_encode(r, stamp) for r in rows]
    conn.executemany(f"INSERT INTO sequential_looks ({', '.join(LOOK_COLUMNS)}) "
                     f"VALUES ({', '.join('?' * len(LOOK_COLUMNS))})", values)


def read_looks(conn: sqlite3.Connection, study: str) -> list[dict[str, Any]]:
    """The study's look rows in order (look, then insertion), ``arms`` as a list of (variant, method),
    ``futility`` as a bool, NULL numbers as NaN."""
    cur = conn.execute(f"SELECT {', '.join(LOOK_COLUMNS)} FROM sequential_looks WHERE study = ? "
                       "ORDER BY look, rowid", (study,))
    out = []
    for values in cur.fetchall():
        row = dict(zip(LOOK_COLUMNS, values))
        row["arms"] = [tuple(a) for a in json.loads(row["arms"])]
        row["futility"] = bool(row["futility"])
        for key in _FLOATS:
            row[key] = math.nan if row[key] is None else row[key]
        out.append(row)
    return out
