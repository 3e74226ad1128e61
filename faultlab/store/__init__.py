"""Results store: runs, fault campaigns and per-trial results in one SQLite file (WAL)."""

from __future__ import annotations

from .errors import FaultlabStoreError, StoreError
from .frame import FRAME_COLUMNS
from .migrations import MIGRATIONS, apply_migrations
from .store import ResultsStore

__all__ = [
    "FRAME_COLUMNS", "MIGRATIONS", "FaultlabStoreError", "ResultsStore", "StoreError", "apply_migrations",
]
