"""Tools of the reliability tests: real refusals of the operating system (a file size limit, an unwritable
folder), what /proc says about processes, and how an interrupted command may end."""

from __future__ import annotations

import os
import resource
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def ended_by(code: int, signum: int) -> bool:
    """Exit status 128 + signal, as faultlab exits on an interrupt; or, for Ctrl-C, death by SIGINT itself:
    seen once in many runs, after faultlab had printed its line (the interrupt had landed in an import; CPython
    can end such a process by SIGINT at exit). A shell shows 130 for both."""
    return code == 128 + signum or (signum == signal.SIGINT and code == -signum)


def trials_in(store: Path) -> int:
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as conn:
            return conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
    except sqlite3.Error:  # not created yet
        return 0


def workers_of(pid: int) -> set[int]:
    """The worker processes (multiprocessing's spawn_main, or Ray's) whose parent is ``pid`` (Linux /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == pid and b"spawn_main" in cmdline:
            found.add(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def catches_sigterm(pid: int) -> bool:
    """Whether the faultlab process has a SIGTERM handler: its commands install one when their work starts
    (before ``exec`` a forked child still shows its parent's handlers: those do not count)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        if b"faultlab.cli" not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return False
    except OSError:
        return False
    mask = int(next(line for line in status.splitlines() if line.startswith("SigCgt:")).split()[1], 16)
    return bool(mask >> (signal.SIGTERM - 1) & 1)


@contextmanager
def file_size_limit(nbytes: int) -> Iterator[None]:
    """Writes past ``nbytes`` of any file fail with EFBIG, a real refusal of the OS (RLIMIT_FSIZE; SIGXFSZ
    ignored), as a full disk fails them with ENOSPC."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


@contextmanager
def unwritable(folder: Path) -> Iterator[None]:
    """``folder`` refuses new files: chmod for a user, ``chattr +i`` for root (whom permissions do not bind)."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("running as root and chattr +i is not permitted here")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)])
