"""The contrast table: every declared contrast's primary endpoint (the primary family) and its other endpoints
(secondary rows), one row each, with typed verdicts and reasons.

    table = contrast_table(trials, contrasts, chance=0.1)      # contrasts=None: the default contrasts

Columns (the forest plot and page 1 read these): ``contrast`` (label), ``kind``, ``role`` (primary | secondary),
``fault``, ``scope``, ``surface`` (readable), ``endpoint`` (AUC | rate | equal count), ``rate`` (NaN for AUC),
``span`` (the AUC's rates), ``measure``, ``arms_a`` / ``arms_b`` (``variant · method``, comma-separated),
``variant_a`` / ``method_a`` / ``variant_b`` / ``method_b`` (contrasts with one arm per side, else None),
``design``, ``n_a`` / ``n_b`` (runs, summed over the contrast's arms), ``n_runs`` (the fewest runs of any one
arm), ``n_pairs``, ``mean_a`` / ``mean_b``,
``estimate`` (a - b, a fraction: 0.04 = +4 pp), ``low`` / ``high`` (its 1 - α t interval, truncated to [-1, 1]),
``truncated``, ``unit``, ``df``, ``sd`` (unit sd), ``se``, ``margin``, ``pvalue`` / ``tost_pvalue`` (raw),
``p_adjusted`` / ``tost_p_adjusted``, ``family``, ``verdict`` (:class:`Verdict`), ``reason`` (:class:`Reason`),
``runs_to_detect`` / ``runs_for_equivalence`` (primary rows: runs per arm for 80 % power at the family's level).

Family: the tested primary rows, closed test with each contrast counted once (:func:`~.family.closed_pairs`).
A contrast's ``secondary_measures`` add its primary endpoint in those measures (e.g. ``relative``: the loss as a
share of each run's clean accuracy), also secondary. A secondary row is tested only when its contrast was
decided (gatekeeping): closed test over the contrast's
secondary rows at α/m (its Bonferroni share of the primary family); otherwise ``not tested`` with reason
``primary not decided``. Secondary verdicts never reach page 1.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from faultlab.store import with_store_labels

from .contrasts import ContrastSpec, Resolved, default_contrasts, resolve_contrasts
from .endpoints import surface_label, surface_runs
from .family import ALPHA, FamilyResult, closed_pairs, verdict_of
from .power import runs_needed
from .recipe import comparison_of, linear_contrast
from .vocabulary import DECIDED, ContrastKind, Design, Endpoint, Measure, Reason, Role, Verdict

__all__ = ["contrast_table", "apply_primary_family", "family_verdicts", "FamilyVerdicts", "PLAN_POWER"]

PLAN_POWER = 0.8


UNITS = {Measure.ACCURACY: "accuracy (fraction; x100 = pp)", Measure.LOSS: "accuracy loss (fraction)",
         Measure.RELATIVE: "accuracy loss relative to clean (fraction of clean accuracy)"}


@dataclass(frozen=True)
class _Arm:
    """One arm's runs on a surface: training seeds, and their values (runs × ``columns``: rates or ``count``)."""

    seeds: np.ndarray
    columns: list
    values: np.ndarray


def _arms_of(wide: pd.DataFrame) -> dict[tuple[str, str], _Arm]:
    """Every arm of a surface's runs table, keyed (variant, method), its runs indexed by training seed."""
    out = {}
    if wide.empty:
        return out
    for (variant, method), sel in wide.groupby(level=["variant", "method"], sort=False):
        sel = sel.droplevel(["variant", "method", "run_id"]).groupby(level=0).mean().dropna(axis=1, how="all")
        out[(variant, method)] = _Arm(sel.index.to_numpy(), list(sel.columns), sel.to_numpy(float))
    return out


NO_RUNS = _Arm(np.zeros(0), [], np.zeros((0, 0)))


def _values(arm: _Arm, endpoint: Endpoint, rate: float, common: list) -> tuple[np.ndarray, np.ndarray]:
    """(seeds, values) of one arm's runs for an endpoint; runs lacking a needed rate are left out."""
    if endpoint == Endpoint.AUC:
        if len(common) < 2 or not set(common) <= set(arm.columns):
            return np.zeros(0), np.zeros(0)
        m = arm.values[:, [arm.columns.index(r) for r in common]]
        r = np.asarray(common, dtype=float)
        v = np.trapezoid(m, r, axis=1) / (r[-1] - r[0])
    else:
        col = "count" if endpoint == Endpoint.COUNT else rate
        if col not in arm.columns:
            return np.zeros(0), np.zeros(0)
        v = arm.values[:, arm.columns.index(col)]
    ok = np.isfinite(v)
    return arm.seeds[ok], v[ok]


def design_groups(c: Resolved, va: list, vb: list) -> tuple[list, list, bool, int]:
    """Groups and coefficients of the linear contrast: per-seed differences (paired) when every architecture of
    a method contrast shares >= 2 seeds, else the arms' run values; and the number of pairs."""
    k = len(va)
    if c.kind == ContrastKind.METHOD:
        shared = [np.intersect1d(sa, sb, return_indices=True) for (sa, _), (sb, _) in zip(va, vb)]
        if all(s[0].size >= 2 for s in shared):
            diffs = [a[ia] - b[ib] for (_, a), (_, b), (_, ia, ib) in zip(va, vb, shared)]
            return diffs, [1.0 / k] * k, True, int(sum(s[0].size for s in shared))
    groups = [x for (_, a), (_, b) in zip(va, vb) for x in (a, b)]
    return groups, [s / k for _ in range(k) for s in (1.0, -1.0)], False, 0


def _row(c: Resolved, role: Role, endpoint: Endpoint, rate: float, arms: tuple[list, list], common: list, *,
         alpha: float, chance: float | None, chance_band: float) -> dict[str, Any]:
    va, vb = ([_values(a, endpoint, rate, common) for a in side] for side in arms)
    groups, coefs, paired, n_pairs = design_groups(c, va, vb)
    lin = linear_contrast(groups, coefs, paired=paired)
    margin = c.spec.margin if c.spec.margin is not None else math.nan
    sizes = [v.size for _, v in va + vb]
    res = comparison_of(lin, n_a=sum(v.size for _, v in va), n_b=sum(v.size for _, v in vb), n_pairs=n_pairs,
                        margin=margin, level=1 - alpha)
    mean_a = float(np.mean([v.mean() if v.size else math.nan for _, v in va]))
    mean_b = float(np.mean([v.mean() if v.size else math.nan for _, v in vb]))
    reason = res.reason
    if min(sizes) == 0:
        reason = Reason.ARM_ABSENT
    elif (c.spec.measure == Measure.ACCURACY and chance is not None and reason in (Reason.TESTED, Reason.NO_SPREAD)
          and max(mean_a, mean_b) <= chance + chance_band):
        reason = Reason.AT_CHANCE
    keep = reason == Reason.TESTED
    unit = UNITS[Measure(c.spec.measure)]
    span = (f"{common[0]:g}–{common[-1]:g}" if endpoint == Endpoint.AUC and common else
            f"{rate:g}" if endpoint == Endpoint.RATE else "")
    return {
        "contrast": c.label, "kind": c.kind.value, "role": role, "fault": c.fault, "scope": c.scope,
        "surface": surface_label(c.scope, c.fault), "endpoint": endpoint, "rate": rate, "span": span,
        "measure": c.spec.measure, "arms_a": ", ".join(f"{v} · {m}" for v, m in c.arms_a),
        "arms_b": ", ".join(f"{v} · {m}" for v, m in c.arms_b),
        **_single_arms(c),
        "design": res.design if max(sizes) else Design.NONE, "n_a": res.n_a, "n_b": res.n_b,
        "n_runs": int(min(sizes)), "n_pairs": n_pairs, "mean_a": mean_a, "mean_b": mean_b,
        "estimate": res.estimate, "low": res.ci_low, "high": res.ci_high, "truncated": res.truncated,
        "unit": unit, "df": res.df, "sd": res.sd, "se": res.se, "margin": margin,
        "pvalue": res.pvalue if keep else math.nan, "tost_pvalue": res.tost_pvalue if keep else math.nan,
        "reason": reason, "level": 1 - alpha, "_paired": paired, "_coefs": float(np.sum(np.square(coefs))),
    }


def _single_arms(c: Resolved) -> dict[str, str | None]:
    """``variant_a``/``method_a``/``variant_b``/``method_b`` of a contrast with one arm per side (else None)."""
    one = len(c.arms_a) == 1 and len(c.arms_b) == 1
    (va, ma), (vb, mb) = (c.arms_a[0], c.arms_b[0]) if one else ((None, None), (None, None))
    return {"variant_a": va, "method_a": ma, "variant_b": vb, "method_b": mb}


def _rows_of(c: Resolved, surface: dict[tuple[str, str], _Arm], **kw: Any) -> list[dict[str, Any]]:
    """The contrast's primary row, then its other endpoints (secondary). An AUC over a single common rate is that
    rate's value: the primary endpoint is then the rate."""
    a_arms = [surface.get(arm, NO_RUNS) for arm in c.arms_a]
    b_arms = [surface.get(arm, NO_RUNS) for arm in c.arms_b]
    arms = (a_arms, b_arms)
    present = [a for a in a_arms + b_arms if a.seeds.size]
    rates = [] if not present or c.endpoint == Endpoint.COUNT else sorted(
        set.intersection(*[set(a.columns) for a in present]))
    endpoint, rate = c.endpoint, (c.spec.rate if c.endpoint == Endpoint.RATE else math.nan)
    if endpoint == Endpoint.AUC and len(rates) == 1:
        endpoint, rate = Endpoint.RATE, float(rates[0])
    rows = [_row(c, Role.PRIMARY, endpoint, rate, arms, rates, **kw)]
    if endpoint == Endpoint.COUNT:
        return rows
    if endpoint == Endpoint.RATE and len(rates) >= 2:
        rows.append(_row(c, Role.SECONDARY, Endpoint.AUC, math.nan, arms, rates, **kw))
    rows += [_row(c, Role.SECONDARY, Endpoint.RATE, float(r), arms, rates, **kw) for r in rates
             if not (endpoint == Endpoint.RATE and r == rate)]
    return rows


def _measure_rows(c: Resolved, surfaces: dict, **kw: Any) -> list[dict[str, Any]]:
    """The contrast's primary endpoint in each of its ``secondary_measures``: secondary rows, gated like its
    other endpoints (``surfaces``: measure -> the surface's arms)."""
    rows = []
    for m in c.spec.secondary_measures:
        other = dataclasses.replace(c, spec=dataclasses.replace(c.spec, measure=m, secondary_measures=[]))
        row = _rows_of(other, surfaces[m], **kw)[0]
        rows.append({**row, "role": Role.SECONDARY})
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


@dataclass(frozen=True)
class FamilyVerdicts:
    """The family engine's result for a table's rows (arrays in row order): adjusted p's, verdicts, which tested
    secondary rows stayed behind a closed gate, and the number m of tested primary contrasts."""

    p_adjusted: np.ndarray
    tost_p_adjusted: np.ndarray
    verdict: np.ndarray
    gate_closed: np.ndarray
    gated: np.ndarray
    size: int


def family_verdicts(primary: np.ndarray, key: Sequence, tested: np.ndarray, p_diff: np.ndarray, p_tost: np.ndarray,
                    estimate: np.ndarray, alpha: float = ALPHA) -> FamilyVerdicts:
    """The primary family and the gated secondary rows on plain arrays (one entry per row; ``key``: the row's
    contrast, a secondary row's gate is its contrast's primary row). Primary rows: closed test, each contrast
    counted once; a decided contrast's tested secondary rows: closed test among them, adjusted p × m (α/m)."""
    prim = np.asarray(primary, dtype=bool)
    adj_d, adj_t = np.full(prim.size, np.nan), np.full(prim.size, np.nan)
    adj_d[prim], adj_t[prim] = closed_pairs(p_diff[prim], p_tost[prim])
    size = int(np.isfinite(adj_d[prim]).sum())
    m = max(size, 1)
    verdict = np.full(prim.size, Verdict.NOT_TESTED, dtype=object)
    for i in np.nonzero(prim & tested)[0]:
        verdict[i] = verdict_of(estimate[i], adj_d[i], adj_t[i], alpha)
    decided = {key[i] for i in np.nonzero(prim)[0] if verdict[i] in DECIDED}
    gate_closed, gated = np.zeros(prim.size, dtype=bool), np.zeros(prim.size, dtype=bool)
    for k in dict.fromkeys(key[i] for i in np.nonzero(~prim)[0]):
        rows = np.array([j for j in range(prim.size) if not prim[j] and key[j] == k])
        if k not in decided:
            gate_closed[rows[tested[rows]]] = True
            continue
        d, t = closed_pairs(p_diff[rows], p_tost[rows])
        adj_d[rows], adj_t[rows] = np.minimum(1.0, d * m), np.minimum(1.0, t * m)
        gated[rows] = True
        for j in rows[tested[rows]]:
            verdict[j] = verdict_of(estimate[j], adj_d[j], adj_t[j], alpha)
    return FamilyVerdicts(adj_d, adj_t, verdict, gate_closed, gated, size)


def apply_primary_family(table: pd.DataFrame, alpha: float = ALPHA, *, plan: bool = True) -> FamilyResult:
    """Verdicts of the primary rows (closed test, each contrast once) and of the gated secondary rows
    (:func:`family_verdicts`); in place. ``plan=False`` leaves the runs-to-detect columns NaN (simulations that
    only need the verdicts)."""
    prim = (table["role"] == Role.PRIMARY).to_numpy()
    key = list(zip(table["contrast"], table["fault"], table["scope"]))
    tested = (table["reason"] == Reason.TESTED).to_numpy()
    fv = family_verdicts(prim, key, tested, table["pvalue"].to_numpy(float), table["tost_pvalue"].to_numpy(float),
                         table["estimate"].to_numpy(float), alpha)
    m = max(fv.size, 1)
    name = f"primary: closed test over {fv.size} declared contrast(s), each counted once (difference and TOST)"
    family = np.where(prim, name, "secondary, not tested: its contrast was not decided").astype(object)
    family[fv.gated] = f"secondary, gated by its contrast: closed test within at α/{m}"
    reason = table["reason"].to_numpy(object).copy()
    reason[fv.gate_closed] = Reason.GATE_CLOSED
    table["p_adjusted"], table["tost_p_adjusted"] = fv.p_adjusted, fv.tost_p_adjusted
    table["family"], table["verdict"], table["reason"] = family, fv.verdict, reason
    if plan:
        for i in np.nonzero(prim)[0]:
            idx = table.index[i]
            table.at[idx, "runs_to_detect"], table.at[idx, "runs_for_equivalence"] = _plan(table.loc[idx], alpha / m)
    rule = "equivalent if the adjusted TOST p < α, else better/worse if the adjusted p < α, else inconclusive"
    return FamilyResult(name, fv.size, alpha, rule)


COLUMNS = ["contrast", "kind", "role", "fault", "scope", "surface", "endpoint", "rate", "span", "measure", "arms_a",
           "arms_b", "variant_a", "method_a", "variant_b", "method_b", "design", "n_a", "n_b", "n_runs", "n_pairs",
           "mean_a", "mean_b", "estimate", "low", "high",
           "truncated", "unit", "df", "sd", "se", "margin", "pvalue", "tost_pvalue", "p_adjusted",
           "tost_p_adjusted", "family", "verdict", "reason", "runs_to_detect", "runs_for_equivalence", "level"]


def contrast_table(frame: pd.DataFrame, contrasts: Sequence[ContrastSpec] | None = None, *,
                   baseline: str = "vanilla", margin: float = 0.01, alpha: float = ALPHA, chance: float | None = None,
                   chance_band: float = 0.05, campaigns: dict[str, tuple[str, str]] | None = None,
                   family: list[FamilyResult] | None = None, plan: bool = True) -> pd.DataFrame:
    """The contrast table of ``frame`` (the trial frame, ``variant`` filled in) for ``contrasts`` (None: the
    defaults, every method vs ``baseline`` per architecture, TOST at ``margin``). Rows whose arms are both within
    ``chance_band`` of
    ``chance`` are not tested (``at chance``). The family's description is appended to ``family`` if given."""
    frame = with_store_labels(frame)  # a faultlab.run or exported table, read in the store's labels
    specs = default_contrasts(frame, baseline, margin=margin) if contrasts is None else list(contrasts)
    resolved = resolve_contrasts(frame, specs, campaigns)
    cache: dict[tuple, dict] = {}
    rows: list[dict[str, Any]] = []
    for c in resolved:
        surfaces = {}
        for m in (c.spec.measure, *c.spec.secondary_measures):
            key = (c.fault, c.scope, m)
            if key not in cache:
                cache[key] = _arms_of(surface_runs(frame, c.fault, c.scope, Measure(m)))
            surfaces[m] = cache[key]
        kw = {"alpha": alpha, "chance": chance, "chance_band": chance_band}
        rows += _rows_of(c, surfaces[c.spec.measure], **kw) + _measure_rows(c, surfaces, **kw)
    if not rows:
        return pd.DataFrame(columns=COLUMNS)
    table = pd.DataFrame(rows)
    for col in ("p_adjusted", "tost_p_adjusted", "runs_to_detect", "runs_for_equivalence"):
        table[col] = math.nan
    table["family"], table["verdict"] = "", Verdict.NOT_TESTED
    result = apply_primary_family(table, alpha, plan=plan)
    if family is not None:
        family.append(result)
    return table[COLUMNS]

