"""``ResultsStore``: the SQLite results store (one file, safe for several writer processes).

Journal modes: ``wal`` (default) lets readers and one writer proceed together, but needs shared memory
between the processes, so all of them must run on one machine. ``delete`` (SQLite's rollback journal)
relies only on POSIX file locks: use it when processes on several machines write one store on a
shared filesystem whose locks work (NFSv4, Lustre/GPFS with locking on). Choose it with
``journal="delete"`` or ``FAULTLAB_STORE_JOURNAL=delete``; ``faultlab sweep --executor ray --address``
does so for the whole cluster.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import frame, looks, rows
from .errors import StoreError
from .migrations import apply_migrations
from .opening import check_folder, check_sqlite_file, connect_read_only, os_refusal

_TRIAL_FIELDS = [c for c in rows.TRIAL_COLUMNS if c != "correct"]
JOURNAL_ENV = "FAULTLAB_STORE_JOURNAL"
JOURNAL_MODES = ("wal", "delete")


class ResultsStore:
    """Runs, fault campaigns and per-trial results in one SQLite file.

    Every write is one ``BEGIN IMMEDIATE`` transaction, so concurrent processes serialise on the
    write lock (waiting up to 60 s) instead of failing, and a row batch is written whole or not at all.
    ``read_only=True`` opens an existing store without writing to it or beside it (``stats``,
    ``report``, ``export``); otherwise the store is created if missing and checked to be writable.
    """

    def __init__(self, path: str | Path, journal: str | None = None, read_only: bool = False) -> None:
        self.read_only = read_only
        if read_only:
            self.path = Path(path).expanduser().resolve()
            self.conn = connect_read_only(self.path)
            self.journal = "read-only"
            return
        journal = (journal or os.environ.get(JOURNAL_ENV) or "wal").lower()
        if journal not in JOURNAL_MODES:
            raise StoreError(f"journal mode {journal!r} (argument or ${JOURNAL_ENV}); use 'wal' (one machine) "
                             "or 'delete' (writers on several machines sharing the file)")
        self.path = Path(path) if str(path) == ":memory:" else Path(path).expanduser().resolve()
        if str(path) != ":memory:":
            check_folder(self.path)
            if self.path.exists():
                check_sqlite_file(self.path)
        try:
            self.conn = sqlite3.connect(str(self.path), timeout=60, isolation_level=None)
        except sqlite3.Error as exc:
            raise (os_refusal(exc, self.path) or StoreError(f"cannot open store {self.path}: {exc}")) from exc
        try:
            self.conn.execute("PRAGMA busy_timeout=60000")
            self._set_journal(journal)
            self.conn.execute(f"PRAGMA synchronous={'NORMAL' if journal == 'wal' else 'FULL'}")
            self.conn.execute("PRAGMA foreign_keys=ON")
            apply_migrations(self.conn)
            self._check_writable()
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise (os_refusal(exc, self.path)
                   or StoreError(f"cannot open store {self.path}: {exc} (not a results file?)")) from exc
        except BaseException:
            self.conn.close()
            raise

    def _check_writable(self) -> None:
        """Refuse a store that cannot be written (read-only or immutable file) now, not after an evaluation."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            self.conn.execute(f"PRAGMA user_version={int(version)}")  # a write of page 1, rolled back
        except sqlite3.OperationalError as exc:
            raise StoreError(f"store {self.path} is not writable ({exc}); fix its permissions or pick "
                             "another --store") from exc
        finally:
            self.conn.execute("ROLLBACK")

    def _set_journal(self, mode: str, wait_s: float = 60.0) -> None:
        """Set the journal mode, retrying if another process holds the lock while creating the file."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                self.journal = self.conn.execute(f"PRAGMA journal_mode={mode}").fetchone()[0]
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    # -- lifecycle ------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ResultsStore({str(self.path)!r})"

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction, rolled back on any error; a full disk or a refused write is
        one ``StoreError`` line (what was committed before stays)."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
                self.conn.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        except sqlite3.OperationalError as exc:
            error = os_refusal(exc, self.path)
            if error is not None:
                raise error from None
            raise

    def _rollback(self) -> None:
        """Roll back the open transaction, if SQLite has not already (it does after some I/O errors)."""
        if self.conn.in_transaction:
            with suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")

    def _select(self, sql: str, params: tuple | dict = ()) -> list[dict]:
        cur = self.conn.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    # -- runs -----------------------------------------------------------------------------------
    def add_run(self, row: dict) -> None:
        """Insert a run, or update the given columns of an existing one (keyed by ``run_id``)."""
        out = rows.encode_row(row, rows.RUN_COLUMNS, ("run_id",), "run")
        cols = list(out)
        updates = ", ".join(f"{c}=excluded.{c}" for c in cols if c not in ("run_id", "created_at"))
        conflict = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        sql = (f"INSERT INTO runs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
               f"ON CONFLICT(run_id) {conflict}")
        with self._write() as conn:
            conn.execute(sql, [out[c] for c in cols])

    def get_run(self, run_id: str) -> dict | None:
        """The run row (config parsed from JSON), or None."""
        found = self._select("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        return rows.decode_config(found[0]) if found else None

    def runs(self, study: str | None = None) -> list[dict]:
        """All runs, or those of one study, ordered by study then run_id."""
        where, params = ("WHERE study = ?", (study,)) if study is not None else ("", ())
        return [rows.decode_config(r) for r in
                self._select(f"SELECT * FROM runs {where} ORDER BY study, run_id", params)]

    def find_runs(self, study: str, **equal: Any) -> list[dict]:
        """The runs of ``study`` whose columns equal ``equal`` (None matches NULL), e.g.
        ``find_runs("demo", variant="resnet20", method="vanilla", train_seed=0)``; ordered by creation."""
        unknown = sorted(set(equal) - set(rows.RUN_COLUMNS))
        if unknown:
            raise StoreError(f"find_runs: unknown column(s) {unknown}; allowed: {list(rows.RUN_COLUMNS)}")
        where = " AND ".join(["study = ?", *(f"{k} IS ?" for k in equal)])
        params = (study, *(rows.plain(v) for v in equal.values()))
        return [rows.decode_config(r) for r in self._select(f"SELECT * FROM runs WHERE {where} ORDER BY rowid", params)]

    def studies(self) -> list[str]:
        """Distinct study names, sorted."""
        return [r[0] for r in self.conn.execute(
            "SELECT DISTINCT study FROM runs WHERE study IS NOT NULL ORDER BY study")]

    # -- study specs ----------------------------------------------------------------------------
    def record_study(self, name: str, spec: dict) -> str:
        """Store the spec a sweep of study ``name`` runs (its full resolved form, JSON-serialisable) and return
        its hash; a version stored before becomes the latest again."""
        text, digest = rows.spec_json(spec)
        with self._write() as conn:
            seq = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM studies").fetchone()[0]
            conn.execute("INSERT INTO studies (name, spec_hash, spec, created_at, seq) VALUES (?, ?, ?, ?, ?) "
                         "ON CONFLICT(name, spec_hash) DO UPDATE SET seq = excluded.seq",
                         (name, digest, text, rows.now(), seq))
        return digest

    def study_spec(self, name: str) -> dict | None:
        """The spec the latest sweep of study ``name`` ran, or None (no sweep stored one: a campaign's
        store, or one written before specs were stored)."""
        found = self.conn.execute("SELECT spec FROM studies WHERE name = ? ORDER BY seq DESC LIMIT 1",
                                  (name,)).fetchone()
        return json.loads(found[0]) if found else None

    # -- sequential looks (faultlab sweep --until-decided; columns in faultlab.store.looks) ------------
    def record_look(self, rows: list[dict]) -> None:
        """Store one look of a sequential sweep (one row per contrast tested), whole or not at all."""
        with self._write() as conn:
            looks.insert_look(conn, rows)

    def looks(self, study: str) -> list[dict]:
        """The recorded looks of ``study``, one row per contrast tested at each look, in order."""
        return looks.read_looks(self.conn, study)

    # -- campaigns ------------------------------------------------------------------------------
    def add_campaign(self, row: dict) -> None:
        """Insert a campaign; an existing ``campaign_id`` is left unchanged. Its run must exist."""
        out = rows.encode_row(row, rows.CAMPAIGN_COLUMNS, ("campaign_id", "run_id"), "campaign")
        cols = list(out)
        sql = f"INSERT OR IGNORE INTO campaigns ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        try:
            with self._write() as conn:
                conn.execute(sql, [out[c] for c in cols])
        except sqlite3.IntegrityError as exc:
            raise StoreError(f"campaign {out['campaign_id']!r} refers to run {out['run_id']!r}, "
                             f"which is not stored; add_run() it first ({exc})") from exc

    def campaigns(self, run_id: str | None = None) -> list[dict]:
        """All campaigns, or those of one run (config parsed from JSON)."""
        where, params = ("WHERE run_id = ?", (run_id,)) if run_id is not None else ("", ())
        return [rows.decode_config(r) for r in
                self._select(f"SELECT * FROM campaigns {where} ORDER BY rowid", params)]

    # -- trials ---------------------------------------------------------------------------------
    def add_trials(self, trial_rows: list[dict]) -> int:
        """Insert trials in one transaction, skipping stored ones; return how many were inserted.

        Every row is validated first; a bad row raises StoreError and nothing is written.
        ``correct`` may be a 1-D bool numpy array (it is bit-packed and ``n_samples`` set).
        """
        stamp = rows.now()
        values = []
        for i, row in enumerate(trial_rows):
            try:
                values.append(rows.encode_trial(row, stamp))
            except StoreError as exc:
                raise StoreError(f"trial row {i}: {exc}") from None
        if not values:
            return 0
        cols = rows.TRIAL_COLUMNS
        sql = f"INSERT OR IGNORE INTO trials ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        with self._write() as conn:
            before = conn.total_changes
            conn.executemany(sql, values)
            return conn.total_changes - before

    def trials(self, where: str | None = None, params: tuple | dict = (),
               with_correct: bool = False) -> Iterator[dict]:
        """Yield trial rows as dicts, in insertion order, filtered by an optional SQL ``where``.

        With ``with_correct`` each row's ``correct`` is the unpacked bool array (or None).
        """
        fields = rows.TRIAL_COLUMNS if with_correct else _TRIAL_FIELDS
        sql = f"SELECT {', '.join(fields)} FROM trials"
        if where:
            sql += f" WHERE {where}"
        cur = self.conn.execute(sql + " ORDER BY rowid", params)
        while batch := cur.fetchmany(1000):
            for values in batch:
                row = dict(zip(fields, values))
                if with_correct and row["correct"] is not None:
                    row["correct"] = rows.unpack_correct(row["correct"], row["n_samples"])
                yield row

    def count_trials(self, where: str | None = None, params: tuple | dict = (), *,
                     run_id: str | None = None, fault: str | None = None, rate: float | None = None,
                     layer: str | None = None, campaign_id: str | None = None) -> int:
        """Number of stored trials matching an optional SQL ``where`` and/or keyword filters."""
        if where and (run_id, fault, rate, layer, campaign_id) != (None,) * 5:
            raise StoreError("count_trials: pass either where= or keyword filters, not both")
        if not where:
            filters: dict[str, Any] = {"run_id": run_id, "fault": fault, "layer": layer,
                                       "campaign_id": campaign_id,
                                       "rate": None if rate is None else rows.norm_rate(rate)}
            filters = {k: v for k, v in filters.items() if v is not None}
            where = " AND ".join(f"{k} = :{k}" for k in filters) or None
            params = filters
        sql = "SELECT COUNT(*) FROM trials" + (f" WHERE {where}" if where else "")
        return int(self.conn.execute(sql, params).fetchone()[0])

    def per_sample_counts(self, run_id: str, fault: str, rate: float,
                          layer: str = rows.ALL_LAYERS, equal_count: int = 0) -> tuple[np.ndarray, int]:
        """Per-test-sample number of correct trials in one cell, and the number of trials.

        Summed from the stored per-trial masks, so it always matches the stored trials.
        Returns ``(empty int64 array, 0)`` when the cell has no trials.
        """
        cur = self.conn.execute(
            "SELECT trial, n_samples, correct FROM trials "
            "WHERE run_id = ? AND fault = ? AND rate = ? AND layer = ? AND equal_count = ? ORDER BY trial",
            (run_id, fault, rows.norm_rate(rate), layer, int(equal_count)))
        total: np.ndarray | None = None
        n_trials = 0
        for trial, n_samples, blob in cur:
            if blob is None:
                raise StoreError(f"trial {trial} of ({run_id}, {fault}, {rate}, {layer}) has no "
                                 "per-sample mask; store 'correct' to use per_sample_counts")
            mask = rows.unpack_correct(blob, n_samples)
            if total is None:
                total = np.zeros(n_samples, dtype=np.int64)
            elif total.size != n_samples:
                raise StoreError(f"trial {trial} has n_samples={n_samples}, earlier trials {total.size}")
            total += mask
            n_trials += 1
        return (np.zeros(0, dtype=np.int64) if total is None else total), n_trials

    # -- tables out -----------------------------------------------------------------------------
    def to_frame(self, study: str | None = None, *, clean_rows: bool = False,
                 with_masks: bool = False) -> pd.DataFrame:
        """The trial table: one row per fault trial with its run's and campaign's columns (``FRAME_COLUMNS``,
        defined in ``faultlab.store.columns`` and docs/export.md); ``clean_rows`` adds one row per run for its
        clean evaluation (as the export has), ``with_masks`` the per-sample ``correct`` column."""
        return frame.read_frame(self.conn, study, clean_rows=clean_rows, with_masks=with_masks)

    def export(self, path: str | Path, fmt: str | None = None, study: str | None = None, *,
               with_masks: bool = False) -> Path:
        """Write ``to_frame(study, clean_rows=True, with_masks=...)`` as Parquet (with the data dictionary as
        schema metadata) or CSV (``fmt``, else from the suffix), atomically; return the path."""
        path = Path(path)
        fmt = frame.resolve_format(path, fmt)
        frame.check_masks(fmt, with_masks)
        table = self.to_frame(study, clean_rows=True, with_masks=with_masks)
        return frame.write_frame(table, path, fmt, study)
