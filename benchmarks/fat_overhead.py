"""Fault-aware training overhead: epoch time of each method vs vanilla training of the same network on
the same synthetic batches, repeats interleaved (method order rotated) so machine drift hits all alike.
Goal: dropconnect, stuck_at, aconnect (one mask per batch), mat, random_level_noise <= 1.15x vanilla;
aconnect with a mask pool (per sample: pool = batch size) and hw_transform are reported as measured.

    python benchmarks/fat_overhead.py [--steps 20] [--repeats 2] [--models resnet20,mini_mobilenet] [--threads 1]

Each cell is the median step time of one run; mean +- std over the repeats.
"""

from __future__ import annotations

import argparse
import statistics
import time
from functools import partial

import lightning as L
import torch
from _common import header, mean_std, print_table, save

from faultlab.data import Synthetic
from faultlab.training import MAT, AConnect, Classifier, DropConnect, HWTransform, RandomLevelNoise, StuckAt

MODELS = {  # name -> (input shape, arch kwargs, batch size)
    "resnet20": ((3, 32, 32), {}, 128),
    "mini_mobilenet": ((1, 28, 28), {"blocks": [[8, 1, 6]] * 3}, 128),
}
METHODS: dict[str, tuple[type, dict] | None] = {  # label -> (method class, its arguments); None: vanilla
    "vanilla": None,
    "dropconnect": (DropConnect, {"p": 0.3}),
    "stuck_at": (StuckAt, {"sa0": 0.01, "sa1": 0.01}),
    "aconnect": (AConnect, {"sigma": 0.3}),
    "mat": (MAT, {"sigma": 0.2, "clip_w": 2.5}),
    "random_level_noise": (RandomLevelNoise, {"levels": [0.1, 0.15, 0.2, 0.25, 0.3]}),
    "hw_transform": (HWTransform, {}),
    "aconnect pool=8": (AConnect, {"sigma": 0.3, "pool": 8}),
    "aconnect per-sample": (AConnect, {"sigma": 0.3, "pool": -1}),
}
GOAL = 1.15
GOAL_METHODS = ("dropconnect", "stuck_at", "aconnect", "mat", "random_level_noise")
WARMUP = 2
SLOW_STEPS_DIVISOR = 10  # per-sample aconnect runs a forward pass per sample: time fewer steps


class _Clock(L.Callback):
    """Median wall time of a training step (forward, backward, optimizer step, hooks) after warm-up:
    the median, not the total, so a stall caused by another process on a shared machine is ignored."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.t0 = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if batch_idx >= WARMUP:
            self.seconds.append(time.perf_counter() - self.t0)

    @property
    def per_step(self) -> float:
        return statistics.median(self.seconds)


def step_seconds(name: str, label: str, steps: int) -> float:
    shape, kw, bs = MODELS[name]
    method = METHODS[label]
    if method is not None and method[1].get("pool") == -1:
        method = (method[0], {**method[1], "pool": bs})
    torch.manual_seed(0)
    model = Classifier(arch=name, arch_kwargs=kw, num_classes=10, input_shape=shape,
                      optimizer=partial(torch.optim.SGD, lr=0.05, momentum=0.9),
                       fault_aware=method[0](**method[1]) if method else None, train_seed=0)
    dm = Synthetic(input_shape=shape, n_train=bs * (steps + WARMUP), n_test=bs, batch_size=bs)
    clock = _Clock()
    trainer = L.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
                        callbacks=[clock])
    trainer.fit(model, dm)
    return clock.per_step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(header())
    labels = args.methods.split(",")
    rows = []
    for name in args.models.split(","):
        times: dict[str, list[float]] = {label: [] for label in labels}
        for r in range(args.repeats):
            for label in labels[r % len(labels):] + labels[: r % len(labels)]:  # rotated order per repeat
                slow = "per-sample" in label
                steps = max(WARMUP + 1, args.steps // SLOW_STEPS_DIVISOR) if slow else args.steps
                times[label].append(step_seconds(name, label, steps))
        base = statistics.fmean(times["vanilla"])
        for label in labels:
            m, s = mean_std(times[label])
            ratio = m / base
            goal = ("yes" if ratio <= GOAL else "NO") if label in GOAL_METHODS else "-"
            rows.append({"model": name, "method": label, "batch": MODELS[name][2],
                         "ms/step": f"{1e3 * m:.0f} +- {1e3 * s:.0f}", "x vanilla": f"{ratio:.2f}",
                         f"<= {GOAL}x": goal, "_seconds": times[label]})
    table = print_table(rows, ["model", "method", "batch", "ms/step", "x vanilla", f"<= {GOAL}x"])
    print(f"saved {save('fat_overhead', vars(args), rows, table)}")


if __name__ == "__main__":
    main()
