"""Results store: runs, fault campaigns and per-trial results in one SQLite file (WAL)."""

from __future__ import annotations

from .errors import StoreError
from .frame import FRAME_COLUMNS
from .migrations import MIGRATIONS, apply_migrations
from .rows import ALL_LAYERS, GROUP_PREFIX
from .store import ResultsStore

__all__ = [
    "ALL_LAYERS", "FRAME_COLUMNS", "GROUP_PREFIX", "MIGRATIONS", "ResultsStore", "StoreError", "apply_migrations",
]
