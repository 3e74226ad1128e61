"""Size a study's seeds from a pilot: per (architecture, level) each method's mean accuracy over training runs,
the run-to-run sd, and for each declared pair (method A vs method B at a level) the paired effect, the sd of the
paired differences and the runs per arm a two-sided paired t test needs for 80 % power at alpha / m (Bonferroni,
Holm's first step: conservative for planning), from the point estimate of that sd and from its upper 80 %
confidence bound (the pilot has few runs). The unit of replication is the training run (seed); a run's value is
its mean accuracy over the campaign's fault maps.

    python benchmarks/study_pilot.py results/pilot.sqlite --pairs msnat:vanilla,msnat:single-0.2 --rates 0.25,0.3
    python benchmarks/study_pilot.py pilot.sqlite --pairs aconnect-0.5:vanilla --rates 0.3,0.5,0.7 --log sweep.log

``--log`` reads the sweep's progress lines for seconds per run (training plus campaigns).
"""

from __future__ import annotations

import argparse
import re
import statistics
from pathlib import Path

import numpy as np
from scipy import stats

from faultlab.store import ResultsStore

RUN_LINE = re.compile(r"\] (?P<arch>\S+) / (?P<method>\S+) / seed (?P<seed>\d+): .*?, (?P<seconds>[\d.]+) s;")


def power(d: float, n: int, alpha: float) -> float:
    """Power of the two-sided one-sample (paired) t test with n pairs for standardized effect d."""
    df = n - 1
    crit = stats.t.ppf(1 - alpha / 2, df)
    ncp = abs(d) * np.sqrt(n)
    upper, lower = stats.nct.sf(crit, df, ncp), stats.nct.cdf(-crit, df, ncp)
    # scipy's noncentral t is nan far in its tails (ncp of tens): there the tails are 1 and 0
    upper = upper if np.isfinite(upper) else float(ncp > crit)
    return float(upper + (lower if np.isfinite(lower) else 0.0))


def runs_needed(effect: float, sd: float, alpha: float, target: float = 0.8, most: int = 200) -> int | None:
    """Fewest pairs (>= 3) with power >= target; None beyond ``most`` (or no effect)."""
    if sd <= 0:
        return 3 if effect != 0 else None
    d = abs(effect) / sd
    for n in range(3, most + 1):
        if power(d, n, alpha) >= target:
            return n
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store")
    parser.add_argument("--pairs", required=True, help="A:B,... (method names)")
    parser.add_argument("--rates", required=True, help="the key levels, e.g. 0.25,0.3")
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--family", type=int, help="contrasts in the Holm family (default pairs x rates x archs)")
    parser.add_argument("--log", help="the sweep's output, for seconds per run")
    args = parser.parse_args()
    pairs = [tuple(p.split(":")) for p in args.pairs.split(",")]
    rates = [float(r) for r in args.rates.split(",")]
    df = ResultsStore(args.store, read_only=True).to_frame()
    per_run = df.groupby(["architecture", "method", "train_seed", "rate"]).accuracy.agg(["mean", "std", "count"])
    per_run = per_run.reset_index()
    archs = sorted(per_run.architecture.unique())
    m = args.family or len(pairs) * len(rates) * len(archs)
    print(f"family: {m} contrasts; alpha per contrast {args.alpha / m:.4f} (Bonferroni)")
    for arch in archs:
        a = per_run[per_run.architecture == arch]
        print(f"\n== {arch}")
        print("method           rate   mean     sd(runs)  maps-sd/sqrt(T)  runs")
        for (method, rate), g in a.groupby(["method", "rate"]):
            if rate not in rates and rate != 0:
                continue
            mc = float(np.mean(g["std"] / np.sqrt(g["count"]))) if g["count"].min() > 1 else 0.0
            print(f"{method:16s} {rate:5.2f}  {g['mean'].mean():.4f}   {g['mean'].std():.4f}    {mc:.4f}"
                  f"           {len(g)}")
        print("contrast                      rate   effect   sd(diff)  n(80%)  n(80%, sd upper 80% bound)")
        for first, second in pairs:
            for rate in rates:
                x = a[(a.method == first) & (a.rate == rate)].set_index("train_seed")["mean"]
                y = a[(a.method == second) & (a.rate == rate)].set_index("train_seed")["mean"]
                diff = (x - y).dropna()
                if len(diff) < 2:
                    continue
                sd = float(diff.std())
                upper = sd * np.sqrt((len(diff) - 1) / stats.chi2.ppf(0.2, len(diff) - 1))
                n_point = runs_needed(float(diff.mean()), sd, args.alpha / m)
                n_upper = runs_needed(float(diff.mean()), upper, args.alpha / m)
                print(f"{first + ' vs ' + second:28s}  {rate:4.2f}  {diff.mean():+.4f}  {sd:.4f}    "
                      f"{n_point!s:6s}  {n_upper!s}")
    if args.log:
        seconds: dict[tuple[str, str], list[float]] = {}
        for line in Path(args.log).read_text().splitlines():
            if match := RUN_LINE.search(line):
                seconds.setdefault((match["arch"], match["method"]), []).append(float(match["seconds"]))
        print("\nseconds per run (training + campaigns), mean over seeds:")
        for (arch, method), values in sorted(seconds.items()):
            print(f"  {arch:22s} {method:16s} {statistics.fmean(values):7.1f}  (n={len(values)})")
        total = sum(sum(v) for v in seconds.values())
        runs = sum(len(v) for v in seconds.values())
        print(f"  all runs: {total:.0f} s for {runs} runs")


if __name__ == "__main__":
    main()
