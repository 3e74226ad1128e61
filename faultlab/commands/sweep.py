"""``faultlab sweep``: run a whole study (train every run unless cached, then its campaigns).

    faultlab sweep experiments/demo.yaml [--store results/demo.sqlite] [--workers 2] [--dry-run]
    faultlab sweep experiments/demo.yaml --executor ray [--address auto|HOST:PORT] [--max-retries 3] [--gpus-per-run 1]

Re-running a finished study does no work; re-running an interrupted one finishes what is missing.
With --executor ray each run (training + campaigns) is a Ray task: on a local Ray instance of --workers
CPUs, or on the running cluster at --address (store and runs folder then on a shared filesystem).
"""

from __future__ import annotations

import argparse

from faultlab import FaultlabError
from faultlab.names import check_name

from ._guards import interruptible
from ._options import count, float_in, non_negative

HELP = "run a study: train the grid, then its fault campaigns, into the store"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help=HELP, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("spec", help="study spec, e.g. experiments/demo.yaml")
    p.add_argument("--store", default=None, help="results store (default results/<study>.sqlite)")
    p.add_argument("--runs-dir", default="runs", help="checkpoint cache folder (default runs/)")
    p.add_argument("--workers", type=count, default=None,
                   help="local: parallel processes (default 1); ray without --address: CPUs of the local "
                        "Ray instance (default all)")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="local processes (default) or Ray tasks")
    p.add_argument("--address", default=None,
                   help="with --executor ray: the cluster to join, 'auto' or HOST:PORT (default: start Ray here)")
    p.add_argument("--max-retries", type=non_negative, default=3,
                   help="with --executor ray: retries of a run whose worker died (default 3)")
    p.add_argument("--gpus-per-run", type=float_in(0.0), default=0.0,
                   help="with --executor ray: GPUs each run reserves (Ray gives each task its own; 0.5 shares "
                        "one between two runs; default 0)")
    p.add_argument("--dry-run", action="store_true", help="print the grid and the work left, run nothing")


def default_store(study: str) -> str:
    return f"results/{check_name(study, 'study name')}.sqlite"


def stored_trials(store: str, study: str) -> str:
    """What an interrupted sweep leaves: the study's trials in the store."""
    from faultlab.store import ResultsStore

    try:
        with ResultsStore(store, read_only=True) as s:
            n = s.count_trials("run_id IN (SELECT run_id FROM runs WHERE study = ?)", (study,))
    except FaultlabError:
        n = 0
    return f"{n} trials of study {study} are stored in {store}"


def run(args: argparse.Namespace) -> None:
    import os
    from pathlib import Path

    from faultlab.sweep import dry_run, load_study, run_study

    if args.address is not None and args.executor != "ray":
        raise FaultlabError("--address needs --executor ray")
    if args.gpus_per_run and args.executor != "ray":
        raise FaultlabError("--gpus-per-run needs --executor ray")
    spec, _ = load_study(args.spec)
    store = args.store or default_store(spec.name)
    if Path(store).resolve() == Path(args.spec).resolve():
        raise FaultlabError(f"--store {store} is the study spec this command reads; pick another path")
    if Path(args.runs_dir).exists() and not Path(args.runs_dir).is_dir():
        raise FaultlabError(f"--runs-dir {args.runs_dir} exists and is not a folder; pick a folder path")
    if args.dry_run:
        dry_run(spec, store, args.runs_dir)
        return
    if args.store is None:
        os.makedirs(os.path.dirname(store), exist_ok=True)
    with interruptible(lambda: stored_trials(store, spec.name)):
        summary = run_study(spec, store, args.runs_dir, args.workers, executor=args.executor, address=args.address,
                            max_retries=args.max_retries, gpus_per_run=args.gpus_per_run)
    print(f"study {spec.name}: {summary.runs} runs ({summary.trained} trained now), {summary.new_trials} new trials "
          f"in {summary.seconds:.0f} s -> {store}")
