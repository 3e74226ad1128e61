"""Studies with known truth, for calibrating the statistics: the trial table a real study would store.

Model of one trial's accuracy (run r of arm m with training seed s, rate x, fault map t)::

    acc = μ_m(x) + u_{m,s} + c_{s,x,t} + e_{m,s,x,t},   stored as round(acc · N) / N (N test points)
    μ_m(x) = clean - slope · x + effect_m               (effect_m: the true recipe difference)
    u_{m,s} = sd_run · (√ρ z_s + √(1-ρ) z_{m,s})        (ρ: how much two methods on one seed share, e.g. init)
    c, e ~ N(0, sd_map²) split by ``map_shared``        (common random numbers: the same map hits both arms)

With probability ``catastrophic`` a map is catastrophic: its accuracy drops by ``catastrophic_drop`` in every
arm it hits. The true recipe mean at rate x is μ_m(x) - catastrophic · catastrophic_drop (before rounding).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from faultlab.store import ALL_LAYERS

from .contrast_table import family_verdicts

__all__ = ["simulate_study", "simulate_arms", "true_mean", "simulate_arm_array", "arm_array_frame",
           "paired_method_tests", "study_verdicts"]


def true_mean(rate: float, *, clean: float = 0.9, slope: float = 0.5, effect: float = 0.0,
              catastrophic: float = 0.0, catastrophic_drop: float = 0.3) -> float:
    """The recipe-level mean accuracy the simulation is built around (see the module docstring)."""
    return clean - slope * rate + effect - catastrophic * catastrophic_drop


def simulate_study(
    rng: np.random.Generator,
    *,
    seeds: int = 3,
    trials: int = 50,
    rates: Sequence[float] = (0.1, 0.2, 0.3, 0.4, 0.5),
    effect: float = 0.0,
    sd_run: float = 0.0075,
    sd_map: float = 0.02,
    rho: float = 0.5,
    map_shared: float = 0.7,
    catastrophic: float = 0.0,
    catastrophic_drop: float = 0.3,
    n_samples: int = 1000,
    clean: float = 0.9,
    slope: float = 0.5,
    arms: Sequence[tuple[str, str]] = (("net", "method_a"), ("net", "method_b")),
    fault: str = "drop(p={rate})",
) -> pd.DataFrame:
    """A whole-model trial table of two arms (``arms``: (architecture, method) pairs; the first gets ``effect``),
    ``seeds`` training runs each, ``trials`` fault maps per (run, rate). Columns as in the store's frame."""
    rates = np.asarray(rates, dtype=float)
    z_seed = rng.standard_normal(seeds)
    shared_maps = rng.standard_normal((seeds, rates.size, trials))
    cat = rng.random((seeds, rates.size, trials)) < catastrophic
    frames = []
    for i, (arch, method) in enumerate(arms):
        u = sd_run * (math.sqrt(rho) * z_seed + math.sqrt(1 - rho) * rng.standard_normal(seeds))
        own = rng.standard_normal((seeds, rates.size, trials))
        maps = sd_map * (math.sqrt(map_shared) * shared_maps + math.sqrt(1 - map_shared) * own)
        mu = clean - slope * rates + (effect if i == 0 else 0.0)
        acc = mu[None, :, None] + u[:, None, None] + maps - catastrophic_drop * cat
        acc = np.clip(np.rint(acc * n_samples), 0, n_samples) / n_samples
        s, r, t = np.meshgrid(np.arange(seeds), np.arange(rates.size), np.arange(trials), indexing="ij")
        frames.append(pd.DataFrame({
            "architecture": arch, "variant": arch, "method": method, "fault": fault, "layer": ALL_LAYERS,
            "run_id": [f"{arch}-{method}-{k}" for k in s.ravel()], "train_seed": s.ravel(),
            "rate": rates[r.ravel()], "trial": t.ravel(), "accuracy": acc.ravel(),
            "clean_accuracy": np.repeat(clean + (effect if i == 0 else 0.0) + u, rates.size * trials),
            "n_samples": n_samples,
        }))
    return pd.concat(frames, ignore_index=True)


def simulate_arms(rng: np.random.Generator, arms: Sequence[tuple[str, str, float]], *, seeds: int = 3,
                  trials: int = 2, rates: Sequence[float] = (0.1, 0.3, 0.5), sd_run: float = 0.06,
                  rho: float = 0.55, sd_map: float = 0.01, n_samples: int = 1000, clean: float = 0.9,
                  slope: float = 0.5, fault: str = "drop(p={rate})") -> pd.DataFrame:
    """A whole-model trial table of many arms (``arms``: (architecture, method, true effect) triples), ``seeds``
    runs each. Runs of one architecture with the same seed share ``rho`` of their run effect (the seed's
    initialisation), so the sd of a seed-paired method difference is sd_run √(2(1 - rho)); architectures are
    independent. Defaults: the demo's components (run sd of the AUC ≈ 6 pp, of seed-paired differences ≈ 5.7 pp)."""
    rates = np.asarray(rates, dtype=float)
    frames = []
    z_seed = {a: rng.standard_normal(seeds) for a in dict.fromkeys(a for a, _, _ in arms)}
    s, r, t = np.meshgrid(np.arange(seeds), np.arange(rates.size), np.arange(trials), indexing="ij")
    for arch, method, effect in arms:
        u = sd_run * (math.sqrt(rho) * z_seed[arch] + math.sqrt(1 - rho) * rng.standard_normal(seeds))
        mu = clean - slope * rates + effect
        acc = mu[None, :, None] + u[:, None, None] + sd_map * rng.standard_normal((seeds, rates.size, trials))
        acc = np.clip(np.rint(acc * n_samples), 0, n_samples) / n_samples
        frames.append(pd.DataFrame({
            "architecture": arch, "variant": arch, "method": method, "fault": fault, "layer": ALL_LAYERS,
            "layer_group": None, "equal_count": 0, "run_id": [f"{arch}-{method}-{k}" for k in s.ravel()],
            "train_seed": s.ravel(),
            "rate": rates[r.ravel()], "trial": t.ravel(), "accuracy": acc.ravel(),
            "clean_accuracy": np.repeat(clean + effect + u, rates.size * trials), "n_samples": n_samples,
        }))
    return pd.concat(frames, ignore_index=True)


# ------------------------------------------------------------------ many studies at once (calibration runs)


def simulate_arm_array(rng: np.random.Generator, studies: int, effects: np.ndarray, *, seeds: int = 3,
                       trials: int = 2, rates: Sequence[float] = (0.1, 0.3, 0.5), sd_run: float = 0.06,
                       rho: float = 0.55, sd_map: float = 0.01, n_samples: int = 1000, clean: float = 0.9,
                       slope: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """:func:`simulate_arms`'s model for ``studies`` studies at once (``effects``: true effects, architectures ×
    methods). Returns (accuracy, clean accuracy) of shapes (studies, architectures, methods, seeds, rates, trials)
    and (studies, architectures, methods, seeds)."""
    effects = np.asarray(effects, dtype=float)
    n_arch, n_meth = effects.shape
    r = np.asarray(rates, dtype=float)
    z_seed = rng.standard_normal((studies, n_arch, 1, seeds))
    u = sd_run * (math.sqrt(rho) * z_seed + math.sqrt(1 - rho) * rng.standard_normal((studies, n_arch, n_meth, seeds)))
    mu = clean - slope * r[None, None, :] + effects[:, :, None]
    acc = (mu[None, :, :, None, :, None] + u[..., None, None]
           + sd_map * rng.standard_normal((studies, n_arch, n_meth, seeds, r.size, trials)))
    acc = np.clip(np.rint(acc * n_samples), 0, n_samples) / n_samples
    return acc, clean + effects[None, :, :, None] + u


def arm_array_frame(acc: np.ndarray, clean: np.ndarray, architectures: Sequence[str], methods: Sequence[str],
                    rates: Sequence[float], *, n_samples: int = 1000, fault: str = "drop(p={rate})") -> pd.DataFrame:
    """The trial table (as :func:`simulate_arms` writes it) of one study of :func:`simulate_arm_array`
    (``acc``: architectures × methods × seeds × rates × trials; ``clean``: architectures × methods × seeds)."""
    _, _, seeds, n_rates, trials = acc.shape
    rates = np.asarray(rates, dtype=float)
    s, r, t = np.meshgrid(np.arange(seeds), np.arange(n_rates), np.arange(trials), indexing="ij")
    frames = [pd.DataFrame({
        "architecture": arch, "variant": arch, "method": method, "fault": fault, "layer": ALL_LAYERS,
        "layer_group": None, "equal_count": 0, "run_id": [f"{arch}-{method}-{k}" for k in s.ravel()],
        "train_seed": s.ravel(), "rate": rates[r.ravel()], "trial": t.ravel(), "accuracy": acc[i, j].ravel(),
        "clean_accuracy": np.repeat(clean[i, j], n_rates * trials), "n_samples": n_samples,
    }) for i, arch in enumerate(architectures) for j, method in enumerate(methods)]
    return pd.concat(frames, ignore_index=True)


def paired_method_tests(acc: np.ndarray, rates: Sequence[float], margin: float
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The contrast table's raw tests of method 1 vs method 0 on each architecture, paired by seed, vectorised
    (the same per-run values and t tests as :func:`~faultlab.stats.contrast_table`): for every study and
    architecture, the endpoints [AUC over ``rates``, each rate]. Returns (estimate, two-sided p, TOST p at
    ``margin``), each of shape (studies, architectures, 1 + rates)."""
    r = np.asarray(rates, dtype=float)
    run = acc.mean(axis=-1)  # (studies, arch, methods, seeds, rates): a run's mean accuracy per rate
    auc = np.trapezoid(run, r, axis=-1) / (r[-1] - r[0])
    values = np.concatenate([auc[..., None], run], axis=-1)
    d = values[:, :, 1] - values[:, :, 0]  # (studies, arch, seeds, endpoints)
    n = d.shape[2]
    est = d.mean(axis=2)
    se = d.std(axis=2, ddof=1) / math.sqrt(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 2.0 * stats.t.sf(np.abs(est) / se, n - 1)
        tost = np.maximum(stats.t.sf((est + margin) / se, n - 1), stats.t.cdf((est - margin) / se, n - 1))
    bad = ~(se > 0)
    p[bad], tost[bad] = np.nan, np.nan
    return est, p, tost


def study_verdicts(est: np.ndarray, p: np.ndarray, tost: np.ndarray, alpha: float = 0.05) -> np.ndarray:
    """Verdicts (shape of ``est``) of :func:`paired_method_tests`' rows, one study at a time through the contrast
    table's own family engine (:func:`~faultlab.stats.contrast_table.family_verdicts`): endpoint 0 of each
    architecture is its contrast's primary row, the rest its gated secondary rows."""
    studies, n_arch, n_end = est.shape
    primary = np.tile([True] + [False] * (n_end - 1), n_arch)
    key = list(np.repeat(np.arange(n_arch), n_end))
    out = np.empty(est.shape, dtype=object)
    for i in range(studies):
        pd_, pt, e = p[i].ravel(), tost[i].ravel(), est[i].ravel()
        out[i] = family_verdicts(primary, key, np.isfinite(pd_), pd_, pt, e, alpha).verdict.reshape(n_arch, n_end)
    return out
