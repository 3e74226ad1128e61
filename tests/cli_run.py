"""``faultlab ARGV`` in the test's process, for tests of what a command prints and its exit status."""

from __future__ import annotations

from faultlab.cli import main


def cli(capsys, *argv) -> tuple[int, str, str]:
    """``faultlab *argv`` in this process: (exit status, stdout, stderr), output before the call not counted."""
    capsys.readouterr()
    try:
        main([str(a) for a in argv])
        code = 0
    except SystemExit as exit:
        code = exit.code
    out, err = capsys.readouterr()
    return code, out, err
