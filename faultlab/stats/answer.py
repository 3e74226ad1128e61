"""A study spec's ``answer:`` block (the linear-bottleneck question) as declared contrasts: each (variant, control)
pair on every fault surface of the data and every method is one architecture contrast of the run-mean accuracy
*loss* (accuracy - the run's own clean accuracy, so a difference in clean accuracy is not read as tolerance),
with a TOST at the block's margin. They form the primary family (:mod:`faultlab.stats.contrast_table`); the
reference conclusion ("no significant advantage") is then judged per surface from their typed verdicts.

    answer = answer_tables(trials, spec["answer"])   # effects, outcomes, overall, trend, paragraphs

A study with ``contrasts:`` (an ablation: one contrast per component and surface) and an answer block without
pairs answers from the study's own contrast table instead (the page-1 family): one row per component and
surface, its ``relative`` secondary row alongside, and the reference judged on ``reference_contrasts`` only:

    answer = answer_tables(trials, spec["answer"], contrasts=tables["contrasts"])
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

import pandas as pd

from faultlab.store import ALL_LAYERS

from .contrast_table import contrast_table
from .contrasts import ContrastSpec
from .endpoints import COUNT, GROUP, NETWORK, scopes_in
from .vocabulary import Measure, Reason, Role, Verdict

__all__ = ["Outcome", "answer_contrasts", "answer_effects", "component_effects", "clean_table", "reference_outcome",
           "surface_outcomes", "trend_table", "answer_tables"]


class Outcome(StrEnum):
    """Whether the reference conclusion ("no significant advantage") holds on a surface."""

    HOLDS = "holds"  # every tested pair is equivalent or worse
    FAILS = "fails"  # a variant is better
    NOT_SHOWN = "not shown"  # inconclusive pairs: absence of evidence is not evidence of no advantage
    NOT_TESTABLE = "not testable"  # no pair was tested
    DEPENDS = "depends on the fault surface"  # surfaces disagree (overall only)


def answer_contrasts(trials: pd.DataFrame, answer: dict) -> list[ContrastSpec]:
    """One architecture contrast (loss, TOST at the block's margin) per pair and fault surface of the data."""
    margin = float(answer.get("margin", 0.01))
    return [ContrastSpec(kind="architecture", variant=p["variant"], control=p["control"], scope=scope,
                         measure="loss", margin=margin)
            for scope in scopes_in(trials) for p in answer.get("pairs", [])]


def answer_effects(trials: pd.DataFrame, answer: dict, *, alpha: float = 0.05) -> pd.DataFrame:
    """The primary rows of the answer's contrast table, with ``variant``, ``control`` and ``method`` columns."""
    table = contrast_table(trials, answer_contrasts(trials, answer), alpha=alpha)
    rows = table[table["role"] == Role.PRIMARY].copy()
    if rows.empty:
        return rows
    rows["variant"], rows["method"], rows["control"] = rows["variant_a"], rows["method_a"], rows["variant_b"]
    rows["absent"] = [v if na == 0 else c if nb == 0 else None
                      for v, c, na, nb in zip(rows["variant"], rows["control"], rows["n_a"], rows["n_b"])]
    rows.loc[rows["reason"] != Reason.ARM_ABSENT, "absent"] = None
    return rows.reset_index(drop=True)


def _surface_order(scope: str) -> tuple[int, int, str]:
    """Whole network first, then K = 16, 64, ... in order, then layer groups."""
    if scope == NETWORK:
        return (0, 0, "")
    if scope.startswith(COUNT):
        return (1, int(scope[len(COUNT):]), "")
    return (2, 0, scope[len(GROUP):])


def component_effects(contrasts: pd.DataFrame) -> pd.DataFrame:
    """The primary rows of a study's contrast table (one component on one surface each, in declared order, surfaces
    ordered), with ``variant``/``control``/``method`` and the contrast's ``relative`` secondary row alongside:
    ``rel_estimate``, ``rel_low``, ``rel_high``, ``rel_verdict``, ``rel_reason`` (NaN/None without one)."""
    if contrasts.empty:
        return pd.DataFrame()
    key = ["contrast", "fault", "scope"]
    rows = contrasts[contrasts["role"] == Role.PRIMARY].copy()
    rows["variant"], rows["method"], rows["control"] = rows["variant_a"], rows["method_a"], rows["variant_b"]
    rel = contrasts[(contrasts["role"] == Role.SECONDARY) & (contrasts["measure"] == Measure.RELATIVE)]
    rel = rel[key + ["estimate", "low", "high", "verdict", "reason"]].rename(columns={
        c: f"rel_{c}" for c in ("estimate", "low", "high", "verdict", "reason")})
    rows = rows.merge(rel, on=key, how="left")
    first = {c: i for i, c in enumerate(dict.fromkeys(rows["contrast"]))}
    rows["_order"] = [(first[c], _surface_order(s)) for c, s in zip(rows["contrast"], rows["scope"])]
    return rows.sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)


def clean_table(trials: pd.DataFrame) -> pd.DataFrame:
    """Clean accuracy per arm (variant, method) over its training runs: runs, mean, sd, min, max."""
    runs = trials.groupby(["variant", "method", "run_id"], sort=False)["clean_accuracy"].first().reset_index()
    out = runs.groupby(["variant", "method"], sort=False)["clean_accuracy"].agg(
        runs="size", mean="mean", sd="std", min="min", max="max")
    return out.reset_index()


def reference_outcome(verdicts: Sequence[Verdict]) -> Outcome:
    """Whether "no significant advantage" holds on one surface, from its pairs' verdicts."""
    tested = [v for v in verdicts if v != Verdict.NOT_TESTED]
    if not tested:
        return Outcome.NOT_TESTABLE
    if Verdict.BETTER in tested:
        return Outcome.FAILS
    if all(v in (Verdict.EQUIVALENT, Verdict.WORSE) for v in tested):
        return Outcome.HOLDS
    return Outcome.NOT_SHOWN


def by_surface(effects: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Effects grouped by surface: the whole network first, then equal-count surfaces, then layer groups."""
    def order(item: tuple[str, pd.DataFrame]) -> tuple[int, str]:
        scope = item[1]["scope"].iloc[0]
        return (0 if scope == NETWORK else 1 if scope.startswith(COUNT) else 2, item[0])

    return sorted(effects.groupby("surface", sort=False), key=order)


def surface_outcomes(effects: pd.DataFrame) -> tuple[pd.DataFrame, Outcome]:
    """The reference conclusion per surface (over its methods and pairs) and overall: the surfaces' common
    outcome, ``depends on the fault surface`` when they disagree, ``not testable`` when none was tested."""
    if effects.empty:
        return pd.DataFrame(columns=["surface", "outcome"]), Outcome.NOT_TESTABLE
    rows = [{"surface": s, "outcome": reference_outcome(list(g["verdict"]))} for s, g in by_surface(effects)]
    table = pd.DataFrame(rows)
    found = set(table["outcome"]) - {Outcome.NOT_TESTABLE}
    overall = found.pop() if len(found) == 1 else (Outcome.DEPENDS if found else Outcome.NOT_TESTABLE)
    return table, overall


def trend_table(trials: pd.DataFrame, names: Sequence[str], xs: Sequence[float], *, fraction: float = 0.9,
                n_resamples: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Critical rate (first rate with accuracy < ``fraction`` × clean; interval admitting the grid, t over runs)
    of each architecture of ``names`` at x ``xs``, per method and fault, on the whole-network surface."""
    from .recipe_tables import recipe_curves

    counts = trials["equal_count"].fillna(0).astype(int)
    af = trials[(trials["layer"] == ALL_LAYERS) & (counts == 0) & trials["variant"].isin(list(names))].copy()
    if af.empty:
        return pd.DataFrame()
    af["architecture"] = af["variant"]
    _, summary = recipe_curves(af, fraction, n_resamples=n_resamples, seed=seed)
    if summary.empty:
        return summary
    x = dict(zip(names, xs))
    return summary.assign(x=summary["variant"].map(x)).sort_values(["method", "fault", "x"]).reset_index(drop=True)


def answer_tables(trials: pd.DataFrame, answer: dict, *, contrasts: pd.DataFrame | None = None,
                  fraction: float = 0.9, alpha: float = 0.05, n_resamples: int = 1000, seed: int = 0
                  ) -> dict[str, object]:
    """Everything the answer page shows, from the trials and the spec's ``answer`` mapping (pairs, margin,
    trend, trend_x, trend_label, reference, reference_contrasts): effects, outcomes, overall, trend, paragraphs,
    clean (clean accuracy per arm) and components (True: answered from ``contrasts``, the study's contrast table,
    because the block has no pairs)."""
    from .ablation_words import component_paragraphs
    from .wording import answer_paragraphs

    margin = float(answer.get("margin", 0.01))
    components = not answer.get("pairs") and contrasts is not None
    if components:
        effects = component_effects(contrasts)
        judged = list(answer.get("reference_contrasts") or [])
        outcomes, overall = surface_outcomes(effects[effects["contrast"].isin(judged)] if judged else effects)
        text = component_paragraphs(effects, reference=answer.get("reference"), judged=judged)
    else:
        effects = answer_effects(trials, answer, alpha=alpha)
        outcomes, overall = surface_outcomes(effects)
        surfaces = [(s, g, outcomes.loc[outcomes["surface"] == s, "outcome"].iloc[0]) for s, g in by_surface(effects)]
        text = answer_paragraphs(surfaces, overall, reference=answer.get("reference"), margin=margin)
    trend = trend_table(trials, answer.get("trend", []), answer.get("trend_x", []), fraction=fraction,
                        n_resamples=n_resamples, seed=seed)
    return {"effects": effects, "outcomes": outcomes, "overall": overall, "trend": trend, "paragraphs": text,
            "margin": margin, "trend_label": answer.get("trend_label", "x"), "clean": clean_table(trials),
            "components": components}
