"""Running a study's runs as Ray tasks, one task per run (train unless cached, then its campaigns), on a
local Ray instance or an existing cluster (``ray start``, or Ray's SLURM recipe).

Ray does the scheduling, placement and retries; faultlab adds nothing but the task. Correctness under
failures comes from ``execute`` itself: the checkpoint is written atomically and every trial row is one
short SQLite transaction, unique on the trial's identity (run, fault, rate, trial, layer, ...), so a task
retried after its worker died, or a re-run of the whole study, finishes only what is missing and never
duplicates a row. On a cluster the store's journal is SQLite's rollback journal (``delete``), which
needs only the shared filesystem's POSIX locks; WAL needs shared memory on one machine.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
from collections.abc import Callable

from faultlab import FaultlabError
from faultlab.store.store import JOURNAL_ENV

from .execute import RunOutcome, execute
from .grid import RunPlan
from .spec import StudySpec

MISSING_RAY = "the ray executor needs Ray: pip install 'faultlab[ray]'"


CONNECT_TIMEOUT_S = 10.0
POLL_S = 0.2
CANCEL_WAIT_S = 30.0  # how long an interrupted sweep waits for Ray to confirm its tasks are stopped


def check_address(address: str) -> None:
    """Fail fast, in one line, when nothing listens at a ``HOST:PORT`` (or ``ray://HOST:PORT``) address:
    Ray itself keeps retrying for minutes. ``auto`` is left to Ray. ``run_study`` calls it before it writes
    anything."""
    target = address.removeprefix("ray://")
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as err:
        raise FaultlabError(f"--address {address}: nothing answers there ({err.strerror or err}); start the "
                            "head node with `ray start --head` or give its address (or --address auto)") from None


def _connect(ray, address: str | None, cpus: int | None) -> bool:
    """Reuse a Ray already initialised in this process, else start a private local instance (``address``
    None: even when a ``ray start`` cluster runs here, so ``cpus`` holds) or join a cluster ("auto": the
    one in $RAY_ADDRESS or started here with ``ray start``; or "HOST:PORT"). True if this call connected."""
    if ray.is_initialized():
        return False
    if address is None:
        ray.init(address="local", num_cpus=cpus or os.cpu_count() or 1)
        return True
    try:
        ray.init(address=address)
    except (ConnectionError, ValueError) as err:
        raise FaultlabError(f"--address {address}: {err}") from None
    return True


@contextlib.contextmanager
def ray_session(address: str | None = None, cpus: int | None = None):
    """Ray connected for several batches of tasks (the stages of a sequential sweep): ``run_on_ray`` inside reuses
    it; shut down on leaving if this call started it."""
    try:
        import ray
    except ImportError:
        raise FaultlabError(MISSING_RAY) from None
    on_sigterm = signal.getsignal(signal.SIGTERM)
    started = _connect(ray, address, cpus)
    if threading.current_thread() is threading.main_thread() and on_sigterm is not None:
        signal.signal(signal.SIGTERM, on_sigterm)  # ray.init installs sys.exit; the command stops its tasks first
    try:
        yield
    finally:
        if started:
            ray.shutdown()


def run_on_ray(todo: list[RunPlan], spec: StudySpec, store: str, runs_dir: str,
               on_done: Callable[[RunOutcome], None], *, address: str | None = None, cpus: int | None = None,
               task_cpus: int = 1, max_retries: int = 3, journal: str | None = None,
               task_gpus: float = 0.0) -> list[RunOutcome]:
    """Run ``execute`` for every plan as a Ray task and return the outcomes in finishing order.

    ``cpus`` sizes a local instance (ignored on a cluster); ``task_cpus`` is what each task reserves and
    the torch threads it uses; ``task_gpus`` the GPUs it reserves (Ray then sets its CUDA_VISIBLE_DEVICES,
    so tasks on one node use different GPUs; a fraction shares one); ``max_retries`` is Ray's retry of a
    task whose worker or node died (a Python exception in the task is not retried); ``journal``: the
    store's journal mode on the workers (``FAULTLAB_STORE_JOURNAL``). Runs still failed at the end raise,
    after every other run finished and stored its rows: re-running the study then completes them.
    """
    try:
        import ray
    except ImportError:
        raise FaultlabError(MISSING_RAY) from None
    if not todo:
        return []
    # workers may have another working directory (another node): ship absolute paths
    store, runs_dir = os.path.abspath(store), os.path.abspath(runs_dir)
    on_sigterm = signal.getsignal(signal.SIGTERM)
    started = _connect(ray, address, cpus)
    if threading.current_thread() is threading.main_thread() and on_sigterm is not None:
        signal.signal(signal.SIGTERM, on_sigterm)  # ray.init installs sys.exit; the command stops its tasks first
    try:
        _check_gpus(ray, task_gpus)
        task = ray.remote(execute)
        spec_ref = ray.put(spec)
        env = {"env_vars": {JOURNAL_ENV: journal}} if journal else None
        options = {"num_cpus": task_cpus, "num_gpus": task_gpus, "max_retries": max_retries, "runtime_env": env}
        pending = {task.options(name=f"faultlab {plan.describe()}", **options).remote(
                       plan, spec_ref, store, runs_dir, task_cpus): plan for plan in todo}
        outcomes: list[RunOutcome] = []
        failed: list[tuple[RunPlan, Exception]] = []
        waiting = list(pending)
        try:
            while waiting:
                ready, waiting = ray.wait(waiting, num_returns=1, timeout=POLL_S)  # Ctrl-C is seen between polls
                if not ready:
                    continue
                try:
                    outcomes.append(ray.get(ready[0]))
                except ray.exceptions.RayError as err:  # the task raised, or its worker died max_retries + 1 times
                    failed.append((pending[ready[0]], err))
                    continue
                on_done(outcomes[-1])
        except BaseException:  # Ctrl-C, SIGTERM, a FaultlabError of on_done: stop every task still running
            _cancel(ray, waiting)
            raise
    finally:
        if started:
            ray.shutdown()
    if failed:
        _raise(failed, len(todo), ray)
    return outcomes


def _cancel(ray, refs: list, wait_s: float = CANCEL_WAIT_S) -> None:
    """Kill the workers of ``refs`` (``force=True``: a running task is stopped, its store transaction rolls
    back) and wait up to ``wait_s`` until Ray reports them gone, so that nothing is written afterwards."""
    from .runner import uninterrupted

    with uninterrupted():
        for ref in refs:
            with contextlib.suppress(Exception):  # a task that just finished cannot be cancelled
                ray.cancel(ref, force=True)
        if refs:
            ray.wait(refs, num_returns=len(refs), timeout=wait_s)


def _check_gpus(ray, task_gpus: float) -> None:
    """A task asking for more GPUs than any node has would wait forever: say so in one line instead."""
    if task_gpus <= 0:
        return
    largest = max((n["Resources"].get("GPU", 0.0) for n in ray.nodes() if n.get("Alive")), default=0.0)
    if largest < task_gpus:
        raise FaultlabError(f"--gpus-per-run {task_gpus:g}: no node of the Ray cluster has that many GPUs "
                            f"(largest: {largest:g}); lower it, or run without it to use the CPUs")


def _raise(failed: list[tuple[RunPlan, Exception]], total: int, ray) -> None:
    """A bug in the task keeps its exception (and remote traceback); lost workers become one line."""
    for _, err in failed:
        if isinstance(err, ray.exceptions.RayTaskError):
            raise err.cause if isinstance(err.cause, FaultlabError) else err
    names = ", ".join(plan.describe() for plan, _ in failed)
    first = str(failed[0][1]).strip().splitlines()[0]
    raise FaultlabError(f"{len(failed)} of {total} runs failed ({names}): {first}; their finished trials are "
                        "stored, run the same sweep again to complete them")
