"""Typed option values the subcommands share (checked by jsonargparse when parsed), devices, stores and the
default output folders.

    parser.add_argument("--seed", type=Seed, default=0)        # 0..2^63-1, or one ConfigError line
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from jsonargparse.typing import (
    NonNegativeFloat,
    NonNegativeInt,
    OpenUnitInterval,
    PositiveFloat,
    PositiveInt,
    restricted_number_type,
)

from faultlab import FaultlabError
from faultlab.campaign.spec import MAX_SEED

__all__ = ["NonNegativeFloat", "NonNegativeInt", "OpenUnitInterval", "PositiveFloat", "PositiveInt"]

Seed = restricted_number_type("Seed", int, [(">=", 0), ("<=", MAX_SEED)], join="and")
AtLeastOne = restricted_number_type("AtLeastOne", float, (">=", 1))  # a population of fault maps (inf allowed)
PilotStd = restricted_number_type("PilotStd", float, [(">", 0), ("<=", 0.5)], join="and")  # of accuracies

DEFAULT_FOLDERS = ("results", "reports", "runs")  # created on demand; any other folder must exist
DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
DEVICE_ALIASES = {"gpu": "cuda", "cuda0": "cuda:0", "gpu0": "cuda:0", "cuda:": "cuda"}


def check_device(text: str) -> str:
    """``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` (checked to exist by :func:`resolve_device`)."""
    if DEVICE.match(text):
        return text
    close = DEVICE_ALIASES.get(text.lower()) or next(iter(difflib.get_close_matches(text, ["auto", "cpu", "cuda"],
                                                                                 n=1)), None)
    hint = f" (did you mean {close!r}?)" if close else ""
    raise FaultlabError(f"--device: unknown device {text!r}{hint}; allowed: auto, cpu, cuda, cuda:N, mps")


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


def existing_store(path: str) -> str:
    if Path(path).is_dir():
        raise FaultlabError(f"--store {path} is a folder; pass the results file (e.g. results/<study>.sqlite)")
    if not Path(path).is_file():
        raise FaultlabError(f"store not found: {path} (run 'faultlab campaign' or 'faultlab sweep' first)")
    return path


def default_folder(path: str | Path) -> None:
    """Create the folder of an output when it is one of the default folders (results/, reports/, runs/), so a
    fresh clone runs the README as written; a folder the user named must exist."""
    parent = Path(path).expanduser().parent
    if str(parent) in DEFAULT_FOLDERS:
        parent.mkdir(exist_ok=True)
