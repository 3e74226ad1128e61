"""``faultlab sweep``: run a whole study (train every run unless cached, then its campaigns).

    faultlab sweep experiments/demo.yaml [--store results/demo.sqlite] [--workers 2] [--dry-run]

Re-running a finished study does no work; re-running an interrupted one finishes what is missing.
"""

from __future__ import annotations

import argparse

HELP = "run a study: train the grid, then its fault campaigns, into the store"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help=HELP, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("spec", help="study spec, e.g. experiments/demo.yaml")
    p.add_argument("--store", default=None, help="results store (default results/<study>.sqlite)")
    p.add_argument("--runs-dir", default="runs", help="checkpoint cache folder (default runs/)")
    p.add_argument("--workers", type=int, default=1, help="parallel processes on this machine (default 1)")
    p.add_argument("--dry-run", action="store_true", help="print the grid and the work left, run nothing")


def default_store(study: str) -> str:
    return f"results/{study}.sqlite"


def run(args: argparse.Namespace) -> None:
    import os

    from faultlab import FaultlabError
    from faultlab.sweep import dry_run, load_study, run_study

    spec, _ = load_study(args.spec)
    store = args.store or default_store(spec.name)
    if args.store is None:
        os.makedirs(os.path.dirname(store), exist_ok=True)
    if args.workers < 1:
        raise FaultlabError(f"--workers {args.workers}: must be >= 1")
    if args.dry_run:
        dry_run(spec, store, args.runs_dir)
        return
    summary = run_study(spec, store, args.runs_dir, args.workers)
    print(f"study {spec.name}: {summary.runs} runs ({summary.trained} trained now), {summary.new_trials} new trials "
          f"in {summary.seconds:.0f} s -> {store}")
