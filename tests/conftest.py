import os

import lightning  # noqa: F401  (imported here, its log handler writes to the real stderr, not a test's capsys)
import pytest
import torch

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(autouse=True)
def _quiet_lightning(monkeypatch):
    monkeypatch.setenv("PYTHONWARNINGS", "ignore")
