"""Exceptions raised by the results store."""

from __future__ import annotations


class FaultlabStoreError(Exception):
    """Base class for every results-store error."""


class StoreError(FaultlabStoreError):
    """A store operation was refused: bad path, bad row, bad format, integrity violation."""
