"""A sequential design's looks before anything runs: each look's efficacy bound (|t|) and the chance to cross it,
and a warning when a look cannot plausibly decide.

O'Brien-Fleming spending at α/m spends almost nothing early: with 3-4 runs per arm at the first look of a design
with a maximum of 12-24 runs and 6-9 contrasts the efficacy bound is |t| ≥ 7,000-17,000 (a paired t on 2-3 df).
Such a look costs a statistics pass and can never stop a contrast: valid, only wasteful. The fix is a later
``first:`` look.

    for line in design_lines(design, [True, True, False]):   # paired by seed? one flag per primary contrast
        print(line)

The chance to cross at look k is P(|T_k| ≥ c_k) for T_k a t on the look's df with noncentrality
ncp_k = Δ / se_k (:func:`~.power.t_power`): the marginal chance, an upper bound on stopping for efficacy there.
Δ is the planned effect (``stats plan --effect``), or else the *design effect*: the difference at which a fixed
design with the maximum runs per arm has the design's power at α/m (what a maximum sized for that power detects).
A look other than the last whose chance is below :data:`USELESS_CHANCE` cannot decide; with a futility bound it may
still stop contrasts for futility (P(|T_k| < f_k) with no effect is stated), else it is useless.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from .power import t_power
from .sequential import T_NEVER, SequentialDesign, look_bounds, spending

__all__ = ["PlannedLook", "look_plan", "design_effect", "useful_first", "design_lines", "plan_lines", "USELESS_CHANCE"]

USELESS_CHANCE = 0.01  # a look whose chance to cross its efficacy bound is below this cannot plausibly decide


@dataclass(frozen=True)
class PlannedLook:
    """One planned look of one contrast: runs per arm, the t's df, the efficacy bound (|t| ≥) and the chance to
    cross it at the planned effect, the futility bound (|t| <; 0 without one) and the chance to fall below it with no
    effect (P(|T_k| < f_k), marginal); ``decides``: the last look, or the chance to cross is at least
    :data:`USELESS_CHANCE`; ``stops``: it decides or its futility chance is at least that."""

    look: int
    runs: int
    df: float
    efficacy: float
    chance: float
    futility: float
    futility_chance: float
    decides: bool
    stops: bool


def _unit_ncp(n: float, paired: bool) -> float:
    """ncp per unit of Δ/σ at n runs per arm: √n paired (σ of a per-seed difference), √(n/2) unpaired (run σ)."""
    return math.sqrt(n) if paired else math.sqrt(n / 2.0)


def _df(n: float, paired: bool) -> float:
    return n - 1.0 if paired else 2.0 * n - 2.0


def design_effect(design: SequentialDesign, n_contrasts: int, paired: bool) -> float:
    """Δ/σ at which a fixed design with ``design.max_runs`` runs per arm has power ``design.power`` at α/m."""
    n, a = design.max_runs, design.alpha / max(n_contrasts, 1)
    df = _df(n, paired)
    crit = float(stats.t.isf(a / 2.0, df))
    ncp = optimize.brentq(lambda x: t_power(x, df, crit) - design.power, 0.0, crit + 20.0, xtol=1e-8)
    return ncp / _unit_ncp(n, paired)


def look_plan(design: SequentialDesign, n_contrasts: int, paired: bool, effect: float | None = None
              ) -> list[PlannedLook]:
    """Every planned look of one of ``n_contrasts`` contrasts (see the module doc); ``effect``: the planned Δ/σ
    (σ: sd of a per-seed difference when ``paired``, else the run sd); None: :func:`design_effect`."""
    looks = design.looks()
    eff, fut, _ = look_bounds(design, looks, n_contrasts, paired, equivalence=False)
    delta = design_effect(design, n_contrasts, paired) if effect is None else abs(float(effect))
    out = []
    for k, (n, c, f) in enumerate(zip(looks, eff, fut)):
        df = _df(n, paired)
        chance = t_power(delta * _unit_ncp(n, paired), df, float(c))
        f = float(f) if k < len(looks) - 1 else 0.0  # the last look ends the design: no futility stop
        stop_null = float(1.0 - 2.0 * stats.t.sf(f, df)) if f > 0 else 0.0
        decides = k == len(looks) - 1 or chance >= USELESS_CHANCE
        out.append(PlannedLook(k + 1, int(n), df, float(c), chance, f, stop_null, decides,
                               decides or stop_null >= USELESS_CHANCE))
    return out


def _first_chance(first: int, design: SequentialDesign, n_contrasts: int, paired: bool, delta: float) -> float:
    """The chance to cross at the first look of ``design`` started at ``first`` runs per arm (its bound is exact:
    the t quantile of the first look's spend)."""
    a = design.alpha / max(n_contrasts, 1)
    spend = float(spending(first / design.max_runs, a / 2.0)) * 2.0
    df = _df(first, paired)
    crit = float(stats.t.isf(spend / 2.0, df)) if spend > 0 else math.inf
    return t_power(delta * _unit_ncp(first, paired), df, crit) if np.isfinite(crit) else 0.0


def useful_first(design: SequentialDesign, n_contrasts: int, paired: bool, effect: float | None = None) -> int:
    """The fewest runs per arm at a first look whose chance to cross is at least :data:`USELESS_CHANCE` (the
    maximum when none is)."""
    delta = design_effect(design, n_contrasts, paired) if effect is None else abs(float(effect))
    for first in range(max(design.first, 2), design.max_runs):
        if _first_chance(first, design, n_contrasts, paired, delta) >= USELESS_CHANCE:
            return first
    return design.max_runs


def _bound(c: float) -> str:
    if c >= T_NEVER:
        return "never (no alpha spent)"
    return f">= {c:.3g}" if c < 1e4 else f">= {c:.2e}"


def _bounds_line(plan: list[PlannedLook], label: str, alpha: float, effect: str) -> str:
    looks = ", ".join(f"look {p.look} ({p.runs} runs) |t| {_bound(p.efficacy)}" for p in plan)
    chances = ", ".join(f"{100 * p.chance:.1f} %" for p in plan)
    return f"efficacy bounds, {label} at alpha {alpha:.3g} each: {looks}; chance to cross at {effect}: {chances}"


def _warning_line(plan: list[PlannedLook], name: str, fix: str) -> str:
    """One line on the looks that cannot decide: what they can still do (futility stops), and the fix."""
    bad = [p for p in plan if not p.decides]
    looks, runs = ", ".join(str(p.look) for p in bad), ", ".join(str(p.runs) for p in bad)
    article = "an" if name.startswith("u") else "a"
    head = (f"warning: look(s) {looks} ({runs} runs per arm) cannot plausibly decide {article} {name} contrast "
            f"(chance to cross the efficacy bound < {100 * USELESS_CHANCE:g} %)")
    if all(not p.stops for p in bad):
        return f"{head}, nor stop one for futility: each costs a statistics pass for nothing (valid, only wasteful); " \
               f"fix: {fix}"
    stops = ", ".join(f"{100 * p.futility_chance:.1f} %" for p in bad)
    return (f"{head}; they can only stop one for futility ({stops} with no effect); for decisions, not only "
            f"futility stops: {fix}")


def design_lines(design: SequentialDesign, paired: Sequence[bool], *, n_contrasts: int | None = None,
                 effect: float | None = None, bounds: bool = True) -> list[str]:
    """What the design's looks can do, one line per kind of contrast (paired / unpaired) among the ``paired`` flags
    (one per primary contrast; m = ``n_contrasts``, default their number): each look's efficacy bound and chance
    to cross it; then, when some look other than the last cannot decide (:class:`PlannedLook`), one line saying so,
    what it can still do (futility stops) and the fix (a later ``first:``). ``effect``: the planned Δ/σ (None: the
    design effect); ``bounds=False``: the warnings only."""
    m = n_contrasts or len(paired)
    lines = []
    for kind in sorted(set(bool(p) for p in paired), reverse=True):
        plan = look_plan(design, m, kind, effect)
        name = "paired-by-seed" if kind else "unpaired"
        if bounds:
            delta = design_effect(design, m, kind) if effect is None else abs(effect)
            what = "the planned effect" if effect is not None else f"the design effect (power {design.power:g} at max)"
            label = f"{sum(p == kind for p in paired)} {name} contrast(s)"
            lines.append(_bounds_line(plan, label, design.alpha / max(m, 1), f"{what} ({delta:.3g} sd)"))
        if not all(p.decides for p in plan):
            fix = (f"sequential: {{first: {useful_first(design, m, kind, effect)}, step: {design.step}, max_runs: "
                   f"{design.max_runs}}}" if not plan[0].decides else "fewer, later looks (a larger step:)")
            lines.append(_warning_line(plan, name, fix))
    return lines


def plan_lines(rows: Sequence[dict], *, first: int, step: int, alpha: float = 0.05, power: float = 0.8
               ) -> list[str]:
    """:func:`design_lines` for the sequential designs of :func:`~.planning.plan_contrasts`' rows (one design per
    maximum and pairing; m = the rows' number), at the design effect (each maximum is sized for the planned effect's
    power)."""
    m = len(rows)
    groups: dict[tuple[bool, int], int] = {}
    for r in rows:
        if np.isfinite(r["seq_max"]):
            key = (bool(r["paired"]), int(r["seq_max"]))
            groups[key] = groups.get(key, 0) + 1
    lines = []
    for (paired, n_max), count in sorted(groups.items(), key=lambda kv: (-kv[0][0], kv[0][1])):
        design = SequentialDesign(first=min(first, n_max), step=step, max_runs=n_max, alpha=alpha, power=power)
        lines.append(f"sequential design with at most {n_max} runs per arm (looks at "
                     f"{', '.join(map(str, design.looks()))}):")
        lines += ["  " + line for line in design_lines(design, [paired] * count, n_contrasts=m)]
    return lines
