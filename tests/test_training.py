"""Fault-aware training: each method's mechanics, its CLI config and its bad input. Its point (a DropConnect- or
MAT-trained MLP keeps more accuracy under faults than a vanilla one) and the numerics of the previous version are
in test_training_outcomes.py, with fixed seeds and margins derived from the observed spread (z standard errors).
"""

from __future__ import annotations

import copy
import math
from functools import partial
from pathlib import Path

import lightning as L
import pytest
import torch

from faultlab import FaultlabError
from faultlab.cli import main
from faultlab.commands.train import lightning_main
from faultlab.data import Synthetic
from faultlab.injection import recalibrate_bn
from faultlab.selector import LayerSelector
from faultlab.training import (
    MAT,
    AConnect,
    Classifier,
    DropConnect,
    FaultAwareMethod,
    HWTransform,
    RandomLevelNoise,
    StuckAt,
    load_classifier,
    method_from_config,
)
from faultlab.training.perturb import clip_weights_

pytestmark = pytest.mark.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parents[1]
FAT_CONFIGS = sorted((ROOT / "experiments" / "train").glob("fat_*.yaml"))


@pytest.fixture(autouse=True)
def _one_thread():
    """These small models gain nothing from a second thread, and on a busy shared machine two threads
    stall (measured: the MNIST test 40 s with two threads, 6 s with one)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny(fault_aware: FaultAwareMethod | None = None, **kw) -> Classifier:
    torch.manual_seed(0)
    opts = {"arch": "mlp", "arch_kwargs": {"hidden": [32]}, "num_classes": 4, "input_shape": (16,),
            "optimizer": partial(torch.optim.Adam, lr=0.05)}
    return Classifier(**{**opts, **kw}, fault_aware=fault_aware, train_seed=0)


def synthetic(**kw) -> Synthetic:
    return Synthetic(**{"input_shape": (16,), "num_classes": 4, "n_train": 128, "n_test": 64, "batch_size": 32, **kw})


def trainer(**kw) -> L.Trainer:
    opts = {"accelerator": "cpu", "logger": False, "enable_checkpointing": False, "enable_progress_bar": False,
            "enable_model_summary": False, "num_sanity_val_steps": 0, "limit_val_batches": 0}
    return L.Trainer(**{**opts, **kw})


def captured_runs(model: Classifier, monkeypatch) -> list[dict[str, torch.Tensor]]:
    """Record the weights every forward pass runs on."""
    runs: list[dict[str, torch.Tensor]] = []
    original = Classifier.run_on

    def spy(self, x, weights):
        runs.append({n: w.detach().clone() for n, w in weights.items()})
        return original(self, x, weights)

    monkeypatch.setattr(Classifier, "run_on", spy)
    return runs


def spy_perturb(monkeypatch, model: Classifier) -> list[tuple[int, str]]:
    """Record (epoch, fault spec) of every training-time perturbation."""
    calls: list[tuple[int, str]] = []
    from faultlab.training import methods

    original = methods.perturb

    def spy(weights, fault, *args, **kwargs):
        calls.append((model.current_epoch, fault.spec()))
        return original(weights, fault, *args, **kwargs)

    monkeypatch.setattr(methods, "perturb", spy)
    return calls


# --------------------------------------------------------------------------------------------- config


def test_config_records_method_and_hparams():
    model = tiny(DropConnect(p=0.3, rescale=True))
    assert model.method == "dropconnect" and tiny().method == "vanilla"
    assert model.hparams.fault_aware == {"class_path": "faultlab.training.methods.DropConnect", "init_args": {
        "p": 0.3, "rescale": True, "layers": {"kinds": ["conv", "linear"], "include": None, "exclude": None,
                                              "first": True, "last": True, "bias": None},
        "eval_fault": None, "clean_epochs": 0, "clip_w": None, "bn_reestimate_batches": 0}}
    assert model.hparams.train_seed == 0
    assert model.fault_layers == ["layers.1", "layers.3"]
    again = Classifier(**model.hparams)  # as a checkpoint is loaded: fault_aware comes back as plain data
    assert again.fault_aware == model.fault_aware and isinstance(again.fault_aware, DropConnect)
    assert "optimizer" not in model.hparams and "lr_scheduler" not in model.hparams  # callables stay out


@pytest.mark.parametrize(("optimizer", "scheduler", "message"), [
    (partial(torch.optim.Adam, lr=-1.0), None, "model.optimizer / model.lr_scheduler: Invalid learning rate: -1.0"),
    (torch.optim.Adam, torch.optim.lr_scheduler.CosineAnnealingLR, "missing 1 required positional argument: 'T_max'"),
])
def test_bad_optimizer_or_scheduler_is_one_clear_line(optimizer, scheduler, message):
    with pytest.raises(FaultlabError) as err:
        trainer(max_steps=1).fit(tiny(optimizer=optimizer, lr_scheduler=scheduler), synthetic())
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_scheduler_steps_once_per_epoch():
    model = tiny(optimizer=partial(torch.optim.SGD, lr=0.1),
                 lr_scheduler=partial(torch.optim.lr_scheduler.MultiStepLR, milestones=[1, 2], gamma=0.5))
    trainer(max_epochs=3).fit(model, synthetic())
    assert model.trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 ** 2)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"class_path": "DropConect"}, "is not a fault-aware method (did you mean 'DropConnect'?)"),
        ({"class_path": "DropConnect", "init_args": {"q": 0.3}}, "init_args.q: not a parameter of DropConnect"),
        ({"class_path": "DropConnect", "init_args": {"p": 1.5}}, "p=1.5 is outside"),
        ({"class_path": "DropConnect", "init_args": {"p": 1}}, "must be in [0, 1)"),
        ({"class_path": "MAT", "init_args": {"sigma": -0.1}}, "sigma=-0.1 is outside"),
        ({"class_path": "AConnect", "init_args": {"sigma": 0.3, "pool": 0}}, "pool=0 must be >= 1"),
        ({"class_path": "AConnect", "init_args": {"sigma": 0.3, "kind": "fold"}}, "kind"),
        ({"class_path": "RandomLevelNoise", "init_args": {"levels": [0.1, -0.2]}}, "levels[1]: gaussian_add: sigma"),
        ({"class_path": "RandomLevelNoise", "init_args": {"levels": [0.1], "fault": "gaussian_add(sigma=0.1)"}},
         "holds {rate}"),
        ({"class_path": "RandomLevelNoise", "init_args": {"levels": []}}, "needs levels"),
        ({"class_path": "DropConnect", "init_args": {"p": 0.3, "rescale": "eval"}}, "must be true, false or 'train'"),
        ({"class_path": "HWTransform", "init_args": {"fault": "dorp(p=0.3)"}}, "unknown fault 'dorp'"),
        ({"class_path": "Vanilla", "init_args": {"layers": {"kinds": ["conv2d"]}}},
         "layers.kinds=['conv2d']; allowed: some of conv, depthwise"),
        ({"class_path": "Vanilla", "init_args": {"layers": {"kinds": ["conv"]}}},
         "no layer matches kinds=('conv',)"),  # an MLP has no conv
        # the single mapping of earlier versions: read, or one line saying what to write
        ({"method": "dropconect"}, "unknown method 'dropconect'"),
        ({"method": "dropconnect"}, "has no fault"),
        ({"method": "dropconnect", "fault": "drop(p=0.3"}, "malformed fault spec"),
        ({"method": "mat", "fault": "drop(p=0.1)"}, "is not a plain gaussian_add(...)"),
        ({"method": "mat", "fault": "gaussian_add(sigma=0.2)", "rescale": True}, "rescale=True does not apply to MAT"),
        ({"method": "dropconnect", "fault": "chain(quantize(16), drop(p=0.3))"}, "class_path: HWTransform"),
    ],
)
def test_bad_config_is_one_clear_line(config, message):
    with pytest.raises(FaultlabError) as err:
        tiny(config)
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(("old", "new"), [
    ({"method": "dropconnect", "fault": "drop(p=0.3)", "rescale": "train", "kinds": ["linear"], "first": False},
     DropConnect(p=0.3, rescale="train", layers=LayerSelector(kinds=("linear",), first=False))),
    ({"method": "aconnect", "fault": "gaussian_mult(sigma=0.5, kind=folded)", "pool": 4},
     AConnect(sigma=0.5, kind="folded", pool=4)),
    ({"method": "mat", "fault": "gaussian_add(sigma=0.2)", "clean_epochs": 2, "clip_w": 2.5},
     MAT(sigma=0.2, clean_epochs=2, clip_w=2.5)),
    ({"method": "stuck_at", "fault": "stuck_at(sa0=0.01, sa1=0.02)", "gradient": "whole"},
     StuckAt(sa0=0.01, sa1=0.02, gradient="whole")),
    ({"method": "multi_noise", "levels": [0.1, 0.2], "levels_per_step": 2}, RandomLevelNoise(levels=[0.1, 0.2],
                                                                                            levels_per_step=2)),
    ({"method": "hw_transform", "eval_fault": "drop(p=0.1)"}, HWTransform(eval_fault="drop(p=0.1)")),
    ({"method": "vanilla"}, None),
])
def test_the_old_mapping_reads_as_its_class(old, new):
    assert method_from_config(old) == new


def test_checkpoints_of_the_previous_version_load():
    """Written by the code before the method classes: by a plain Trainer (DropConnect rescaled on the linear layers
    but the first; multi_noise with clip_w and an eval fault) and by ``faultlab fit`` (hw_transform; its hparams
    name Lightning's jsonargparse instantiator): tests/data/legacy_*.ckpt, written with the code of f96a323."""
    data = ROOT / "tests" / "data"
    drop = load_classifier(str(data / "legacy_dropconnect.ckpt"))
    assert drop.fault_aware == DropConnect(p=0.3, rescale=True, layers=LayerSelector(kinds=("linear",), first=False))
    assert drop.fault_layers == ["layers.3"] and drop.eval_weight_scale(0.5) == 2.0
    noise = load_classifier(str(data / "legacy_multi_noise.ckpt"))
    assert noise.fault_aware == RandomLevelNoise(levels=[0.1, 0.2], clip_w=2.0, eval_fault="gaussian_add(sigma=0.1)")
    assert noise.method == "random_level_noise"
    hw = load_classifier(str(data / "legacy_fit_hw_transform.ckpt"))
    assert hw.fault_aware == HWTransform() and hw.method == "hw_transform"
    for model in (drop, noise, hw):  # the weights came back too: the network is not the fresh one
        fresh = Classifier(**{k: v for k, v in model.hparams.items() if not k.startswith("_")})
        assert any(not torch.equal(a, b) for a, b in zip(model.state_dict().values(), fresh.state_dict().values()))


def test_clean_epochs_beyond_max_epochs():
    model = tiny(MAT(sigma=0.2, clean_epochs=3))
    with pytest.raises(FaultlabError, match=r"clean_epochs=3 exceeds trainer.max_epochs=2"):
        trainer(max_epochs=2).fit(model, synthetic())


def test_cli_bad_method_exits_2_with_one_line(capsys):
    cfg = str(ROOT / "experiments/train/fat_dropconnect.yaml")
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", cfg, "--model.fault_aware", "DropConect", "--trainer.max_epochs", "0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2
    assert err[-1].startswith("faultlab: error: --model.fault_aware: unknown class 'DropConect' (did you mean "
                              "DropConnect?)")


def test_an_old_fault_aware_mapping_in_a_fit_config_says_how_to_write_it(capsys, tmp_path):
    old = (ROOT / "experiments/train/moons.yaml").read_text().replace(
        "\nmodel:\n", "\nmodel:\n  fault_aware: {method: dropconnect, fault: drop(p=0.3)}\n", 1)
    (tmp_path / "old.yaml").write_text(old)
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", str(tmp_path / "old.yaml"), "--trainer.max_epochs", "0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and err[-1].startswith(
        "faultlab: error: model.fault_aware.method: the fault_aware: {method: ...} mapping of earlier versions is a "
        "class now: write model.fault_aware: {class_path: DropConnect")


# ------------------------------------------------------------------------------------------ mechanics


def test_draws_keyed_by_step_no_global_rng_clean_validation(monkeypatch):
    model = tiny(DropConnect(p=0.5))
    runs = captured_runs(model, monkeypatch)
    x, y = torch.randn(8, 16), torch.randint(0, 4, (8,))
    state = torch.get_rng_state()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for batch_idx in (0, 1, 0):
        model.training_step((x, y), batch_idx)
    assert torch.equal(state, torch.get_rng_state())
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters())  # never modified in place
    assert torch.equal(runs[0]["layers.1"], runs[2]["layers.1"])
    assert not torch.equal(runs[0]["layers.1"], runs[1]["layers.1"])
    model.validation_step((x, y), 0)
    assert len(runs) == 3  # validation runs clean without eval_fault


@pytest.mark.parametrize("rescale", [False, True, "train"])
def test_dropconnect_trains_and_evaluates_with_one_scaling(rescale, monkeypatch):
    """E[W'] = (1 - p) W in training AND in evaluation by default; W in both with ``rescale``.
    The reference study's convention (``rescale: train``: rescaled training, unscaled evaluation) is kept as a
    labelled variant and shows its mismatch here: W in training, (1 - p) W in evaluation."""
    p, n_draws = 0.3, 200
    model = tiny(DropConnect(p=0.3, eval_fault="drop(p=0.3)", rescale=rescale))
    runs = captured_runs(model, monkeypatch)
    x, y = torch.randn(4, 16), torch.randint(0, 4, (4,))
    for i in range(n_draws):
        model.training_step((x, y), i)
    with torch.no_grad():
        for i in range(n_draws):
            model.validation_step((x, y), i)
    w = model.net.get_submodule("layers.1").weight.detach()

    def ratio(draws):  # least-squares factor c in E[W'] = c W
        mean = torch.stack([r["layers.1"] for r in draws]).mean(0)
        return float((mean * w).sum() / (w * w).sum())

    train_factor = 1.0 if rescale else 1.0 - p
    eval_factor = 1.0 if rescale is True else 1.0 - p
    assert ratio(runs[:n_draws]) == pytest.approx(train_factor, abs=0.01)  # training
    assert ratio(runs[n_draws:]) == pytest.approx(eval_factor, abs=0.01)  # evaluation under eval_fault
    assert model.eval_weight_scale(p) == pytest.approx(1 / (1 - p) if rescale is True else 1.0)


class _StepRecorder(L.Callback):
    """Weights before and after each optimizer step, the step's faulty masks and gradients."""

    def __init__(self) -> None:
        self.steps: list[dict] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.steps.append({"before": {n: pl_module.net.get_submodule(n).weight.detach().clone()
                                      for n in pl_module.fault_layers}})

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        step = self.steps[-1]
        step["faulty"] = {n: m.clone() for n, m in pl_module.last_faulty.items()}
        step["grad"] = {n: pl_module.net.get_submodule(n).weight.grad.clone() for n in pl_module.fault_layers}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.steps[-1]["after"] = {n: pl_module.net.get_submodule(n).weight.detach().clone()
                                   for n in pl_module.fault_layers}


@pytest.mark.parametrize(
    "method",
    [StuckAt(sa0=0.1, sa1=0.1),
     HWTransform("chain(quantize(16), programming(sigma=0.05), stuck_at(sa0=0.1, sa1=0.1))")],
    ids=["stuck_at", "hw_transform"],
)
@pytest.mark.parametrize("optimizer", [torch.optim.SGD, torch.optim.Adam])
def test_weights_on_failed_devices_are_not_updated(method, optimizer):
    """Zero gradient on the failed devices' weights, and unchanged by the step even with momentum,
    Adam moments and weight decay (which move zero-gradient weights): they are restored."""
    extra = {"momentum": 0.9} if optimizer is torch.optim.SGD else {}
    model = tiny(method, optimizer=partial(optimizer, lr=0.05, weight_decay=0.1, **extra))
    recorder = _StepRecorder()
    trainer(max_steps=3, callbacks=[recorder]).fit(model, synthetic())
    assert len(recorder.steps) == 3
    for step in recorder.steps:
        assert set(step["faulty"]) == set(model.fault_layers)
        for name, faulty in step["faulty"].items():
            assert 0.1 < faulty.float().mean() < 0.6
            assert torch.all(step["grad"][name][faulty] == 0)
            assert torch.equal(step["after"][name][faulty], step["before"][name][faulty])
            assert (step["after"][name][~faulty] != step["before"][name][~faulty]).float().mean() > 0.9


def test_mat_switches_from_clean_to_noisy_at_clean_epochs(monkeypatch):
    model = tiny(MAT(sigma=0.2, clean_epochs=2, clip_w=2.5))
    calls = spy_perturb(monkeypatch, model)
    trainer(max_epochs=4).fit(model, synthetic())
    steps_per_epoch = 128 // 32
    assert [epoch for epoch, _ in calls] == [2] * steps_per_epoch + [3] * steps_per_epoch


def test_clip_weights_bounds_each_tensor_by_its_std():
    w = torch.randn(50, 50) ** 3
    bound = 2.5 * float(w.std())
    clip_weights_([w], 2.5)
    assert float(w.abs().max()) == pytest.approx(bound)


def test_aconnect_pool_gives_each_slice_its_own_mask(monkeypatch):
    model = tiny(AConnect(sigma=0.3, kind="lognormal", pool=4))
    runs = captured_runs(model, monkeypatch)
    loss = model.training_step((torch.randn(10, 16), torch.randint(0, 4, (10,))), 0)
    loss.backward()
    assert len(runs) == 4
    masks = [r["layers.1"] for r in runs]
    assert all(not torch.equal(a, b) for i, a in enumerate(masks) for b in masks[i + 1:])
    assert model.net.get_submodule("layers.1").weight.grad.abs().sum() > 0


def test_random_level_noise_averages_distinct_levels(monkeypatch):
    model = tiny(RandomLevelNoise(levels=[0.1, 0.2, 0.3], levels_per_step=2))
    calls = spy_perturb(monkeypatch, model)
    for i in range(20):
        model.training_step((torch.randn(4, 16), torch.randint(0, 4, (4,))), i)
    seen = [spec for _, spec in calls]
    pairs = [tuple(seen[i:i + 2]) for i in range(0, len(seen), 2)]
    assert len(pairs) == 20 and all(a != b for a, b in pairs)
    assert set(seen) == {f"gaussian_add(sigma={v})" for v in (0.1, 0.2, 0.3)}


def test_bn_reestimated_on_clean_weights_before_the_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = Classifier(arch="mini_mobilenet", arch_kwargs={"blocks": [[4, 1, 2]]}, num_classes=4,
                       input_shape=(1, 8, 8), fault_aware=DropConnect(p=0.5, bn_reestimate_batches=2))
    dm = synthetic(input_shape=(1, 8, 8))
    trainer(max_epochs=2, enable_checkpointing=True, default_root_dir=tmp_path).fit(model, dm)
    assert model.bn_reestimated == 2
    reference = copy.deepcopy(model)
    recalibrate_bn(reference.net, (reference._prep(x) for x, _ in dm.train_dataloader()), 2)
    ckpt = next(tmp_path.rglob("*.ckpt"))
    stored = torch.load(ckpt, weights_only=False)["state_dict"]
    for name, buf in reference.named_buffers():
        if "running" in name:
            assert torch.allclose(buf, model.get_buffer(name))
            assert torch.allclose(buf, stored[name])


# ------------------------------------------------------------------------------------------------ CLI


@pytest.mark.parametrize("config", FAT_CONFIGS, ids=[c.stem for c in FAT_CONFIGS])
def test_every_method_trains_one_epoch_via_cli(config, tmp_path):
    args = ["fit", "--config", str(config), "--trainer.max_epochs", "1", "--trainer.default_root_dir", str(tmp_path),
            "--trainer.enable_progress_bar", "false", "--trainer.limit_train_batches", "10",
            "--trainer.limit_val_batches", "1", "--trainer.enable_model_summary", "false"]
    if "mat" in config.stem:
        args += ["--model.fault_aware.init_args.clean_epochs", "0"]
    if "dropconnect" in config.stem:
        args += ["--model.fault_aware.init_args.bn_reestimate_batches", "2"]
    cli = lightning_main(args)
    assert cli.model.perturbing
    assert math.isfinite(float(cli.trainer.callback_metrics["train_loss"]))
    reloaded = load_classifier(str(tmp_path / "checkpoints" / "last.ckpt"))
    assert reloaded.method == cli.model.method == config.stem.removeprefix("fat_")
