"""Calibration of faultlab's statistics by simulation with known truth (the fuller run behind the fast tests in
tests/test_stats_recipe.py). Writes docs/statistics-calibration.md and prints it.

    .venv/bin/python benchmarks/stats_calibration.py [--studies 400] [--out docs/statistics-calibration.md]

Every study is simulated by faultlab.stats.simulate.simulate_study and analysed by the same tables the report uses
(method_recipe_table / architecture_recipe_table + apply_family, recipe_curves, reliability_bootstrap,
adaptive_stop). Monte-Carlo standard errors treat simulated studies as the independent units.
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from pathlib import Path

import numpy as np
from scipy import stats

from faultlab.stats import method_comparison_table, reliability_bootstrap
from faultlab.stats.planning import adaptive_stop
from faultlab.stats.recipe_tables import apply_family, architecture_recipe_table, method_recipe_table, recipe_curves
from faultlab.stats.simulate import simulate_study, true_mean

ALPHA = 0.05
DECISIVE = ("better", "worse")


def _rate(per_study: list[float]) -> str:
    x = np.array(per_study, dtype=float)
    return f"{100 * x.mean():.1f} % ± {100 * x.std(ddof=1) / math.sqrt(x.size):.1f}"


def null_rates(n: int, rng: np.random.Generator) -> list[str]:
    """False better/worse per rate under no effect: recipe level (family), its raw per-test rate, and the
    pre-0.2 pooled level-(a) Wilcoxon (maps as replicates) for contrast."""
    lines = ["| seeds | table | recipe level: false better/worse (Holm family) | recipe level: raw p < α per test "
             "| maps as replicates (old pooled verdict) |", "|---|---|---|---|---|"]
    for seeds in (2, 3, 5):
        for kind in ("methods", "architectures"):
            fam, raw, old = [], [], []
            for _ in range(n):
                sd_run = rng.uniform(0.005, 0.01)
                if kind == "methods":
                    df = simulate_study(rng, seeds=seeds, trials=50, sd_run=sd_run).assign(architecture="net")
                    t = method_recipe_table(df, "method_b")
                else:
                    df = simulate_study(rng, seeds=seeds, trials=50, sd_run=sd_run, rho=0.0, map_shared=0.0,
                                        arms=(("arch_a", "vanilla"), ("arch_b", "vanilla")))
                    t = architecture_recipe_table(df)
                apply_family({"t": t}, plan=False)
                r = t[t["endpoint"] == "rate"]
                fam.append(r["verdict"].isin(DECISIVE).mean())
                raw.append((r["pvalue"] < ALPHA).mean())
                if kind == "methods":
                    o = method_comparison_table(df, "net", "method_a", "method_b", "drop(p={rate})")
                    old.append(o["verdict"].isin(DECISIVE).mean())
            lines.append(f"| {seeds} | {kind} | {_rate(fam)} | {_rate(raw)} | {_rate(old) if old else '–'} |")
    return lines


def equivalence_and_power(n: int, rng: np.random.Generator) -> list[str]:
    lines = ["| true difference | seeds | equivalent (AUC) | better (AUC) |", "|---|---|---|---|"]
    for effect, seeds in ((0.01, 5), (0.0, 5), (0.0, 10), (0.01, 3), (0.01, 5), (0.02, 3), (0.02, 5)):
        eq, better = [], []
        for _ in range(n):
            df = simulate_study(rng, seeds=seeds, trials=50, effect=effect, sd_run=0.005).assign(architecture="net")
            t = method_recipe_table(df, "method_b", margin=0.01)
            apply_family({"t": t}, plan=False)
            v = t.loc[t["endpoint"] == "AUC", "verdict"].iloc[0]
            eq.append(v == "equivalent")
            better.append(v == "better")
        lines.append(f"| {effect * 100:+.0f} pp (margin ±1 pp) | {seeds} | {_rate(eq)} | {_rate(better)} |")
    return lines


def coverage(n: int, rng: np.random.Generator) -> list[str]:
    """Coverage of the recipe-level intervals the report prints: per-rate curve band, AUC, difference."""
    lines = ["| catastrophic maps (-30 pp) | seeds | curve band per rate | AUC | method difference (AUC) |",
             "|---|---|---|---|---|"]
    rates = (0.1, 0.3, 0.5)
    for q in (0.0, 0.02, 0.05, 0.10):
        for seeds in (2, 5):
            band, auc, diff = [], [], []
            for _ in range(n):
                df = simulate_study(rng, seeds=seeds, trials=20, rates=rates, catastrophic=q, effect=0.01,
                                    n_samples=100_000).assign(architecture="net")
                curves, summary = recipe_curves(df[df["method"] == "method_b"])
                truth = np.array([true_mean(r, catastrophic=q) for r in rates])
                band.append(((curves["ci_low"] <= truth) & (truth <= curves["ci_high"])).mean())
                auc_truth = np.trapezoid(truth, rates) / (rates[-1] - rates[0])
                s = summary.iloc[0]
                auc.append(s["auc_low"] <= auc_truth <= s["auc_high"])
                t = method_recipe_table(df, "method_b")
                a = t[t["endpoint"] == "AUC"].iloc[0]
                diff.append(a["ci_low"] <= 0.01 <= a["ci_high"])
            lines.append(f"| {q:.0%} | {seeds} | {_rate(band)} | {_rate(auc)} | {_rate(diff)} |")
    return lines


def _reliability_campaign(rng, margins, t_maps, sd_map=1.0, sd_point=1.0):
    shared = rng.standard_normal((t_maps, 1))
    return margins[None, :] + sd_map * shared + sd_point * rng.standard_normal((t_maps, margins.size)) > 0


def reliability(n: int, rng: np.random.Generator) -> list[str]:
    """Per-sample reliability of one network: the bootstrap interval over maps vs the Wilson interval over points
    (the truth is E[share reliable with T maps], from 4,000 simulated campaigns)."""
    lines = ["| maps per cell | true reliable share | bootstrap over maps | Wilson over points (old) |",
             "|---|---|---|---|"]
    for t_maps in (20, 100):
        margins = rng.normal(3.0, 1.5, 300)
        k = math.ceil(0.95 * t_maps - 1e-9 * t_maps)
        truth = np.mean([(_reliability_campaign(rng, margins, t_maps).sum(0) >= k).mean() for _ in range(4000)])
        boot, wilson = [], []
        for i in range(n):
            m = _reliability_campaign(rng, margins, t_maps)
            ci = reliability_bootstrap(m, n_resamples=400, rng=i)
            boot.append(ci.low <= truth <= ci.high)
            kk = int((m.sum(0) >= k).sum())
            w = stats.binomtest(kk, m.shape[1]).proportion_ci(0.95, method="wilson")
            wilson.append(w.low <= truth <= w.high)
        lines.append(f"| {t_maps} | {truth:.3f} | {_rate(boot)} | {_rate(wilson)} |")
    return lines


def adaptive(n: int, rng: np.random.Generator) -> list[str]:
    def cell(rule, q):
        x = np.empty(0)
        while x.size < 500:
            x = np.concatenate([x, rng.normal(0.85, 0.01, 8) - 0.35 * (rng.random(8) < q)])
            if rule(x):
                break
        h = stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
        return abs(x.mean() - (0.85 - 0.35 * q)) <= h, x.mean() - (0.85 - 0.35 * q), x.size

    def old(x):
        return x.size >= 10 and stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size) <= 0.005

    lines = ["| catastrophic maps (-35 pp) | rule | coverage | bias (pp) | mean maps |", "|---|---|---|---|---|"]
    for q in (0.0, 0.02, 0.05, 0.10):
        for name, rule in (("old: >= 10 maps, half-width 0.005", old),
                           ("new: >= max(30, 149) maps, half-width 0.005", lambda x: adaptive_stop(x, 0.005))):
            res = [cell(rule, q) for _ in range(n)]
            hit = [r[0] for r in res]
            lines.append(f"| {q:.0%} | {name} | {_rate(hit)} | {100 * np.mean([r[1] for r in res]):+.2f} | "
                         f"{np.mean([r[2] for r in res]):.0f} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--studies", type=int, default=400, help="simulated studies per row (default 400)")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "docs" / "statistics-calibration.md"))
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    n = args.studies
    t0 = time.time()
    warnings.simplefilter("ignore")
    parts = [
        "# Statistics calibration (generated by benchmarks/stats_calibration.py)", "",
        f"{n} simulated studies per row (seed {args.seed}); each cell: mean ± Monte-Carlo SE over studies. "
        "Unit of replication of every recipe-level number: the training run.", "",
        "## No true effect: false 'better/worse' per rate (5 rates, 50 maps per run, run-to-run sd 0.5-1 pp)", "",
        *null_rates(n, rng), "",
        "## Equivalence at the margin and power (AUC endpoint, run-to-run sd 0.5 pp)", "",
        *equivalence_and_power(n, rng), "",
        "## Coverage of the report's 95 % recipe-level intervals (20 maps per run)", "",
        *coverage(n, rng), "",
        "## Per-sample reliability (one network, 300 test points, maps shared by all points)", "",
        *reliability(max(100, n // 2), rng), "",
        "## Adaptive trials (`--trials auto`): coverage of the cell's 95 % t interval", "",
        *adaptive(n, rng), "",
        f"Run time: {time.time() - t0:.0f} s.",
    ]
    text = "\n".join(parts) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
