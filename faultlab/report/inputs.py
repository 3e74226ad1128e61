"""What the statistics need from a store, read once: the study's trial frame, its runs, the whole-network
per-sample masks, the per-layer order and the looks of a sequential sweep. ``faultlab stats`` and the report both
call :func:`read_study`, so they print the same answer; faultlab.stats itself never queries the store.

    data = read_study(ResultsStore("results/demo.sqlite"), "demo")
"""

from __future__ import annotations

import numpy as np

from faultlab.stats.looks import looks_table
from faultlab.stats.study import ReportError, StudyData, prepare_frame
from faultlab.store import ALL_LAYERS, ResultsStore

__all__ = ["read_study"]


def _layer_order(store: ResultsStore, study: str) -> list[str]:
    """Single-layer names in the order their trials were first stored (the campaign's walk through the model)."""
    rows = store.trials("layer != ? AND run_id IN (SELECT run_id FROM runs WHERE study = ?)", (ALL_LAYERS, study))
    return list(dict.fromkeys(r["layer"] for r in rows))


def _masks(store: ResultsStore, study: str) -> dict[tuple[str, str, float], np.ndarray]:
    """(trials × test points) correctness per whole-network (run, fault, rate) cell whose trials all carry one."""
    cells: dict[tuple[str, str, float], list] = {}
    where = "layer = ? AND equal_count = 0 AND run_id IN (SELECT run_id FROM runs WHERE study = ?)"
    for r in store.trials(where, (ALL_LAYERS, study), with_correct=True):
        cells.setdefault((r["run_id"], r["fault"], float(r["rate"])), []).append((r["trial"], r["correct"]))
    out = {}
    for key, rows in cells.items():
        masks = [m for _, m in sorted(rows, key=lambda tm: tm[0])]
        if all(m is not None for m in masks) and len({m.size for m in masks}) == 1:
            out[key] = np.stack(masks)
    return out


def read_study(store: ResultsStore, study: str) -> StudyData:
    """The study's :class:`~faultlab.stats.study.StudyData`; ReportError when it has no trials."""
    df = store.to_frame(study)
    if df.empty:
        raise ReportError(f"study {study!r} has no trials in {store.path}; "
                          "run `faultlab sweep` or `faultlab campaign` first")
    return StudyData(prepare_frame(df), store.runs(study), _masks(store, study), _layer_order(store, study),
                     looks_table(store.looks(study)))
