"""The one family engine: the t interval and t tests every table uses, Holm, the closed test of a family of
contrasts whose difference test and TOST are counted once (Shaffer), and the one verdict rule.

    p_diff_adj, p_tost_adj = closed_pairs(p_diff, p_tost)
    verdict = verdict_of(estimate, p_diff_adj, p_tost_adj, alpha)

Why one contrast counts once: its difference test (H0: Δ = 0) and its TOST (H0: |Δ| ≥ margin) test disjoint
nulls, so at most one of the two is true. The closed test over all intersections of elementary hypotheses, each
intersection tested by Bonferroni, only meets intersections with at most one hypothesis per contrast (an
intersection holding both of a contrast's nulls is empty), so a family of m contrasts has at most m true nulls
(Shaffer 1986, "Modified sequentially rejective multiple test procedures"). Two separate Holm families, one for the
differences and one for the TOSTs, would each spend α and are not valid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from .vocabulary import Verdict

__all__ = ["t_quantile", "t_interval", "t_pvalues", "clip_interval", "holm", "closed_pairs", "verdict_of",
           "FamilyResult", "ALPHA"]

ALPHA = 0.05


def t_quantile(level: float, df: float) -> float:
    """Two-sided critical value t_{df, 1-(1-level)/2}; the normal quantile for df = inf."""
    return float(stats.t.ppf(0.5 + level / 2.0, df))


def t_interval(estimate: float, se: float, df: float, level: float = 0.95) -> tuple[float, float]:
    """estimate ± t_{df, 1-α/2} · se (the point itself when se = 0; NaN when se or df is not finite)."""
    if se == 0:
        return estimate, estimate
    if not (np.isfinite(se) and df > 0):
        return math.nan, math.nan
    h = t_quantile(level, df) * se
    return estimate - h, estimate + h


def t_pvalues(estimate: float, se: float, df: float, margin: float) -> tuple[float, float]:
    """Two-sided p of Δ = 0 and the TOST p of |Δ| ≥ ``margin`` (max of the two one-sided p's) for an estimate with
    standard error ``se`` on ``df`` degrees of freedom; NaN for both when se = 0 or not finite (no test)."""
    if not (np.isfinite(se) and se > 0 and df > 0):
        return math.nan, math.nan
    p = float(2.0 * stats.t.sf(abs(estimate) / se, df))
    if not (np.isfinite(margin) and margin > 0):
        return p, math.nan
    p_low = float(stats.t.sf((estimate + margin) / se, df))  # H0: Δ <= -margin
    p_high = float(stats.t.cdf((estimate - margin) / se, df))  # H0: Δ >= +margin
    return p, max(p_low, p_high)


def clip_interval(low: float, high: float, lower: float, upper: float) -> tuple[float, float, bool]:
    """[low, high] truncated to the quantity's range [lower, upper]; the flag says whether it was (stated in the
    tables' ``truncated`` column: a t interval of a bounded quantity can leave its range with few runs)."""
    lo, hi = max(low, lower), min(high, upper)
    return lo, hi, bool(lo != low or hi != high) if np.isfinite(low) and np.isfinite(high) else False


def holm(pvalues) -> np.ndarray:
    """Holm-Bonferroni step-down adjusted p-values, in input order.

    With p₍₁₎ ≤ … ≤ p₍ₘ₎: p̃₍ᵢ₎ = min(1, max_{j ≤ i} (m - j + 1) p₍ⱼ₎). NaN entries stay NaN and are not
    counted in m.
    """
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"pvalues must be 1-D, got shape {p.shape}")
    ok = ~np.isnan(p)
    if np.any((p[ok] < 0) | (p[ok] > 1)):
        raise ValueError("pvalues must lie in [0, 1]")
    out = np.full(p.shape, np.nan)
    q = p[ok]
    m = q.size
    if m == 0:
        return out
    order = np.argsort(q, kind="stable")
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * q[order]))
    res = np.empty(m)
    res[order] = adj
    out[ok] = res
    return out


def _closed(p_own: float, others: np.ndarray) -> float:
    """max over s = 1..m of s · min(p_own, the s-1 largest of ``others``): the closed test's adjusted p."""
    if not np.isfinite(p_own):
        return math.nan
    q = np.sort(others)[::-1]
    mins = np.minimum(p_own, np.concatenate([[np.inf], np.minimum.accumulate(q)]))
    return float(min(1.0, np.max(np.arange(1, q.size + 2) * mins)))


def closed_pairs(p_diff, p_tost) -> tuple[np.ndarray, np.ndarray]:
    """Adjusted p-values of a family of contrasts, each with a difference test and (optionally, NaN = none) a TOST.

    The closed test with Bonferroni local tests over the intersections with at most one null per contrast: a
    hypothesis h of contrast k is rejected at α iff p̃_h = max_s s · min(p_h, q₍₁₎, …, q₍ₛ₋₁₎) ≤ α, where q₍ⱼ₎ are
    the other tested contrasts' max(p_diff, p_tost), largest first. With no TOSTs this is exactly Holm; a contrast
    frees its share of α for the others only when both of its nulls are rejected. Contrasts with p_diff = NaN (not
    tested) are left out of the family.
    """
    pd_, pt = np.asarray(p_diff, dtype=float), np.asarray(p_tost, dtype=float)
    tested = np.isfinite(pd_)
    worst = np.where(np.isfinite(pt), np.fmax(pd_, pt), pd_)
    adj_d, adj_t = np.full(pd_.shape, np.nan), np.full(pt.shape, np.nan)
    for k in np.nonzero(tested)[0]:
        others = worst[tested & (np.arange(pd_.size) != k)]
        adj_d[k] = _closed(pd_[k], others)
        adj_t[k] = _closed(pt[k], others)
    return adj_d, adj_t


def verdict_of(direction: float, p_diff: float, p_tost: float, alpha: float = ALPHA) -> Verdict:
    """The one verdict rule, on adjusted p-values: ``equivalent`` when the TOST rejects |Δ| ≥ margin, else
    ``better``/``worse`` (sign of ``direction``, the tested statistic) when the difference test rejects Δ = 0,
    else ``inconclusive``.

    Equivalence comes first because the margin is the study's statement of the smallest difference that matters:
    a difference shown to lie inside ±margin is not practically relevant even when it is also shown to be nonzero
    (both nulls rejected: the estimate column still gives its sign). Both rejections are error-controlled by the
    same closed test, so the order changes the wording of such rows, never the error rate.
    """
    if np.isfinite(p_tost) and p_tost < alpha:
        return Verdict.EQUIVALENT
    if np.isfinite(p_diff) and p_diff < alpha and direction != 0:
        return Verdict.BETTER if direction > 0 else Verdict.WORSE
    return Verdict.INCONCLUSIVE


@dataclass(frozen=True)
class FamilyResult:
    """What the primary family was: its size (tested contrasts), α, and the rule, for the ``family`` table."""

    name: str
    size: int
    alpha: float
    rule: str

    def to_row(self) -> dict:
        return {"family": self.name, "size": self.size, "alpha": self.alpha, "rule": self.rule}
