"""Names that become parts of paths (study names, report and table names derived from them, run names)
are names, never paths: a safe character set and length, no separators, no ``..``, no leading dot or dash.

    check_name("demo", "study name")             # -> "demo"
    check_name("../../x", "study name")          # BadNameError, one line: the name and the allowed form

A leaf: imports nothing of faultlab but its error base class.
"""

from __future__ import annotations

import re

from faultlab import FaultlabError

MAX_NAME_LENGTH = 64
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
NAME_FORM = (f"1 to {MAX_NAME_LENGTH} letters, digits, '.', '_' or '-', starting with a letter or digit, "
             "without '..'")


class BadNameError(FaultlabError):
    """A name that would become part of a path is not a plain name."""


def name_problem(name: object) -> str | None:
    """What is wrong with ``name`` as a path component (None when it is a safe name)."""
    if not isinstance(name, str):
        return f"is a {type(name).__name__}, not text"
    if not name:
        return "is empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"has {len(name)} characters (at most {MAX_NAME_LENGTH})"
    if "/" in name or "\\" in name:
        return "holds a path separator"
    if ".." in name:
        return "holds '..'"
    if name[0] in ".-":
        return f"starts with {name[0]!r}"
    if not NAME_PATTERN.fullmatch(name):
        bad = next(c for c in name if not (c.isascii() and (c.isalnum() or c in "._-")))
        return f"holds {bad!r}"
    return None


def is_safe_name(name: object) -> bool:
    """Whether ``name`` may become part of a path (see :func:`check_name`)."""
    return name_problem(name) is None


def check_name(name: object, what: str = "name", hint: str = "") -> str:
    """``name`` if it is a safe path component; else one ``BadNameError`` line naming it, the allowed form
    and ``hint`` (another way out, if any)."""
    problem = name_problem(name)
    if problem is not None:
        shown = repr(name) if not isinstance(name, str) or len(name) <= 80 else repr(name[:77] + "...")
        raise BadNameError(f"{what} {shown} {problem}; a name is {NAME_FORM}, e.g. 'demo' or 'mnist_lb-2'"
                           + (f"; {hint}" if hint else ""))
    return name  # type: ignore[return-value]
