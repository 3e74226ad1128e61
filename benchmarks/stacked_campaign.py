"""Stacked fault maps per pass (``vmap`` over K weight sets) vs one map per pass, same device, model,
data, fault model and trials, the two modes alternating in one process. On a GPU the stacked mode
uses K chosen from free memory (as campaigns do); on the CPU it shows why conv nets use one map.

    python benchmarks/stacked_campaign.py [--device cuda] [--trials 64] [--k auto|N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from _common import header, print_table, save

import architectures
from faultlab.campaign import CampaignSpec, RunInfo, run_campaign
from faultlab.campaign.engine import STACK_BUDGET_BYTES
from faultlab.campaign.evaluation import auto_trials_per_pass
from faultlab.selector import LayerSelector
from faultlab.store import ResultsStore

FAULT = "drop(p={rate})"
RATE = 0.1
N_EVAL = 1000
SHAPES = {"resnet20": (3, 32, 32), "mini_mobilenet": (1, 28, 28)}


def seconds_per_trial(net, x, y, trials: int, per_pass: int, folder: Path) -> float:
    spec = CampaignSpec(FAULT, [RATE], trials=trials, trials_per_pass=per_pass)
    with ResultsStore(folder / f"{per_pass}-{time.monotonic_ns()}.sqlite") as store:
        run_campaign(net, x, y, spec, store, RunInfo("bench"), progress="off")
        return float(store.to_frame()["seconds"].sum()) / trials


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--trials", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--k", default="auto", help="maps per pass in the stacked mode (default: as campaigns choose)")
    args = ap.parse_args()
    device = torch.device(args.device)
    print(header(), f"| benchmark device: {device}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, shape in SHAPES.items():
            torch.manual_seed(0)
            net = architectures.build_for_input(name, 10, shape).eval().to(device)
            x, y = torch.randn(N_EVAL, *shape, device=device), torch.randint(0, 10, (N_EVAL,), device=device)
            n_weights = sum(m.weight.numel() for n, m in net.named_modules() if n in LayerSelector().select(net))
            k = auto_trials_per_pass(net, device, n_weights, STACK_BUDGET_BYTES, x) if args.k == "auto" else int(args.k)
            k = max(k, 2)
            times = {1: [], k: []}
            for r in range(args.repeats):
                for per_pass in ((1, k) if r % 2 == 0 else (k, 1)):
                    times[per_pass].append(seconds_per_trial(net, x, y, args.trials, per_pass, Path(tmp)))
            one, stacked = statistics.fmean(times[1]), statistics.fmean(times[k])
            rows.append({"model": name, "device": str(device), "K": k, "one map s/trial": f"{one:.4f}",
                         "stacked s/trial": f"{stacked:.4f}", "trials/s one": f"{1 / one:.1f}",
                         "trials/s stacked": f"{1 / stacked:.1f}", "ratio": f"{one / stacked:.2f}x"})
    table = print_table(rows, list(rows[0]))
    print(f"saved {save(f'stacked_campaign_{device.type}', {**vars(args), 'fault': FAULT, 'rate': RATE}, rows, table)}")


if __name__ == "__main__":
    main()
