"""Per-layer sensitivity sweeps: prefix caching (clean activations upstream of the faulted layer computed
once per test batch, only the downstream graph re-run per trial) vs full passes, same model, data,
fault model, layers and trials, the two modes alternating in one process.

    python benchmarks/per_layer_throughput.py [--trials 4] [--repeats 2] [--models resnet20,mini_mobilenet]

Reports the wall time of the whole per-layer campaign (cache building included), the per-layer ratio of
seconds per trial, and its mean over layers.
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
from faultlab.campaign.evaluation import evaluate
from faultlab.runtime import tune_allocator
from faultlab.store import ResultsStore

FAULT = "drop(p={rate})"
RATE = 0.1
N_EVAL = 1000
SHAPES = {"resnet20": (3, 32, 32), "mini_mobilenet": (1, 28, 28), "mobilenetv2_cifar": (3, 32, 32)}


def _setup(name: str):
    torch.manual_seed(0)
    net = architectures.build_for_input(name, 10, SHAPES[name]).eval().to(memory_format=torch.channels_last)
    x = torch.randn(N_EVAL, *SHAPES[name]).contiguous(memory_format=torch.channels_last)
    return net, x, torch.randint(0, 10, (N_EVAL,))


def sweep(net, x, y, trials: int, cache: bool, folder: Path) -> tuple[float, dict[str, float]]:
    """Wall seconds of one per-layer campaign (minus its clean evaluation) and seconds per trial by layer."""
    spec = CampaignSpec(FAULT, [RATE], trials=trials, per_layer=True, prefix_cache=cache, trials_per_pass=1)
    t_clean = time.perf_counter()
    evaluate(net, x, y)
    t_clean = time.perf_counter() - t_clean
    with ResultsStore(folder / f"{cache}-{time.monotonic_ns()}.sqlite") as store:
        t0 = time.perf_counter()
        run_campaign(net, x, y, spec, store, RunInfo("bench"), progress="off")
        wall = time.perf_counter() - t0 - t_clean
        per_layer = store.to_frame().groupby("layer", sort=False)["seconds"].mean().to_dict()
    return wall, per_layer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--models", default="resnet20,mini_mobilenet")
    args = ap.parse_args()
    tune_allocator()
    print(header())
    rows, detail = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            net, x, y = _setup(name)
            walls = {True: [], False: []}
            per_layer = {True: [], False: []}
            for r in range(args.repeats):
                for cache in ((False, True) if r % 2 == 0 else (True, False)):
                    wall, layers = sweep(net, x, y, args.trials, cache, Path(tmp))
                    walls[cache].append(wall)
                    per_layer[cache].append(layers)
            mean = {c: {k: statistics.fmean(d[k] for d in per_layer[c]) for k in per_layer[c][0]} for c in walls}
            ratios = {k: mean[False][k] / mean[True][k] for k in mean[True]}
            detail[name] = {k: round(v, 2) for k, v in ratios.items()}
            full, cached = statistics.fmean(walls[False]), statistics.fmean(walls[True])
            rows.append({
                "model": name, "layers": len(ratios), "trials/layer": args.trials,
                "full s": f"{full:.1f}", "cached s": f"{cached:.1f}", "wall ratio": f"{full / cached:.2f}x",
                "mean layer ratio": f"{statistics.fmean(ratios.values()):.2f}x",
                "min..max": f"{min(ratios.values()):.2f}..{max(ratios.values()):.2f}x",
            })
    table = print_table(rows, list(rows[0]))
    for name, ratios in detail.items():
        print(f"{name} per-layer ratio (full / cached s per trial): {ratios}")
    path = save("per_layer_throughput", {**vars(args), "fault": FAULT, "rate": RATE, "n_eval": N_EVAL,
                                         "per_layer_ratio": detail}, rows, table)
    print(f"saved {path}")


if __name__ == "__main__":
    main()
