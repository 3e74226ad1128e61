"""How a store file is checked and opened before ``ResultsStore`` uses it: its folder (exists, writable), its
header (SQLite's), a read-only connection that writes nothing (an older schema migrated in memory), and a write the
operating system refused, in words."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from .errors import StoreError
from .migrations import MIGRATIONS, applied, apply_migrations

SQLITE_MAGIC = b"SQLite format 3\x00"


# SQLite's primary error codes of a write the operating system refused -> in words
REFUSED_WRITES = {
    "SQLITE_FULL": "the disk is full",
    "SQLITE_IOERR": "a write failed (disk I/O error: a full disk, the file size limit or a failing device)",
    "SQLITE_READONLY": "the store file or its folder is read-only",
    "SQLITE_CANTOPEN": "its folder does not take new files (read-only or not writable)",
    "SQLITE_PERM": "permission denied",
}


_REFUSAL_TEXTS = {"disk is full": "SQLITE_FULL", "disk I/O error": "SQLITE_IOERR",
                  "readonly database": "SQLITE_READONLY", "unable to open database": "SQLITE_CANTOPEN"}


def os_refusal(exc: sqlite3.Error, path: Path | str) -> StoreError | None:
    """The one-line error for a write SQLite reports the operating system refused (None for other errors)."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    code = next((c for c in REFUSED_WRITES if name == c or name.startswith(c + "_")), None)
    code = code or next((c for text, c in _REFUSAL_TEXTS.items() if text in str(exc)), None)
    if code is None:
        return None
    return StoreError(f"cannot write store {path}: {REFUSED_WRITES[code]} ({exc}); the rows stored before are kept; "
                      "free space or fix permissions, then re-run the same command to resume, or pick another --store")


def check_folder(path: Path) -> None:
    """Refuse a path whose folder is missing or not writable (before any file is created)."""
    parent = path.parent
    if path.is_dir():
        raise StoreError(f"store path {path} is a folder; pass a file path such as {path / 'results.db'}")
    if not parent.is_dir():
        raise StoreError(f"store folder {parent} does not exist; "
                         f"create it (mkdir -p {parent}) or pick another path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise StoreError(f"store folder {parent} is not writable; fix its permissions or pick another path")


def check_sqlite_file(path: Path) -> bytes:
    """The first 100 bytes (the SQLite header) of an existing store file; refuse anything else."""
    if path.is_dir():
        raise StoreError(f"store path {path} is a folder; pass the results file (e.g. results/<study>.sqlite)")
    with path.open("rb") as f:
        header = f.read(100)
    if header and not header.startswith(SQLITE_MAGIC):
        raise StoreError(f"{path} is not a database (no SQLite header), so not a results store; pass the one "
                         "written by 'faultlab campaign' or 'faultlab sweep'")
    return header


def connect_read_only(path: Path) -> sqlite3.Connection:
    """Open an existing store for reading without writing anything: no schema, no -wal/-shm files.

    A WAL store with no ``-wal`` file beside it has no writer and nothing un-checkpointed, so it is
    opened ``immutable`` (SQLite's read-only URI mode would create -wal and -shm files); otherwise
    ``mode=ro`` shares the writers' WAL index. A store of an older schema is copied into memory and
    migrated there, so the file is never upgraded by a reader.
    """
    if not path.exists():
        raise StoreError(f"store not found: {path} (run 'faultlab campaign' or 'faultlab sweep' first)")
    header = check_sqlite_file(path)
    wal = header[18:20] == b"\x02\x02"
    flag = "immutable=1" if wal and not Path(f"{path}-wal").exists() else "mode=ro"
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?{flag}", uri=True, timeout=60, isolation_level=None)
        names = applied(conn)
        if not names:
            raise StoreError(f"{path} is not a faultlab results store (no schema_migrations table)")
        if len(names) < len(MIGRATIONS):  # an older store: upgrade a copy in memory, never the file
            memory = sqlite3.connect(":memory:", isolation_level=None)
            conn.backup(memory)
            conn.close()
            conn = memory
            apply_migrations(conn)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot read store {path}: {exc} (truncated or not a results file?)") from exc
    return conn
