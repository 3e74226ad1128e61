"""Argument helpers shared by the subcommands: every numeric option is checked when it is parsed."""

from __future__ import annotations

import argparse
import collections.abc
import dataclasses
import difflib
import math
import re
import types
import typing
from collections.abc import Callable
from pathlib import Path

from faultlab import FaultlabError
from faultlab.campaign.spec import MAX_SEED


def _bounds(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    left = "-inf" if lo is None else f"{lo:g}"
    right = "inf" if hi is None else f"{hi:g}"
    return f"{'(' if lo_open or lo is None else '['}{left}, {right}{')' if hi_open or hi is None else ']'}"


def int_in(lo: int | None = None, hi: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer within [lo, hi]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            where = f">= {lo}" if hi is None else f"in {_bounds(lo, hi, False, False)}"
            raise argparse.ArgumentTypeError(f"{value} is out of range: expected an integer {where}")
        return value

    parse.__name__ = "integer"
    return parse


def float_in(lo: float | None = None, hi: float | None = None, lo_open: bool = False, hi_open: bool = False,
             allow_inf: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number (or inf with ``allow_inf``) within the given bounds."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        bad = math.isnan(value) or (math.isinf(value) and not allow_inf)
        bad = bad or (lo is not None and (value < lo or (lo_open and value == lo)))
        bad = bad or (hi is not None and (value > hi or (hi_open and value == hi)))
        if bad:
            raise argparse.ArgumentTypeError(f"{text} is out of range: expected a number in "
                                             f"{_bounds(lo, hi, lo_open, hi_open)}")
        return value

    parse.__name__ = "number"
    return parse


count = int_in(1)  # how many of something, where 0 is meaningless
non_negative = int_in(0)
seed = int_in(0, MAX_SEED)
probability = float_in(0.0, 1.0)
open_unit = float_in(0.0, 1.0, lo_open=True, hi_open=True)  # a confidence level, a margin
positive = float_in(0.0, lo_open=True)


def _split(text: str) -> list[str]:
    return [t for t in text.replace(" ", "").split(",") if t]


def float_list(text: str) -> list[float]:
    """``"0,0.05,0.1"`` -> [0.0, 0.05, 0.1] (finite numbers)."""
    try:
        values = [float(t) for t in _split(text)]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from err
    if not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"expected finite numbers, got {text!r}")
    return values


def rate_list(text: str) -> list[float]:
    """Fault rates: ``"0,0.05,0.1"``, each in [0, 1], at least one, none twice."""
    values = float_list(text)
    if not values:
        raise argparse.ArgumentTypeError(f"expected comma-separated rates in [0, 1], got {text!r}")
    bad = [v for v in values if not 0.0 <= v <= 1.0]
    if bad:
        raise argparse.ArgumentTypeError(f"rate {bad[0]} is outside [0, 1]")
    if len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"a rate is listed twice in {text!r}")
    return values


def int_list(text: str) -> list[int]:
    """``"8,32,128"`` -> [8, 32, 128]."""
    try:
        return [int(t) for t in _split(text)]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from err


def count_list(text: str) -> list[int]:
    """``"8,32,128"``: positive integers, at least one, none twice."""
    values = int_list(text)
    if not values or any(v < 1 for v in values) or len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"expected distinct positive integers such as 8,32,128, got {text!r}")
    return values


DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
DEVICE_ALIASES = {"gpu": "cuda", "cuda0": "cuda:0", "gpu0": "cuda:0", "cuda:": "cuda"}


def device(text: str) -> str:
    """``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` (checked to exist when the command runs)."""
    if DEVICE.match(text):
        return text
    close = DEVICE_ALIASES.get(text.lower()) or next(iter(difflib.get_close_matches(text, ["auto", "cpu", "cuda"],
                                                                                 n=1)), None)
    hint = f" (did you mean {close!r}?)" if close else ""
    raise argparse.ArgumentTypeError(f"unknown device {text!r}{hint}; allowed: auto, cpu, cuda, cuda:N, mps")


def str_list(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def trials_arg(text: str) -> int | str:
    if text == "auto":
        return "auto"
    try:
        value = int(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'auto', got {text!r}") from err
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'auto', got {text!r}")
    return value


def resolve_device(name: str) -> str:
    """The torch device for ``name``, refused with one line when it does not exist here (imports torch)."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(name.split(":")[1]) if ":" in name else 0
        if n == 0:
            raise FaultlabError(f"--device {name}: no CUDA GPU is visible here (torch.cuda.is_available() is "
                                "False); use --device cpu or auto")
        if index >= n:
            raise FaultlabError(f"--device {name}: only {n} CUDA device(s) here (cuda:0..cuda:{n - 1})")
    if name == "mps" and not torch.backends.mps.is_available():
        raise FaultlabError("--device mps: Apple's Metal backend is not available here; use --device cpu or auto")
    return name


def add_store_option(parser: argparse.ArgumentParser, default: str = "results/faultlab.sqlite") -> None:
    parser.add_argument("--store", default=default, help=f"results store (SQLite file; default {default})")


def existing_store(path: str) -> str:
    if Path(path).is_dir():
        raise FaultlabError(f"--store {path} is a folder; pass the results file (e.g. results/<study>.sqlite)")
    if not Path(path).is_file():
        raise FaultlabError(f"store not found: {path} (run 'faultlab campaign' or 'faultlab sweep' first)")
    return path


# ------------------------------------------------------------------------------------ flags from a dataclass


def _value_parser(tp: object) -> Callable[[str], object]:
    """An argparse type for a field of type ``tp``: numbers, strings, ``Literal`` values, comma lists
    (``Sequence[X]``, ``tuple[X, ...]``), unions (the first that parses). Values are checked afterwards by
    the config's own validator; a text that is no such value is refused here."""
    from faultlab.config import type_name

    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        parsers = [_value_parser(a) for a in args if a is not type(None)]

        def first(text: str) -> object:
            for parse in parsers:
                try:
                    return parse(text)
                except (ValueError, argparse.ArgumentTypeError):
                    continue
            raise argparse.ArgumentTypeError(f"expected {type_name(tp).replace(' | None', '')}, got {text!r}")

        return parsers[0] if len(parsers) == 1 else first
    if origin is typing.Literal:
        def literal(text: str) -> object:
            for value in args:
                if str(value) == text:
                    return value
            raise argparse.ArgumentTypeError(f"expected one of {', '.join(map(str, args))}, got {text!r}")

        return literal
    if origin in (tuple, list, collections.abc.Sequence):
        lists = {float: float_list, int: int_list, str: str_list}
        return lists[args[0]]
    if tp in (int, float, str):
        return {int: int_in(), float: float_in(allow_inf=True), str: str}[tp]
    raise TypeError(f"no command-line parser for {tp!r}")


def flag(path: str) -> str:
    """The flag of a config field: ``"bn_recalibration"`` -> ``--bn-recalibration``, ``"layers.kinds"`` ->
    ``--kinds`` (a nested config's fields are flags of their own)."""
    return "--" + path.rsplit(".", 1)[-1].replace("_", "-")


def add_dataclass_options(parser: argparse.ArgumentParser, cls: type, prefix: str = "") -> list[str]:
    """One flag per field of the dataclass ``cls`` (nested dataclasses flattened), its help and default
    taken from the field (``metadata["help"]``, ``metadata["cli"]`` for argparse settings of its own).
    Flags not given stay out of the namespace, so the dataclass's defaults apply. Returns the dests."""
    from faultlab.config import default

    hints, dests = typing.get_type_hints(cls), []
    for f in dataclasses.fields(cls):
        tp, dest = hints[f.name], prefix + f.name
        if dataclasses.is_dataclass(tp):
            dests += add_dataclass_options(parser, tp, f"{dest}.")
            continue
        value = default(f)
        shown = "" if value is dataclasses.MISSING or value is None else \
            f" (default {','.join(map(str, value)) if isinstance(value, tuple) else value})"
        kwargs: dict = {"dest": dest, "default": argparse.SUPPRESS, "required": value is dataclasses.MISSING,
                        "help": (f.metadata.get("help", "") + shown).replace("%", "%%")}
        bare = [a for a in typing.get_args(tp) if a is not type(None)] or [tp]
        if bare == [bool]:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = _value_parser(tp)
        kwargs.update(f.metadata.get("cli", {}))
        parser.add_argument(flag(dest), **kwargs)
        dests.append(dest)
    return dests


def dataclass_from_args(cls: type, args: argparse.Namespace, dests: list[str]):
    """The dataclass ``cls`` built by the strict loader from the flags given (see :func:`add_dataclass_options`)."""
    from faultlab.config import build

    given: dict = {}
    for dest in dests:
        if hasattr(args, dest):
            *outer, name = dest.split(".")
            node = given
            for part in outer:
                node = node.setdefault(part, {})
            node[name] = getattr(args, dest)
    return build(cls, given)
