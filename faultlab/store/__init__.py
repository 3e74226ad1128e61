"""Results store: runs, fault campaigns and per-trial results in one SQLite file (WAL)."""

from __future__ import annotations

from .columns import COLUMNS, FRAME_COLUMNS
from .errors import StoreError
from .frame import with_store_labels
from .migrations import MIGRATIONS, apply_migrations
from .rows import ALL_LAYERS, GROUP_PREFIX
from .store import ResultsStore

__all__ = [
    "ALL_LAYERS", "COLUMNS", "FRAME_COLUMNS", "GROUP_PREFIX", "MIGRATIONS", "ResultsStore", "StoreError",
    "apply_migrations", "with_store_labels",
]
