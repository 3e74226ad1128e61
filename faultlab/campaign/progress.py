"""Campaign progress: a tqdm bar (rate, running mean and CI) on a terminal, one line per finished cell
otherwise."""

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


class Progress:
    """``bar``: a tqdm bar (rate, running mean and CI); ``lines``: one plain line per finished cell;
    ``off``: silent; ``auto``: bar on a terminal, lines otherwise."""

    def __init__(self, total: int | None, mode: ProgressMode = "auto", stream=None) -> None:
        stream = sys.stderr if stream is None else stream  # looked up now: sys.stderr may have been replaced
        if mode == "auto":
            mode = "bar" if stream.isatty() else "lines"
        self.mode, self.stream = mode, stream
        self.bar, self._postfix_at = None, -math.inf
        if mode == "bar":
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, unit="trial", file=stream, dynamic_ncols=True)

    POSTFIX_INTERVAL_S = 0.5

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
        if self.mode == "lines":
            where = "" if cell.layer == ALL_LAYERS else f"layer {cell.layer}, "
            what = f"K={cell.count} faulty weights" if cell.count else f"rate {cell.rate:g}"
            print(f"{where}{what}: {cell.n_trials} trials ({cell.new_trials} new), mean accuracy "
                  f"{cell.mean:.4f} ± {cell.halfwidth:.4f} (95 % CI), {seconds:.1f} s", file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
