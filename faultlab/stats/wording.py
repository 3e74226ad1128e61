"""Number formatting and the generated sentences, made last from typed columns (verdict, reason, design,
endpoint): no sentence is ever read back by code. Shared by ``faultlab stats`` and the report."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .vocabulary import DECIDED, Design, Endpoint, Reason, Role, Verdict

P_FLOOR = 1e-4  # p-values below this print as "<1e-4"


def is_num(x: object) -> bool:
    """True for a finite-or-infinite real number (not None, not NaN)."""
    return isinstance(x, (int, float, np.number)) and not isinstance(x, bool) and not math.isnan(x)


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
    return "> grid" if math.isinf(r) else "0" if r == 0 else f"{r:#.3g}".rstrip(".")


def join_words(items: list[str], last: str = "and") -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def plural(n: int, word: str) -> str:
    """``1 variant``, ``2 variants``."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def fmt_runs(n: object) -> str:
    """A run count from a planner: ``7``, ``> 10,000`` when unreachable, ``–`` when unknown."""
    if not is_num(n):
        return "–"
    return "> 10,000" if math.isinf(n) else f"{int(n):,}"


def runs_words(row: pd.Series) -> str:
    """``5 seed pairs`` (paired by seed) or ``3 vs 3 training runs, unpaired, pooled t``."""
    if row["design"] == Design.PAIRED:
        return plural(int(row["n_pairs"]), "seed pair")
    design = "" if row["design"] == Design.NONE else f", {row['design']}"
    return f"{int(row['n_a'])} vs {int(row['n_b'])} training runs{design}"


def endpoint_words(row: pd.Series) -> str:
    """``AUC over 0.1–0.5``, ``accuracy at rate 0.2`` or ``mean over layers``."""
    what = {"loss": "loss", "relative": "loss relative to clean"}.get(str(row.get("measure")), "accuracy")
    if row["endpoint"] == Endpoint.AUC:
        return f"AUC of {what} over {row['span']}" if row.get("span") else f"AUC of {what}"
    if row["endpoint"] == Endpoint.RATE:
        return f"{what} at rate {row['rate']:g}"
    return f"mean {what} over layers"


REASON_WORDS = {
    Reason.TOO_FEW_RUNS: "a recipe-level test needs at least 2 training runs per arm",
    Reason.AT_CHANCE: "both arms at chance accuracy: uninformative, not equivalent",
    Reason.NO_SPREAD: "every run gives the same value: no spread to test against",
    Reason.ARM_ABSENT: "an arm has no trials on this surface",
    Reason.EXPLORATORY: "exploratory row",
    Reason.GATE_CLOSED: "its primary contrast was not decided",
}


def _interval(row: pd.Series, low: str = "low", high: str = "high") -> str:
    """``+9.3 pp [-1.6, +20.1]``, with ``(truncated to ±100 pp)`` when the interval was cut at its range."""
    cut = " (truncated to ±100 pp)" if bool(row.get("truncated", False)) else ""
    return f"{fmt_pp(row['estimate'])} {fmt_ci_pp(row[low], row[high])}{cut}"


def contrast_sentence(row: pd.Series, surface: bool = True) -> str:
    """One sentence for a primary contrast row: its verdict, effect, interval, runs and adjusted p; for an open
    one, the runs that would decide it; for an untested one, why. ``surface=False``: leave out the fault surface,
    the endpoint and the interval's level (a heading says them for every contrast: :func:`shared_endpoint`)."""
    head = f"{row['contrast']} ({row['surface']})" if surface else str(row["contrast"])
    v = Verdict(row["verdict"])
    if v == Verdict.NOT_TESTED:
        why = REASON_WORDS.get(Reason(row["reason"]), str(row["reason"]))
        return f"{head}: not tested — {why} ({runs_words(row)})."
    effect = (f"{endpoint_words(row)} {_interval(row)} (95 % CI; {runs_words(row)}" if surface else
              f"{_interval(row)} ({runs_words(row)}")
    if v in (Verdict.BETTER, Verdict.WORSE):
        return f"{head}: {v.value} — {effect}; {p_clause(row['p_adjusted'], 'adjusted p')})."
    if v == Verdict.EQUIVALENT:
        return (f"{head}: equivalent within ±{fmt_pp(row['margin'], signed=False)} — {effect}; "
                f"{p_clause(row['tost_p_adjusted'], 'adjusted TOST p')}).")
    return f"{head}: inconclusive — {effect}; {p_clause(row['p_adjusted'], 'adjusted p')}); {decide_words(row)}."


def decide_words(row: pd.Series) -> str:
    """What would decide an inconclusive primary contrast: runs per arm for 80 % power at the family's level."""
    need = f"about {fmt_runs(row['runs_to_detect'])} runs per arm would detect a difference of this size"
    if is_num(row["margin"]) and is_num(row.get("runs_for_equivalence")):
        need += (f", {fmt_runs(row['runs_for_equivalence'])} would show equivalence within "
                 f"±{fmt_pp(row['margin'], signed=False)}")
    return need + " (80 % power)"


def contrast_line(row: pd.Series) -> str:
    """A primary contrast in one short line (the terminal): ``dropconnect vs vanilla on resnet20: inconclusive,
    +9.3 pp [-1.6, +20.1], 2 seed pairs, adj. p 0.29; ~3 runs per arm would detect it``."""
    v = Verdict(row["verdict"])
    runs = (plural(int(row["n_pairs"]), "seed pair") if row["design"] == Design.PAIRED else
            f"{int(row['n_a'])} vs {int(row['n_b'])} runs")
    if v == Verdict.NOT_TESTED:
        return f"{row['contrast']}: not tested ({row['reason']}; {runs})"
    cut = "*" if bool(row.get("truncated", False)) else ""
    p = row["tost_p_adjusted"] if v == Verdict.EQUIVALENT else row["p_adjusted"]
    name = "adj. TOST p" if v == Verdict.EQUIVALENT else "adj. p"
    line = (f"{row['contrast']}: {v.value}, {fmt_pp(row['estimate'])} {fmt_ci_pp(row['low'], row['high'])}"
            f"{cut}, {runs}, {name} {fmt_p(p)}")
    if v == Verdict.INCONCLUSIVE and is_num(row["runs_to_detect"]):
        line += f"; ~{fmt_runs(row['runs_to_detect'])} runs per arm would detect it"
    return line


def shared_endpoint(prim: pd.DataFrame) -> str:
    """``AUC of accuracy over 0.1–0.5, every conv and linear layer, equal rate (drop(p={rate}))`` when every primary
    contrast has the same surface and endpoint (a heading says it once), else ``""``."""
    if prim.empty:
        return ""
    words = {f"{endpoint_words(r)}, {r['surface']}" for _, r in prim.iterrows()}
    return words.pop() if len(words) == 1 else ""


def verdict_rows(contrasts: pd.DataFrame) -> pd.DataFrame:
    """Page 1: one sentence per primary contrast, decided ones first (sorted by the typed verdict), preceded by a
    summary sentence when none is decided. Columns: contrast, surface, verdict, reason, sentence (naming the
    surface and endpoint), short (without them when every primary contrast shares them: :func:`shared_endpoint`)."""
    cols = ["contrast", "surface", "verdict", "reason", "sentence", "short"]
    if contrasts.empty:
        return pd.DataFrame(columns=cols)
    prim = contrasts[contrasts["role"] == Role.PRIMARY].copy()
    shared = bool(shared_endpoint(prim))
    prim["sentence"] = [contrast_sentence(r) for _, r in prim.iterrows()]
    prim["short"] = [contrast_sentence(r, surface=not shared) for _, r in prim.iterrows()]
    prim["_order"] = [0 if v in DECIDED else 1 if v == Verdict.INCONCLUSIVE else 2 for v in prim["verdict"]]
    prim = prim.sort_values("_order", kind="stable")[cols]
    summary = summary_sentence(contrasts)
    if summary:
        top = pd.DataFrame([{"contrast": "", "surface": "", "verdict": Verdict.NOT_TESTED, "reason": Reason.TESTED,
                             "sentence": summary, "short": summary}])
        prim = pd.concat([top, prim], ignore_index=True)
    return prim.reset_index(drop=True)


def summary_sentence(contrasts: pd.DataFrame) -> str:
    """When no primary contrast is decided: one sentence saying so and what would decide them; else ``""``."""
    prim = contrasts[contrasts["role"] == Role.PRIMARY]
    if prim.empty or prim["verdict"].isin(DECIDED).any():
        return ""
    runs = prim["n_runs"]
    span = f"{int(runs.min())}" if runs.min() == runs.max() else f"{int(runs.min())}–{int(runs.max())}"
    per_arm = f"{span} training run{'' if span == '1' else 's'} per arm"
    if (prim["reason"] == Reason.TOO_FEW_RUNS).all():
        return (f"No primary contrast can be tested: {plural(len(prim), 'contrast')} with {per_arm}; a "
                "recipe-level test needs at least 2 training runs per arm.")
    need = prim["runs_to_detect"].replace(math.inf, np.nan).dropna()
    hint = (f"; at the observed differences and run-to-run spread, a median of {fmt_runs(need.median())} training "
            "runs per arm would decide them" if len(need) else "")
    return (f"No primary contrast is decided: {plural(len(prim), 'contrast')} with {per_arm}; none is better, "
            f"worse or equivalent at the family's α{hint}.")


# ----------------------------------------------------------------------------------- the answer block's page


def _named(rows: pd.DataFrame) -> str:
    return "; ".join(f"{r['variant']} vs {r['control']} ({r['method']}) {r['estimate'] * 100:+.2f} pp "
                     f"[{r['low'] * 100:+.1f}, {r['high'] * 100:+.1f}]" for _, r in rows.iterrows())


def says(outcome: str) -> str:
    """An outcome as a predicate: ``fails``, ``holds``, ``depends on …``, ``is not shown (…)``, ``is not testable``."""
    return {"not shown": "is not shown (neither refuted nor shown equivalent)",
            "not testable": "is not testable"}.get(str(outcome), str(outcome))


def _why_untested(rows: pd.DataFrame) -> str:
    """``plain-1 and resnet20 have no trials on this surface``, and any other reason once."""
    names = rows["absent"].dropna().unique().tolist()
    said = [f"{', '.join(names)} {'has' if len(names) == 1 else 'have'} no trials on this surface"] if names else []
    other = rows[rows["absent"].isna()]
    return "; ".join(said + sorted({f"{REASON_WORDS[Reason(r)]} ({int(a)}+{int(b)} runs)"
                                    for r, a, b in zip(other["reason"], other["n_a"], other["n_b"])}))


def _surface_sentence(surface: str, g: pd.DataFrame, outcome: str, margin: float) -> str:
    tested = g[g["verdict"] != Verdict.NOT_TESTED]
    if tested.empty:
        return f"{surface}: not testable ({_why_untested(g)})."
    parts = []
    for verdict, words in ((Verdict.BETTER, "the bottleneck network loses less"), (Verdict.WORSE, "it loses more"),
                           (Verdict.EQUIVALENT, f"equivalent within ±{margin * 100:g} pp")):
        rows = tested[tested["verdict"] == verdict]
        if len(rows):
            parts.append(f"{words} in {len(rows)} of {len(tested)}: {_named(rows)}")
    open_ = tested[tested["verdict"] == Verdict.INCONCLUSIVE]
    if len(open_):
        need = open_["runs_for_equivalence"].replace(math.inf, np.nan).dropna()
        lo, hi = int(open_["n_a"].min()), int(open_["n_a"].max())
        runs = f"{lo}" if lo == hi else f"{lo}-{hi}"
        decide = (f"; a ±{margin * 100:g} pp equivalence verdict would need a median of {int(need.median())} runs "
                  "per arm at the spread seen" if len(need) else "")
        parts.append(f"inconclusive in {len(open_)} of {len(tested)} ({runs} runs per arm{decide})")
    skipped = g[g["verdict"] == Verdict.NOT_TESTED]
    if len(skipped):
        parts.append(f"{len(skipped)} not tested ({_why_untested(skipped)})")
    return f"{surface}: " + "; ".join(parts) + f". Here the reference's conclusion {says(outcome)}."


def answer_paragraphs(surfaces: Sequence[tuple[str, pd.DataFrame, str]], overall: str, *, reference: str | None,
                      margin: float) -> list[str]:
    """The answer: the overall outcome, then one sentence per fault surface (decided comparisons with effect and
    CI, open ones with what would decide them, and whether the reference conclusion holds there)."""
    if not surfaces:
        return ["No pair of the answer has trials: run the study first."]
    what = f'the reference\'s conclusion ("{reference}")' if reference else "\"no significant advantage\""
    out = [f"Overall, {what} {says(overall)}. Effect = variant - control in run-mean accuracy loss, > 0: the "
           "bottleneck network loses less; 95 % CI over training runs; one family over the answer's contrasts "
           "(closed test, difference and TOST counted once)."]
    out += [_surface_sentence(s, g, o, margin) for s, g, o in surfaces]
    return out


# ----------------------------------------------------------------------------------- one arm's curve, layers


def fmt_ci_pct(lo: object, hi: object) -> str:
    """A CI of an accuracy in percent: ``[68.9, 71.1]``."""
    if not (is_num(lo) and is_num(hi)):
        return "–"
    return f"[{lo * 100:.1f}, {hi * 100:.1f}]"


def interval_words(n_runs: int, n_maps: int) -> str:
    """What an arm's interval is over: training runs (recipe level) or, with one run, its fault maps."""
    if n_runs >= 2:
        return f"95 % t interval over {n_runs} training runs"
    return f"95 % CI over {plural(n_maps, 'fault map')} per rate, conditional on this trained network"


def critical_words(summary: pd.Series, smallest_rate: float | None = None) -> str:
    """``critical rate (accuracy < 0.9 × clean) 0.0039 [0, 0.01]``; says when it lies below the smallest tested
    rate (the grid misses the knee) or beyond the grid."""
    words = (f"critical rate (accuracy < {summary['fraction']:g} × clean) {fmt_rate(summary['critical_rate'])} "
             f"[{fmt_rate(summary['critical_low'])}, {fmt_rate(summary['critical_high'])}]")
    crit = summary["critical_rate"]
    if smallest_rate is not None and is_num(crit) and crit < smallest_rate:
        words += f", below the smallest tested rate {smallest_rate:g}: the rate grid misses the knee"
    return words


def curve_sentence(points: pd.DataFrame, summary: pd.Series | None = None) -> str:
    """One arm's answer from its ``curves`` rows (one variant, method, fault): clean accuracy, the accuracy at
    every positive rate with its interval, what the interval is over, and the critical rate (``summary``: its
    ``curve_summary`` row)."""
    points = points.sort_values("rate")
    first = points.iloc[0]
    pos = points[points["rate"] > 0]
    at = ", ".join(f"{fmt_pct(r['estimate'])} {fmt_ci_pct(r['ci_low'], r['ci_high'])}{'*' if r['truncated'] else ''}"
                   f" at {r['rate']:g}" for _, r in pos.iterrows())
    n_runs = int(first["n_runs"])
    maps = int(pos["n_trials"].min() // max(n_runs, 1)) if len(pos) else 0
    text = (f"{first['variant']} · {first['method']} under {first['fault']}: clean {fmt_pct(first['clean_accuracy'])}; "
            f"{at} ({interval_words(n_runs, maps)})")
    if summary is not None:
        text += f"; {critical_words(summary, float(pos['rate'].min()) if len(pos) else None)}"
    return text + "."


def layers_sentence(rows: pd.DataFrame) -> str:
    """The most sensitive layers of one panel (``most_sensitive`` rows of one variant, method, fault, scope), and
    whether its campaign is incomplete."""
    first = rows.iloc[0]
    unit = "layer groups" if first["scope"] == "group" else "layers"
    level = f"{first['level']} faulty weights per layer" if bool(first["counted"]) else f"rate {first['level']}"
    named = ", ".join(f"{r['layer']} {fmt_pp(-r['drop'])}" for _, r in rows.iterrows())
    text = (f"Most sensitive {unit} of {first['variant']} · {first['method']} ({first['fault']}, one at a time, "
            f"{level}; accuracy change from clean): {named} (of {int(first['n_layers'])})")
    if int(first["n_short"]):
        short = int(first["n_short"])
        text += (f"; INCOMPLETE: {short} of {int(first['n_cells'])} cells {'has' if short == 1 else 'have'} fewer "
                 "trials than the others (an interrupted campaign: rerun it to resume)")
    return text + "."


def no_contrast_sentence(n_arms: int, n_methods: int) -> str:
    """Why a study with several arms has no verdict: no contrast was declared and none is implied."""
    implied = "one training method, so no method is compared with a baseline" if n_methods == 1 else \
        "no method has the baseline's runs on the same architecture"
    return (f"No contrast is declared or implied ({implied}): the {n_arms} arms are described, not compared; "
            "declare `contrasts:` in the study spec to test a difference at the recipe level.")


def knee_sentence(n_below: int, n_arms: int, smallest_rate: float, fraction: float) -> str:
    """When arms lose more than 1 - ``fraction`` of their clean accuracy already at the smallest tested rate."""
    if not n_below:
        return ""
    which = "every arm" if n_below == n_arms else f"{n_below} of {n_arms} arms"
    return (f"For {which} the accuracy at the smallest tested rate ({smallest_rate:g}) is already below "
            f"{fraction:g} × clean: the critical rate lies below the rate grid (its knee is untested; add smaller "
            "rates, log-spaced).")


# ---------------------------------------------------------------------------- a fault surface, in words


def short_surface(scope: str) -> str:
    """``whole network``, ``K = 16 per layer`` or ``depthwise layers only``."""
    if scope == "network":
        return "whole network"
    if scope.startswith("count:"):
        return f"K = {scope[len('count:'):]} per layer"
    return f"{scope[len('group:'):]} layers only"
