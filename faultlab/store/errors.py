"""Exceptions raised by the results store (user errors: the CLI prints them as one line)."""

from __future__ import annotations

from faultlab import FaultlabError


class StoreError(FaultlabError):
    """A store operation was refused: bad path, bad row, bad format, integrity violation."""
