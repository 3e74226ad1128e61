"""How many fault maps (trials) and training runs to run: Leveugle et al. (DATE 2009) for the trials of one
network, t-based precision targets, the runs x trials plan of a recipe-level comparison, and the runs per arm a
declared contrast needs in a fixed and in a group-sequential design (with the uncertainty of a plan made from few
runs)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ._common import as_1d, check_level
from .results import DegenerateTrialsWarning

__all__ = ["leveugle_sample_size", "trials_for_halfwidth", "ci_halfwidth", "plan_runs_and_trials", "RecipePlan",
           "ContrastPlan", "plan_contrast", "plan_contrasts", "sd_interval"]


def leveugle_sample_size(N: float, margin: float = 0.01, confidence: float = 0.99, p: float = 0.5) -> int:
    """Statistical fault-injection sample size n = N / (1 + e²(N-1) / (t² p(1-p))), rounded up.

    t = Φ⁻¹(1 - (1-confidence)/2) exactly (2.5758… at 99 %, not the rounded 2.576); N = ``math.inf`` gives
    t² p(1-p) / e². With the defaults and N = inf: 2.5758² · 0.25 / 0.01² = 16587.2 -> 16588 (the rounded
    t = 2.576 would give 16590). The result never exceeds N.
    """
    numeric = isinstance(N, (int, float, np.number)) and not isinstance(N, bool)
    is_inf = numeric and math.isinf(N) and N > 0
    if not is_inf and not (numeric and math.isfinite(N) and float(N).is_integer() and N >= 1):
        raise ValueError(f"N must be an integer >= 1 or math.inf, got {N!r}")
    if not 0.0 < margin < 1.0:
        raise ValueError(f"margin must be in (0, 1), got {margin!r}")
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p!r}")
    t = stats.norm.ppf(0.5 + check_level(confidence, "confidence") / 2.0)
    base = t * t * p * (1.0 - p) / (margin * margin)
    if is_inf:
        return math.ceil(base)
    N = int(N)
    return min(N, math.ceil(N / (1.0 + (N - 1) / base)))


def trials_for_halfwidth(std: float, halfwidth: float, confidence: float = 0.95, *, n_min: int = 2) -> int:
    """Trials needed so that the t half-width t_{n-1, 1-α/2} · s / √n is at most ``halfwidth``.

    The smallest n ≥ ``n_min`` with n ≥ (t_{n-1} s / h)², i.e. the fixed point of n ← ⌈(t_{n-1} s/h)²⌉,
    searched upward from the normal-quantile value ⌈(z s/h)²⌉ (t > z so it is a lower bound). ``std`` is a
    pilot's observed standard deviation; std = 0 returns ``n_min``.
    """
    if not (np.isfinite(std) and std >= 0):
        raise ValueError(f"std must be finite and >= 0, got {std!r}")
    if not (np.isfinite(halfwidth) and halfwidth > 0):
        raise ValueError(f"halfwidth must be finite and > 0, got {halfwidth!r}")
    if int(n_min) < 2:
        raise ValueError(f"n_min must be >= 2, got {n_min!r}")
    q = 0.5 + check_level(confidence, "confidence") / 2.0
    ratio = std / halfwidth
    n = max(int(n_min), math.ceil((stats.norm.ppf(q) * ratio) ** 2))
    if n > 10**9:
        raise ValueError(f"std {std} and halfwidth {halfwidth} need more than 1e9 trials; check the numbers")
    while True:
        cand = np.arange(n, n + 64)
        ok = stats.t.ppf(q, cand - 1) * ratio <= np.sqrt(cand)
        if ok.any():
            return int(cand[np.argmax(ok)])
        n += 64


def ci_halfwidth(x: Sequence[float] | np.ndarray, confidence: float = 0.95, *, warn: bool = True) -> float:
    """t half-width t_{n-1, 1-α/2} · s / √n of the mean of ``x`` (stopping rule of adaptive campaigns).

    Fewer than 2 values -> ``math.inf`` (not yet estimable); zero variance -> 0.0 with a
    :class:`DegenerateTrialsWarning` unless ``warn=False`` (a campaign's progress and cell summaries, where
    rate 0 gives identical trials by design).
    """
    x = as_1d(x, "x")
    q = 0.5 + check_level(confidence, "confidence") / 2.0
    if x.size < 2:
        return math.inf
    s = float(x.std(ddof=1))
    if s == 0:
        if not warn:
            return 0.0
        warnings.warn("ci_halfwidth: all values equal (zero variance)", DegenerateTrialsWarning, stacklevel=2)
        return 0.0
    return float(stats.t.ppf(q, x.size - 1) * s / math.sqrt(x.size))


@dataclass(frozen=True)
class RecipePlan:
    """How many training runs R (per arm) and trials T (per run and rate) reach a target precision of a
    recipe-level difference at least cost. ``halfwidth`` is the achieved CI half-width, ``seconds`` the compute
    for both arms: 2R (c_run + T · c_trial · n_rates)."""

    runs: int
    trials: int
    halfwidth: float
    seconds: float
    var_run: float
    var_map: float

    def to_row(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def plan_runs_and_trials(var_run: float, var_map: float, cost_run: float, cost_trial: float, halfwidth: float,
                         *, confidence: float = 0.95, n_rates: int = 1, min_runs: int = 3,
                         max_trials: int = 500) -> RecipePlan:
    """Runs and trials per run for a recipe-level difference of two arms (unpaired, the conservative case).

    Var(difference) = 2 (σ²_run + σ²_map / T) / R. For fixed precision the cost 2R (c_run + T c_trial n_rates)
    is least at T* = √(c_run σ²_map / (c_trial n_rates σ²_run)) (two-stage sampling, Cochran 1977 §10.6),
    clipped to [2, ``max_trials``]; R is then the smallest R ≥ ``min_runs`` with
    t_{2R-2, 1-α/2} √(Var) ≤ ``halfwidth``. Variances come from :func:`~faultlab.stats.variance_components`.
    """
    if not (np.isfinite(var_run) and np.isfinite(var_map) and var_run >= 0 and var_map >= 0):
        raise ValueError(f"variance components must be finite and >= 0, got {var_run!r}, {var_map!r}")
    if not (cost_run > 0 and cost_trial > 0 and halfwidth > 0):
        raise ValueError("costs and halfwidth must be > 0")
    q = 0.5 + check_level(confidence, "confidence") / 2.0
    t_star = max_trials if var_run == 0 else math.sqrt(cost_run * var_map / (cost_trial * n_rates * var_run))
    trials = int(min(max_trials, max(2, math.ceil(t_star))))
    unit = 2.0 * (var_run + var_map / trials)
    runs = max(int(min_runs), 2)
    while stats.t.ppf(q, 2 * runs - 2) * math.sqrt(unit / runs) > halfwidth:
        runs += 1 if runs < 100 else runs // 10
    h = float(stats.t.ppf(q, 2 * runs - 2) * math.sqrt(unit / runs))
    return RecipePlan(runs, trials, h, 2.0 * runs * (cost_run + trials * cost_trial * n_rates), var_run, var_map)


# ----------------------------------------------------------------------- runs per arm: fixed vs sequential


@dataclass(frozen=True)
class ContrastPlan:
    """Runs per arm for one contrast to reach ``power`` against ``effect`` at its family share α/m.

    ``fixed``: the fixed design (t test); ``fixed_low``/``fixed_high``: the same at the ends of the (1 - γ)
    interval of the unit sd (χ² on ``df``): the uncertainty of a plan made from few runs. ``seq_max`` /
    ``seq_expected`` / ``seq_expected_null``: the group-sequential design (looks at first, first + step, …) sized
    to the same power, its expected runs per arm at the effect and at no effect; ``seq_power`` its simulated power.
    """

    effect: float
    sd: float
    df: float
    paired: bool
    alpha: float
    fixed: float
    fixed_low: float
    fixed_high: float
    seq_max: float
    seq_expected: float
    seq_expected_null: float
    seq_power: float

    def to_row(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def sd_interval(sd: float, df: float, level: float = 0.8) -> tuple[float, float]:
    """(1 - γ) interval of a standard deviation from its estimate on ``df``: sd √(df / χ²_{df, 1∓γ/2})."""
    if not (np.isfinite(sd) and df >= 1):
        return math.nan, math.nan
    lo, hi = stats.chi2.ppf([0.5 + level / 2, 0.5 - level / 2], df)
    return sd * math.sqrt(df / lo), sd * math.sqrt(df / hi)


def plan_contrast(sd: float, effect: float, *, df: float = math.inf, paired: bool = True, n_contrasts: int = 1,
                  alpha: float = 0.05, power: float = 0.8, first: int = 3, step: int = 2, level: float = 0.8,
                  n_paths: int = 20_000, seed: int = 0) -> ContrastPlan:
    """Runs per arm of the fixed and the sequential design for one of ``n_contrasts`` contrasts (unit sd ``sd``,
    estimated on ``df``; true difference ``effect``); see :class:`ContrastPlan`. The sequential maximum is the
    smallest of fixed × 1.05, 1.1, … whose simulated power reaches ``power`` (an O'Brien-Fleming design needs a
    few percent more runs at its maximum than the fixed design)."""
    from .power import runs_needed
    from .sequential import SequentialDesign, operating_characteristics

    a = alpha / max(n_contrasts, 1)
    fixed = runs_needed(sd, effect, paired=paired, alpha=a, power=power)
    lo_sd, hi_sd = sd_interval(sd, df, level)
    low = runs_needed(lo_sd, effect, paired=paired, alpha=a, power=power) if np.isfinite(lo_sd) else math.nan
    high = runs_needed(hi_sd, effect, paired=paired, alpha=a, power=power) if np.isfinite(hi_sd) else math.nan
    nan = math.nan
    if not np.isfinite(fixed) or fixed > 2000:
        return ContrastPlan(effect, sd, df, paired, a, fixed, low, high, nan, nan, nan, nan)
    z = abs(effect) / sd
    for inflation in np.arange(1.05, 1.6, 0.05):
        design = SequentialDesign(first=first, step=step, max_runs=max(first, math.ceil(fixed * inflation)),
                                  alpha=alpha, power=power)
        oc = operating_characteristics(design, z, paired=paired, n_contrasts=n_contrasts, n_paths=n_paths, seed=seed)
        if oc["better"] >= power - 2 * math.sqrt(power * (1 - power) / n_paths):
            break
    null = operating_characteristics(design, 0.0, paired=paired, n_contrasts=n_contrasts, n_paths=n_paths,
                                     seed=seed + 1)
    return ContrastPlan(effect, sd, df, paired, a, fixed, low, high, float(design.max_runs), oc["expected_runs"],
                        null["expected_runs"], oc["better"])


def plan_contrasts(contrasts, effect: float, **kw) -> list[dict]:
    """One plan per tested primary row of a contrast table (its unit sd and df, the study's own variance), for a
    true difference ``effect`` (accuracy, e.g. 0.04 = 4 pp)."""
    prim = contrasts[(contrasts["role"] == "primary") & (contrasts["reason"] == "")]
    m = len(prim)
    rows = []
    for _, r in prim.iterrows():
        paired = r["design"] == "paired by seed"
        plan = plan_contrast(float(r["sd"]), effect, df=float(r["df"]), paired=paired, n_contrasts=m, **kw)
        rows.append({"contrast": r["contrast"], "surface": r["surface"], "scope": r["scope"],
                     "n_runs": int(r["n_runs"]), **plan.to_row()})
    return rows
