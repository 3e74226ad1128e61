"""Cost of one MSNAT round (K clients, one epoch each, then the fusion) against one vanilla epoch and one epoch of
the per-step multi-noise method, on the AnalogAI study's data and networks (MNIST-5k, MLP 784-128-10 and LeNet-5,
batch 256, Adam), fits interleaved so machine drift hits all alike. Expected: about K x vanilla.

    python benchmarks/msnat_round.py [--epochs 3] [--repeats 2] [--threads 1] [--models mlp,lenet5]

A cell is the median seconds of the rounds (epochs) after the first of each fit, from one epoch's start to the
next (so the fusion at the epoch's end is inside); mean +- std over the repeats. Validation is off.
"""

from __future__ import annotations

import argparse
import statistics
import time

import lightning as L
import torch
from _common import header, mean_std, print_table, save

from faultlab.data import MNIST5k
from faultlab.training import MSNAT, Classifier, RandomLevelNoise

LEVELS = [0.1, 0.15, 0.2, 0.25, 0.3]
FAULT = "gaussian_add(sigma={rate},slices=4)"
MODELS = {"mlp": {"arch": "mlp", "arch_kwargs": {"hidden": [128]}}, "lenet5": {"arch": "lenet5"}}
METHODS = {"vanilla": lambda: None,
           "random_level_noise": lambda: RandomLevelNoise(levels=LEVELS, fault=FAULT),
           "msnat": lambda: MSNAT(levels=LEVELS, fault=FAULT)}


class _Rounds(L.Callback):
    """Seconds from each epoch's start to the next one's (the last: to the end of training)."""

    def __init__(self) -> None:
        self.starts: list[float] = []
        self.end = 0.0

    def on_train_epoch_start(self, trainer, pl_module):
        self.starts.append(time.perf_counter())

    def on_train_end(self, trainer, pl_module):
        self.end = time.perf_counter()

    @property
    def seconds(self) -> list[float]:
        marks = [*self.starts, self.end]
        return [b - a for a, b in zip(marks, marks[1:])]


def round_seconds(model: str, method: str, data: MNIST5k, epochs: int) -> float:
    L.seed_everything(0, verbose=False)
    classifier = Classifier(**MODELS[model], num_classes=10, input_shape=(1, 28, 28), fault_aware=METHODS[method](),
                            train_seed=0)
    clock = _Rounds()
    L.Trainer(max_epochs=epochs, accelerator="cpu", logger=False, enable_checkpointing=False,
              enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
              callbacks=[clock]).fit(classifier, data)
    return statistics.median(clock.seconds[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs (rounds) per fit; the first is warm-up")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--models", default="mlp,lenet5")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = MNIST5k(batch_size=256)
    data.setup()
    models = args.models.split(",")
    seconds: dict[tuple[str, str], list[float]] = {(m, k): [] for m in models for k in METHODS}
    for repeat in range(args.repeats):
        for model in models:
            order = list(METHODS)[repeat % len(METHODS):] + list(METHODS)[:repeat % len(METHODS)]
            for method in order:
                seconds[model, method].append(round_seconds(model, method, data, args.epochs))
    rows = []
    for model in models:
        vanilla = statistics.fmean(seconds[model, "vanilla"])
        for method in METHODS:
            mean, std = mean_std(seconds[model, method])
            rows.append({"model": model, "method": method, "s/epoch (round)": f"{mean:.3f} +- {std:.3f}",
                         "x vanilla": f"{mean / vanilla:.2f}", "K": len(LEVELS) if method == "msnat" else ""})
    print(header())
    table = print_table(rows, ["model", "method", "s/epoch (round)", "x vanilla", "K"])
    print(f"saved {save('msnat_round', vars(args), rows, table)}")


if __name__ == "__main__":
    main()
