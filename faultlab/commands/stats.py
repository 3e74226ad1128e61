"""``faultlab stats``: a study's statistics tables in the terminal and as CSV; or trial planning.

    faultlab stats demo [--store results/demo.sqlite] [--csv results/demo-tables]
    faultlab stats plan --margin 0.01 --confidence 0.99 [--population N] [--pilot-std 0.02 --halfwidth 0.005]
    faultlab stats plan --from demo --train-seconds 40 --halfwidth 0.01   # runs x trials from a pilot study
"""

from __future__ import annotations

import math

from faultlab.parsing import command_parser

from ._guards import add_force_option, atomic_files, check_output_folder
from ._types import AtLeastOne, OpenUnitInterval, PilotStd, PositiveFloat, existing_store
from .report import add_study_options, store_of

HELP = "print a study's statistics tables (and CSVs), or 'stats plan' for trial counts"
SHOWN = ("verdicts", "curve_summary", "method_comparison", "architecture_comparison", "variance_components",
         "reliability_recipe", "family", "missing")
COLUMNS = {  # the columns worth reading in a terminal; the CSVs have them all
    "method_comparison": ["variant", "method_a", "method_b", "fault", "endpoint", "rate", "design", "n_a", "n_b",
                          "estimate", "ci_low", "ci_high", "pvalue_holm", "tost_pvalue_holm", "runs_to_detect",
                          "verdict"],
    "architecture_comparison": ["variant_a", "variant_b", "method", "fault", "endpoint", "rate", "n_a", "n_b",
                                "estimate", "ci_low", "ci_high", "pvalue_holm", "tost_pvalue_holm",
                                "runs_to_detect", "verdict"],
    "variance_components": ["architecture", "method", "fault", "rate", "n_runs", "trials_per_run", "sd_run",
                            "sd_map", "var_test", "se_recipe", "next"],
}


def build_parser():
    p = command_parser("faultlab stats", __doc__)
    add_study_options(p)
    p.add_argument("--csv", type=str | None, default=None, help="folder for the CSV tables (default "
                   "results/<study>-tables)")
    p.add_argument("--confidence", type=OpenUnitInterval, default=0.99, help="plan: confidence level in (0, 1)")
    p.add_argument("--population", type=AtLeastOne, default=math.inf,
                   help="plan: number of possible fault maps N >= 1 (default infinite)")
    p.add_argument("--pilot_std", type=PilotStd | None, default=None,
                   help="plan: std of accuracy over a pilot's trials, in (0, 0.5]")
    p.add_argument("--halfwidth", type=PositiveFloat | None, default=None,
                   help="plan: target CI half-width (default --margin)")
    p.add_argument("--from", type=str | None, default=None, metavar="STUDY",
                   help="plan: a pilot study in the store; recommend training runs and trials per run for a "
                        "recipe-level difference from its variance components and measured trial seconds")
    p.add_argument("--train_seconds", type=PositiveFloat | None, default=None,
                   help="plan --from: seconds one training run takes (not stored)")
    add_force_option(p)
    return p


def plan(args) -> None:
    from faultlab.stats import leveugle_sample_size, trials_for_halfwidth

    if args["from"] is not None:
        plan_recipe(args)
        return
    n = leveugle_sample_size(args.population, margin=args.margin, confidence=args.confidence)
    print(f"Leveugle et al. (DATE 2009), p = 0.5, margin e = {args.margin}, confidence {args.confidence:g}: "
          f"n = N / (1 + e^2 (N-1) / (t^2 p (1-p))) = {n} trials per cell")
    if args.pilot_std is not None:
        h = args.halfwidth or args.margin
        try:
            m = trials_for_halfwidth(args.pilot_std, h, confidence=args.confidence)
        except ValueError as err:
            from faultlab import FaultlabError

            raise FaultlabError(f"stats plan: {err}") from None
        print(f"t-based from a pilot: s = {args.pilot_std}, half-width {h}: n = {m} trials per cell")


def plan_recipe(args) -> None:
    """Per (variant, method, fault): the runs x trials plan at the rate that needs the most compute."""
    import pandas as pd

    from faultlab import FaultlabError
    from faultlab.stats import run_means, variance_components
    from faultlab.stats.planning import plan_runs_and_trials
    from faultlab.stats.study import analysis_frame, load_frame
    from faultlab.store import ResultsStore

    if args.train_seconds is None or not args.train_seconds > 0:
        raise FaultlabError("stats plan --from needs --train-seconds S (> 0): the time one training run takes")
    h = args.halfwidth or args.margin
    pilot = args["from"]
    with ResultsStore(existing_store(args.store or f"results/{pilot}.sqlite"), read_only=True) as store:
        af = analysis_frame(load_frame(store, pilot))
    comps = variance_components(run_means(af))
    comps = comps[comps["n_runs"] >= 2]
    if comps.empty:
        raise FaultlabError(f"study {pilot!r} has no cell with >= 2 training runs; "
                            "a pilot needs 2 runs per recipe")
    c_trial = float(af["seconds"].median())
    n_rates = int(af["rate"].nunique())
    rows = []
    for key, g in comps.groupby(["architecture", "method", "fault"], sort=True):
        plans = [plan_runs_and_trials(r.var_run, r.var_map, args.train_seconds, c_trial, h,
                                      confidence=args.confidence, n_rates=n_rates) for r in g.itertuples()]
        worst = max(plans, key=lambda p: p.seconds)
        rows.append({"variant": key[0], "method": key[1], "fault": key[2], **worst.to_row()})
    table = pd.DataFrame(rows)
    print(f"Recipe-level plan: a difference between two recipes with a {args.confidence:g} CI half-width <= {h}, "
          f"training runs as replicates; cost {args.train_seconds:g} s per training run, {c_trial:.3g} s per trial "
          f"(median stored), {n_rates} rates. T* = sqrt(c_run var_map / (c_trial n_rates var_run)); runs per arm "
          "from the t interval of 2 (var_run + var_map / T) / R.")
    with pd.option_context("display.width", 200, "display.float_format", "{:.4g}".format):
        print(table.to_string(index=False))


def run(args) -> None:
    if args.study == "plan":
        plan(args)
        return
    import pandas as pd

    from faultlab.stats.study import export_tables, study_tables
    from faultlab.store import ResultsStore

    store_path = store_of(args)
    folder = check_output_folder(args.csv or f"results/{args.study}-tables", "csv", inputs={"store": store_path},
                                 force=args.force)
    with ResultsStore(store_path, read_only=True) as store:
        tables = study_tables(store, args.study, baseline_method=args.baseline, margin=args.margin,
                              fraction=args.fraction, n_resamples=args.resamples, seed=args.seed)
    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.max_rows", 200,
                           "display.float_format", "{:.4g}".format):
        for name in SHOWN:
            table = tables.get(name)
            if table is None or not len(table):
                continue
            if name == "verdicts":
                print("\n== verdicts (recipe level: training runs as replicates) ==")
                print("\n".join(f"- {s}" for s in table["sentence"]))
                continue
            cols = [c for c in COLUMNS.get(name, table.columns) if c in table.columns]
            print(f"\n== {name} ==\n{table[cols].to_string(index=False)}")
    with atomic_files(folder) as tmp:
        paths = export_tables(tables, tmp)
    print(f"\nwrote {len(paths)} CSV tables to {folder}")

