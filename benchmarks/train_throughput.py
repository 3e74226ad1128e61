"""Training throughput (images/s): Lightning ``Classifier`` vs a plain PyTorch loop over the same
network, optimizer and batches, channels_last on and off. Goal: Lightning >= 0.9x the plain loop.

    python benchmarks/train_throughput.py [--steps 20] [--repeats 3] [--models resnet20,mini_mobilenet]
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import lightning as L
import torch
import torch.nn.functional as F
from _common import header, mean_std, print_table, save

from faultlab.data import Synthetic
from faultlab.training import Classifier

MODELS = {  # name -> (input shape, arch kwargs, batch size)
    "resnet20": ((3, 32, 32), {}, 128),
    "mobilenetv2_cifar": ((3, 32, 32), {}, 32),
    "mini_mobilenet": ((1, 28, 28), {"blocks": [[8, 1, 6]] * 3}, 128),
}
WARMUP = 3


class _Clock(L.Callback):
    """Wall time from the end of the warm-up batches to the end of training."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == WARMUP:
            self.t0 = time.perf_counter()

    def on_train_end(self, trainer, pl_module):
        self.seconds = time.perf_counter() - self.t0


def _model(name: str, channels_last: bool) -> Classifier:
    shape, kw, _ = MODELS[name]
    torch.manual_seed(0)
    return Classifier(arch=name, arch_kwargs=kw, num_classes=10, input_shape=shape,
                      optimizer=partial(torch.optim.SGD, lr=0.05, momentum=0.9),
                      channels_last=channels_last)


def _data(name: str, steps: int) -> Synthetic:
    shape, _, bs = MODELS[name]
    return Synthetic(input_shape=shape, n_train=bs * (steps + WARMUP), n_test=bs, batch_size=bs)


def lightning_rate(name: str, steps: int, channels_last: bool) -> float:
    model, dm = _model(name, channels_last), _data(name, steps)
    clock = _Clock()
    trainer = L.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
                        callbacks=[clock])
    trainer.fit(model, dm)
    return MODELS[name][2] * steps / clock.seconds


def plain_rate(name: str, steps: int, channels_last: bool) -> float:
    model, dm = _model(name, channels_last), _data(name, steps)
    opt = model.configure_optimizers()
    model.train()
    t0 = 0.0
    for i, (x, y) in enumerate(dm.train_dataloader()):
        if i == WARMUP:
            t0 = time.perf_counter()
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        loss = F.cross_entropy(model.net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return MODELS[name][2] * steps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--models", default=",".join(MODELS))
    args = ap.parse_args()
    print(header())
    rows = []
    for name in args.models.split(","):
        steps = args.steps if name != "mobilenetv2_cifar" else max(4, args.steps // 4)
        for cl in (False, True):
            plain, light = [], []
            for _ in range(args.repeats):  # interleaved, so drift hits both alike
                plain.append(plain_rate(name, steps, cl))
                light.append(lightning_rate(name, steps, cl))
            (pm, ps), (lm, ls) = mean_std(plain), mean_std(light)
            rows.append({"model": name, "channels_last": cl, "batch": MODELS[name][2], "steps": steps,
                         "plain img/s": f"{pm:.0f} +- {ps:.0f}", "lightning img/s": f"{lm:.0f} +- {ls:.0f}",
                         "lightning/plain": f"{lm / pm:.2f}", "_plain": pm, "_lightning": lm})
    for name in args.models.split(","):
        off, on = (next(r for r in rows if r["model"] == name and r["channels_last"] is v) for v in (False, True))
        on["channels_last gain"] = f"{on['_lightning'] / off['_lightning']:.2f}x"
    cols = ["model", "channels_last", "batch", "steps", "plain img/s", "lightning img/s", "lightning/plain",
            "channels_last gain"]
    table = print_table(rows, cols)
    print(f"saved {save('train_throughput', vars(args), rows, table)}")


if __name__ == "__main__":
    main()
