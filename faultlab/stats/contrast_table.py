"""The contrast table: every declared contrast's primary endpoint (the primary family) and its other endpoints
(secondary rows), one row each, with typed verdicts and reasons.

    table = contrast_table(trials, contrasts, chance=0.1)      # contrasts=None: the default contrasts

Columns (the forest plot and page 1 read these): ``contrast`` (label), ``kind``, ``role`` (primary | secondary),
``fault``, ``scope``, ``surface`` (readable), ``endpoint`` (AUC | rate | equal count), ``rate`` (NaN for AUC),
``span`` (the AUC's rates), ``measure``, ``arms_a`` / ``arms_b``, ``design``, ``n_a`` / ``n_b`` (runs, summed over
the contrast's arms), ``n_runs`` (the fewest runs of any one arm), ``n_pairs``, ``mean_a`` / ``mean_b``,
``estimate`` (a - b, a fraction: 0.04 = +4 pp), ``low`` / ``high`` (its 1 - α t interval, truncated to [-1, 1]),
``truncated``, ``unit``, ``df``, ``sd`` (unit sd), ``se``, ``margin``, ``pvalue`` / ``tost_pvalue`` (raw),
``p_adjusted`` / ``tost_p_adjusted``, ``family``, ``verdict`` (:class:`Verdict`), ``reason`` (:class:`Reason`),
``runs_to_detect`` / ``runs_for_equivalence`` (primary rows: runs per arm for 80 % power at the family's level).

Family: the tested primary rows, closed test with each contrast counted once (:func:`~.family.closed_pairs`).
A secondary row is tested only when its contrast was decided (gatekeeping): closed test over the contrast's
secondary rows at α/m (its Bonferroni share of the primary family); otherwise ``not tested`` with reason
``primary not decided``. Secondary verdicts never reach page 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .contrasts import ContrastSpec, Resolved, default_contrasts, resolve_contrasts
from .endpoints import RUN_INDEX, arm_mean, common_rates, endpoint_values, surface_label, surface_runs
from .family import ALPHA, FamilyResult, closed_pairs, verdict_of
from .power import runs_needed
from .recipe import comparison_of, linear_contrast
from .vocabulary import DECIDED, ContrastKind, Design, Endpoint, Measure, Reason, Role, Verdict

__all__ = ["contrast_table", "apply_primary_family", "PLAN_POWER"]

PLAN_POWER = 0.8


def _arm(wide: pd.DataFrame, variant: str, method: str) -> pd.DataFrame:
    """The runs of one arm, indexed by training seed."""
    if wide.empty:
        return pd.DataFrame()
    idx = wide.index
    sel = wide[(idx.get_level_values("variant") == variant) & (idx.get_level_values("method") == method)]
    return sel.droplevel(["variant", "method", "run_id"]).groupby(level=0).mean()


def _groups(c: Resolved, va: list[pd.Series], vb: list[pd.Series]) -> tuple[list, list, bool, int]:
    """Groups and coefficients of the linear contrast: per-seed differences (paired) when every architecture of
    a method contrast shares >= 2 seeds, else the arms' run values; and the number of pairs."""
    k = len(va)
    if c.kind == ContrastKind.METHOD:
        shared = [a.index.intersection(b.index) for a, b in zip(va, vb)]
        if all(len(s) >= 2 for s in shared):
            diffs = [(a.loc[s] - b.loc[s]).to_numpy() for a, b, s in zip(va, vb, shared)]
            return diffs, [1.0 / k] * k, True, int(sum(len(s) for s in shared))
    groups = [x for a, b in zip(va, vb) for x in (a.to_numpy(), b.to_numpy())]
    return groups, [s / k for _ in range(k) for s in (1.0, -1.0)], False, 0


def _row(c: Resolved, role: Role, endpoint: Endpoint, rate: float, arms: tuple[list, list], *, alpha: float,
         chance: float | None, chance_band: float) -> dict[str, Any]:
    a_arms, b_arms = arms
    (va, vb), span = _split(endpoint_values(a_arms + b_arms, endpoint, rate), len(a_arms))
    groups, coefs, paired, n_pairs = _groups(c, va, vb)
    lin = linear_contrast(groups, coefs, paired=paired)
    margin = c.spec.margin if c.spec.margin is not None else math.nan
    res = comparison_of(lin, n_a=sum(map(len, va)), n_b=sum(map(len, vb)), n_pairs=n_pairs, margin=margin,
                        level=1 - alpha)
    mean_a, mean_b = float(np.mean([arm_mean(v) for v in va])), float(np.mean([arm_mean(v) for v in vb]))
    reason = res.reason
    if any(len(v) == 0 for v in va + vb):
        reason = Reason.ARM_ABSENT
    elif (c.spec.measure == Measure.ACCURACY and chance is not None and reason in (Reason.TESTED, Reason.NO_SPREAD)
          and max(mean_a, mean_b) <= chance + chance_band):
        reason = Reason.AT_CHANCE
    keep = reason == Reason.TESTED
    unit = "accuracy (fraction; x100 = pp)" if c.spec.measure == Measure.ACCURACY else "accuracy loss (fraction)"
    return {
        "contrast": c.label, "kind": c.kind.value, "role": role, "fault": c.fault, "scope": c.scope,
        "surface": surface_label(c.scope, c.fault), "endpoint": endpoint, "rate": rate, "span": span,
        "measure": c.spec.measure, "arms_a": ", ".join(f"{v} · {m}" for v, m in c.arms_a),
        "arms_b": ", ".join(f"{v} · {m}" for v, m in c.arms_b),
        "design": res.design if any(len(v) for v in va + vb) else Design.NONE, "n_a": res.n_a, "n_b": res.n_b,
        "n_runs": int(min(map(len, va + vb))), "n_pairs": n_pairs, "mean_a": mean_a, "mean_b": mean_b,
        "estimate": res.estimate, "low": res.ci_low, "high": res.ci_high, "truncated": res.truncated,
        "unit": unit, "df": res.df, "sd": res.sd, "se": res.se, "margin": margin,
        "pvalue": res.pvalue if keep else math.nan, "tost_pvalue": res.tost_pvalue if keep else math.nan,
        "reason": reason, "level": 1 - alpha, "_paired": paired, "_coefs": float(np.sum(np.square(coefs))),
    }


def _split(values: tuple[list[pd.Series], str], k: int) -> tuple[tuple[list, list], str]:
    series, span = values
    return (series[:k], series[k:]), span


def _rows_of(c: Resolved, wide: pd.DataFrame, **kw: Any) -> list[dict[str, Any]]:
    """The contrast's primary row, then its other endpoints (secondary). An AUC over a single common rate is that
    rate's value: the primary endpoint is then the rate."""
    a_arms = [_arm(wide, v, m) for v, m in c.arms_a]
    b_arms = [_arm(wide, v, m) for v, m in c.arms_b]
    arms = (a_arms, b_arms)
    rates = common_rates([a for a in a_arms + b_arms if not a.empty])
    endpoint, rate = c.endpoint, (c.spec.rate if c.endpoint == Endpoint.RATE else math.nan)
    if endpoint == Endpoint.AUC and len(rates) == 1:
        endpoint, rate = Endpoint.RATE, float(rates[0])
    rows = [_row(c, Role.PRIMARY, endpoint, rate, arms, **kw)]
    if endpoint == Endpoint.COUNT:
        return rows
    if endpoint == Endpoint.RATE and len(rates) >= 2:
        rows.append(_row(c, Role.SECONDARY, Endpoint.AUC, math.nan, arms, **kw))
    rows += [_row(c, Role.SECONDARY, Endpoint.RATE, float(r), arms, **kw) for r in rates
             if not (endpoint == Endpoint.RATE and r == rate)]
    return rows


def _plan(row: pd.Series, level: float) -> tuple[float, float]:
    """Runs per arm for 80 % power against the observed difference, and for equivalence at the margin when the
    truth is 0, at the family's Bonferroni level, from the observed unit sd (an equal-n design of this contrast)."""
    if row["reason"] != Reason.TESTED or not np.isfinite(row["sd"]):
        return math.nan, math.nan
    paired, c2 = bool(row["_paired"]), float(row["_coefs"])
    sd = row["sd"] * math.sqrt(c2 if paired else c2 / 2.0)  # the unit sd of an equivalent one-pair design
    detect = runs_needed(sd, max(abs(row["estimate"]), 1e-12), paired=paired, alpha=level, power=PLAN_POWER)
    equiv = (runs_needed(sd, row["margin"], paired=paired, alpha=level, power=PLAN_POWER, equivalence=True)
             if np.isfinite(row["margin"]) else math.nan)
    return detect, equiv


def apply_primary_family(table: pd.DataFrame, alpha: float = ALPHA) -> FamilyResult:
    """Verdicts of the primary rows (closed test, each contrast once) and of the gated secondary rows; in place."""
    prim = table["role"] == Role.PRIMARY
    adj_d, adj_t = closed_pairs(table.loc[prim, "pvalue"], table.loc[prim, "tost_pvalue"])
    table.loc[prim, "p_adjusted"], table.loc[prim, "tost_p_adjusted"] = adj_d, adj_t
    m = int(np.isfinite(adj_d).sum())
    name = f"primary: closed test over {m} declared contrast(s), each counted once (difference and TOST)"
    table.loc[prim, "family"] = name
    level = alpha / max(m, 1)
    for i in table.index[prim]:
        table.at[i, "verdict"] = _verdict(table.loc[i], alpha)
        table.at[i, "runs_to_detect"], table.at[i, "runs_for_equivalence"] = _plan(table.loc[i], level)
    for key, rows in table[~prim].groupby(["contrast", "fault", "scope"], sort=False).groups.items():
        head = table[prim & (table["contrast"] == key[0]) & (table["fault"] == key[1]) & (table["scope"] == key[2])]
        gate = len(head) and head["verdict"].iloc[0] in DECIDED
        sec = table.loc[rows]
        if gate:
            d, t = closed_pairs(sec["pvalue"], sec["tost_pvalue"])
            table.loc[rows, "p_adjusted"] = np.minimum(1.0, d * max(m, 1))
            table.loc[rows, "tost_p_adjusted"] = np.minimum(1.0, t * max(m, 1))
            table.loc[rows, "family"] = f"secondary, gated by its contrast: closed test within at α/{max(m, 1)}"
            for i in rows:
                table.at[i, "verdict"] = _verdict(table.loc[i], alpha)
        else:
            table.loc[rows, "family"] = "secondary, not tested: its contrast was not decided"
            for i in rows:
                if table.at[i, "reason"] == Reason.TESTED:
                    table.at[i, "reason"] = Reason.GATE_CLOSED
                table.at[i, "verdict"] = Verdict.NOT_TESTED
    rule = "equivalent if the adjusted TOST p < α, else better/worse if the adjusted p < α, else inconclusive"
    return FamilyResult(name, m, alpha, rule)


def _verdict(row: pd.Series, alpha: float) -> Verdict:
    if row["reason"] != Reason.TESTED:
        return Verdict.NOT_TESTED
    return verdict_of(row["estimate"], row["p_adjusted"], row["tost_p_adjusted"], alpha)


COLUMNS = ["contrast", "kind", "role", "fault", "scope", "surface", "endpoint", "rate", "span", "measure", "arms_a",
           "arms_b", "design", "n_a", "n_b", "n_runs", "n_pairs", "mean_a", "mean_b", "estimate", "low", "high",
           "truncated", "unit", "df", "sd", "se", "margin", "pvalue", "tost_pvalue", "p_adjusted",
           "tost_p_adjusted", "family", "verdict", "reason", "runs_to_detect", "runs_for_equivalence", "level"]


def contrast_table(frame: pd.DataFrame, contrasts: Sequence[ContrastSpec] | None = None, *,
                   baseline: str = "vanilla", alpha: float = ALPHA, chance: float | None = None,
                   chance_band: float = 0.05, campaigns: dict[str, tuple[str, str]] | None = None,
                   family: list[FamilyResult] | None = None) -> pd.DataFrame:
    """The contrast table of ``frame`` (the trial frame, ``variant`` filled in) for ``contrasts`` (None: the
    defaults, every method vs ``baseline`` per architecture). Rows whose arms are both within ``chance_band`` of
    ``chance`` are not tested (``at chance``). The family's description is appended to ``family`` if given."""
    specs = default_contrasts(frame, baseline) if contrasts is None else list(contrasts)
    resolved = resolve_contrasts(frame, specs, campaigns)
    cache: dict[tuple, pd.DataFrame] = {}
    rows: list[dict[str, Any]] = []
    for c in resolved:
        key = (c.fault, c.scope, c.spec.measure)
        if key not in cache:
            cache[key] = surface_runs(frame, c.fault, c.scope, Measure(c.spec.measure))
        rows += _rows_of(c, cache[key], alpha=alpha, chance=chance, chance_band=chance_band)
    if not rows:
        return pd.DataFrame(columns=COLUMNS)
    table = pd.DataFrame(rows)
    for col in ("p_adjusted", "tost_p_adjusted", "runs_to_detect", "runs_for_equivalence"):
        table[col] = math.nan
    table["family"], table["verdict"] = "", Verdict.NOT_TESTED
    result = apply_primary_family(table, alpha)
    if family is not None:
        family.append(result)
    return table[COLUMNS]


_ = RUN_INDEX  # the index surface_runs gives (documented there)
