"""Running a whole study: every run trained (or taken from the checkpoint cache) and campaigned,
in this process or in ``workers`` processes sharing the SQLite store.

    summary = run_study(spec, store="results/demo.sqlite", workers=2)
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from faultlab import FaultlabError
from faultlab.files import check_writable_folder, existing_ancestor, remove_stale_temps
from faultlab.store import ResultsStore
from faultlab.store.store import JOURNAL_ENV

from .estimate import Work, study_estimate
from .execute import CACHE, RunOutcome, checkpoint_path, execute, expected_trials, is_complete
from .grid import expand
from .spec import StudySpec
from .stored import cell_run, check_against_store, study_record


@dataclass
class StudySummary:
    runs: int
    trained: int
    new_trials: int
    seconds: float
    outcomes: list[RunOutcome]


def _describe(c) -> str:
    cells = f"K = {', '.join(map(str, c.equal_count))} faulty weights" if c.equal_count else f"{len(c.rates)} rates"
    return f"{c.fault} at {cells} x {c.trials} trials ({c.scope_words})"


def dry_run(spec: StudySpec, store_path: str, runs_dir: str, stream=None, workers: int | None = None,
            estimate: bool = True, startup_s: float | None = None) -> tuple[int, int | None]:
    """Print the grid, the work left and (``estimate``) its time estimated from measured steps with ``workers``
    local processes (``sweep.estimate``; ``startup_s``: one worker's start, as this command's), to ``stream``
    (default sys.stdout): (trainings, trials) still to do."""
    stream = sys.stdout if stream is None else stream
    plans = expand(spec)
    per_run = expected_trials(spec)
    stored = {}
    if os.path.exists(store_path):
        with ResultsStore(store_path, read_only=True) as store:
            check_against_store(spec, plans, store)  # what the sweep would refuse, --dry-run refuses too
            rows = [cell_run(store, p) for p in plans]
            stored = {i: store.count_trials(run_id=r["run_id"]) for i, r in enumerate(rows) if r is not None}
    trainings, trials, work = 0, 0, []
    print(f"study {spec.name}: {len(plans)} runs = {len(spec.architectures)} architectures x {len(spec.methods)} "
          f"methods x {len(spec.training.seeds)} seeds; campaigns: "
          + "; ".join(_describe(c) for c in spec.campaigns), file=stream)
    for i, p in enumerate(plans):
        cached = checkpoint_path(p, runs_dir).is_file()
        done = stored.get(i, 0)
        left = None if per_run is None else max(0, per_run - done)
        if not cached and (left is None or left > 0):
            trainings += 1
        if left is None or left > 0:
            work.append(Work(p, not cached, done))
        trials = None if left is None or trials is None else trials + left
        status = "checkpoint cached" if cached else "to train"
        print(f"  {p.describe():55s} {status:17s} trials stored {done}"
              + ("" if left is None else f", to run {left}"), file=stream)
    count = "unknown (adaptive or per-layer campaigns)" if trials is None else str(trials)
    print(f"to do: {trainings} trainings, {count} trials", file=stream)
    if estimate:
        for line in study_estimate(spec, work, workers, startup_s):
            print(line, file=stream)
    return trainings, trials


class StudyProgress:
    """A tqdm bar over runs on a terminal; otherwise one line per finished run with an ETA."""

    def __init__(self, total: int, stream=None) -> None:
        stream = sys.stderr if stream is None else stream  # looked up now: sys.stderr may have been replaced
        self.total, self.done, self.trials, self.t0, self.stream = total, 0, 0, time.perf_counter(), stream
        self.bar = None
        if stream.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, unit="run", file=stream, dynamic_ncols=True)

    def update(self, outcome: RunOutcome) -> None:
        self.done += 1
        self.trials += outcome.new_trials
        elapsed = time.perf_counter() - self.t0
        eta = elapsed / self.done * (self.total - self.done)
        acc = "" if outcome.clean_accuracy is None else f"clean {outcome.clean_accuracy:.4f}, "
        what = "trained + " if outcome.trained else ""
        msg = (f"[{self.done}/{self.total} runs, {self.trials} trials] {outcome.run}: {what}{outcome.new_trials} "
               f"trials, {acc}{outcome.seconds:.1f} s; ETA {eta:.0f} s")
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(f"trials={self.trials} eta={eta:.0f}s")
            self.bar.write(msg)
        else:
            print(msg, file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C (sent to the whole process group) to the parent, which stops them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextmanager
def uninterrupted() -> Iterator[None]:
    """Ignore Ctrl-C and SIGTERM while the workers are stopped (a second Ctrl-C must not leave one running)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _stop_workers(pool: ProcessPoolExecutor, runs_dir: str) -> None:
    """Kill the workers and wait until they are gone, then cancel what has not started: a store transaction
    in flight rolls back (SQLite is safe against a killed writer), so once this returns nothing more is
    written and the store holds exactly what it will hold. A killed worker's temporary checkpoint is
    removed (a finished checkpoint is only renamed into place when complete)."""
    with uninterrupted():
        processes = list((pool._processes or {}).values())  # no public API to stop running workers before 3.14
        for proc in processes:
            proc.kill()
        for proc in processes:
            proc.join()
        pool.shutdown(wait=True, cancel_futures=True)
        remove_stale_temps(Path(runs_dir) / CACHE)


def check_runs_dir(runs_dir: str) -> Path:
    """One line, before any work, if the checkpoint cache folder (or the folder it will be created in) does
    not take new files; nothing is created here."""
    if Path(runs_dir).exists() and not Path(runs_dir).is_dir():
        raise FaultlabError(f"--runs-dir {runs_dir} exists and is not a folder; pick a folder path")
    where = existing_ancestor(Path(runs_dir) / CACHE)
    return check_writable_folder(where, f"--runs-dir {runs_dir}: folder")


def store_journal(executor: str, address: str | None) -> str | None:
    """The store's journal mode: writers on several machines need SQLite's rollback journal (WAL needs shared
    memory on one machine)."""
    return os.environ.get(JOURNAL_ENV) or ("delete" if executor == "ray" and address is not None else None)


def check_where(executor: str, address: str | None, runs_dir: str) -> None:
    """Before anything is written: the executor, a cluster's address and the checkpoint folder."""
    if executor not in ("local", "ray"):
        raise ValueError(f"executor {executor!r}: expected 'local' or 'ray'")
    if executor == "ray" and address is not None:
        from .ray_executor import check_address

        check_address(address)
    check_runs_dir(runs_dir)


def execute_plans(todo: list, spec: StudySpec, store: str, runs_dir: str = "runs", workers: int | None = None,
                  executor: str = "local", address: str | None = None, max_retries: int = 3,
                  gpus_per_run: float = 0.0, journal: str | None = None) -> list[RunOutcome]:
    """Train and campaign the runs ``todo`` (a batch: a whole study, or one stage of a sequential sweep) with the
    executor ``run_study`` describes; the outcomes in finishing order."""
    progress = StudyProgress(len(todo))
    outcomes: list[RunOutcome] = []
    try:
        if executor == "ray":
            from .ray_executor import run_on_ray

            try:
                outcomes = run_on_ray(todo, spec, store, runs_dir, progress.update, address=address, cpus=workers,
                                      max_retries=max_retries, journal=journal, task_gpus=gpus_per_run)
            except BaseException:
                if address is None:  # workers on this machine, now stopped: their temporary checkpoints go
                    remove_stale_temps(Path(runs_dir) / CACHE)
                raise
        elif (workers or 1) <= 1 or len(todo) <= 1:
            for plan in todo:
                outcomes.append(execute(plan, spec, store, runs_dir))
                progress.update(outcomes[-1])
        else:
            threads = max(1, (os.cpu_count() or 1) // workers)
            ctx = mp.get_context("spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_ignore_sigint) as pool:
                try:
                    futures = [pool.submit(execute, plan, spec, store, runs_dir, threads) for plan in todo]
                    for future in as_completed(futures):
                        outcomes.append(future.result())
                        progress.update(outcomes[-1])
                except BaseException:
                    _stop_workers(pool, runs_dir)
                    raise
    finally:
        progress.close()
    return outcomes


def run_study(spec: StudySpec, store: str, runs_dir: str = "runs", workers: int | None = None,
              executor: str = "local", address: str | None = None, max_retries: int = 3,
              gpus_per_run: float = 0.0) -> StudySummary:
    """Train and campaign every run of ``spec``; idempotent (re-running a finished study does no work)
    and resumable (an interrupted one finishes only what is missing).

    ``executor="local"`` uses ``workers`` processes here (default 1); ``"ray"`` makes each run a Ray task,
    on a local instance of ``workers`` CPUs (default all) or on the cluster at ``address``, retried up
    to ``max_retries`` times when its worker dies, each task reserving ``gpus_per_run`` GPUs (see
    ``ray_executor``)."""
    journal = store_journal(executor, address)
    t0 = time.perf_counter()
    check_where(executor, address, runs_dir)  # before anything is written
    plans = expand(spec)
    with ResultsStore(store, journal) as s:  # fails early on a bad store path; creates the schema once
        check_against_store(spec, plans, s)  # before anything trains: no stored run's numbers may change
        s.record_study(spec.name, study_record(spec))  # the spec this sweep runs, for stats and the report
        todo = [p for p in plans if not is_complete(s, p, spec)]
    outcomes = execute_plans(todo, spec, store, runs_dir, workers, executor, address, max_retries, gpus_per_run,
                             journal)
    return StudySummary(len(plans), sum(o.trained for o in outcomes), sum(o.new_trials for o in outcomes),
                        time.perf_counter() - t0, outcomes)
