"""Writes old_store.sqlite with the code of commit f96a323 (schema 0001-0003: checkpoint_hash held a config
hash for sweep runs), for tests/test_run_identity.py. Run it against that code, e.g.

    mkdir /tmp/base && git archive f96a323 | tar -x -C /tmp/base
    cd tests/data/old_store && PYTHONPATH=/tmp/base python make_old_store.py

It sweeps study.yaml (study 'oldtiny') and stores a faultlab.run campaign of a small network in study 'own'.
"""

import sqlite3
import tempfile
from pathlib import Path

import torch
from torch import nn

import faultlab
from faultlab.cli import main

HERE = Path(__file__).resolve().parent
STORE = HERE / "old_store.sqlite"

STORE.unlink(missing_ok=True)
with tempfile.TemporaryDirectory() as runs:
    main(["sweep", str(HERE / "study.yaml"), "--store", str(STORE), "--runs-dir", runs])
torch.manual_seed(0)
net = nn.Sequential(nn.Flatten(), nn.Linear(64, 4))
g = torch.Generator().manual_seed(0)
x, y = torch.randn(16, 1, 8, 8, generator=g), torch.randint(0, 4, (16,), generator=g)
faultlab.run(net, (x, y), fault="drop(p={rate})", rates=[0.2], trials=2, study="own", store=STORE)
conn = sqlite3.connect(STORE)  # one self-contained file: no -wal beside it
conn.execute("PRAGMA journal_mode=DELETE")
conn.execute("VACUUM")
conn.close()
