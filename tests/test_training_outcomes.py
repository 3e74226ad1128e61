"""Fault-aware training, judged by its results: a DropConnect- or MAT-trained MLP keeps more accuracy under faults
than a vanilla one (paired over fault maps, a margin of Z standard errors), and every method trains the same weights
as the version before the method classes (digests of the state_dict after 2 epochs)."""

from __future__ import annotations

import math
import statistics
from functools import partial

import lightning as L
import pytest
import torch
from test_training import _one_thread, synthetic, trainer  # noqa: F401  (_one_thread: the autouse fixture)

from faultlab.data import MNIST5k
from faultlab.faults import parse_fault
from faultlab.injection import inject, trial_seeds
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
)

pytestmark = pytest.mark.filterwarnings("ignore")
Z = 3.0  # margin in standard errors of the paired differences


# -------------------------------------------------------------------------------------- the point of it

TRIALS = 20
EPOCHS = 15  # batch 128, Adam 3e-3: clean accuracy about 0.93 on the 1,000 test digits


def _mnist_mlp(fault_aware: FaultAwareMethod | None, epochs: int, dm: MNIST5k) -> Classifier:
    L.seed_everything(0, verbose=False)
    model = Classifier(arch="mlp", arch_kwargs={"hidden": [128]}, optimizer=partial(torch.optim.Adam, lr=3e-3),
                       fault_aware=fault_aware, train_seed=0)
    trainer(max_epochs=epochs).fit(model, dm)
    return model.eval()


def _accuracies(model: Classifier, template: str, rate: float, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    layers = LayerSelector().select(model.net)
    fault = parse_fault(template, rate=rate)
    out = []
    with torch.no_grad():
        for trial in range(TRIALS):
            with inject(model.net, fault, layers, trial_seeds(0, layers, template, rate, trial)):
                out.append(float((model.net(x).argmax(1) == y).float().mean()))
    return out


def _assert_paired_gain(better: list[float], worse: list[float]) -> None:
    diffs = [b - w for b, w in zip(better, worse)]
    se = statistics.stdev(diffs) / math.sqrt(len(diffs))
    assert statistics.fmean(diffs) > Z * se, (statistics.fmean(better), statistics.fmean(worse), se)


def test_fault_aware_mlps_tolerate_their_faults_better_than_vanilla():
    """MNIST-5k, MLP 784-128-10, 1,000 test digits, 20 identical fault maps per model (common random
    numbers): DropConnect (p=0.3) beats vanilla under drop(0.3); MAT beats vanilla under gaussian_add(0.2)."""
    dm = MNIST5k(batch_size=128)
    x, y = dm.tensors("test")
    vanilla = _mnist_mlp(None, EPOCHS, dm)
    dropconnect = _mnist_mlp(DropConnect(p=0.3), EPOCHS, dm)
    mat = _mnist_mlp(MAT(sigma=0.2, clean_epochs=5, clip_w=2.5), EPOCHS, dm)
    _assert_paired_gain(_accuracies(dropconnect, "drop(p={rate})", 0.3, x, y),
                        _accuracies(vanilla, "drop(p={rate})", 0.3, x, y))
    _assert_paired_gain(_accuracies(mat, "gaussian_add(sigma={rate})", 0.2, x, y),
                        _accuracies(vanilla, "gaussian_add(sigma={rate})", 0.2, x, y))


# ------------------------------------------------------------------------ the numerics of the previous version

# sha256 (first 16 hex digits) of the state_dict after 2 epochs, computed by the code before the method classes
# (commit f96a323, the single ``FaultAware`` mapping) on CPU with one thread, torch 2.14.1
PREVIOUS_WEIGHTS = {
    "vanilla": (None, "acf990f2dd63fc3b"),
    "dropconnect": (DropConnect(p=0.3), "5c6675ab7d50f925"),
    "dropconnect_rescale_train": (DropConnect(p=0.3, rescale="train"), "751ec8db59238bd0"),
    "aconnect_pool": (AConnect(sigma=0.3, kind="folded", pool=4), "17daa09ba89bd6aa"),
    "mat": (MAT(sigma=0.2, clean_epochs=1, clip_w=2.5), "cf3641d6e2a1c1f4"),
    "stuck_at": (StuckAt(sa0=0.1, sa1=0.1), "a819cae2306236f2"),
    "random_level_noise": (RandomLevelNoise(levels=[0.1, 0.2, 0.3], levels_per_step=2), "9eb0210f0073c173"),
    "hw_transform_whole": (HWTransform(gradient="whole"), "359c8e342e5b48a4"),
    "bn_dropconnect": (DropConnect(p=0.3, bn_reestimate_batches=2, layers=LayerSelector(kinds=("conv",))),
                       "8b1208ae5713c4ff"),
}


def _weights_digest(model: Classifier) -> str:
    import hashlib

    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().contiguous().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


@pytest.mark.skipif(torch.__version__.split("+")[0] != "2.14.1", reason="digests recorded with torch 2.14.1")
@pytest.mark.parametrize("case", sorted(PREVIOUS_WEIGHTS))
def test_every_method_trains_the_weights_of_the_previous_version(case):
    method, digest = PREVIOUS_WEIGHTS[case]
    cnn = case.startswith("bn_")
    shape = (1, 8, 8) if cnn else (16,)
    L.seed_everything(0, verbose=False)
    model = Classifier(arch="mini_mobilenet" if cnn else "mlp",
                       arch_kwargs={"blocks": [[4, 1, 2]]} if cnn else {"hidden": [32]}, num_classes=4,
                       input_shape=shape, optimizer=partial(torch.optim.Adam, lr=0.05), fault_aware=method,
                       train_seed=0)
    trainer(max_epochs=2, deterministic=True).fit(model, synthetic(input_shape=shape))
    assert _weights_digest(model) == digest
