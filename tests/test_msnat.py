"""MSNAT (multi-scale noise-aware training by fusion) and the bit-slice scale of gaussian_add: the fusion is the
mean of the clients' full states, each client trains under its own level, fits are deterministic and resume
bit for bit at a round boundary, early stopping reads the global model, the method round-trips as plain data."""

from __future__ import annotations

import math
import os
from functools import partial

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import EarlyStopping

from faultlab import FaultlabError
from faultlab.data import Synthetic
from faultlab.faults import FaultSpecError, GaussianAdd, make_generator, parse_fault
from faultlab.faults.weight import bit_slice_scale
from faultlab.injection import fault_targets
from faultlab.training import MSNAT, Classifier, FaultAwareMethod, RandomLevelNoise, load_classifier, msnat
from faultlab.training.cli import build
from faultlab.training.plain_data import method_from_config

pytestmark = pytest.mark.filterwarnings("ignore")
LEVELS = [0.1, 0.2, 0.3]
BN_NET = {"arch": "mini_mobilenet", "arch_kwargs": {"blocks": [[4, 1, 2]]}, "input_shape": (1, 8, 8)}


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def model(method: FaultAwareMethod | None = None, seed: int = 0, **kw) -> Classifier:
    torch.manual_seed(0)
    opts = {"arch": "mlp", "arch_kwargs": {"hidden": [32]}, "num_classes": 4, "input_shape": (16,),
            "optimizer": partial(torch.optim.Adam, lr=0.02)}
    return Classifier(**{**opts, **kw}, fault_aware=method, train_seed=seed)


def data(**kw) -> Synthetic:
    return Synthetic(**{"input_shape": (16,), "num_classes": 4, "n_train": 128, "n_test": 64, "batch_size": 32,
                        **kw})


def trainer(**kw) -> L.Trainer:
    opts = {"accelerator": "cpu", "logger": False, "enable_checkpointing": False, "enable_progress_bar": False,
            "enable_model_summary": False, "num_sanity_val_steps": 0, "limit_val_batches": 0,
            "deterministic": True}
    return L.Trainer(**{**opts, **kw})


def same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# --------------------------------------------------------------------------------------------- bit slices


def test_bit_slice_scale_is_analogai_weighting():
    """c = sqrt(Σ 4^(m i)) / Σ 2^(m i): AnalogAI's generate_noise for 8-bit weights on 2-bit cells is
    sqrt(1 + 16 + 256 + 4096) / (1 + 4 + 16 + 64) = 0.7776; one slice is the plain model."""
    assert bit_slice_scale(8, 4) == pytest.approx(math.sqrt(4369) / 85) == pytest.approx(0.77763, abs=1e-5)
    assert bit_slice_scale(8, 1) == 1.0 and bit_slice_scale(4, 4) == pytest.approx(math.sqrt(85) / 15)
    fault = parse_fault("gaussian_add(sigma={rate},slices=4)", rate=0.3)
    assert fault.spec() == "gaussian_add(sigma=0.3,slices=4)" and parse_fault(fault.spec()) == fault
    assert parse_fault("gaussian_add(sigma=0.3)").spec() == "gaussian_add(sigma=0.3)"  # earlier specs unchanged


def test_bit_sliced_noise_has_std_c_sigma_max_abs_w():
    """n = 10^6 draws: the sample std's relative sd is 1/sqrt(2n) = 7e-4; tolerance 5 of them."""
    w = torch.randn(1000, 1000, generator=torch.Generator().manual_seed(0))
    noise = GaussianAdd(0.3, slices=4)(w, make_generator(1)) - w
    expected = 0.3 * bit_slice_scale(8, 4) * w.abs().max()
    assert float(noise.std() / expected) == pytest.approx(1.0, abs=5 / math.sqrt(2 * w.numel()))
    plain = GaussianAdd(0.3)(w, make_generator(1)) - w  # the same ε, unscaled
    torch.testing.assert_close(noise, plain * bit_slice_scale(8, 4))


@pytest.mark.parametrize("spec, words", [("gaussian_add(0.1,slices=3)", "not a multiple of slices=3"),
                                         ("gaussian_add(0.1,slices=0)", "slices=0 is outside [1, 8]"),
                                         ("gaussian_add(0.1,bits=0)", "bits=0 is outside")])
def test_bad_bit_slices_are_one_line(spec, words):
    with pytest.raises(FaultSpecError, match=words.replace("[", r"\[").replace("]", r"\]")):
        parse_fault(spec)


# --------------------------------------------------------------------------------------------- fusion


def test_federated_average_is_the_mean_of_the_states():
    states = [{"w": torch.full((2,), float(k)), "n": torch.tensor(k + 4)} for k in range(3)]
    avg = msnat.federated_average(states)
    assert torch.equal(avg["w"], torch.full((2,), 1.0)) and avg["n"].dtype == torch.int64 and int(avg["n"]) == 5
    with pytest.raises(ValueError):
        msnat.federated_average([])


def test_fusion_makes_the_global_model_the_mean_of_the_clients_bn_buffers_included(monkeypatch):
    """At every round's end the global state (weights, biases, BN running mean/var and batch counts) is the mean
    of the clients' states just before, every client restarts from it, and the fresh optimizer has no state."""
    rounds: list[tuple[list[dict], dict, list[dict], int]] = []
    original = msnat.MSNAT.end_round

    def spy(self, model):
        before = [{k: v.clone() for k, v in c.state_dict().items()} for c in model.clients]
        original(self, model)
        after = [{k: v.clone() for k, v in c.state_dict().items()} for c in model.clients]
        state_left = sum(len(o.state) for o in model.trainer.optimizers)
        rounds.append((before, {k: v.clone() for k, v in model.net.state_dict().items()}, after, state_left))

    monkeypatch.setattr(msnat.MSNAT, "end_round", spy)
    m = model(MSNAT(levels=LEVELS), **BN_NET)
    trainer(max_epochs=2).fit(m, data(input_shape=(1, 8, 8)))
    assert len(rounds) == 2
    for before, fused, after, state_left in rounds:
        buffers = [k for k in fused if "running_" in k or "num_batches" in k]
        assert buffers and any(not torch.equal(before[0][k], before[1][k]) for k in buffers if "running_" in k)
        for key, value in fused.items():
            stacked = torch.stack([b[key] for b in before])
            expected = stacked.mean(0) if value.is_floating_point() else stacked.sum(0) // len(before)
            assert torch.equal(value, expected), key
        assert all(same_state(a, fused) for a in after) and state_left == 0


def test_each_client_trains_under_its_own_level(monkeypatch):
    """Every step perturbs client k's own weights with the fault at level k, each from its own generator."""
    calls: list[tuple[str, int, int]] = []
    original = msnat.perturb

    def spy(weights, fault, generator, **kw):
        calls.append((fault.spec(), next(iter(weights.values())).data_ptr(), generator.initial_seed()))
        return original(weights, fault, generator, **kw)

    monkeypatch.setattr(msnat, "perturb", spy)
    m = model(MSNAT(levels=LEVELS))
    trainer(max_steps=3).fit(m, data())
    own = [next(iter(fault_targets(c, m.fault_layers).values())).data_ptr() for c in m.clients]
    assert len(calls) == 3 * len(LEVELS)
    for step in range(3):
        chunk = calls[step * 3: (step + 1) * 3]
        assert [spec for spec, _, _ in chunk] == [f"gaussian_add(sigma={v},slices=4)" for v in LEVELS]
        assert [ptr for _, ptr, _ in chunk] == own
    assert len({seed for _, _, seed in calls}) == len(calls)


# --------------------------------------------------------------------------------------------- seeds and resume


def test_fits_are_deterministic_and_keyed_by_the_train_seed():
    weights = []
    for seed in (0, 0, 1):
        L.seed_everything(0, verbose=False)
        m = model(MSNAT(levels=LEVELS), seed=seed)
        trainer(max_epochs=2).fit(m, data())
        weights.append(m.net.state_dict())
    assert same_state(weights[0], weights[1]) and not same_state(weights[0], weights[2])


def _fit_config(root: str, epochs: int, client_optimizer: str) -> dict:
    return {"seed_everything": 0,
            "trainer": {"max_epochs": epochs, "logger": False, "enable_progress_bar": False, "deterministic": True,
                        "enable_model_summary": False, "default_root_dir": root, "limit_val_batches": 0},
            "model": {"arch": "mlp", "arch_kwargs": {"hidden": [16]}, "train_seed": 3,
                      "optimizer": {"class_path": "torch.optim.SGD", "init_args": {"lr": 0.1, "momentum": 0.9}},
                      "fault_aware": {"class_path": "MSNAT", "init_args": {"levels": LEVELS,
                                                                           "client_optimizer": client_optimizer}}},
            "data": {"class_path": "faultlab.data.Synthetic",
                     "init_args": {"input_shape": [16], "num_classes": 4, "n_train": 96, "batch_size": 32}},
            "checkpoint": {"dirpath": root, "save_last": True, "save_top_k": 0}}


@pytest.mark.parametrize("client_optimizer", ["fresh", "kept"])
def test_a_checkpoint_at_a_round_boundary_resumes_bit_for_bit(tmp_path, client_optimizer):
    """3 rounds straight equal 1 round, its last.ckpt, then 2 more rounds resumed from it (global weights, clients
    and, with ``kept``, the clients' momentum); a class_path config builds the method."""
    straight, first = tmp_path / "straight", tmp_path / "first"
    cli = build(_fit_config(str(straight), 3, client_optimizer))
    assert isinstance(cli.model.fault_aware, MSNAT) and cli.model.fault_aware.levels == LEVELS
    cli.trainer.fit(cli.model, cli.datamodule)
    full, state = cli.model.state_dict(), cli.trainer.optimizers[0].state
    assert (len(state) == 0) == (client_optimizer == "fresh")
    cli = build(_fit_config(str(first), 1, client_optimizer))
    cli.trainer.fit(cli.model, cli.datamodule)
    cli = build(_fit_config(str(first), 3, client_optimizer))
    cli.trainer.fit(cli.model, cli.datamodule, ckpt_path=os.path.join(first, "last.ckpt"))
    assert same_state(full, cli.model.state_dict())


# --------------------------------------------------------------------------------------------- early stopping


def test_early_stopping_reads_the_global_models_validation_accuracy():
    """The logged val_acc is the global network's accuracy (re-computed here, after the fusion), and training stops
    at the first epoch where it has not improved for ``patience`` epochs."""
    seen: list[tuple[float, float]] = []

    class Check(L.Callback):
        def on_validation_epoch_end(self, trainer, module):
            x, y = trainer.datamodule.tensors("val")
            with torch.no_grad():
                acc = float((module.net(x).argmax(1) == y).float().mean())
            assert all(same_state(c.state_dict(), module.net.state_dict()) for c in module.clients)
            seen.append((float(trainer.callback_metrics["val_acc"]), acc))

    patience, max_epochs = 2, 30
    m = model(MSNAT(levels=LEVELS))
    t = trainer(max_epochs=max_epochs, limit_val_batches=1.0,
                callbacks=[Check(), EarlyStopping(monitor="val_acc", mode="max", patience=patience)])
    t.fit(m, data(n_train=160, val_fraction=0.25))
    assert all(logged == pytest.approx(ours, abs=1e-6) for logged, ours in seen)
    best, wait, stop = -1.0, 0, None
    for epoch, (acc, _) in enumerate(seen):
        best, wait = (acc, 0) if acc > best else (best, wait + 1)
        if wait >= patience:
            stop = epoch
            break
    assert stop is not None and stop < max_epochs - 1 and len(seen) == stop + 1


# --------------------------------------------------------------------------------------------- plain data


def test_the_method_round_trips_through_plain_data_and_a_checkpoint(tmp_path):
    method = MSNAT(levels=[0.1, 0.2], client_optimizer="kept", fault="gaussian_add(sigma={rate})")
    config = method.config()
    assert config["class_path"] == "faultlab.training.msnat.MSNAT" and method_from_config(config) == method
    assert method_from_config({"class_path": "MSNAT", "init_args": {"levels": [0.1, 0.2]}}).levels == [0.1, 0.2]
    m = model(method)
    t = trainer(max_epochs=1, enable_checkpointing=True, default_root_dir=str(tmp_path))
    t.fit(m, data())
    path = tmp_path / "m.ckpt"
    t.save_checkpoint(path)
    loaded = load_classifier(str(path))
    assert loaded.fault_aware == method and len(loaded.clients) == 2
    assert same_state(loaded.net.state_dict(), m.net.state_dict())


def test_names_say_what_each_multi_level_method_is():
    """MSNAT alone is ``msnat``; the per-step method keeps a name of its own."""
    def subclasses(cls):
        return [c for s in cls.__subclasses__() for c in (s, *subclasses(s))]

    names = [c.name for c in subclasses(FaultAwareMethod) if c.name]
    assert names.count("msnat") == 1 and MSNAT.name == "msnat" and RandomLevelNoise.name == "random_level_noise"
    assert "MSNAT" not in (RandomLevelNoise.__doc__ or "")


@pytest.mark.parametrize("kwargs, words", [
    ({"levels": []}, "needs levels"),
    ({"levels": [0.1, -0.2]}, "levels[1]: gaussian_add: sigma=-0.2"),
    ({"client_optimizer": "shared"}, "client_optimizer='shared' must be fresh or kept"),
    ({"clean_epochs": 2}, "clean_epochs must be 0"),
    ({"fault": "gaussian_add(sigma=0.1)"}, "the levels are set through the fault"),
])
def test_bad_fields_are_one_line(kwargs, words):
    with pytest.raises(FaultlabError) as err:
        MSNAT(**kwargs)
    assert words in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("options, words", [
    ({"val_check_interval": 0.5, "limit_val_batches": 1.0}, "val_check_interval=0.5"),
    ({"gradient_clip_val": 1.0}, "gradient_clip_algorithm: value"),
])
def test_trainer_options_that_break_rounds_are_refused(options, words):
    with pytest.raises(FaultlabError, match=words):
        trainer(max_epochs=1, **options).fit(model(MSNAT(levels=LEVELS)), data())


# --------------------------------------------------------------------------------------------- the studies


def test_the_analogai_study_trains_msnat_under_the_bit_sliced_noise_it_is_evaluated_with():
    from pathlib import Path

    from faultlab.sweep.spec import load_study

    root = Path(__file__).resolve().parents[1] / "experiments"
    spec, _ = load_study(root / "analogai_mnist.yaml")
    methods = {m.name: method_from_config(m.fault_aware) for m in spec.methods}
    assert isinstance(methods["msnat"], MSNAT) and methods["msnat"].levels == [0.1, 0.15, 0.2, 0.25, 0.3]
    assert {m.fault for m in methods.values() if m is not None} == {spec.campaigns[0].fault.replace(" ", "")}
    assert {0.25, 0.3} <= set(spec.campaigns[0].rates)
    aconnect, _ = load_study(root / "aconnect_mnist.yaml")
    assert all(method_from_config(m.fault_aware).layers.bias for m in aconnect.methods if m.fault_aware)
    assert aconnect.campaigns[0].trials == 1000 and aconnect.campaigns[0].layers.bias


def test_the_pilots_power_matches_a_simulated_paired_t_test():
    """benchmarks/study_pilot.py sizes the studies: its power of the paired t test equals the rejection rate of
    20,000 simulated tests (binomial sd at most 0.0035; tolerance 4 sd), also for an effect far in the t's tail."""
    import importlib.util
    from pathlib import Path

    import numpy as np
    from scipy import stats

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "study_pilot.py"
    spec = importlib.util.spec_from_file_location("study_pilot", path)
    pilot = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pilot)
    rng = np.random.default_rng(0)
    for d, n, alpha in ((1.0, 12, 0.05), (0.8, 8, 0.05 / 6)):
        x = rng.normal(d, 1.0, (20_000, n))
        t = x.mean(1) / (x.std(1, ddof=1) / np.sqrt(n))
        simulated = float(np.mean(np.abs(t) > stats.t.ppf(1 - alpha / 2, n - 1)))
        assert pilot.power(d, n, alpha) == pytest.approx(simulated, abs=4 * 0.0035)
    assert pilot.power(19.0, 3, 0.05 / 6) > 0.99 and pilot.runs_needed(0.05, 0.0027, 0.05 / 6) == 3
