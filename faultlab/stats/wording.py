"""Number formatting and the generated verdict sentences (never free text: every word comes from a table).

Pure Python + pandas, shared by ``faultlab stats`` and the report (which only renders what stats computed)."""

from __future__ import annotations

import math
from collections import Counter

import pandas as pd

P_FLOOR = 1e-4  # p-values below this print as "<1e-4"
DECISIVE = ("better", "worse")
FLOOR = "uninformative: both at chance"


def is_num(x: object) -> bool:
    """True for a finite-or-infinite real number (not None, not NaN)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and not math.isnan(x)


def fmt_p(p: object) -> str:
    """p-value in 3 significant digits, ``<1e-4`` below the floor, ``–`` when absent."""
    if not is_num(p):
        return "–"
    return f"<{P_FLOOR:.0e}".replace("e-0", "e-") if p < P_FLOOR else f"{p:.3g}"


def p_clause(p: object, name: str = "p") -> str:
    """``name = 0.0123`` or ``name < 1e-4``."""
    text = fmt_p(p)
    return f"{name} {text[0]} {text[1:]}" if text.startswith("<") else f"{name} = {text}"


def fmt_pp(x: object, signed: bool = True) -> str:
    """A difference of proportions in percentage points: ``+12.3 pp``."""
    if not is_num(x):
        return "–"
    return f"{x * 100:+.1f} pp" if signed else f"{x * 100:.1f} pp"


def fmt_pct(x: object, digits: int = 1) -> str:
    """A proportion as a percentage: ``91.2 %``."""
    return f"{x * 100:.{digits}f} %" if is_num(x) else "–"


def fmt_ci_pp(lo: object, hi: object) -> str:
    """A CI of a difference in percentage points: ``[+1.2, +3.4]``."""
    if not (is_num(lo) and is_num(hi)):
        return "–"
    return f"[{lo * 100:+.1f}, {hi * 100:+.1f}]"


def fmt_rate(r: object) -> str:
    """A rate or critical rate; ``inf`` reads as ``> grid``."""
    if not is_num(r):
        return "–"
    return "> grid" if math.isinf(r) else f"{r:#.3g}".rstrip(".")


def fmt_num(x: object, digits: int = 2) -> str:
    """A plain number (effect sizes): ``0.53``, ``+inf``."""
    if not is_num(x):
        return "–"
    return f"{x:+.0f}".replace("inf", "∞") if math.isinf(x) else f"{x:.{digits}f}"


def join_words(items: list[str], last: str = "and") -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def plural(n: int, word: str) -> str:
    """``1 variant``, ``2 variants``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def _tally(verdicts: pd.Series) -> str:
    counts = Counter(v.split(" (")[0] for v in verdicts)
    n = len(verdicts)
    parts = [f"{v} at {counts[v]} of {n}" for v in ("better", "worse", "equivalent", "inconclusive", FLOOR)
             if counts[v]]
    return join_words(parts)


def fmt_runs(n: object) -> str:
    """A run count from a planner: ``7``, ``> 10,000`` when unreachable, ``–`` when unknown."""
    if not is_num(n):
        return "–"
    return "> 10,000" if math.isinf(n) else f"{int(n):,}"


def _unit(row: pd.Series) -> str:
    if row["design"] == "paired by seed":
        return f"{plural(int(row['n_pairs']), 'seed pair')}, paired by seed"
    return f"{int(row['n_a'])} vs {int(row['n_b'])} training runs, unpaired"


def recipe_sentence(g: pd.DataFrame, subject: str, other: str, lead: str, measure: str = "accuracy") -> str:
    """One sentence for a recipe-level comparison: its AUC verdict (or the first rate's) and the per-rate tally."""
    rates = g[g["endpoint"] == "rate"]
    auc = g[g["endpoint"] == "AUC"]
    row = auc.iloc[0] if len(auc) else rates.iloc[0]
    what = "AUC" if len(auc) else f"{measure} at rate {row['rate']:g}"
    tally = f"per rate: {_tally(rates['verdict'])}" if len(rates) else ""
    v = str(row["verdict"])
    ci = f"{what} difference {fmt_pp(row['estimate'])} (95 % CI {fmt_ci_pp(row['ci_low'], row['ci_high'])}"
    if v in DECISIVE:
        return (f"{lead}, {subject} is {v} than {other} ({_unit(row)}): {ci}, {p_clause(row['pvalue_holm'], 'Holm p')}"
                f"); {tally}.")
    if v == "equivalent":
        return (f"{lead}, {subject} is equivalent to {other} within ±{fmt_pp(row['margin'], signed=False)} "
                f"({_unit(row)}): {ci}, {p_clause(row['tost_pvalue_holm'], 'Holm TOST p')}); {tally}.")
    if v == FLOOR:
        return f"{lead}, {subject} and {other} are both at chance accuracy: uninformative, not equivalent; {tally}."
    need = (f"about {fmt_runs(row['runs_to_detect'])} runs per arm would detect a difference of this size "
            f"(80 % power at the family's level) and {fmt_runs(row['runs_for_equivalence'])} would show "
            f"equivalence within ±{fmt_pp(row['margin'], signed=False)}")
    if not row.get("testable", True):
        return (f"{lead}, {subject} vs {other}: {v} — a recipe-level test needs at least 2 training runs per arm "
                f"({_unit(row)}); {tally}.")
    return (f"{lead}, {subject} vs {other} is inconclusive ({_unit(row)}): {ci}, "
            f"{p_clause(row['pvalue_holm'], 'Holm p')}); {need}; {tally}.")


def method_sentences(table: pd.DataFrame) -> list[str]:
    """One sentence per (variant, method vs baseline, fault) of a recipe-level method table."""
    if table.empty:
        return []
    return [recipe_sentence(g, f"{ma}-trained {variant}", mb, f"Under {fault}")
            for (variant, ma, mb, fault), g in table.groupby(["variant", "method_a", "method_b", "fault"], sort=False)]


def reliability_sentences(table: pd.DataFrame) -> list[str]:
    """One sentence per (variant, method vs baseline, fault, rate) of the recipe-level reliability table."""
    if table.empty:
        return []
    return [recipe_sentence(g, f"{ma}-trained {variant}", mb, f"Per-sample reliability under {fault} at rate {rate:g}",
                            "reliable share")
            for (variant, ma, mb, fault, rate), g in
            table.groupby(["variant", "method_a", "method_b", "fault", "rate"], sort=False)]


def architecture_sentences(table: pd.DataFrame) -> list[str]:
    """One sentence per (variant pair, method, fault) of a recipe-level architecture table."""
    if table.empty:
        return []
    return [recipe_sentence(g, va, vb, f"Under {fault}, both {method}-trained")
            for (va, vb, method, fault), g in table.groupby(["variant_a", "variant_b", "method", "fault"], sort=False)]


def summary_sentences(*tables: pd.DataFrame) -> list[str]:
    """When no recipe-level comparison is decided, one sentence saying so and what would decide it."""
    parts = [t for t in tables if not t.empty and "verdict" in t]
    if not parts:
        return []
    rows = pd.concat(parts, ignore_index=True)
    if rows["verdict"].isin([*DECISIVE, "equivalent"]).any():  # any endpoint decided: the sentences say which
        return []
    measure = rows["measure"].fillna("") if "measure" in rows else pd.Series("", index=rows.index)
    main = rows[(rows["endpoint"] == "AUC") | (measure != "")]
    main = main if len(main) else rows
    runs = pd.concat([main["n_a"], main["n_b"]])
    need = main["runs_to_detect"].replace(math.inf, float("nan")).dropna() if "runs_to_detect" in main else []
    hint = (f"; at the observed differences and run-to-run spread, a median of {fmt_runs(need.median())} training "
            f"runs per arm would decide them (see 'runs to detect')" if len(need) else "")
    span = f"{int(runs.min())}" if runs.min() == runs.max() else f"{int(runs.min())}–{int(runs.max())}"
    return [f"No recipe-level comparison is decided: {plural(len(main), 'comparison')} with "
            f"{span} training runs per arm; none is better, worse or equivalent at "
            f"the report's family-wise α{hint}. Trial-level (conditional) tables describe these trained networks "
            "only."]
