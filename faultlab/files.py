"""Writing output files so that the operating system's refusals harm nothing: each write goes to a
temporary file of its own beside the target (two writers of one output never share one), is fsync'd and
then renamed over the target (``os.replace``), so an existing file stays whole and no half-written or empty
file is left behind; a full disk, a read-only or unwritable folder become one ``OutputRefused`` line.

    with atomic_path(Path("reports/demo.pdf"), "--out") as tmp:
        render(tmp)                            # the target appears only complete

A leaf: imports nothing of faultlab but its error base class.
"""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from faultlab import FaultlabError

# errno -> what it means for a write, in words
REFUSALS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exhausted",
    errno.EFBIG: "the file grew past the allowed file size (ulimit -f)",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "the operation is not permitted (an immutable file or folder?)",
}
TEMP_SUFFIX = ".tmp"


class OutputRefused(FaultlabError):
    """The operating system refused a write (full disk, read-only or unwritable folder)."""


def refused_errno(exc: BaseException | None) -> OSError | None:
    """The OSError with a refusal errno (``REFUSALS``) in ``exc`` or its causes, if any."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in REFUSALS:
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def refusal(exc: BaseException, target: str | Path | None = None, what: str = "") -> OutputRefused | None:
    """The one-line error for an OS refusal inside ``exc`` (None when ``exc`` holds none): which file,
    what the OS said, and that the existing files are unchanged."""
    err = refused_errno(exc)
    if err is None:
        return None
    where = target if target is not None else err.filename
    label = f"{what} {where}" if what else str(where or "an output")
    return OutputRefused(f"cannot write {label}: {REFUSALS[err.errno]} ({os.strerror(err.errno)}); existing "
                         "files are unchanged; free space, fix the folder's permissions or pick another path")


def check_writable_folder(folder: str | Path, what: str = "output folder") -> Path:
    """Refuse, in one line, a folder that exists but cannot take new files (permissions, read-only file
    system, immutable); a missing folder is left to its creator. Returns the folder."""
    folder = Path(folder)
    if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
        read_only = _read_only_fs(folder)
        why = "is on a read-only file system" if read_only else "is not writable"
        raise OutputRefused(f"{what} {folder} {why}; fix its permissions or pick another path")
    return folder


def existing_ancestor(path: str | Path) -> Path:
    """``path`` if it is a folder, else the nearest existing folder above it (where it would be created)."""
    path = Path(path).absolute()
    for folder in (path, *path.parents):
        if folder.is_dir():
            return folder
    return Path(path.anchor or "/")


def _read_only_fs(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def temp_path(target: str | Path, what: str = "") -> Path:
    """A new, empty, uniquely named file beside ``target`` (created here, so no other writer gets it); an OS
    refusal is one ``OutputRefused`` line naming ``target``."""
    target = Path(target)
    path = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.{os.getpid()}{TEMP_SUFFIX}")  # pid last
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    except OSError as exc:
        raise (refusal(exc, target, what) or exc) from None
    return path


def fsync_path(path: Path) -> None:
    """Flush a file's (or a folder's) data to the disk; a folder that refuses (some file systems) is skipped."""
    flags = os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() and hasattr(os, "O_DIRECTORY") else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        if path.is_dir():
            return
        raise
    try:
        os.fsync(fd)
    except OSError as err:
        if not path.is_dir() or err.errno not in (errno.EINVAL, errno.EBADF):
            raise
    finally:
        os.close(fd)


def replace_synced(tmp: Path, target: Path) -> None:
    """fsync ``tmp``, rename it onto ``target`` and fsync the folder: the target is the old file or the
    complete new one, also after a power cut."""
    fsync_path(tmp)
    os.replace(tmp, target)
    fsync_path(target.parent)


@contextmanager
def finishing(tmp: Path, target: str | Path, what: str = "") -> Iterator[None]:
    """Around the last step of writing ``tmp`` (from :func:`temp_path`): when the block succeeds ``tmp`` is
    synced and replaces ``target``; when anything fails ``tmp`` is removed, ``target`` is untouched and an OS
    refusal becomes one ``OutputRefused`` line naming ``target`` (``what`` names it, e.g. ``--out``)."""
    try:
        yield
        replace_synced(tmp, Path(target))
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        error = refusal(exc, target, what) if isinstance(exc, Exception) else None
        if error is not None:
            raise error from None
        raise


@contextmanager
def atomic_path(target: str | Path, what: str = "") -> Iterator[Path]:
    """A temporary path of this writer's own beside ``target``; when the block succeeds it replaces
    ``target`` (synced), otherwise it is removed and ``target`` is untouched. An OS refusal anywhere in
    the block (or in creating the temporary file) becomes one ``OutputRefused`` line naming ``target``."""
    tmp = temp_path(target, what)
    with finishing(tmp, target, what):
        yield tmp


@contextmanager
def atomic_folder_files(folder: str | Path, what: str = "") -> Iterator[Path]:
    """A temporary folder beside ``folder``; when the block succeeds each file in it is synced and renamed
    into ``folder`` (created if missing), so a refused or interrupted write leaves the previous files whole."""
    import tempfile

    folder = Path(folder)
    tmp = None
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=TEMP_SUFFIX, dir=folder.parent))
        yield tmp
        folder.mkdir(exist_ok=True)
        files = sorted(f for f in tmp.iterdir() if f.is_file())
        for f in files:
            fsync_path(f)
        for f in files:
            os.replace(f, folder / f.name)
        fsync_path(folder)
    except Exception as exc:
        error = refusal(exc, folder, what)
        if error is not None:
            raise error from None
        raise
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def remove_stale_temps(folder: str | Path) -> list[Path]:
    """Remove ``*.<pid>.tmp`` files in ``folder`` whose writing process (on this machine) is gone, e.g. a
    worker killed by an interrupted sweep. Returns what was removed."""
    removed = []
    for path in Path(folder).glob(f"*{TEMP_SUFFIX}"):
        pid = path.name[: -len(TEMP_SUFFIX)].rsplit(".", 1)[-1]
        if pid.isdigit() and path.is_file() and not _alive(int(pid)):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _tree(folder: Path) -> set[Path]:
    return set(folder.rglob("*")) | {folder} if folder.exists() else set()


@contextmanager
def undone_on_refusal(folders: list[Path], what: str = "") -> Iterator[None]:
    """When the OS refuses a write inside the block, remove every file and folder the block created under
    ``folders`` (half-written or empty logs, a saved config) and raise one ``OutputRefused`` line; what
    existed before is left as it was (checkpoints are replaced atomically, so they are whole)."""
    folders = [Path(f).absolute() for f in dict.fromkeys(folders)]
    before = set().union(*(_tree(f) for f in folders))
    try:
        yield
    except Exception as exc:
        error = refusal(exc, folders[0] if folders else None, what)
        if error is None:
            raise
        created = set().union(*(_tree(f) for f in folders)) - before
        for path in sorted(created, key=lambda p: len(p.parts), reverse=True):  # files before their folders
            with suppress(OSError):
                path.rmdir() if path.is_dir() and not path.is_symlink() else path.unlink()
        raise error from None


def quiet_thread_refusals() -> None:
    """A background writer thread (TensorBoard's event writer) that the OS refuses dies without printing
    a traceback: the main thread meets the same error and reports it in one line."""
    import threading

    previous = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        if refused_errno(args.exc_value) is None:
            previous(args)

    threading.excepthook = hook
