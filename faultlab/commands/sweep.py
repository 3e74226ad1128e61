"""``faultlab sweep``: run a whole study (train every run unless cached, then its campaigns).

    faultlab sweep experiments/demo.yaml [--store results/demo.sqlite] [--workers 2] [--dry-run [--no-estimate]]
    faultlab sweep experiments/demo.yaml --until-decided [--dry-run]   # sequential seeds (a sequential: block)
    faultlab sweep experiments/demo.yaml --executor ray [--address auto|HOST:PORT] [--max-retries 3] [--gpus-per-run 1]
    faultlab sweep experiments/demo.yaml --training.seeds [0,1,2] --print_config > study.yaml
    faultlab sweep --config study.yaml

The study file is a config file of this command (``faultlab sweep FILE`` is ``faultlab sweep --config FILE``): its
keys (name, data, training, architectures, methods, campaigns, seed, ...) are options, and so are this command's
(store, workers, ...). Re-running a finished study does no work; re-running an interrupted one finishes what is
missing. With --until-decided the runs are trained in stages (looks) until every primary contrast is decided
(docs/statistics.md, "Sequential seeds"); the looks are recorded in the store. With --executor ray each run
(training + campaigns) is a Ray task: on a local Ray instance of --workers CPUs, or on the running cluster at
--address (store and runs folder then on a shared filesystem).
"""

from __future__ import annotations

import argparse
from typing import Literal

from faultlab import FaultlabError
from faultlab.names import check_name
from faultlab.parsing import command_parser, read_yaml

from ._guards import check_store_target, interruptible
from ._types import NonNegativeFloat, NonNegativeInt, PositiveInt, default_folder

HELP = "run a study: train the grid, then its fault campaigns, into the store"


def build_parser():
    from faultlab.sweep.spec import add_study_arguments

    p = command_parser("faultlab sweep", __doc__)
    add_study_arguments(p)
    g = p.add_argument_group("how the study runs")
    g.add_argument("--store", type=str | None, default=None, help="results store (default results/<name>.sqlite)")
    g.add_argument("--runs_dir", type=str, default="runs", help="checkpoint cache folder")
    g.add_argument("--workers", type=PositiveInt | None, default=None,
                   help="local: parallel processes (default 1); ray without --address: CPUs of the local Ray "
                        "instance (default all)")
    g.add_argument("--executor", type=Literal["local", "ray"], default="local", help="local processes or Ray tasks")
    g.add_argument("--address", type=str | None, default=None,
                   help="with --executor ray: the cluster to join, 'auto' or HOST:PORT (default: start Ray here)")
    g.add_argument("--max_retries", type=NonNegativeInt, default=3,
                   help="with --executor ray: retries of a run whose worker died")
    g.add_argument("--gpus_per_run", type=NonNegativeFloat, default=0.0,
                   help="with --executor ray: GPUs each run reserves (0.5 shares one between two runs)")
    g.add_argument("--dry_run", action="store_true", default=argparse.SUPPRESS,  # an action: no dry_run in a
                   help="print the grid, the work left and a time estimate from measured steps; run nothing")  # config
    g.add_argument("--no_estimate", action="store_true", default=argparse.SUPPRESS,
                   help="with --dry-run: check the study and list the work, without measuring steps for an estimate")
    g.add_argument("--until_decided", action="store_true", default=argparse.SUPPRESS,
                   help="sequential seeds: train in stages (the study's sequential: block) until every primary "
                        "contrast is decided; with --dry-run, print the design and the worst case")
    return p


def study_args(argv: list[str], parser) -> list[str]:
    """The study file (an argument that is no option's value) is ``--config FILE`` placed first, so the options
    override it wherever they are written; every config file is read first for what only the file shows (the old
    study format, a campaign's own seed), so those are one line saying what to write instead."""
    from faultlab.parsing import options
    from faultlab.sweep.spec import StudySpecError, check_raw

    known = options(parser)

    def takes_a_value(token: str) -> bool:  # an option written without '=' whose value is the next argument
        action = known.get(token) or known.get("--" + token[2:].replace("-", "_"))
        flag = token == "--print_config" or (action is not None and action.nargs == 0)
        return token.startswith("--") and "=" not in token and not flag

    files, args = [], []  # study files first: the options given with them override them, wherever written
    for i, arg in enumerate(argv):
        if arg.startswith("-") or (i and takes_a_value(argv[i - 1])):
            args.append(arg)
        else:
            files += ["--config", arg]
    args = files + args
    for i, arg in enumerate(args[:-1]):
        if arg == "--config":
            try:
                check_raw(read_yaml(args[i + 1], "study spec"), args[i + 1])
            except FaultlabError as err:
                raise StudySpecError(str(err)) from None
    return args


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


def run(cfg) -> None:
    from pathlib import Path

    from faultlab.runtime import command_seconds
    from faultlab.sweep import dry_run, run_study
    from faultlab.sweep.question import sequential_seeds
    from faultlab.sweep.sequential import dry_run_sequential, run_until_decided
    from faultlab.sweep.spec import StudySpec, validate_study

    if cfg.address is not None and cfg.executor != "ray":
        raise FaultlabError("--address needs --executor ray")
    if cfg.gpus_per_run and cfg.executor != "ray":
        raise FaultlabError("--gpus-per-run needs --executor ray")
    configs = {f"study spec {c}": str(c) for c in cfg.config or []}
    if cfg.store is not None:  # a store the user named is checked before the study is (that imports torch)
        check_store_target(cfg.store, inputs=configs)
    spec = validate_study(StudySpec(**{k: cfg[k] for k in StudySpec.__dataclass_fields__}))
    store = cfg.store or default_store(spec.name)
    if cfg.store is None and Path(store).parent.is_dir():
        check_store_target(store, inputs=configs)
    if Path(cfg.runs_dir).exists() and not Path(cfg.runs_dir).is_dir():
        raise FaultlabError(f"--runs_dir {cfg.runs_dir} exists and is not a folder; pick a folder path")
    until = cfg.get("until_decided", False)
    if until:
        sequential_seeds(spec)  # one line, before anything is written, without a sequential: block
    if cfg.get("dry_run", False):
        if until:
            dry_run_sequential(spec, store, cfg.runs_dir)
        else:
            dry_run(spec, store, cfg.runs_dir, workers=cfg.workers if cfg.executor == "local" else None,
                    estimate=not cfg.get("no_estimate", False), startup_s=command_seconds())
        return
    if cfg.store is None:
        default_folder(store)
    options = {"executor": cfg.executor, "address": cfg.address, "max_retries": cfg.max_retries,
               "gpus_per_run": cfg.gpus_per_run}
    with interruptible(lambda: stored_trials(store, spec.name)):
        if until:
            seq = run_until_decided(spec, store, cfg.runs_dir, cfg.workers, **options)
            last = seq.looks.iloc[-1]
            print(f"study {spec.name}: {'every primary contrast decided' if seq.decided else 'undecided'} at look "
                  f"{last['look']} ({last['runs_per_arm']} runs per arm); {seq.runs} runs of at most "
                  f"{seq.worst_case} ({seq.trained} trained now), {seq.new_trials} new trials in {seq.seconds:.0f} s "
                  f"-> {store}")
            return
        summary = run_study(spec, store, cfg.runs_dir, cfg.workers, **options)
    print(f"study {spec.name}: {summary.runs} runs ({summary.trained} trained now), {summary.new_trials} new trials "
          f"in {summary.seconds:.0f} s -> {store}")
