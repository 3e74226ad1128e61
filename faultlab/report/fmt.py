"""Number formatting and the generated verdict sentences (never free text: every word comes from a table)."""

from __future__ import annotations

import math
from collections import Counter

import pandas as pd

P_FLOOR = 1e-4  # p-values below this print as "<1e-4"
DECISIVE = ("better", "worse")


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
    counts = Counter(verdicts)
    n = len(verdicts)
    parts = [f"{v} at {counts[v]} of {n} rate{'s' if n > 1 else ''}" for v in
             ("better", "worse", "equivalent", "inconclusive") if counts[v]]
    return join_words(parts)


def _sentence(g: pd.DataFrame, lead: str, subject: str, other: str, pcol: str, pname: str,
              extra: str = "") -> str:
    """One sentence for a comparison over rates: the strongest decisive rate, else the overall picture."""
    decisive = g[g["verdict"].isin(DECISIVE)]
    tally = _tally(g["verdict"])
    if not decisive.empty:
        row = decisive.loc[decisive["estimate"].abs().idxmax()]
        return (f"{lead} at rate {row['rate']:g}, {subject} is {row['verdict']} than {other} ({extra}"
                f"{p_clause(row[pcol], pname)}, mean difference {fmt_pp(row['estimate'])}); {tally}.")
    eq = g[g["verdict"] == "equivalent"]
    if not eq.empty:
        margin = fmt_pp(eq["margin"].iloc[0], signed=False)
        if len(eq) == len(g):
            return (f"{lead}, {subject} is equivalent to {other} within ±{margin} at every rate ({extra}largest "
                    f"{p_clause(eq['tost_pvalue'].max(), 'TOST p')}); {tally}.")
        rates = ", ".join(f"{r:g}" for r in eq["rate"])
        return (f"{lead}, {subject} is equivalent to {other} within ±{margin} only at rate{'s' if len(eq) > 1 else ''} "
                f"{rates} ({extra}largest {p_clause(eq['tost_pvalue'].max(), 'TOST p')}) and undecided elsewhere; "
                f"{tally}.")
    best = g[pcol].min() if g[pcol].notna().any() else math.nan
    return (f"{lead}, {subject} shows no significant difference from {other} at any rate ({extra}smallest "
            f"{p_clause(best, pname)}); {tally}.")


def method_sentences(table: pd.DataFrame) -> list[str]:
    """One sentence per (variant, method vs baseline, fault) of a method-comparison table."""
    out = []
    if table.empty:
        return out
    for (variant, ma, mb, fault), g in table.groupby(["variant", "method_a", "method_b", "fault"], sort=False):
        out.append(_sentence(g, f"Under {fault}", f"{ma}-trained {variant}", mb, "pvalue_holm",
                             "Holm-adjusted p"))
    return out


def architecture_sentences(table: pd.DataFrame) -> list[str]:
    """One sentence per (variant pair, method, fault) of an architecture-comparison table."""
    out = []
    if table.empty:
        return out
    for (va, vb, method, fault), g in table.groupby(["variant_a", "variant_b", "method", "fault"], sort=False):
        out.append(_sentence(g, f"Under {fault}", va, vb, "welch_pvalue_holm", "Holm-adjusted Welch p",
                             extra=f"both {method}-trained; "))
    return out
