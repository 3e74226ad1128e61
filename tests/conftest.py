import os

# Under pytest-xdist (``make test`` runs one worker per core) every worker, and every process a test starts,
# computes on one thread: two workers of two threads each on two cores stall each other in OpenMP's barriers
# (measured on a shared 2-core machine: a 3 s test took 35 s). Set before torch is imported, so it holds for
# torch's own pool and for the child processes that inherit this environment.
UNDER_XDIST = "PYTEST_XDIST_WORKER" in os.environ
if UNDER_XDIST:
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"

import lightning  # noqa: E402, F401  (imported here, its log handler writes to the real stderr, not a test's capsys)
import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1 if UNDER_XDIST else min(2, os.cpu_count() or 1))


@pytest.fixture(autouse=True)
def _quiet_lightning(monkeypatch):
    monkeypatch.setenv("PYTHONWARNINGS", "ignore")
