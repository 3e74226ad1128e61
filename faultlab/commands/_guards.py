"""Guards every subcommand shares: output paths that never overwrite an input, atomic writes, a read-only store,
and interrupts that end in one line (argument errors: ``faultlab.parsing``).

    out = check_output(args.out, "csv", inputs={"store": args.store}, force=args.force)
    with atomic_path(out) as tmp:
        write(tmp)                     # an interrupted write leaves the old file intact
"""

from __future__ import annotations

import argparse
import functools
import os
import signal
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from faultlab import FaultlabError, files
from faultlab.files import check_writable_folder, existing_ancestor

# ------------------------------------------------------------------------------------ outputs

SQLITE_MAGIC = b"SQLite format 3\x00"
ZIP_MAGIC = b"PK\x03\x04"  # torch.save / Lightning checkpoints are zip archives
SNIFF_BYTES = 4096


def _head(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.read(SNIFF_BYTES)


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as err:
        return err.start >= len(head) - 3  # a multi-byte character cut by the sniff window
    return True


PDF_TAIL_BYTES = 1 << 18  # matplotlib writes the document information (Creator) near the end of a PDF


def _is_faultlab_pdf(path: Path) -> bool:
    """A report faultlab rendered: a PDF whose document information names faultlab as its creator."""
    with path.open("rb") as f:
        if f.read(5) != b"%PDF-":
            return False
        f.seek(max(0, path.stat().st_size - PDF_TAIL_BYTES))
        return b"/Creator (faultlab)" in f.read()


def _is_trials_table(path: Path) -> bool:
    """A table ``faultlab export`` wrote: CSV or Parquet with the trial columns."""
    if path.suffix.lower() == ".csv":
        head = _head(path)
        if not _is_text(head):
            return False
        header = head.split(b"\n", 1)[0].decode("utf-8", "replace").strip().split(",")
        return {"run_id", "trial", "accuracy"} <= set(header)
    try:
        import pyarrow.parquet as pq

        return {"run_id", "trial", "accuracy"} <= set(pq.read_schema(path).names)
    except Exception:  # noqa: BLE001  (not readable as Parquet: not ours)
        return False


def _is_csv_text(head: bytes) -> bool:
    return _is_text(head) and not head.lstrip().startswith((b"%PDF", b"%YAML"))


# kind -> (file suffixes, test of an existing file): an existing file is replaced without --force only when
# it has one of the suffixes and passes the test, i.e. it is an earlier output of the same kind of command
OUTPUT_KINDS: dict[str, tuple[tuple[str, ...], Callable[[Path], bool]]] = {
    "csv": ((".csv",), _is_trials_table),
    "parquet": ((".parquet", ".pq"), lambda p: _head(p).startswith(b"PAR1") and _is_trials_table(p)),
    "pdf": ((".pdf",), _is_faultlab_pdf),
    "checkpoint": ((".ckpt",), lambda p: _head(p).startswith(ZIP_MAGIC)),
    "yaml": ((".yaml", ".yml"), lambda p: _is_text(_head(p))),
    "table": ((".csv",), lambda p: _is_csv_text(_head(p))),
}
KIND_WORDS = {"csv": "trials table written by 'faultlab export'", "parquet": "trials table written by 'faultlab "
              "export'", "pdf": "report written by 'faultlab report'", "checkpoint": "checkpoint",
              "yaml": "YAML file", "table": "CSV table"}


def describe_file(path: Path) -> str:
    """What an existing file looks like, for an error message."""
    head = _head(path)
    if head.startswith(SQLITE_MAGIC):
        return "an SQLite database (a results store?)"
    if head.startswith(ZIP_MAGIC):
        return "a zip archive (a checkpoint?)"
    if head.startswith(b"%PDF-"):
        return "a PDF"
    if head.startswith(b"PAR1"):
        return "a Parquet file"
    if not head:
        return "an empty file"
    return f"a {path.suffix or 'suffix-less'} text file" if _is_text(head) else "a binary file"


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _input_files(inputs: Mapping[str, str | Path | None]) -> Iterator[tuple[str, Path]]:
    for what, path in inputs.items():
        if path is None:
            continue
        p = Path(path).expanduser()
        yield what, p
        if what == "store":  # SQLite's companions: overwriting one corrupts the store
            for companion in ("-wal", "-shm", "-journal"):
                yield what, p.with_name(p.name + companion)


def check_output(path: str | Path, kind: str, *, inputs: Mapping[str, str | Path | None] = (),
                 force: bool = False, option: str = "--out", folder_may_be_missing: bool = False) -> Path:
    """Refuse an output path that is an input of this command (never, even with ``force``), a folder, in a
    missing folder, or an existing file that is not a ``kind`` output (unless ``force``); return it."""
    out = Path(path).expanduser()
    for what, p in _input_files(dict(inputs)):
        if _same_file(out, p) or out.resolve() == p.resolve():
            raise FaultlabError(f"{option} {path} is the {what} this command reads; write the output elsewhere")
    if out.is_dir():
        suffix = OUTPUT_KINDS[kind][0][0]
        raise FaultlabError(f"{option} {path} is a folder; pass a file path such as {out / ('output' + suffix)}")
    if not out.parent.is_dir() and not folder_may_be_missing:
        raise FaultlabError(f"{option} {path}: folder {out.parent} does not exist; create it (mkdir -p "
                            f"{out.parent}) or pick another path")
    if out.exists() and not force:
        suffixes, ours = OUTPUT_KINDS[kind]
        if out.suffix.lower() not in suffixes or not ours(out):
            raise FaultlabError(f"{option} {path} exists and is {describe_file(out)}, not a {KIND_WORDS[kind]}; "
                                "pick another path, or pass --force to replace it")
    check_writable_folder(out.parent, f"{option} {path}: folder")
    return out


def check_output_folder(path: str | Path, kind: str, *, inputs: Mapping[str, str | Path | None] = (),
                        force: bool = False, option: str = "--csv") -> Path:
    """A folder of ``kind`` outputs: not an existing file, and (unless ``force``) holding only files of that
    kind under that kind's suffix. Return it (it may not exist yet)."""
    folder = Path(path).expanduser()
    for what, p in _input_files(dict(inputs)):
        if _same_file(folder, p) or folder.resolve() == p.resolve():
            raise FaultlabError(f"{option} {path} is the {what} this command reads; pick a folder")
    if folder.exists() and not folder.is_dir():
        raise FaultlabError(f"{option} {path} exists and is {describe_file(folder)}, not a folder; "
                            "pick a folder path")
    if folder.is_dir() and not force:
        suffixes, ours = OUTPUT_KINDS[kind]
        for f in folder.iterdir():
            if f.is_file() and f.suffix.lower() in suffixes and not ours(f):
                raise FaultlabError(f"{option} {path}: {f.name} is {describe_file(f)}, not a {KIND_WORDS[kind]}; "
                                    "pick another folder, or pass --force to replace it")
    for where in {folder, folder.parent}:  # the tables are written in a temporary folder beside ``folder``
        check_writable_folder(existing_ancestor(where), f"{option} {path}: folder")
    return folder


def check_store_target(path: str | Path, *, inputs: Mapping[str, str | Path | None] = (),
                       option: str = "--store") -> Path:
    """A store a command will write: not one of its inputs, not a folder, in an existing folder, and an
    SQLite file if it exists (checked before anything is loaded; the store checks writability on open)."""
    store = Path(path).expanduser()
    for what, p in _input_files(dict(inputs)):
        if _same_file(store, p) or store.resolve() == p.resolve():
            raise FaultlabError(f"{option} {path} is the {what} this command reads; pick another store path")
    if store.is_dir():
        raise FaultlabError(f"{option} {path} is a folder; pass a file path such as {store / 'results.sqlite'}")
    if not store.parent.is_dir():
        raise FaultlabError(f"{option} {path}: folder {store.parent} does not exist; create it (mkdir -p "
                            f"{store.parent}) or pick another path")
    if store.is_file() and store.stat().st_size and not _head(store).startswith(SQLITE_MAGIC):
        raise FaultlabError(f"{option} {path} exists and is {describe_file(store)}, not a results store; "
                            "pick another path")
    return store


@contextmanager
def atomic_path(path: Path, option: str = "--out") -> Iterator[Path]:
    """A temporary path of this writer's own beside ``path``; synced and renamed onto ``path`` when the block
    succeeds, removed otherwise; an OS refusal is one line (see ``faultlab.files.atomic_path``)."""
    with files.atomic_path(path, option) as tmp:
        yield tmp


@contextmanager
def atomic_files(folder: Path, option: str = "--csv") -> Iterator[Path]:
    """A temporary folder beside ``folder``; when the block succeeds each file in it is synced and renamed
    into ``folder`` (created if missing), so an interrupted or refused write leaves the previous files whole."""
    with files.atomic_folder_files(folder, option) as tmp:
        yield tmp


def add_force_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true",
                        help="replace an existing output file of another kind (never an input of the command)")


# ------------------------------------------------------------------------------------ interrupts


class Interrupted(FaultlabError):
    """Ctrl-C or SIGTERM during a long command; the message says what is stored. Exit status 128 + signal."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so the same clean-up runs (store transactions roll back)."""


_received: list[int] = []  # the signals interruptible's handlers saw (a library may re-raise a plain KeyboardInterrupt)


def _raise_terminated(signum: int, frame: object) -> None:
    _received.append(signum)
    raise _Terminated()


@contextmanager
def interruptible(stored: Callable[[], str], advice: str = "re-run the same command to resume") -> Iterator[None]:
    """Turn Ctrl-C and SIGTERM into one ``Interrupted`` line: ``stored()`` (what the store now holds) and
    ``advice`` (that re-running resumes). Every trial batch is one transaction, so the store stays consistent."""
    previous_term = signal.signal(signal.SIGTERM, _raise_terminated)
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)  # Lightning may have ignored it
    _received.clear()
    try:
        yield
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, _Terminated) or signal.SIGTERM in _received  # Ray re-raises a plain one
        signum = signal.SIGTERM if terminated else signal.SIGINT
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the summary short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Interrupted(f"interrupted ({signal.Signals(signum).name}): {stored()}; {advice}", int(signum)) from None
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        signal.signal(signal.SIGINT, previous_int)


def writes_whole_outputs(run: Callable[[argparse.Namespace], None]) -> Callable[[argparse.Namespace], None]:
    """Decorate a command whose outputs are written atomically (``atomic_path``/``atomic_files``): Ctrl-C
    or SIGTERM end it in one line saying that no output was written or changed."""

    @functools.wraps(run)
    def interruptible_run(args: argparse.Namespace) -> None:
        with interruptible(lambda: "no output was written or changed", advice="run the command again"):
            run(args)

    return interruptible_run
