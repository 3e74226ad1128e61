"""``faultlab stats``: a study's statistics tables in the terminal and as CSV; or trial planning.

    faultlab stats demo [--store results/demo.sqlite] [--csv results/demo-tables]
    faultlab stats plan --margin 0.01 --confidence 0.99 [--population N] [--pilot-std 0.02 --halfwidth 0.005]
"""

from __future__ import annotations

import argparse
import math

from ._guards import add_force_option, atomic_files, check_output_folder
from ._options import float_in, open_unit, positive
from .report import add_study_options, store_of

HELP = "print a study's statistics tables (and CSVs), or 'stats plan' for trial counts"
SHOWN = ("curve_summary", "method_comparison", "architecture_comparison", "reliability", "missing")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stats", help=HELP, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_study_options(p)
    p.add_argument("--csv", default=None, help="folder for the CSV tables (default results/<study>-tables)")
    p.add_argument("--confidence", type=open_unit, default=0.99, help="plan: confidence level in (0, 1) (default 0.99)")
    p.add_argument("--population", type=float_in(1.0, allow_inf=True), default=math.inf,
                   help="plan: number of possible fault maps N >= 1 (default infinite)")
    p.add_argument("--pilot-std", type=positive, default=None, help="plan: std of accuracy over a pilot's trials")
    p.add_argument("--halfwidth", type=positive, default=None, help="plan: target CI half-width (default --margin)")
    add_force_option(p)


def plan(args: argparse.Namespace) -> None:
    from faultlab.stats import leveugle_sample_size, trials_for_halfwidth

    n = leveugle_sample_size(args.population, margin=args.margin, confidence=args.confidence)
    print(f"Leveugle et al. (DATE 2009), p = 0.5, margin e = {args.margin}, confidence {args.confidence:g}: "
          f"n = N / (1 + e^2 (N-1) / (t^2 p (1-p))) = {n} trials per cell")
    if args.pilot_std is not None:
        h = args.halfwidth or args.margin
        m = trials_for_halfwidth(args.pilot_std, h, confidence=args.confidence)
        print(f"t-based from a pilot: s = {args.pilot_std}, half-width {h}: n = {m} trials per cell")


def run(args: argparse.Namespace) -> None:
    if args.study == "plan":
        plan(args)
        return
    import pandas as pd

    from faultlab.report import export_tables, study_tables
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
            if table is not None and len(table):
                print(f"\n== {name} ==\n{table.to_string(index=False)}")
    with atomic_files(folder) as tmp:
        paths = export_tables(tables, tmp)
    print(f"\nwrote {len(paths)} CSV tables to {folder}")

