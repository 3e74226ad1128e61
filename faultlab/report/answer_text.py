"""The answer in words and numbers, as page 1 and ``faultlab stats`` give it (no matplotlib here): by what the
study has, its answer block's paragraphs, the primary contrasts' sentences, or (no contrast, e.g. a single campaign)
each arm's accuracy per rate and critical rate; then the knee of the rate grid and the most sensitive layers; and
Table 1 (the arms, or one arm's accuracy per rate). Sentences come from :mod:`faultlab.stats.wording`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from faultlab.stats import wording as fmt
from faultlab.stats.vocabulary import Decision, Reason, Role, Topic, Verdict

from .facts import arms_table

__all__ = ["Answer", "answer_of", "relevant_missing", "clean_cost_words", "sequential_words", "unadjusted_words",
           "MAX_TABLE_ROWS"]

MAX_TABLE_ROWS = 12  # Table 1 rows on page 1; the full table goes to the appendix
MAX_ARM_SENTENCES = 4  # arms described in words when no contrast exists
MAX_LAYER_SENTENCES = 3


@dataclass
class Answer:
    """What page 1 says: a heading naming the level of the claim, a line on what every sentence measures, the
    sentences, and Table 1 with its caption."""

    heading: str
    sentences: list[str]
    note: str = ""
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    caption: str = ""


def _primary(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    c = tables["contrasts"]
    return c[c["role"] == Role.PRIMARY] if not c.empty else c


def _single_arm_table(curves: pd.DataFrame) -> pd.DataFrame:
    """One arm's accuracy per rate: clean first, then every tested rate with its interval."""
    c = curves.sort_values("rate")
    rows = [] if (c["rate"] == 0).any() else [{"rate": "0 (clean)", "accuracy (%) [95 % CI]":
                                               fmt.fmt_pct(c["clean_accuracy"].iloc[0]), "fault maps": "–"}]
    for _, r in c.iterrows():
        rows.append({"rate": f"{r['rate']:g}", "accuracy (%) [95 % CI]":
                     f"{r['estimate'] * 100:.1f} {fmt.fmt_ci_pct(r['ci_low'], r['ci_high'])}"
                     + ("*" if r["truncated"] else ""),
                     "fault maps": str(int(r["n_trials"]))})
    return pd.DataFrame(rows)


def _described_arms(tables: Mapping[str, pd.DataFrame]) -> list[str]:
    """Each arm's curve in words (accuracy per rate, critical rate), when few enough to read."""
    curves, summary = tables["curves"], tables["curve_summary"]
    if curves.empty:
        return []
    keys = list(curves.groupby(["variant", "method", "fault"], sort=True).groups)
    if len(keys) > MAX_ARM_SENTENCES:
        return []
    out = []
    for v, m, f in keys:
        pts = curves[(curves["variant"] == v) & (curves["method"] == m) & (curves["fault"] == f)]
        s = summary[(summary["variant"] == v) & (summary["method"] == m) & (summary["fault"] == f)] \
            if not summary.empty else summary
        out.append(fmt.curve_sentence(pts, s.iloc[0] if len(s) else None))
    return out


def _knee(tables: Mapping[str, pd.DataFrame], fraction: float) -> str:
    summary, curves = tables["curve_summary"], tables["curves"]
    if summary.empty or len(summary) < 2:
        return ""  # one arm: its sentence says it
    smallest = float(curves.loc[curves["rate"] > 0, "rate"].min())
    below = int((summary["critical_rate"] < smallest).sum())
    return fmt.knee_sentence(below, len(summary), smallest, fraction)


def clean_cost_words(row: pd.Series) -> str:
    """A contrast's clean-accuracy cost (a ``clean_costs`` row) in one sentence: ``Clean accuracy without faults
    87.1 % vs 93.0 %, difference -5.9 pp [-7.6, -4.1] (95 % CI over the same training runs; descriptive, not
    tested).``; without an interval, why; ``""`` when an arm is absent."""
    if row["reason"] == Reason.ARM_ABSENT:
        return ""
    head = (f"Clean accuracy without faults {fmt.fmt_pct(row['clean_a'])} vs {fmt.fmt_pct(row['clean_b'])}, "
            f"difference {fmt.fmt_pp(row['estimate'])}")
    if row["reason"] != Reason.TESTED:
        return f"{head} (no interval: {fmt.REASON_WORDS.get(Reason(row['reason']), str(row['reason']))})."
    cut = ", truncated to ±100 pp" if bool(row["truncated"]) else ""
    return (f"{head} {fmt.fmt_ci_pp(row['low'], row['high'])} ({row['level'] * 100:g} % CI over the same training "
            f"runs{cut}; descriptive, not tested).")


def clean_costs_sentence(costs: pd.DataFrame | None) -> str:
    """Every contrast's clean-accuracy difference in one sentence (an answer block's page 1, whose paragraphs are
    per component): each (contrast, fault) once, whatever its surfaces; ``""`` when none has an estimate."""
    if costs is None or costs.empty:
        return ""
    rows = costs[costs["estimate"].notna()].drop_duplicates(["contrast", "fault"])
    if rows.empty:
        return ""
    several = rows["fault"].nunique() > 1
    parts = []
    for _, r in rows.iterrows():
        name = f"{r['contrast']} ({r['fault']})" if several else str(r["contrast"])
        parts.append(f"{name} {fmt.fmt_pct(r['clean_a'])} vs {fmt.fmt_pct(r['clean_b'])}, "
                     f"{fmt.fmt_pp(r['estimate'])} {fmt.fmt_ci_pp(r['low'], r['high'])}")
    return ("Clean accuracy without faults, a vs b and the difference a − b with its 95 % CI over the same training "
            f"runs (descriptive, not tested): {'; '.join(parts)}.")


def _with_clean_costs(verdicts: pd.DataFrame, costs: pd.DataFrame | None) -> list[str]:
    """The verdict rows' short sentences, each primary contrast's followed by its clean-accuracy cost."""
    words = {}
    if costs is not None and not costs.empty:
        words = {(r["contrast"], r["surface"]): clean_cost_words(r) for _, r in costs.iterrows()}
    return [" ".join(w for w in (s, words.get((c, f), "")) if w)
            for s, c, f in zip(verdicts["short"], verdicts["contrast"], verdicts["surface"])]


def sequential_words(looks: pd.DataFrame, where: str = "Sequential seeds page") -> str:
    """One sentence on what the page-1 numbers are after a sequential sweep (``sequential_looks``; ``""``
    without one): where it stopped, how many contrasts its boundaries decided, and that the verdicts, p-values and
    intervals are those of a fixed design on the runs trained, not adjusted for the looks. ``where``: where the
    looks are shown."""
    if looks.empty:
        return ""
    last = looks.sort_values("look", kind="stable").groupby(["contrast", "fault", "scope"], sort=False).tail(1)
    final = looks[looks["look"] == looks["look"].max()].iloc[0]
    runs, most = int(final["runs_per_arm"]), int(final["max_runs"])
    decided = int(last["decision"].isin([Decision.BETTER, Decision.WORSE, Decision.EQUIVALENT]).sum())
    going = bool((last["decision"] == Decision.CONTINUE).any()) and runs < most
    at = (f"{'is at' if going else 'stopped at'} look {int(final['look'])} ({runs} runs per arm"
             f"{', the maximum' if runs >= most else ''})")
    return (f"Sequential seeds: the sweep {at}, where its group-sequential boundaries had decided {decided} of "
            f"{fmt.plural(len(last), 'contrast')} ({where}); the verdicts, p-values and 95 % CIs here "
            "are fixed-design analyses of the runs trained, not adjusted for the looks.")


def unadjusted_words(prim: pd.DataFrame) -> str:
    """When a primary contrast is inconclusive although its 95 % CI excludes 0: why (the CI is the contrast's own,
    the verdict the family's); else ``""``."""
    if prim.empty:
        return ""
    odd = (prim["verdict"] == Verdict.INCONCLUSIVE) & ((prim["low"] > 0) | (prim["high"] < 0))
    if not odd.any():
        return ""
    return ("Each 95 % CI is the contrast's own, not adjusted for the family; the verdict uses the family's adjusted "
            f"p, so {fmt.plural(int(odd.sum()), 'inconclusive contrast')} "
            f"{'has' if int(odd.sum()) == 1 else 'have'} a CI that excludes 0.")


def answer_of(tables: Mapping[str, pd.DataFrame], answer: dict | None, fraction: float) -> Answer:
    """Page 1's answer, by what the study has: an answer block, declared (or default) contrasts, or neither."""
    prim = _primary(tables)
    layers = tables.get("most_sensitive_layers", pd.DataFrame())
    layer_lines = ([fmt.layers_sentence(g) for _, g in
                    layers.groupby(["variant", "method", "fault", "scope", "counted"], sort=True)
                    if int(g["n_layers"].iloc[0]) >= 2]
                   if not layers.empty and prim.empty and not answer else [])  # a per-layer campaign's answer
    runs = tables["runs"].groupby(["variant", "method"])["run_id"].nunique()
    curves = tables["curves"]
    seq = " ".join(w for w in (unadjusted_words(prim), sequential_words(tables.get("sequential_looks",
                                                                                    pd.DataFrame()))) if w)
    if answer:
        source = "the declared contrasts" if answer.get("components") else "the pre-specified pairs"
        cost = clean_costs_sentence(tables.get("clean_costs")) if answer.get("components") else ""
        out = Answer(f"Answer (recipe level: training runs are the replicates; {source}, one family):",
                     [*answer["paragraphs"], *([cost] if cost else [])], seq)
    elif not prim.empty:
        shared = fmt.shared_endpoint(prim)
        note = f"Every contrast: {shared}; effect = a − b with its 95 % CI." if shared else \
            "Effect = a − b with its 95 % CI."
        out = Answer("Answer (recipe level: training runs are the replicates; "
                     f"{fmt.plural(len(prim), 'declared contrast')}, one family, α = 0.05):",
                     _with_clean_costs(tables["verdicts"], tables.get("clean_costs")),
                     " ".join(w for w in (note, seq) if w))
    else:
        level = ("conditional on the trained network" + ("" if len(runs) == 1 else "s")
                 + ": fault maps are the replicates" if (runs <= 1).all() and len(runs) else
                 "recipe level: training runs are the replicates")
        sentences = _described_arms(tables)
        if len(runs) > 1:
            sentences.insert(0, fmt.no_contrast_sentence(len(runs), tables["runs"]["method"].nunique()))
        out = Answer(f"Answer ({level}):", sentences)
    out.sentences += [s for s in [_knee(tables, fraction)] if s] + layer_lines[:MAX_LAYER_SENTENCES]
    if len(layer_lines) > MAX_LAYER_SENTENCES:
        out.sentences.append(f"… and {len(layer_lines) - MAX_LAYER_SENTENCES} more per-layer panels: see the "
                             "per-layer sensitivity figure.")
    one_arm = len(runs) == 1 and not curves.empty and curves["fault"].nunique() == 1
    if one_arm:
        out.table = _single_arm_table(curves)
        over = fmt.interval_words(int(curves["n_runs"].iloc[0]), int(curves["n_trials"].min()))
        out.caption = f"Table 1. Accuracy per rate ({curves['fault'].iloc[0]}): mean, {over}."
    elif not tables["runs"].empty:
        out.table = arms_table(tables)
        span = tables["curve_summary"]["auc_span"].iloc[0] if not tables["curve_summary"].empty else ""
        over = ("95 % t intervals over training runs (recipe level)" if (runs >= 2).all() else
                "95 % CIs over each network's fault maps, conditional on that trained network" if (runs <= 1).all()
                else "95 % intervals over training runs (with one run: over its fault maps, conditional on that "
                     "network)")
        out.caption = ("Table 1. The arms: clean accuracy, mean (range) over training runs; " +
                       (f"AUC (mean accuracy over rates {span}) and critical rate (first rate with accuracy < "
                        f"{fraction:g} × clean), {over}; * truncated to [0, 100] %." if span else
                        "no AUC or critical rate (fewer than 2 rates)."))
    return out


def relevant_missing(tables: Mapping[str, pd.DataFrame]) -> list[str]:
    """The ``missing`` table's reasons, less those about comparisons the study cannot have (a method comparison
    with one training method, an architecture comparison with one architecture per method, contrasts with one
    arm): a single campaign is not missing its comparisons."""
    missing, runs = tables["missing"], tables["runs"]
    extra = (["AUC and critical rate: no whole-model curve with >= 2 rates"]
             if not tables["curves"].empty and tables["curve_summary"].empty else [])
    if missing.empty:
        return extra
    cannot = set()
    if runs["method"].nunique() <= 1:
        cannot.add(Topic.METHODS)
    if runs.groupby("method")["variant"].nunique().max() <= 1:
        cannot.add(Topic.ARCHITECTURES)
    if runs.groupby(["variant", "method"]).ngroups <= 1:
        cannot.add(Topic.CONTRASTS)
    return [m for t, m in zip(missing["topic"], missing["missing"]) if t not in cannot] + extra
