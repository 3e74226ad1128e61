"""Argument helpers shared by the subcommands."""

from __future__ import annotations

import argparse
from pathlib import Path

from faultlab import FaultlabError


def float_list(text: str) -> list[float]:
    """``"0,0.05,0.1"`` -> [0.0, 0.05, 0.1]."""
    try:
        return [float(t) for t in text.replace(" ", "").split(",") if t]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from err


def int_list(text: str) -> list[int]:
    """``"8,32,128"`` -> [8, 32, 128]."""
    try:
        return [int(t) for t in text.replace(" ", "").split(",") if t]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from err


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


def add_store_option(parser: argparse.ArgumentParser, default: str = "results/faultlab.sqlite") -> None:
    parser.add_argument("--store", default=default, help=f"results store (SQLite file; default {default})")


def existing_store(path: str) -> str:
    if not Path(path).is_file():
        raise FaultlabError(f"store not found: {path} (run 'faultlab campaign' or 'faultlab sweep' first)")
    return path
