"""Stores for the report tests, written through the store API as a sweep or a campaign writes them: a demo-like
study (architectures x methods x 2 training seeds, every run's curve with its own knee, DropConnect more tolerant,
per-sample masks, the stored spec) and a single campaign (one network, optionally per layer).

The accuracy of run r at rate p is chance + (clean_r - chance) exp(-(p / knee_r)^2): a run's knee varies by
~15 % from seed to seed, so 2 runs per arm give t intervals (df = 1) far wider than [0, 100] % unless truncated.
"""

from __future__ import annotations

import numpy as np

from faultlab.store import ResultsStore

FAULT = "drop(p={rate})"
RATES = (0.1, 0.2, 0.3, 0.4, 0.5)
CHANCE = 0.1
DEMO_VARIANTS = {  # variant -> (architecture, clean accuracy, knee: the rate at which 1/e of the margin is left)
    "mini_mobilenet-1x(8,1,6)": ("mini_mobilenet", 0.95, 0.36),
    "mini_mobilenet-2x(8,1,6)": ("mini_mobilenet", 0.96, 0.31),
    "mini_mobilenet-3x(8,1,6)": ("mini_mobilenet", 0.965, 0.28),
    "resnet20": ("resnet20", 0.97, 0.13),
    "resnet20-lb[s2b3c2e6]": ("resnet20", 0.97, 0.14),
}
METHODS = {"vanilla": (0.0, 1.0), "dropconnect": (-0.05, 1.45)}  # method -> (clean accuracy shift, knee factor)
QUESTION = ("Are mini-MobileNets and ResNet20 with a linear bottleneck more tolerant of random RRAM weight drops "
            "than plain ResNet20, and does DropConnect training (p=0.3) help?")


def demo_spec(name: str, variants: list[str], rates=RATES, trials: int = 20, seeds=(0, 1), *,
              new_training: bool = False, contrasts: list | None = None, notes: str | None = None) -> dict:
    """A stored study spec shaped as the sweep stores it (``new_training``: the jsonargparse training block)."""
    training = ({"seeds": list(seeds), "trainer": {"max_epochs": 2},
                 "model": {"optimizer": {"class_path": "torch.optim.Adam", "init_args": {"lr": 0.003}}}}
                if new_training else
                {"epochs": 2, "seeds": list(seeds), "optimizer": "adam", "lr": 0.003, "options": {}, "trainer": {}})
    return {
        "name": name, "question": QUESTION,
        "architectures": [{"arch": DEMO_VARIANTS[v][0], "name": v, "kwargs": {"blocks": [[8, 1, 6]]}}
                          for v in variants],
        "methods": [{"name": "vanilla", "fault_aware": None, "architectures": None},
                    {"name": "dropconnect", "fault_aware": {"method": "dropconnect", "fault": "drop(p=0.3)"},
                     "architectures": None}],
        "campaigns": [{"fault": FAULT, "rates": list(rates), "trials": trials, "seed": 0, "per_layer": False,
                       "layers": {"kinds": ["conv", "linear"], "include": None}}],
        "data": {"name": "mnist5k", "options": {"batch_size": 128}, "eval_subset": 200},
        "training": training, "seed": 0, "answer": None, **({"contrasts": contrasts} if contrasts else {}),
        **({"notes": notes} if notes else {}),
    }


def demo_like_store(path, study: str = "demo", variants: list[str] | None = None, *, seeds=(0, 1), rates=RATES,
                    trials: int = 20, n_samples: int = 200, spec: bool = True, **spec_kw) -> ResultsStore:
    """A stored study: ``variants`` (default: the demo's five) x vanilla/DropConnect x ``seeds``, whole-network
    trials at ``rates`` with per-sample masks, and (``spec``) the spec the sweep would have stored."""
    variants = list(DEMO_VARIANTS) if variants is None else variants
    store = ResultsStore(path)
    easy = np.random.default_rng(99).uniform(-0.25, 0.25, n_samples)  # per-test-point difficulty
    for v_i, variant in enumerate(variants):
        arch, clean0, knee0 = DEMO_VARIANTS[variant]
        for m_i, (method, (shift, factor)) in enumerate(METHODS.items()):
            for seed in seeds:
                rng = np.random.default_rng([v_i, m_i, seed])
                clean = float(np.clip(clean0 + shift + rng.normal(0, 0.01), 0, 1))
                knee = knee0 * factor * float(np.exp(rng.normal(0, 0.15)))
                run_id = f"{study}-{variant}-{method}-{seed}"
                store.add_run({"run_id": run_id, "study": study, "architecture": arch, "variant": variant,
                               "method": method, "train_seed": seed, "clean_accuracy": clean,
                               "config": {"training": {"epochs": 2}, "config_hash": run_id},
                               "evaluation": {"data": "mnist5k", "eval_subset": n_samples}})
                store.add_campaign({"campaign_id": f"c-{run_id}", "run_id": run_id, "fault": FAULT,
                                    "campaign_seed": 0, "bn_recalibration": 0})
                rows = []
                for rate in rates:
                    level = CHANCE + (clean - CHANCE) * np.exp(-(rate / knee) ** 2)
                    for trial in range(trials):
                        maps = np.random.default_rng([int(rate * 1000), trial, seed, v_i, m_i])
                        p = np.clip(level + maps.normal(0, 0.03) + easy, 0, 1)
                        correct = maps.random(n_samples) < p
                        rows.append({"campaign_id": f"c-{run_id}", "run_id": run_id, "fault": FAULT, "rate": rate,
                                     "trial": trial, "layer": "*", "fault_seed": trial, "correct": correct,
                                     "accuracy": float(correct.mean()), "loss": 1.0, "seconds": 0.01})
                store.add_trials(rows)
    if spec:
        store.record_study(study, demo_spec(study, variants, rates, trials, seeds, **spec_kw))
    return store


LAYERS = ("features.0.conv", "features.1.dw", "features.1.pw", "features.2.dw", "classifier")


def campaign_store(path, study: str = "default", *, rates=(0.0, 0.01, 0.02), trials: int = 30,
                   per_layer: bool = False, layer_trials: int = 10, short_layer: str | None = None) -> ResultsStore:
    """One network's campaign as ``faultlab campaign`` stores it (no spec): clean 94.6 %, 70 % at sa1 = 0.01,
    50 % at 0.02; ``per_layer``: one layer faulted at a time at the largest rate (``short_layer`` has fewer
    trials, as an interrupted campaign leaves it)."""
    fault = "stuck_at(sa0=0.01,sa1={rate})"
    store = ResultsStore(path)
    run_id = f"{study}-mlp"
    store.add_run({"run_id": run_id, "study": study, "architecture": "mlp", "variant": "mlp-64", "method": "vanilla",
                   "train_seed": 0, "clean_accuracy": 0.946, "config": {"model": "mlp"},
                   "evaluation": {"data": "mnist5k"}})
    store.add_campaign({"campaign_id": "c", "run_id": run_id, "fault": fault, "campaign_seed": 0})
    level = {0.0: 0.946, 0.01: 0.70, 0.02: 0.50}
    rng = np.random.default_rng(5)
    rows = [{"campaign_id": "c", "run_id": run_id, "fault": fault, "rate": r, "trial": t, "layer": "*",
             "accuracy": float(np.clip(level.get(r, 0.3) + (rng.normal(0, 0.03) if r else 0), 0, 1)),
             "n_samples": 500} for r in rates for t in range(trials)]
    if per_layer:
        for i, layer in enumerate(LAYERS):
            drop = 0.02 + 0.3 * (i in (0, 4)) + 0.1 * (i == 2)  # the first and the last layer matter most
            n = layer_trials // 2 if layer == short_layer else layer_trials
            rows += [{"campaign_id": "c", "run_id": run_id, "fault": fault, "rate": max(rates), "trial": t,
                      "layer": layer, "accuracy": float(np.clip(0.946 - drop + rng.normal(0, 0.02), 0, 1)),
                      "n_samples": 500} for t in range(n)]
    store.add_trials(rows)
    return store
