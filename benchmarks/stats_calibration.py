"""Calibration of faultlab's statistics by simulation with known truth, through the real tables (the fuller run
behind the fast tests in tests/test_stats_contrasts.py, test_stats_sequential.py and test_stats_recipe.py). Writes
docs/statistics-calibration.md and prints it.

    nice .venv/bin/python benchmarks/stats_calibration.py [--studies 800] [--out docs/statistics-calibration.md]
    nice .venv/bin/python benchmarks/stats_calibration.py --only family    # the family-wise error sections (~1 min)

Demo-like studies come from faultlab.stats.simulate.simulate_arms with the demo's variance components (run sd of
the AUC 6 pp, of seed-paired differences 5.7 pp): 5 architectures x 2 methods, the 5 default method contrasts
(dropconnect vs vanilla per architecture) as the primary family. Every verdict comes from contrast_table (or, for
the sequential design, sequential_decisions / its operating characteristics). Monte-Carlo standard errors treat
simulated studies as the independent units.
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from pathlib import Path

import numpy as np
from scipy import stats

from faultlab.campaign.stopping import adaptive_stop
from faultlab.stats import ContrastSpec, SequentialDesign, contrast_table, reliability_bootstrap, sequential_decisions
from faultlab.stats.planning import plan_contrast
from faultlab.stats.power import runs_needed, t_power
from faultlab.stats.recipe import linear_contrast
from faultlab.stats.recipe_tables import method_comparison, recipe_curves
from faultlab.stats.simulate import (
    arm_array_frame,
    paired_method_tests,
    simulate_arm_array,
    simulate_arms,
    simulate_study,
    study_verdicts,
    true_mean,
)

ALPHA = 0.05
SD_PAIR = 0.057  # sd of a seed-paired AUC difference in the demo
METHODS = ("vanilla", "dropconnect")
ARMS = [(f"arch{i}", m) for i in range(5) for m in METHODS]
RATES = (0.1, 0.3, 0.5)
MARGIN = 0.01  # contrast_table's default TOST margin
DECIDED = ("better", "worse", "equivalent")


def _pct(x: list | np.ndarray, digits: int = 1) -> str:
    x = np.asarray(x, dtype=float)
    return f"{100 * x.mean():.{digits}f} % ± {100 * x.std(ddof=1) / math.sqrt(x.size):.{digits}f}"


def _arms(effect: float = 0.0) -> list[tuple[str, str, float]]:
    return [(a, m, effect if (a, m) == ("arch0", "dropconnect") else 0.0) for a, m in ARMS]


def _study(rng, runs: int, effect: float = 0.0):
    return simulate_arms(rng, _arms(effect), seeds=runs, rates=(0.1, 0.3, 0.5), trials=2)


def _agrees_with_tables(acc, clean, p, tost, verdicts) -> int:
    """How many of these studies get the same raw p's (to 1e-9) and verdicts from contrast_table itself (their
    trial frames) as from the vectorised path."""
    arches = sorted({a for a, _ in ARMS})
    same = 0
    for i in range(len(acc)):
        frame = arm_array_frame(acc[i], clean[i], arches, METHODS, RATES)
        t = contrast_table(frame, plan=False, margin=MARGIN)
        same += bool(np.allclose(t["pvalue"].to_numpy(float), p[i].ravel(), rtol=1e-9, atol=1e-12)
                     and np.allclose(t["tost_pvalue"].to_numpy(float), tost[i].ravel(), rtol=1e-9, atol=1e-12)
                     and list(t["verdict"]) == list(verdicts[i].ravel()))
    return same


def _null_verdicts(rng, n: int, runs: int, check: int, **kw) -> tuple[np.ndarray, np.ndarray, int]:
    """n demo-like studies under the global null through the vectorised path (simulate_arm_array ->
    paired_method_tests -> the table's family engine); the first ``check`` also through contrast_table."""
    acc, clean = simulate_arm_array(rng, n, np.zeros((5, 2)), seeds=runs, rates=RATES, trials=2, **kw)
    est, p, tost = paired_method_tests(acc, RATES, MARGIN)
    v = study_verdicts(est, p, tost)
    return v, p, _agrees_with_tables(acc[:check], clean[:check], p[:check], tost[:check], v[:check])


def family_error(n: int, rng, check: int = 100) -> tuple[list[str], dict]:
    """No true effect: a better/worse verdict anywhere (primary or gated secondary) is a family-wise error; an
    'equivalent' verdict is correct here (Δ = 0 lies inside the margin) and counted apart."""
    lines = ["| runs per arm | FWER: any better/worse (primary + gated secondary) | of which a gated secondary alone | "
             "'equivalent' (correct here) | raw p < α per contrast | raw p < α/5 per contrast |",
             "|---|---|---|---|---|---|"]
    found, same = {}, 0
    for runs in (3, 5, 8):
        v, p, agree = _null_verdicts(rng, n, runs, check)
        same += agree
        err = np.isin(v, ("better", "worse"))
        fwer = err.any(axis=(1, 2))
        found[runs] = fwer.mean()
        cells = [fwer, fwer & ~err[:, :, 0].any(axis=1), (v == "equivalent").any(axis=(1, 2)),
                 (p[:, :, 0] < ALPHA).mean(axis=1), (p[:, :, 0] < ALPHA / 5).mean(axis=1)]
        lines.append(f"| {runs} | " + " | ".join(_pct(c, 2) for c in cells) + " |")
    lines += ["", f"contrast_table itself on the first {check} studies of each row: the same raw p-values and verdicts "
              f"in {same} of {3 * check}."]
    return lines, found


def open_gates(n: int, rng) -> list[str]:
    """The global null with a small spread: primary contrasts are often shown equivalent (correct), which opens
    their secondary rows' gates; a secondary better/worse is then an error."""
    lines = ["| run sd | runs per arm | share of primaries 'equivalent' (gate open) | FWER: any better/worse | of "
             "which a gated secondary alone |", "|---|---|---|---|---|"]
    for sd_run, runs in ((0.004, 3), (0.006, 5), (0.01, 8)):
        v, _, _ = _null_verdicts(rng, n, runs, 0, sd_run=sd_run, sd_map=0.002)
        err = np.isin(v, ("better", "worse"))
        fwer = err.any(axis=(1, 2))
        lines.append(f"| {sd_run * 100:g} pp | {runs} | {_pct((v[:, :, 0] == 'equivalent').mean(axis=1), 2)} | "
                     f"{_pct(fwer, 2)} | {_pct(fwer & ~err[:, :, 0].any(axis=1), 2)} |")
    return lines


def equivalence(n: int, rng) -> list[str]:
    lines = ["| true difference | runs per arm | 'equivalent' (margin ±1 pp) | 'better' |", "|---|---|---|---|"]
    spec = [ContrastSpec(method="a", baseline="b", margin=0.01)]
    for effect, runs in ((0.01, 5), (0.01, 10), (0.0, 10)):
        eq, better = [], []
        for _ in range(n):
            df = simulate_arms(rng, [("net", "a", effect), ("net", "b", 0.0)], seeds=runs, sd_run=0.004,
                               rates=(0.1, 0.5), trials=2)
            v = contrast_table(df, spec, plan=False).iloc[0]["verdict"]
            eq.append(v == "equivalent")
            better.append(v == "better")
        lines.append(f"| {effect * 100:+.0f} pp | {runs} | {_pct(eq)} | {_pct(better)} |")
    return lines


def unpaired_size(rng) -> list[str]:
    lines = ["| runs per arm | pooled Student's t (used) | Welch (before) |", "|---|---|---|"]
    for runs in (2, 3, 5):
        x, y = rng.standard_normal((20_000, runs)), rng.standard_normal((20_000, runs))
        lin = [linear_contrast([a, b], [1, -1], paired=False) for a, b in zip(x, y)]
        pooled = [2 * stats.t.sf(abs(e.estimate / e.se), e.df) < ALPHA for e in lin]
        welch = stats.ttest_ind(x, y, axis=1, equal_var=False).pvalue < ALPHA
        lines.append(f"| {runs} | {_pct(pooled)} | {_pct(welch)} |")
    return lines


def power(n: int, rng) -> tuple[list[str], dict]:
    lines = ["| true effect (one of 5 contrasts) | runs per arm for 80 % (fixed, α/5) | simulated power there (the "
             "tables) | one declared contrast (α) | all 300 tests of the old report (α/300) |",
             "|---|---|---|---|---|"]
    found = {}
    for effect in (0.02, 0.04, 0.08):
        need = int(runs_needed(SD_PAIR, effect, paired=True, alpha=ALPHA / 5))
        single = int(runs_needed(SD_PAIR, effect, paired=True, alpha=ALPHA))
        old = int(runs_needed(SD_PAIR, effect, paired=True, alpha=ALPHA / 300))
        hits = [contrast_table(_study(rng, need, effect), plan=False).iloc[0]["verdict"] == "better"
                for _ in range(n if need <= 40 else max(50, n // 4))]
        found[effect] = (need, np.mean(hits))
        lines.append(f"| +{effect * 100:.0f} pp | {need} | {_pct(hits)} | {single} | {old} |")
    return lines, found


def sequential(rng, n_tables: int) -> tuple[list[str], dict]:
    lines = ["| true effect | fixed design (runs per arm) | sequential: maximum | expected runs at the effect | "
             "ratio to fixed | power | expected runs with no effect |", "|---|---|---|---|---|---|---|"]
    found = {}
    for effect in (0.02, 0.04, 0.08):
        p = plan_contrast(SD_PAIR, effect, paired=True, n_contrasts=5, n_paths=20_000)
        found[effect] = p
        lines.append(f"| +{effect * 100:.0f} pp | {p.fixed:.0f} | {p.seq_max:.0f} | {p.seq_expected:.1f} | "
                     f"{p.seq_expected / p.fixed:.2f} | {100 * p.seq_power:.1f} % | {p.seq_expected_null:.1f} |")
    # the same design through the real decisions (simulated frames, one look after another) at +4 pp and at 0
    p = found[0.04]
    design = SequentialDesign(first=3, step=2, max_runs=int(p.seq_max))
    for effect in (0.04, 0.0):
        runs, better, errors = [], [], []
        for _ in range(n_tables):
            df = _study(rng, design.max_runs, effect)
            for n in design.looks():
                d = sequential_decisions(df[df["train_seed"] < n], None, design)
                row = d.set_index("contrast").loc["dropconnect vs vanilla on arch0"]
                if row["decision"] != "continue":
                    break
            runs.append(n)
            better.append(row["decision"] == "better")
            errors.append(d["decision"].isin(["better", "worse"]).any() if effect == 0 else False)
        what = f"P(better) {_pct(better)}" if effect else f"any false better/worse at its stop {_pct(errors)}"
        lines.append(f"| through the tables, +{effect * 100:.0f} pp ({n_tables} studies) | {p.fixed:.0f} | "
                     f"{design.max_runs} | {np.mean(runs):.1f} | {np.mean(runs) / p.fixed:.2f} | {what} | – |")
    return lines, found


def plan_uncertainty(rng) -> list[str]:
    """A plan from a 2-run pilot (sd on 1 df): the share of pilots whose planned n truly has >= 80 % power."""
    lines = ["| pilot runs | plan | pilots whose plan truly reaches 80 % power |", "|---|---|---|"]
    effect, a = 0.04, ALPHA / 5
    for pilot in (2, 5):
        sds = SD_PAIR * np.sqrt(rng.chisquare(pilot - 1, 400) / (pilot - 1))
        for name, scale in (("point estimate of the sd", 1.0), ("upper 80 % bound of the sd", None)):
            ok = []
            for sd in sds:
                s = sd if scale else sd * math.sqrt((pilot - 1) / stats.chi2.ppf(0.1, pilot - 1))
                n = runs_needed(s, effect, paired=True, alpha=a)
                n = int(min(n, 5000))
                ok.append(t_power(effect / (SD_PAIR / math.sqrt(n)), n - 1, stats.t.ppf(1 - a / 2, n - 1)) >= 0.8)
            lines.append(f"| {pilot} | {name} | {_pct(ok)} |")
    return lines


def coverage(n: int, rng) -> list[str]:
    lines = ["| catastrophic maps (-30 pp) | seeds | curve band per rate | AUC | method difference (AUC) |",
             "|---|---|---|---|---|"]
    rates = (0.1, 0.3, 0.5)
    for q in (0.0, 0.05):
        for seeds in (3, 5):
            band, auc, diff = [], [], []
            for _ in range(n):
                df = simulate_study(rng, seeds=seeds, trials=20, rates=rates, catastrophic=q, effect=0.01,
                                    n_samples=100_000).assign(architecture="net")
                curves, summary = recipe_curves(df[df["method"] == "method_b"])
                truth = np.array([true_mean(r, catastrophic=q) for r in rates])
                band.append(((curves["ci_low"] <= truth) & (truth <= curves["ci_high"])).mean())
                s = summary.iloc[0]
                auc.append(s["auc_low"] <= np.trapezoid(truth, rates) / (rates[-1] - rates[0]) <= s["auc_high"])
                t = method_comparison(df, "method_b")
                a = t[t["endpoint"] == "AUC"].iloc[0]
                diff.append(a["ci_low"] <= 0.01 <= a["ci_high"])
            lines.append(f"| {q:.0%} | {seeds} | {_pct(band)} | {_pct(auc)} | {_pct(diff)} |")
    return lines


def reliability(n: int, rng) -> list[str]:
    lines = ["| maps per cell | bootstrap over maps | Wilson over points (old) |", "|---|---|---|"]
    for t_maps in (20, 100):
        margins = rng.normal(3.0, 1.5, 300)
        k = math.ceil(0.95 * t_maps - 1e-9 * t_maps)

        def campaign(margins=margins, t_maps=t_maps):
            return margins[None, :] + rng.standard_normal((t_maps, 1)) + rng.standard_normal((t_maps, 300)) > 0

        truth = np.mean([(campaign().sum(0) >= k).mean() for _ in range(2000)])
        boot, wilson = [], []
        for i in range(n):
            m = campaign()
            ci = reliability_bootstrap(m, n_resamples=400, rng=i)
            boot.append(ci.low <= truth <= ci.high)
            w = stats.binomtest(int((m.sum(0) >= k).sum()), 300).proportion_ci(0.95, method="wilson")
            wilson.append(w.low <= truth <= w.high)
        lines.append(f"| {t_maps} | {_pct(boot)} | {_pct(wilson)} |")
    return lines


def adaptive(n: int, rng) -> list[str]:
    lines = ["| catastrophic maps (-35 pp) | coverage of the cell's 95 % t interval | mean maps |", "|---|---|---|"]
    for q in (0.0, 0.02, 0.05):
        hits, sizes = [], []
        for _ in range(n):
            x = np.empty(0)
            while x.size < 500:
                x = np.concatenate([x, rng.normal(0.85, 0.01, 8) - 0.35 * (rng.random(8) < q)])
                if adaptive_stop(x, 0.005):
                    break
            h = stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
            hits.append(abs(x.mean() - (0.85 - 0.35 * q)) <= h)
            sizes.append(x.size)
        lines.append(f"| {q:.0%} | {_pct(hits)} | {np.mean(sizes):.0f} |")
    return lines


FAMILY_TITLE = "## Family-wise error under the global null"


def family_sections(n: int, seed: int) -> list[str]:
    """The family-wise error sections (their own random stream: ``--only family`` regenerates them alone)."""
    rng = np.random.default_rng([seed, 1])
    fwer, _ = family_error(n, rng)
    return [
        f"{FAMILY_TITLE} (5 contrasts, AUC, TOST margin ±1 pp; {n} studies per row)", "",
        "With 5 independent contrasts each at its Bonferroni share the FWER is 1 - (1 - α/5)^5 = 4.9 %. The studies "
        "are drawn by simulate_arm_array (simulate_arms' model, many studies at once); paired_method_tests computes "
        "the table's per-run values and t tests for all of them at once, and the verdicts come from the table's own "
        "family engine (family_verdicts: closed test, gatekeeping) study by study.", "",
        *fwer, "",
        f"### The same null where the gates open (small run sd: primaries shown equivalent; {n} studies per row)", "",
        "An 'equivalent' primary is correct here and opens its secondary rows' gate (each rate, closed test at α/5); "
        "a secondary better/worse is then a family-wise error.", "",
        *open_gates(n, rng), "",
    ]


def _replace_section(text: str, title: str, lines: list[str]) -> str:
    """``text`` with the level-2 section starting ``title`` (up to the next level-2 heading) replaced."""
    start = text.index(title)
    end = text.find("\n## ", start + len(title))
    return text[:start] + "\n".join(lines) + ("\n" + text[end + 1:] if end >= 0 else "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--studies", type=int, default=800, help="simulated studies per row (default 800)")
    ap.add_argument("--family-studies", type=int, default=20_000,
                    help="studies per family-error row (default 20,000: a Monte-Carlo SE of 0.15 pp)")
    ap.add_argument("--only", choices=["family"], default=None,
                    help="regenerate only these sections of the existing --out file (the rest is kept)")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "docs" / "statistics-calibration.md"))
    args = ap.parse_args()
    t0 = time.time()
    warnings.simplefilter("ignore")
    if args.only == "family":
        text = _replace_section(Path(args.out).read_text(), FAMILY_TITLE, family_sections(args.family_studies,
                                                                                           args.seed))
        Path(args.out).write_text(text)
        print(text)
        print(f"family sections: {time.time() - t0:.0f} s")
        return
    rng = np.random.default_rng(args.seed)
    n = args.studies
    small = max(20, n // 3)
    family = family_sections(args.family_studies, args.seed)
    pw, _ = power(small, rng)
    seq, _ = sequential(rng, max(20, n // 12))
    parts = [
        "# Statistics calibration (generated by benchmarks/stats_calibration.py)", "",
        f"Seed {args.seed}; each cell: mean ± Monte-Carlo SE over simulated studies ({n} per row unless stated). "
        "Unit of replication: the training run. Demo variance components: run sd of the AUC 6 pp, seed-paired "
        "differences 5.7 pp; the primary family is the 5 default contrasts (dropconnect vs vanilla per "
        "architecture), each counted once (closed test over difference and TOST), α = 5 %.", "",
        *family,
        "## Power: runs per arm for 80 % power (paired by seed, sd 5.7 pp)", "",
        f"Simulated power through the tables with {small} studies per row (fewer for large n).", "", *pw, "",
        "## Sequential seeds (looks at 3, 5, 7, … runs per arm; O'Brien-Fleming spending at α/5; non-binding "
        "futility)", "",
        "Sized to the fixed design's power; expected runs by simulating the design's t statistics (20,000 paths), "
        "then the same design run look by look through sequential_decisions on simulated trial frames.", "",
        *seq, "",
        f"## Equivalence claimed at the margin (run sd 0.4 pp, one contrast; {small} studies per row)", "",
        *equivalence(small, rng), "",
        "## Size of the unpaired test with few runs (equal spreads, 20,000 simulated pairs of arms)", "",
        *unpaired_size(rng), "",
        "## A plan made from a pilot: does its n truly give 80 % power? (+4 pp, α/5, 400 pilots)", "",
        *plan_uncertainty(rng), "",
        f"## Coverage of the 95 % recipe-level intervals (20 maps per run; {small // 2} studies per row)", "",
        *coverage(small // 2, rng), "",
        "## Per-sample reliability (one network, 300 test points, maps shared by all points)", "",
        *reliability(small // 2, rng), "",
        "## Adaptive trials (`--trials auto`): coverage of the cell's 95 % t interval", "", *adaptive(small, rng),
        "", f"Run time: {time.time() - t0:.0f} s.",
    ]
    text = "\n".join(parts) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
