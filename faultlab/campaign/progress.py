"""Campaign progress: a tqdm bar (rate, running mean and CI) in a terminal or a notebook, with one summary line
per finished cell that stays visible above the bar and after it closes; plain lines when not a terminal."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Collection
from typing import Literal

import numpy as np

from faultlab.store import ALL_LAYERS

from .scopes import CellSummary
from .stopping import halfwidth

ProgressMode = Literal["auto", "bar", "lines", "off"]


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (as ``tqdm.auto`` decides: a widget bar there)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # an IPython too old or half-imported: not a notebook we can draw in
        return False
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def cell_line(cell: CellSummary, seconds: float) -> str:
    """``rate 0.01: 30 trials (30 new), mean accuracy 0.9123 ± 0.0040 (95 % CI), 2.1 s``."""
    where = "" if cell.layer == ALL_LAYERS else f"layer {cell.layer}, "
    what = f"K={cell.count} faulty weights" if cell.count else f"rate {cell.rate:g}"
    return (f"{where}{what}: {cell.n_trials} trials ({cell.new_trials} new), mean accuracy {cell.mean:.4f} ± "
            f"{cell.halfwidth:.4f} (95 % CI), {seconds:.1f} s")


class Progress:
    """``bar``: a ``tqdm.auto`` bar (a widget in a notebook) with the rate, running mean and CI, each finished
    cell's summary line written above it (``tqdm.write``, so the lines stay when the bar redraws and after it
    closes); ``lines``: the summary lines only; ``off``: silent; ``auto``: bar in a notebook or on a terminal,
    lines otherwise (CI logs, pipes). ``initial``: trials already stored (a resumed campaign's bar starts
    there, so it ends at 100 %)."""

    POSTFIX_INTERVAL_S = 0.5

    def __init__(self, total: int | None, mode: ProgressMode = "auto", stream=None, initial: int = 0) -> None:
        stream = sys.stderr if stream is None else stream  # looked up now: sys.stderr may have been replaced
        if mode == "auto":
            tty = getattr(stream, "isatty", lambda: False)()
            mode = "bar" if tty or in_notebook() else "lines"
        self.mode, self.stream = mode, stream
        self.bar, self._postfix_at = None, -math.inf
        if mode == "bar":
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=initial, unit="trial", file=stream, dynamic_ncols=True)

    def trial(self, rate: float, accuracies: Collection[float], n: int = 1) -> None:
        """``n`` more trials done; ``accuracies``: every trial of the cell so far (mean and CI on the bar,
        recomputed at most every ``POSTFIX_INTERVAL_S``, so a cell of many trials stays linear)."""
        if self.bar is None:
            return
        self.bar.update(n)
        now = time.monotonic()
        if now - self._postfix_at >= self.POSTFIX_INTERVAL_S or self.bar.n >= (self.bar.total or math.inf):
            self._postfix_at = now
            acc = np.fromiter(accuracies, float, len(accuracies))
            self.bar.set_postfix_str(f"rate={rate:g} acc={acc.mean():.4f}±{halfwidth(acc):.4f}")

    def cell(self, cell: CellSummary, seconds: float) -> None:
        """A finished cell's summary line (kept: above the bar, or a plain line)."""
        if self.mode == "off":
            return
        line = cell_line(cell, seconds)
        if self.bar is not None:
            self.bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
