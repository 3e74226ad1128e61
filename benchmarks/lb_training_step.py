"""Training step of the linear-bottleneck study's members (experiments/linear_bottleneck.yaml) and of the bottleneck
ablation's (issue 25) on 1-channel 28x28 digits: seconds per step (batch 32, as the studies train; --batch) per
member, vanilla and DropConnect p = 0.3, the projected seconds per epoch of mnist5k (3,600 training digits: the
measured step times 3,600 / batch; validation and Lightning's own overhead are not included), and where the time
of the slowest member's step goes (torch.profiler, by operator: forward convs, their backward, BatchNorm, the
optimizer, the DropConnect masks).

    python benchmarks/lb_training_step.py [--threads 1] [--batch 32] [--steps 8] [--members mini12,resnet20]
    nice python benchmarks/lb_training_step.py --set ablation --steps 4 --no-profile     # a few minutes

``--set ablation``: every ablation variant of the mini-MobileNet at n = 1, 2, 4, 8 (``-noshortcut``,
``-relu6proj``, ``-dense``, ``-expandconv``), plain_cnn with and without its shortcut, ResNet20 and
ResNet20-lb1; saved as results/lb_ablation_step.json.
"""

from __future__ import annotations

import argparse
import os
import time
from functools import partial

import torch
import torch.nn.functional as F
from _common import header, print_table, save

from faultlab.runtime import tune_allocator
from faultlab.training import Classifier, DropConnect, FaultAwareMethod

RESNETS = {
    "resnet20": ("resnet20", {}),
    "resnet20-lb1": ("resnet20", {"bottlenecks": ["s2b3c2e6"]}),
}
MEMBERS = {  # label -> (arch, kwargs)
    **{f"mini{n}": ("mini_mobilenet_n", {"n": n}) for n in (1, 2, 3, 4, 6, 8, 12)},
    **{f"plain{n}": ("plain_cnn", {"n": n}) for n in (1, 2, 3, 4, 6, 8, 12)},
    **RESNETS,
    "resnet20-lb3": ("resnet20", {"bottlenecks": ["s1b2c1e6", "s2b2c1e6", "s3b1c2e6"]}),
    "mnv2": ("mobilenetv2_cifar", {"width": 0.35}),
}
ABLATIONS = {  # suffix -> the mini_mobilenet_n options that switch one component off (architectures/blocks.py)
    "": {}, "-noshortcut": {"shortcut": False}, "-relu6proj": {"projection": "relu6"}, "-dense": {"depthwise": False},
    "-expandconv": {"expansion": 1, "expand_conv": True},
}
ABLATION_MEMBERS = {
    **{f"mini{n}{suffix}": ("mini_mobilenet_n", {"n": n, **kw}) for n in (1, 2, 4, 8)
       for suffix, kw in ABLATIONS.items()},
    **{f"plain{n}{suffix}": ("plain_cnn", {"n": n, **kw}) for n in (1, 2, 4, 8)
       for suffix, kw in (("", {}), ("-shortcut", {"shortcut": True}))},
    **RESNETS,
}
SETS = {"linear_bottleneck": ("lb_training_step", MEMBERS), "ablation": ("lb_ablation_step", ABLATION_MEMBERS)}
TRAIN_DIGITS = 3600  # mnist5k: 4,000 training digits less the 10 % validation split
DROPCONNECT = DropConnect(p=0.3)


def _model(arch: str, kwargs: dict, fault_aware: FaultAwareMethod | None) -> Classifier:
    torch.manual_seed(0)
    return Classifier(arch=arch, arch_kwargs=kwargs, num_classes=10, input_shape=(1, 28, 28),
                      optimizer=partial(torch.optim.Adam, lr=0.003),
                      fault_aware=fault_aware, train_seed=0)


def _step(model: Classifier, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, i: int) -> None:
    """One step as Lightning runs it: the module's training_step (DropConnect masks included), backward, Adam."""
    opt.zero_grad(set_to_none=True)
    loss = model.fault_aware_loss(model._prep(x), y, i) if model.perturbing else F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()


def seconds_per_step(arch: str, kwargs: dict, fault_aware: FaultAwareMethod | None, steps: int, batch: int) -> float:
    model = _model(arch, kwargs, fault_aware).train()
    opt = torch.optim.Adam(model.parameters(), lr=0.003)
    x, y = torch.randn(batch, 1, 28, 28), torch.randint(0, 10, (batch,))
    for i in range(2):  # warm-up
        _step(model, opt, x, y, i)
    t0 = time.perf_counter()
    for i in range(steps):
        _step(model, opt, x, y, i)
    return (time.perf_counter() - t0) / steps


def profile(arch: str, kwargs: dict, fault_aware: FaultAwareMethod | None, batch: int, steps: int = 4) -> list[dict]:
    """Self CPU time per operator over ``steps`` steps, largest first (top 12)."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    model = _model(arch, kwargs, fault_aware).train()
    opt = torch.optim.Adam(model.parameters(), lr=0.003)
    x, y = torch.randn(batch, 1, 28, 28), torch.randint(0, 10, (batch,))
    _step(model, opt, x, y, 0)
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        for i in range(steps):
            _step(model, opt, x, y, i)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    return [{"operator": e.key, "share": f"{100 * e.self_cpu_time_total / total:.1f} %",
             "ms/step": f"{e.self_cpu_time_total / 1000 / steps:.1f}"} for e in events[:12]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="torch threads (a sweep with --workers 2 on 2 cores: 1)")
    ap.add_argument("--batch", type=int, default=32, help="training batch (experiments/linear_bottleneck.yaml: 32)")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--set", choices=sorted(SETS), default="linear_bottleneck", help="which study's members")
    ap.add_argument("--members", help="comma-separated labels of the set (default: all of them)")
    ap.add_argument("--no-profile", action="store_true")
    args = ap.parse_args()
    result_name, members = SETS[args.set]
    tune_allocator()
    torch.set_num_threads(args.threads)
    print(header())
    load_before, t_start = os.getloadavg()[0], time.perf_counter()
    rows = []
    for label in args.members.split(",") if args.members else members:
        arch, kw = members[label]
        net = _model(arch, kw, None)
        params = sum(p.numel() for p in net.parameters())
        row = {"member": label, "variant": net.variant, "params": f"{params:,}"}
        for name, fa in (("vanilla", None), ("dropconnect", DROPCONNECT)):
            s = seconds_per_step(arch, kw, fa, args.steps, args.batch)
            row[f"{name} ms/step"] = f"{1000 * s:.0f}"
            row[f"{name} s/epoch"] = f"{s * TRAIN_DIGITS / args.batch:.1f}"
        rows.append(row)
    table = print_table(rows, list(rows[0]))
    slowest = max(rows, key=lambda r: float(r["dropconnect ms/step"]))
    config = {"set": args.set, "threads": args.threads, "steps": args.steps, "batch": args.batch,
              "slowest": slowest["member"], "load_1min_before": load_before, "load_1min_after": os.getloadavg()[0],
              "wall_s": round(time.perf_counter() - t_start, 1)}
    print(f"\n{config}")
    if not args.no_profile:
        arch, kw = members[slowest["member"]]
        for name, fa in (("vanilla", None), ("dropconnect", DROPCONNECT)):
            print(f"\nwhere the time of a {slowest['member']} {name} step goes (self CPU time, top 12):")
            prof = profile(arch, kw, fa, args.batch)
            table += f"\n\n{slowest['member']} {name}\n" + print_table(prof, ["operator", "share", "ms/step"])
    print("saved", save(result_name, config, rows, table))


if __name__ == "__main__":
    main()
