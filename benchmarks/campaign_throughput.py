"""Campaign throughput (trials/s): faultlab's engine vs the deepcopy-per-trial baseline of the
reference study and pytorchfi (copy the model, mask the copy, evaluate), same model, data, fault
model and trial count. Also the injection overhead (draw + apply + restore) relative to one clean
evaluation, and for the small models where the stacked engine spends its time (keyed draws vs the vmapped
evaluation) next to one clean evaluation, the bound of any method that runs one pass per trial. Each
allocator setting runs in its own child process (mallopt is process-wide). The Python front door,
``faultlab.run(model, (x, y), ...)``, is timed beside the engine it calls, the same way (``--front-doors``:
only those rows).

    python benchmarks/campaign_throughput.py [--trials 10] [--quick] [--front-doors]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
import time

import torch
from _common import header, print_table, save

import architectures
import faultlab
from faultlab.campaign import CampaignSpec, RunInfo, run_campaign
from faultlab.campaign.evaluation import evaluate, evaluate_stacked
from faultlab.faults import parse_fault
from faultlab.injection import draw_stacks, inject, layer_weights, trial_seeds
from faultlab.selector import LayerSelector
from faultlab.store import ResultsStore

FAULT = "drop(p={rate})"
RATE = 0.1
N_EVAL = 1000
MODELS = {"resnet20": (3, 32, 32), "mlp": (784,), "moons_net": (2,)}


def _setup(name: str):
    torch.manual_seed(0)
    net = architectures.build(name).eval()
    x = torch.randn(N_EVAL, *MODELS[name])
    y = torch.randint(0, 2 if name == "moons_net" else 10, (N_EVAL,))
    return net, x, y


def baseline(net, x, y, trials: int) -> float:
    """deepcopy per trial, mask the copy's weights, evaluate: seconds per trial."""
    fault = parse_fault(FAULT, rate=RATE)
    layers = LayerSelector().select(net)
    t0 = time.perf_counter()
    for t in range(trials):
        m = copy.deepcopy(net)
        modules = dict(m.named_modules())
        g = torch.Generator().manual_seed(t)
        with torch.no_grad():
            for name in layers:
                w = modules[name].weight
                w.copy_(fault(w, g))
        evaluate(m, x, y)
    return (time.perf_counter() - t0) / trials


def engine(net, x, y, trials: int, per_pass: int | None, forward=None) -> float:
    """Seconds per trial of ``run_campaign`` (store writes included), from the difference of two
    campaigns of ``trials`` and ``2 * trials`` trials, so the once-per-campaign costs (clean evaluation,
    store set-up, first-call warm-up) cancel."""
    spent = []
    for n in (trials, 2 * trials):
        spec = CampaignSpec(FAULT, [RATE], trials=n, trials_per_pass=per_pass)
        with tempfile.TemporaryDirectory() as d, ResultsStore(os.path.join(d, "b.sqlite")) as store:
            t0 = time.perf_counter()
            run_campaign(net, x, y, spec, store, RunInfo("bench"), progress="off", forward=forward)
            spent.append(time.perf_counter() - t0)
    return (spent[1] - spent[0]) / trials


def front_door(net, x, y, trials: int, per_pass: int | None) -> float:
    """Seconds per trial of ``faultlab.run`` (its identity hash, data checks and frame included), from two
    calls of ``trials`` and ``2 * trials`` trials, exactly as ``engine`` measures the engine."""
    spent = []
    for n in (trials, 2 * trials):
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            faultlab.run(net, (x, y), FAULT, [RATE], trials=n, store=os.path.join(d, "b.sqlite"),
                         layers=LayerSelector(), trials_per_pass=per_pass)
            spent.append(time.perf_counter() - t0)
    return (spent[1] - spent[0]) / trials


def front_doors(trials: int) -> list[dict]:
    """The engine and ``faultlab.run`` side by side, alternating, best of three each."""
    rows = []
    for name, n, per_pass in (("resnet20", trials, 1), ("mlp", trials * 20, None)):
        net, x, y = _setup(name)
        evaluate(net, x, y)  # warm-up
        eng, api = [], []
        for _ in range(3):
            eng.append(engine(net, x, y, n, per_pass))
            api.append(front_door(net, x, y, n, per_pass))
        rows.append({"model": name, "variant": "engine (run_campaign)", "s/trial": min(eng)})
        rows.append({"model": name, "variant": "faultlab.run(model, (x, y), ...)", "s/trial": min(api),
                     "note": f"{min(api) / min(eng):.3f}x the engine"})
    return rows


def stacked_parts(net, x, y, k: int = 64, repeats: int = 5) -> tuple[float, float]:
    """Seconds per trial of the two halves of a stacked pass of ``k`` trials: the keyed draws (trial seeds,
    generators, ``draw_stacks``) and the vmapped evaluation (no store)."""
    fault = parse_fault(FAULT, rate=RATE)
    layers = LayerSelector().select(net)
    weights = layer_weights(net, layers)

    def draws():
        return draw_stacks(weights, fault, [trial_seeds(0, layers, FAULT, RATE, t) for t in range(k)])

    stacks = {f"{n}.weight": w for n, w in draws().items()}
    evaluate_stacked(net, stacks, x, y)
    t_draw = min(_seconds(draws) for _ in range(repeats)) / k
    t_eval = min(_seconds(lambda: evaluate_stacked(net, stacks, x, y)) for _ in range(repeats)) / k
    return t_draw, t_eval


def _seconds(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _clean_seconds(net, x, y, forward=None) -> float:
    t0 = time.perf_counter()
    evaluate(forward or net, x, y)
    return time.perf_counter() - t0


def injection_overhead(net, x, y, repeats: int = 10) -> tuple[float, float]:
    fault = parse_fault(FAULT, rate=RATE)
    layers = LayerSelector().select(net)
    t0 = time.perf_counter()
    for t in range(repeats):
        with inject(net, fault, layers, trial_seeds(0, layers, FAULT, RATE, t)):
            pass
    inj = (time.perf_counter() - t0) / repeats
    evaluate(net, x, y)
    clean = min(_clean_seconds(net, x, y) for _ in range(3))
    return inj, clean


def child(allocator: str, trials: int, quick: bool, only_front_doors: bool = False) -> list[dict]:
    if allocator == "tuned":
        from faultlab.runtime import tune_allocator

        assert tune_allocator()
    if only_front_doors:
        return [{**r, "allocator": allocator} for r in front_doors(trials)]
    rows = front_doors(trials)
    net, x, y = _setup("resnet20")
    evaluate(net, x, y)  # warm-up
    rows.append({"model": "resnet20", "variant": "deepcopy baseline", "s/trial": baseline(net, x, y, trials)})
    rows.append({"model": "resnet20", "variant": "engine", "s/trial": engine(net, x, y, trials, 1)})
    cl = net.to(memory_format=torch.channels_last)
    xcl = x.contiguous(memory_format=torch.channels_last)
    rows.append({"model": "resnet20", "variant": "engine + channels_last", "s/trial": engine(cl, xcl, y, trials, 1)})
    if not quick:
        compiled = torch.compile(cl)
        evaluate(compiled, xcl, y)  # compile outside the timing (about 20 s once)
        rows.append({"model": "resnet20", "variant": "engine + channels_last + compile",
                     "s/trial": engine(cl, xcl, y, trials, 1, forward=compiled)})
    inj, clean = injection_overhead(cl, xcl, y)
    rows.append({"model": "resnet20", "variant": "injection overhead (draw+apply+restore)", "s/trial": inj,
                 "note": f"{100 * inj / clean:.1f} % of one clean eval ({clean * 1000:.0f} ms)"})
    for name in ("mlp", "moons_net"):
        net, x, y = _setup(name)
        n = trials * 20
        rows.append({"model": name, "variant": "deepcopy baseline", "s/trial": baseline(net, x, y, n)})
        rows.append({"model": name, "variant": "engine, 1 map per pass", "s/trial": engine(net, x, y, n, 1)})
        rows.append({"model": name, "variant": "engine, stacked maps (auto)",
                     "s/trial": min(engine(net, x, y, n, None) for _ in range(3))})
        t_draw, t_eval = stacked_parts(net, x, y)
        rows.append({"model": name, "variant": "  of which: keyed draws of 64 maps", "s/trial": t_draw})
        rows.append({"model": name, "variant": "  of which: vmapped evaluation of 64 maps", "s/trial": t_eval})
        clean = min(_clean_seconds(net, x, y) for _ in range(10))
        rows.append({"model": name, "variant": "one clean evaluation (no fault, no copy)", "s/trial": clean,
                     "note": "bound of any one-pass-per-trial method"})
    for r in rows:
        r["allocator"] = allocator
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--quick", action="store_true", help="skip torch.compile")
    ap.add_argument("--front-doors", action="store_true", help="only the engine vs faultlab.run rows")
    ap.add_argument("--child", choices=["default", "tuned"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.trials, args.quick, args.front_doors)))
        return
    print(header())
    rows = []
    for allocator in ("default", "tuned"):
        cmd = [sys.executable, __file__, "--child", allocator, "--trials", str(args.trials)]
        cmd += (["--quick"] if args.quick else []) + (["--front-doors"] if args.front_doors else [])
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        rows += json.loads(out.stdout.strip().splitlines()[-1])
    base = {r["model"]: r["s/trial"] for r in rows
            if r["variant"] == "deepcopy baseline" and r["allocator"] == "default"}
    for r in rows:
        r["trials/s"] = f"{1 / r['s/trial']:.1f}"
        if r["model"] in base and "overhead" not in r["variant"] and "of which" not in r["variant"]:
            r["speed-up vs baseline (default allocator)"] = f"{base[r['model']] / r['s/trial']:.2f}x"
        r["s/trial"] = f"{r['s/trial']:.3g}"
    cols = ["model", "allocator", "variant", "s/trial", "trials/s", "speed-up vs baseline (default allocator)", "note"]
    table = print_table(rows, cols)
    name = "campaign_front_doors" if args.front_doors else "campaign_throughput"
    print(f"saved {save(name, vars(args), rows, table)}")


if __name__ == "__main__":
    main()
