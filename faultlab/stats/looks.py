"""The looks of a sequential sweep (``faultlab sweep --until-decided``; rows of the store's ``sequential_looks``)
as a table and as short lines: what the sweep prints after each look, ``faultlab stats`` prints and the report
shows. Sentences are made here from the typed columns, last; nothing reads them back.

    table = looks_table(store.looks("demo"))
    print(design_line(table)); print("\\n".join(look_lines(table)))
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .endpoints import surface_label
from .vocabulary import Decision

__all__ = ["LOOK_TABLE_COLUMNS", "looks_table", "design_line", "look_lines", "planned_looks"]

LOOK_TABLE_COLUMNS = ["look", "runs_per_arm", "contrast", "surface", "fault", "scope", "arms", "n_runs", "estimate",
                      "se", "df", "statistic", "efficacy_bound", "futility_bound", "equivalence_bound", "margin",
                      "decision", "reason", "first_look", "step", "max_runs", "alpha", "futility", "power"]


def planned_looks(first: int, step: int, max_runs: int) -> list[int]:
    """Runs per arm at each planned look (as ``SequentialDesign.looks``)."""
    return [*range(first, max_runs, step), max_runs]


def looks_table(rows: Sequence[dict] | pd.DataFrame) -> pd.DataFrame:
    """The look rows with a readable ``surface``, arms as ``variant · method`` text, in :data:`LOOK_TABLE_COLUMNS`
    order; empty (those columns) when the study has no looks."""
    df = pd.DataFrame(rows) if not isinstance(rows, pd.DataFrame) else rows.copy()
    if df.empty:
        return pd.DataFrame(columns=LOOK_TABLE_COLUMNS)
    df["surface"] = [surface_label(s, f) for s, f in zip(df["scope"], df["fault"])]
    df["arms"] = [", ".join(f"{v} · {m}" for v, m in arms) if not isinstance(arms, str) else arms
                  for arms in df["arms"]]
    return df[LOOK_TABLE_COLUMNS].sort_values(["look"], kind="stable").reset_index(drop=True)


def design_line(table: pd.DataFrame) -> str:
    """The design in one line, from the first look's rows."""
    r = table.iloc[0]
    m = int((table["look"] == table["look"].min()).sum())
    looks = planned_looks(int(r["first_look"]), int(r["step"]), int(r["max_runs"]))
    futility = "non-binding futility bound" if bool(r["futility"]) else "no futility bound"
    return (f"sequential seeds: looks at {', '.join(map(str, looks))} runs per arm (at most {int(r['max_runs'])}); "
            f"alpha {r['alpha']:g} over {m} primary contrast(s), {r['alpha'] / m:.3g} each; Lan-DeMets O'Brien-Fleming "
            f"spending, t boundaries; {futility} (power {r['power']:g}); a contrast's arms stop once it is decided")


def _bounds(r: pd.Series) -> str:
    if not math.isfinite(r["statistic"]):
        return f"not tested: {r['reason']}" if r["reason"] else "not tested"
    parts = [f"t = {r['statistic']:+.2f}", f"efficacy |t| >= {r['efficacy_bound']:.2f}"]
    if bool(r["futility"]) and r["decision"] != Decision.INCONCLUSIVE and math.isfinite(r["futility_bound"]):
        parts.append(f"futility |t| < {r['futility_bound']:.2f}")
    if math.isfinite(r["margin"]) and math.isfinite(r["equivalence_bound"]):
        parts.append(f"equivalence at ±{r['margin'] * 100:g} pp: TOST t >= {r['equivalence_bound']:.2f}")
    return "; ".join(parts)


def look_lines(table: pd.DataFrame, looks: Sequence[int] | None = None) -> list[str]:
    """Per look: a header, then one line per contrast tested there (its decision, estimate and bounds).
    ``looks``: only these look numbers (default all)."""
    out = []
    for look, rows in table.groupby("look", sort=True):
        if looks is not None and int(look) not in looks:
            continue
        n = int(rows["runs_per_arm"].iloc[0])
        stops = int((rows["decision"] != Decision.CONTINUE).sum())
        out.append(f"look {int(look)} ({n} runs per arm): {stops} of {len(rows)} contrast(s) decided")
        for _, r in rows.iterrows():
            est = "" if not np.isfinite(r["estimate"]) else f"{r['estimate'] * 100:+.1f} pp, "
            out.append(f"  {r['contrast']} [{r['fault']}, {r['scope']}]: {r['decision']} ({est}{_bounds(r)})")
    return out
