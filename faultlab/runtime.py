"""Process-level speed settings measured on the project machines (see benchmarks/).

glibc returns large freed blocks to the OS and PyTorch then page-faults on every forward pass;
keeping them (M_MMAP_MAX=0, M_TRIM_THRESHOLD=1 GiB) made ResNet20 inference about 1.9x faster on
2 CPU cores. ``tune_allocator()`` applies that once per process; ``FAULTLAB_NO_MALLOPT=1`` turns it off.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import time

M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
TRIM_THRESHOLD_BYTES = 1 << 30
_applied: bool | None = None
_command_start: float | None = None


def tune_allocator() -> bool:
    """Keep freed heap memory in the process (glibc only). Returns True when applied."""
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if os.environ.get("FAULTLAB_NO_MALLOPT") == "1":
        return False
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        ok = libc.mallopt(M_MMAP_MAX, 0) == 1 and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
    except (OSError, AttributeError):
        return False
    _applied = bool(ok)
    return _applied


def allocator_name() -> str:
    return "glibc, mallopt tuned" if _applied else "glibc default"


def mark_command_start() -> None:
    """Called first by the ``faultlab`` command: :func:`command_seconds` counts from here."""
    global _command_start
    _command_start = time.perf_counter()


def command_seconds() -> float | None:
    """Seconds since the ``faultlab`` command started: its imports (torch, Lightning), parsing and checks, as far as
    it has got. None outside a command (a library call has no start of its own to measure)."""
    return None if _command_start is None else time.perf_counter() - _command_start
