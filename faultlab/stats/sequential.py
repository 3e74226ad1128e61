"""Group-sequential seeds: train runs in stages and test the primary contrasts at each look against Lan-DeMets
O'Brien-Fleming alpha-spending boundaries, with a non-binding futility bound and, where a contrast has a margin,
group-sequential equivalence (TOST).

    design = SequentialDesign(first=3, step=2, max_runs=30)
    looks = sequential_decisions(trials, contrasts, design)     # one typed decision per contrast

Spending (Lan & DeMets 1983): α(t) = 2 - 2 Φ(z_{1-α/2} / √t) at information fraction t = n / n_max (runs per
arm). z boundaries come from the recursive numerical integration of the B-process (Armitage, McPherson & Rowe
1969; Jennison & Turnbull 2000, ch. 19), tested against published values. With few runs per look the statistic is a
t, not a z, and the t statistics of successive looks share their variance estimates: converting z boundaries to t
by p-value inflates the error (up to 1.2 α at 2-11 df), so the t boundaries here are calibrated by simulating the
design's own t statistics under the null (they are pivotal: no nuisance parameter), spending α(t_k) - α(t_{k-1}) at
each look exactly. Multiplicity: each of m primary contrasts spends α/m (two-sided difference; each one-sided
TOST test α/m), the Bonferroni share of the family (each contrast counted once, as in :mod:`.family`).

Futility (non-binding: the efficacy bounds ignore it, so stopping for futility never raises the error rate): an
inner wedge |Z_k| < f_k from β-spending with the same O'Brien-Fleming shape under the drift η* at which the maximum
number of runs has the design's power; f_K = c_K at the last look (η* solves it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import optimize, stats

from .vocabulary import Decision, Reason

__all__ = ["SequentialDesign", "spending", "z_boundaries", "futility_z", "t_boundaries", "look_bounds",
           "sequential_decisions", "operating_characteristics", "simulate_t_paths"]

GRID = 801  # points per look of the numerical integration (Simpson, odd) for the efficacy bounds
FUTILITY_GRID = 161  # coarser for the futility bounds (non-binding: their accuracy touches power, not α)
N_SIM = 60_000  # null paths that calibrate the t boundaries
Z_NEVER = 37.0  # a z bound no path crosses (Φ(-37) underflows)
T_NEVER = 1e12  # a t bound no path crosses (where the quantile underflows)
MIN_CROSSINGS = 50  # below this many expected crossings a look's t bound is converted from z by p-value


@dataclass(frozen=True)
class SequentialDesign:
    """Looks at ``first``, ``first + step``, … runs per arm up to ``max_runs`` (always a look); two-sided ``alpha``
    for the whole primary family; ``futility`` on/off; ``power`` the maximum is sized for (defines the futility
    bound)."""

    first: int = 3
    step: int = 2
    max_runs: int = 30
    alpha: float = 0.05
    futility: bool = True
    power: float = 0.8

    def __post_init__(self) -> None:
        if not (2 <= self.first <= self.max_runs and self.step >= 1):
            raise ValueError(f"SequentialDesign: need 2 <= first <= max_runs and step >= 1, got {self}")
        if not (0 < self.alpha < 1 and 0.5 < self.power < 1):
            raise ValueError(f"SequentialDesign: alpha in (0, 1) and power in (0.5, 1), got {self}")

    def looks(self) -> list[int]:
        """Runs per arm at each planned look."""
        out = list(range(self.first, self.max_runs, self.step))
        return out + [self.max_runs]


def spending(t: np.ndarray | float, alpha: float) -> np.ndarray:
    """Lan-DeMets O'Brien-Fleming-type spending: α(t) = 2 - 2 Φ(z_{1-α/2} / √t); α(1) = α (one tail's error;
    a two-sided design spends it at α/2 in each tail)."""
    t = np.asarray(t, dtype=float)
    with np.errstate(divide="ignore"):
        return np.where(t > 0, 2.0 - 2.0 * stats.norm.cdf(stats.norm.ppf(1 - alpha / 2) / np.sqrt(t)), 0.0)


def _simpson(n: int) -> np.ndarray:
    w = np.ones(n)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    return w / 3.0


class _Process:
    """The B-process B_k = Z_k √t_k under drift η (E B_k = η t_k), integrated look by look on a grid."""

    def __init__(self, fractions: Sequence[float], drift: float = 0.0, grid: int = GRID) -> None:
        self.t = np.asarray(fractions, dtype=float)
        self.drift, self.grid = drift, grid
        self.x: np.ndarray | None = None  # grid of B at the previous look (continuing paths)
        self.f: np.ndarray | None = None  # their density times quadrature weights

    def _tails(self, k: int, up: float, low_inner: float, sides: int) -> tuple[float, float]:
        """P(stop at look k for efficacy, for futility) given the continuing paths so far."""
        tk = self.t[k]
        b_up, b_in = up * math.sqrt(tk), low_inner * math.sqrt(tk)
        if self.x is None:
            mu, sd, mass = self.drift * tk, math.sqrt(tk), np.ones(1)
            x = np.zeros(1)
        else:
            d = tk - self.t[k - 1]
            mu, sd, mass, x = self.drift * d, math.sqrt(d), self.f, self.x
        m = x + mu
        eff = stats.norm.sf((b_up - m) / sd) + (stats.norm.cdf((-b_up - m) / sd) if sides == 2 else 0.0)
        fut = (stats.norm.cdf((b_in - m) / sd) - stats.norm.cdf((-b_in - m) / sd)) if b_in > 0 else 0.0
        return float(np.sum(mass * eff)), float(np.sum(mass * fut))

    def advance(self, k: int, up: float, low_inner: float, sides: int) -> None:
        """Move the continuing paths' density to look k (continue region low_inner ≤ |Z| < up, or Z < up)."""
        tk = self.t[k]
        b_up = up * math.sqrt(tk)
        lo = -b_up if sides == 2 else -b_up - 8.0 * math.sqrt(tk)
        grid = np.linspace(lo, b_up, self.grid)
        if self.x is None:
            dens = stats.norm.pdf(grid, self.drift * tk, math.sqrt(tk))
        else:
            d = tk - self.t[k - 1]
            z = (grid[:, None] - self.x[None, :] - self.drift * d) / math.sqrt(d)
            dens = (stats.norm.pdf(z) / math.sqrt(d)) @ self.f
        dens = np.where(np.abs(grid) >= low_inner * math.sqrt(tk), dens, 0.0)
        self.x, self.f = grid, dens * _simpson(self.grid) * (grid[1] - grid[0])


def _spend(fractions: Sequence[float], alpha: float, sides: int) -> np.ndarray:
    """Error spent at each look: two-sided designs spend α(t; α/2) in each tail (symmetric, as ldbounds and
    gsDesign do), one-sided designs α(t; α)."""
    return sides * np.diff(np.concatenate([[0.0], spending(np.array(fractions), alpha / sides)]))


@lru_cache(maxsize=256)
def _z_bounds(fractions: tuple[float, ...], alpha: float, sides: int) -> tuple[float, ...]:
    spend = _spend(fractions, alpha, sides)
    proc, out = _Process(fractions), []
    for k, s in enumerate(spend):
        if s <= 1e-300 or k == 0:  # the first look's paths are all alive; a spend that underflows: never
            c = min(float(stats.norm.isf(max(s, 1e-300) / sides)), Z_NEVER)
        else:
            c = optimize.brentq(lambda c, k=k, s=s: proc._tails(k, c, 0.0, sides)[0] - s, 0.1, Z_NEVER, xtol=1e-10)
        out.append(c)
        proc.advance(k, c, 0.0, sides)
    return tuple(out)


def z_boundaries(fractions: Sequence[float], alpha: float = 0.05, sides: int = 2) -> np.ndarray:
    """Efficacy z boundaries c_k at information ``fractions`` (increasing, last 1): reject at look k when
    |Z_k| ≥ c_k (``sides=2``) or Z_k ≥ c_k (``sides=1``, e.g. one TOST test), spending :func:`spending`."""
    return np.array(_z_bounds(tuple(float(t) for t in fractions), float(alpha), int(sides)))


def _futility_for(fractions: tuple[float, ...], c: np.ndarray, beta: float, drift: float) -> np.ndarray:
    spend = _spend(fractions, beta, 1)
    proc, out = _Process(fractions, drift, FUTILITY_GRID), []
    for k, s in enumerate(spend):
        if k == len(fractions) - 1:
            out.append(c[k])
            break

        def excess(f: float, k: int = k, s: float = s) -> float:
            return proc._tails(k, c[k], f, 2)[1] - s

        f = 0.0 if excess(0.0) >= 0 else (c[k] if excess(c[k]) <= 0 else optimize.brentq(excess, 0.0, c[k]))
        out.append(f)
        proc.advance(k, c[k], f, 2)
    return np.array(out)


@lru_cache(maxsize=256)
def _futility(fractions: tuple[float, ...], alpha: float, power: float) -> tuple[tuple[float, ...], float]:
    c = np.array(_z_bounds(fractions, alpha, 2))
    beta = 1.0 - power

    def meet(drift: float) -> float:  # the last futility bound from β spending, vs the last efficacy bound
        proc, spend = _Process(fractions, drift, FUTILITY_GRID), _spend(fractions, beta, 1)
        f = _futility_for(fractions, c, beta, drift)
        for k in range(len(fractions) - 1):
            proc.advance(k, c[k], f[k], 2)
        k = len(fractions) - 1
        return proc._tails(k, c[k], c[k], 2)[1] - spend[k] if k else stats.norm.cdf(c[k] - drift) - beta

    lo = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    drift = optimize.brentq(meet, 0.5 * lo, 2.0 * lo + 1.0, xtol=1e-6)
    return tuple(_futility_for(fractions, c, beta, drift)), float(drift)


def futility_z(fractions: Sequence[float], alpha: float = 0.05, power: float = 0.8) -> tuple[np.ndarray, float]:
    """Non-binding futility bounds f_k (stop when |Z_k| < f_k) and the drift η* = E[Z at t = 1] at which the
    design has power ``power`` (β-spending with the O'Brien-Fleming shape; f_K = c_K)."""
    f, drift = _futility(tuple(float(t) for t in fractions), float(alpha), float(power))
    return np.array(f), drift


def simulate_t_paths(looks: Sequence[int], effect: float, paired: bool, n_paths: int,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Estimates and standard errors (paths × looks, in units of σ of one run value) of a paired (one-sample,
    df n-1) or unpaired pooled (df 2n-2) design with ``looks`` runs per arm and true difference ``effect`` σ; the
    t statistic is their ratio."""
    n_max = looks[-1]
    idx = np.asarray(looks) - 1
    n = np.asarray(looks, dtype=float)
    if paired:
        d = rng.standard_normal((n_paths, n_max)) + effect
        s1, s2 = np.cumsum(d, axis=1)[:, idx], np.cumsum(d * d, axis=1)[:, idx]
        return s1 / n, np.sqrt((s2 - s1**2 / n) / (n - 1) / n)
    a = rng.standard_normal((n_paths, n_max)) + effect
    b = rng.standard_normal((n_paths, n_max))
    sa, sb = np.cumsum(a, axis=1)[:, idx], np.cumsum(b, axis=1)[:, idx]
    qa, qb = np.cumsum(a * a, axis=1)[:, idx], np.cumsum(b * b, axis=1)[:, idx]
    var = ((qa - sa**2 / n) + (qb - sb**2 / n)) / (2 * n - 2)
    return sa / n - sb / n, np.sqrt(var * 2 / n)


def _df(n: np.ndarray, paired: bool) -> np.ndarray:
    return n - 1.0 if paired else 2.0 * n - 2.0


@lru_cache(maxsize=128)
def _t_bounds(looks: tuple[int, ...], alpha: float, paired: bool, sides: int, seed: int) -> tuple[float, ...]:
    n = np.asarray(looks, dtype=float)
    frac = n / n[-1]
    spend = _spend(frac, alpha, sides)
    z = z_boundaries(frac, alpha, sides)
    est, se = simulate_t_paths(looks, 0.0, paired, N_SIM, np.random.default_rng(seed))
    stat = np.abs(est / se) if sides == 2 else est / se
    alive = np.ones(N_SIM, dtype=bool)
    out = []
    for k, s in enumerate(spend):
        df = _df(n[k], paired)
        if k == 0:
            c = float(stats.t.isf(s / sides, df))
        elif s * N_SIM < MIN_CROSSINGS:
            c = float(stats.t.isf(stats.norm.sf(z[k]), df))  # too rare to calibrate: converted by p-value
        else:
            crossing = np.sort(stat[alive, k])[::-1]
            c = float(crossing[min(int(round(s * N_SIM)), crossing.size) - 1])
        c = c if np.isfinite(c) else T_NEVER
        out.append(c)
        alive &= stat[:, k] < c
    return tuple(out)


def t_boundaries(looks: Sequence[int], alpha: float = 0.05, *, paired: bool = True, sides: int = 2,
                 seed: int = 20_260) -> np.ndarray:
    """t boundaries for looks at ``looks`` runs per arm: the first is the exact t quantile of the first spend; each
    later one spends α(t_k) - α(t_{k-1}) among the simulated null paths of the design's own t statistics
    (:data:`N_SIM` paths, fixed ``seed``: deterministic)."""
    return np.array(_t_bounds(tuple(int(n) for n in looks), float(alpha), bool(paired), int(sides), int(seed)))


def look_bounds(design: SequentialDesign, looks: Sequence[int], n_contrasts: int, paired: bool, *,
                equivalence: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(efficacy t bounds, futility t bounds, one-sided equivalence t bounds) at ``looks`` (runs per arm taken
    so far, the last being the current look) for one of ``n_contrasts`` contrasts. Information fractions are
    looks / max_runs; a look past the design's maximum counts as the last."""
    a = design.alpha / max(n_contrasts, 1)
    looks = [min(int(n), design.max_runs) for n in looks]
    full = [n for n in looks if n < design.max_runs] + [design.max_runs]
    eff = t_boundaries(full, a, paired=paired)
    eq = t_boundaries(full, a, paired=paired, sides=1) if equivalence else np.full(len(full), np.inf)
    if design.futility:
        fz, _ = futility_z(np.asarray(full, dtype=float) / design.max_runs, a, design.power)
        df = _df(np.asarray(full, dtype=float), paired)
        fut = np.minimum(stats.t.isf(stats.norm.sf(fz), df), eff)
    else:
        fut = np.zeros(len(full))
    k = len(looks)
    return eff[:k], fut[:k], eq[:k]


def _decide(est: float, se: float, margin: float, c: float, f: float, e: float, last: bool) -> Decision:
    t = est / se
    if np.isfinite(margin) and margin > 0 and min((est + margin) / se, (margin - est) / se) >= e:
        return Decision.EQUIVALENT
    if abs(t) >= c:
        return Decision.BETTER if t > 0 else Decision.WORSE
    if last:
        return Decision.INCONCLUSIVE
    return Decision.FUTILITY if abs(t) < f else Decision.CONTINUE


def sequential_decisions(frame: pd.DataFrame, contrasts, design: SequentialDesign, *,
                         history: Sequence[int] | None = None, chance: float | None = None,
                         baseline: str = "vanilla") -> pd.DataFrame:
    """One row per primary contrast at the current look: its runs per arm, statistic, the look's bounds and a
    typed :class:`Decision` (efficacy better/worse, equivalent, futility, continue, inconclusive at the maximum,
    or not tested with its ``reason``). ``history``: runs per arm at the earlier looks (default: the design's
    looks below the current one)."""
    from .contrast_table import contrast_table
    from .vocabulary import Role

    table = contrast_table(frame, contrasts, baseline=baseline, alpha=design.alpha, chance=chance)
    prim = table[table["role"] == Role.PRIMARY]
    m = len(prim)
    rows = []
    for _, r in prim.iterrows():
        n = int(r["n_runs"])
        paired = r["design"] == "paired by seed"
        earlier = [k for k in (history if history is not None else design.looks()) if k < n]
        row = {"contrast": r["contrast"], "surface": r["surface"], "n_runs": n, "look": len(earlier) + 1,
               "information": min(n / design.max_runs, 1.0), "estimate": r["estimate"], "se": r["se"],
               "df": r["df"], "statistic": math.nan, "efficacy_bound": math.nan, "futility_bound": math.nan,
               "equivalence_bound": math.nan, "reason": r["reason"]}
        if r["reason"] != Reason.TESTED or n < 2:
            rows.append({**row, "decision": Decision.NOT_TESTED})
            continue
        margin = r["margin"] if np.isfinite(r["margin"]) else None
        c, f, e = (b[-1] for b in look_bounds(design, [*earlier, n], m, paired, equivalence=bool(margin)))
        row.update(statistic=r["estimate"] / r["se"], efficacy_bound=c, futility_bound=f, equivalence_bound=e)
        rows.append({**row, "decision": _decide(r["estimate"], r["se"], r["margin"], c, f, e,
                                                n >= design.max_runs)})
    return pd.DataFrame(rows)


def operating_characteristics(design: SequentialDesign, effect: float, *, paired: bool = True,
                              n_contrasts: int = 1, margin: float | None = None, n_paths: int = 20_000,
                              seed: int = 0) -> dict[str, float]:
    """By simulation of the design's statistics at true difference ``effect`` (in σ of one unit; ``margin`` too):
    P(better), P(worse), P(equivalent), P(futility), P(inconclusive at the maximum), and the expected runs per arm
    at stopping (``expected_runs``), with the same decision rule as :func:`sequential_decisions`."""
    looks = design.looks()
    c, f, e = look_bounds(design, looks, n_contrasts, paired, equivalence=bool(margin))
    est, se = simulate_t_paths(looks, effect, paired, n_paths, np.random.default_rng(seed))
    t = est / se
    n = np.asarray(looks, dtype=float)
    outcome = np.full(n_paths, "", dtype=object)
    runs = np.full(n_paths, n[-1])
    stopped = np.zeros(n_paths, dtype=bool)
    for k in range(len(looks)):
        last = k == len(looks) - 1
        equiv = (np.minimum(est[:, k] + margin, margin - est[:, k]) / se[:, k] >= e[k]) if margin else \
            np.zeros(n_paths, dtype=bool)
        tk = t[:, k]
        for label, hit in (("equivalent", equiv), ("better", tk >= c[k]), ("worse", tk <= -c[k]),
                           ("futility", (np.abs(tk) < f[k]) & (not last)), ("inconclusive", np.full(n_paths, last))):
            new = hit & ~stopped
            outcome[new], runs[new] = label, n[k]
            stopped |= new
    res = {k: float(np.mean(outcome == k)) for k in ("better", "worse", "equivalent", "futility", "inconclusive")}
    return {**res, "expected_runs": float(runs.mean()), "max_runs": float(looks[-1])}
