"""Campaign engine: resume, vectorised trials, adaptive trial counts, the CLI end to end, bad input."""

import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
from cli_run import cli
from tiny_checkpoint import fit_checkpoint

import architectures
from faultlab.campaign import CampaignError, CampaignSpec, RunInfo, run_campaign
from faultlab.campaign.metrics import trial_loss_sum
from faultlab.data import Synthetic
from faultlab.injection import forward_redraws
from faultlab.selector import LayerSelector
from faultlab.stats import ci_halfwidth
from faultlab.store import ResultsStore
from faultlab.training import Classifier

ROOT = Path(__file__).resolve().parents[1]
KEY = ["rate", "trial", "fault_seed", "accuracy", "loss"]


@pytest.fixture(scope="module")
def mlp_data():
    torch.manual_seed(0)
    net = architectures.build("mlp", in_features=64, hidden=[32], num_classes=4).eval()
    dm = Synthetic(input_shape=(64,), num_classes=4, n_train=64, n_test=200)
    x, y = dm.tensors("test")
    return net, x, y


def rows(store):
    return store.to_frame()[KEY].sort_values(["rate", "trial"]).reset_index(drop=True)


def test_stacked_trials_equal_one_map_per_pass(mlp_data, tmp_path):
    net, x, y = mlp_data
    frames = []
    for k in (1, 7):
        spec = CampaignSpec("stuck_at(sa0=0.02,sa1={rate})", [0.0, 0.05, 0.2], trials=10, trials_per_pass=k)
        with ResultsStore(tmp_path / f"k{k}.sqlite") as store:
            run_campaign(net, x, y, spec, store, RunInfo("r"), progress="off")
            frames.append(rows(store))
    assert frames[0]["fault_seed"].equals(frames[1]["fault_seed"])
    assert (frames[0]["accuracy"] - frames[1]["accuracy"]).abs().max() < 1e-6


class _Twice(torch.nn.Module):
    """Calls one layer twice per forward pass: a per-pass redraw then draws it twice, which stacking cannot
    reproduce, so its trials run one map per pass."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.out = torch.nn.Linear(64, 64), torch.nn.Linear(64, 4)

    def forward(self, x):
        return self.out(torch.relu(self.a(torch.relu(self.a(x)))))


@pytest.mark.parametrize("twice", [False, True])
def test_read_noise_trials_stack_with_the_redraws_of_one_map_per_pass(mlp_data, tmp_path, monkeypatch, twice):
    from faultlab.campaign import engine

    net, x, y = mlp_data
    if twice:
        torch.manual_seed(0)
        net = _Twice().eval()
    stacked = []
    monkeypatch.setattr(engine, "forward_redraws", lambda *a: stacked.append(1) or forward_redraws(*a))
    frames = []
    for k in (1, None):
        spec = CampaignSpec("chain(programming(sigma=0.05),read_noise(sigma={rate}))", [0.05, 0.3], trials=10,
                            trials_per_pass=k)
        with ResultsStore(tmp_path / f"{k}.sqlite") as store:  # 200 test points in 4 passes: 4 redraws a trial
            run_campaign(net, x, y, spec, store, RunInfo("r"), progress="off", eval_batch_size=64)
            frames.append(rows(store))
    assert bool(stacked) is not twice
    assert frames[0]["fault_seed"].equals(frames[1]["fault_seed"])
    assert (frames[0]["accuracy"] - frames[1]["accuracy"]).abs().max() < 1e-6
    assert (frames[0]["loss"] - frames[1]["loss"]).abs().max() < 1e-5


def test_resume_after_interruption_gives_the_uninterrupted_rows(mlp_data, tmp_path):
    net, x, y = mlp_data
    spec = CampaignSpec("drop(p={rate})", [0.1, 0.3], trials=6, trials_per_pass=1)
    with ResultsStore(tmp_path / "full.sqlite") as store:
        run_campaign(net, x, y, spec, store, RunInfo("r"), progress="off")
        full = rows(store)
    seen = []

    def stop_after_4(row):
        seen.append(row)
        if len(seen) == 4:
            raise KeyboardInterrupt

    with ResultsStore(tmp_path / "cut.sqlite") as store:
        with pytest.raises(KeyboardInterrupt):
            run_campaign(net, x, y, spec, store, RunInfo("r"), progress="off", on_trial=stop_after_4)
        assert store.count_trials() == 4
        result = run_campaign(net, x, y, spec, store, RunInfo("r"), progress="off")
        assert sum(c.new_trials for c in result.cells) == 8
        resumed = rows(store)
    assert len(resumed) == 12
    assert resumed.equals(full)


def test_weights_unchanged_after_campaign_with_bn_recalibration(tmp_path):
    torch.manual_seed(0)
    net = architectures.build("mini_mobilenet", blocks=[(4, 1, 2)], input_size=8).eval()
    dm = Synthetic(input_shape=(1, 8, 8), n_train=64, n_test=64, batch_size=16)
    x, y = dm.tensors("test")
    before = {k: v.clone() for k, v in net.state_dict().items()}
    results = {}
    for bn in (0, 2):
        spec = CampaignSpec("drop(p={rate})", [0.3], trials=3, bn_recalibration=bn)
        with ResultsStore(tmp_path / f"bn{bn}.sqlite") as store:
            batches = [b for b in dm.train_dataloader()]
            run_campaign(net, x, y, spec, store, RunInfo("r"), train_batches=batches, progress="off")
            results[bn] = rows(store)["loss"].tolist()
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())
    assert results[0] != results[2]


def test_auto_trials_stop_at_the_ci_target(mlp_data, tmp_path):
    net, x, y = mlp_data
    spec = CampaignSpec("drop(p={rate})", [0.2], trials="auto", ci_halfwidth=0.02, min_trials=5, max_trials=200)
    with ResultsStore(tmp_path / "a.sqlite") as store:
        result = run_campaign(net, x, y, spec, store, RunInfo("r"), progress="off")
        acc = store.to_frame()["accuracy"].tolist()
    cell = result.cells[0]
    assert 149 <= cell.n_trials < 200  # the tail guard: a 2 % tail shows itself with 95 % probability first
    assert ci_halfwidth(acc) <= 0.02
    assert cell.halfwidth == pytest.approx(ci_halfwidth(acc))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (CampaignSpec("drop(p={rate})", [0.1, 1.5]), "1.5 is outside"),
        (CampaignSpec("dorp(p={rate})", [0.1]), "unknown fault"),
        (CampaignSpec("gaussian_add(sigma={rate})", [-0.1]), "outside"),
        (CampaignSpec("drop(p=0.1)", [0.1]), "rate"),
        (CampaignSpec("drop(p={rate})", [0.1], layers=LayerSelector(include=("nothing*",))), "no layer matches"),
    ],
)
def test_bad_campaigns_write_nothing(mlp_data, tmp_path, spec, message):
    net, x, y = mlp_data
    with ResultsStore(tmp_path / "bad.sqlite") as store:
        with pytest.raises(CampaignError, match=message):
            run_campaign(net, x, y, spec, store, RunInfo("r"), progress="off")
        assert store.count_trials() == 0 and not store.runs()


def test_progress_bar_and_lines_report_trials_and_the_running_mean(mlp_data, tmp_path, capsys):
    net, x, y = mlp_data
    spec = CampaignSpec("drop(p={rate})", [0.1, 0.3], trials=40, trials_per_pass=8)
    with ResultsStore(tmp_path / "p.sqlite") as store:
        result = run_campaign(net, x, y, spec, store, RunInfo("r"), progress="bar")
    err = capsys.readouterr().err
    assert "80/80" in err and "rate=0.3 acc=" in err and "±" in err
    final = result.cells[-1]
    assert f"acc={final.mean:.4f}±{final.halfwidth:.4f}" in err  # the last update shows the whole cell
    with ResultsStore(tmp_path / "l.sqlite") as store:
        run_campaign(net, x, y, spec, store, RunInfo("r"), progress="lines")
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith(f"rate 0.3: 40 trials (40 new), mean accuracy {final.mean:.4f}")


@pytest.mark.parametrize("classes", [2, 10, 16, 17, 100])
@pytest.mark.parametrize("k", [1, 3])
def test_trial_loss_sum_is_each_trials_summed_cross_entropy(classes, k):
    g = torch.Generator().manual_seed(classes)
    logits, y = 3 * torch.randn(k, 50, classes, generator=g), torch.randint(0, classes, (50,), generator=g)
    expected = torch.stack([torch.nn.functional.cross_entropy(t, y, reduction="sum") for t in logits])
    assert torch.allclose(trial_loss_sum(logits, y), expected, rtol=1e-6, atol=0)  # float32 summation order
    if k == 1:
        assert torch.equal(trial_loss_sum(logits[0], y), trial_loss_sum(logits, y))


# ----------------------------------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "tiny.ckpt"
    L.seed_everything(0, verbose=False)
    model = Classifier(arch="mlp", arch_kwargs={"hidden": [16]}, num_classes=10, input_shape=(1, 28, 28))
    return fit_checkpoint(path, model, Synthetic(n_train=64, n_test=32))


def faultlab(*args):
    return subprocess.run([sys.executable, "-m", "faultlab.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_cli_campaign_and_export(checkpoint, tmp_path, capsys):
    """The first campaign through a real process (its exit status and output), the re-run and the export in this
    one."""
    store = tmp_path / "r.sqlite"
    args = ["campaign", "--checkpoint", str(checkpoint), "--data", "synthetic", "--fault", "drop(p={rate})",
            "--rates", "0,0.1,0.5", "--trials", "4", "--store", str(store)]
    res = faultlab(*args)
    assert res.returncode == 0, res.stderr
    assert "clean accuracy" in res.stdout
    with ResultsStore(store) as s:
        assert s.count_trials() == 12
        run = s.runs()[0]
        assert run["architecture"] == "mlp" and run["method"] == "vanilla" and run["n_eval"] == 256
    code, out, err = cli(capsys, *args)
    assert code == 0 and "0 new trials" in out, err
    csv = tmp_path / "t.csv"
    code, _, err = cli(capsys, "export", "--store", store, "--out", csv)
    assert code == 0 and len(csv.read_text().splitlines()) == 1 + 1 + 12, err  # header, clean row, trials


def test_cli_per_layer_equal_count(checkpoint, tmp_path, capsys):
    store = tmp_path / "r.sqlite"
    code, _, err = cli(capsys, "campaign", "--checkpoint", checkpoint, "--data", "synthetic", "--fault",
                       "drop(p={rate})", "--per-layer", "layer", "--equal-count", "3,5", "--trials", "2",
                       "--store", store)
    assert code == 0, err
    with ResultsStore(store) as s:
        df = s.to_frame()
    assert len(df) == 2 * 2 * 2 and set(df.equal_count) == {3, 5}
    assert set(df.layer_group) == {"stem", "classifier"}  # the MLP's two layers


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--rates", "0.1,2"], "--rates: 2.0 is outside [0, 1]"),
        (["--fault", "drop(q={rate})"], "unknown parameter"),
        (["--layers.include", "nope*"], "no layer matches"),
        (["--checkpoint", "missing.ckpt"], "checkpoint not found"),
        (["--store", "/nonexistent/dir/r.sqlite"], "/nonexistent/dir"),
        (["--equal-count", "4"], "--equal_count: needs per-layer mode"),
        (["--equal-count", "4", "--per-layer", "group"], "not both"),
        (["--model", "mlp"], "give either --checkpoint"),
        (["--metric", "top-5"], "unknown metric"),
        (["--normalize", "[0.5]"], "normalize"),
    ],
)
def test_cli_bad_input(checkpoint, tmp_path, extra, message, capsys):
    """In process, as the CLI's main runs it (a subprocess's exit path is tested by test_cli_campaign_and_export)."""
    from faultlab.cli import main

    store = tmp_path / "r.sqlite"
    base = {"--checkpoint": str(checkpoint), "--data": "synthetic", "--fault": "drop(p={rate})", "--rates": "0.1",
            "--trials": "2", "--store": str(store)}
    for i in range(0, len(extra), 2):
        base[extra[i]] = extra[i + 1]
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["campaign", *[t for kv in base.items() for t in kv]])
    err = capsys.readouterr().err
    assert exc.value.code == 2, err
    assert message in err and "Traceback" not in err and err.strip().count("\n") == 0
    if store.exists():
        with ResultsStore(store) as s:
            assert s.count_trials() == 0


def test_per_layer_campaign_faults_one_layer_at_a_time_with_the_whole_network_maps(mlp_data, tmp_path):
    from faultlab.campaign.evaluation import evaluate
    from faultlab.faults import parse_fault
    from faultlab.injection import inject, trial_seeds

    net, x, y = mlp_data
    layers = LayerSelector().select(net)
    spec = CampaignSpec("drop(p={rate})", [0.2, 0.5], trials=3, per_layer=True, trials_per_pass=1)
    whole = CampaignSpec("drop(p={rate})", [0.2, 0.5], trials=3, trials_per_pass=1)
    with ResultsStore(tmp_path / "p.sqlite") as store:
        result = run_campaign(net, x, y, spec, store, RunInfo("r"), progress="off")
        run_campaign(net, x, y, whole, store, RunInfo("r"), progress="off")  # coexists with the per-layer rows
        df = store.to_frame()
    per = df[df.fault_scope == "layer"]
    assert sorted(set(per.layer)) == sorted(layers) and len(per) == len(layers) * 2 * 3
    assert {c.layer for c in result.cells} == set(layers)
    row = per[(per.layer == layers[1]) & (per.rate == 0.5) & (per.trial == 2)].iloc[0]
    seeds = trial_seeds(0, layers, "drop(p={rate})", 0.5, 2)
    assert row.fault_seed == seeds[layers[1]]
    with inject(net, parse_fault("drop(p=0.5)"), [layers[1]], {layers[1]: seeds[layers[1]]}):
        assert evaluate(net, x, y).accuracy == pytest.approx(row.accuracy, abs=1e-7)
    assert len(df[df.fault_scope == "network"]) == 6 and df[df.fault_scope == "network"].layer.isna().all()


def test_stacked_conv_maps_equal_one_map_per_pass(tmp_path):
    """The GPU path (K stacked maps per pass through vmap'd convolutions) checked on the CPU."""
    torch.manual_seed(0)
    net = architectures.build("mini_mobilenet_n", n=1).eval()
    x, y = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
    frames = []
    for k in (1, 4):
        spec = CampaignSpec("drop(p={rate})", [0.1, 0.3], trials=4, trials_per_pass=k)
        with ResultsStore(tmp_path / f"k{k}.sqlite") as store:
            run_campaign(net, x, y, spec, store, RunInfo("r"), progress="off")
            frames.append(rows(store))
    assert frames[0]["fault_seed"].equals(frames[1]["fault_seed"])
    assert (frames[0]["accuracy"] - frames[1]["accuracy"]).abs().max() <= 1 / 64 + 1e-9  # at most one flip


def test_trials_per_pass_from_memory():
    from faultlab.campaign.evaluation import auto_trials_per_pass, trials_for_memory

    assert trials_for_memory(10_000, 1_000) == 10
    assert trials_for_memory(10, 1_000) == 1 and trials_for_memory(10**12, 1) == 64
    conv = architectures.build("resnet20")
    assert auto_trials_per_pass(conv, torch.device("cpu"), 270_000, 2**28) == 1
    mlp = architectures.build("mlp")
    assert auto_trials_per_pass(mlp, torch.device("cpu"), 100_000, 4 * 100_000 * 8) == 8


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_campaign_meets_the_cpu_masks(tmp_path):
    torch.manual_seed(0)
    net = architectures.build("mini_mobilenet_n", n=2).eval()
    x, y = torch.randn(200, 1, 28, 28), torch.randint(0, 10, (200,))
    out = {}
    for device in ("cpu", "cuda"):
        spec = CampaignSpec("stuck_at(sa0=0.01,sa1={rate})", [0.05, 0.2], trials=6)
        with ResultsStore(tmp_path / f"{device}.sqlite") as store:
            run_campaign(net.to(device), x.to(device), y.to(device), spec, store, RunInfo("r"), progress="off")
            out[device] = rows(store)
    assert out["cpu"]["fault_seed"].equals(out["cuda"]["fault_seed"])
    assert (out["cpu"]["accuracy"] - out["cuda"]["accuracy"]).abs().max() <= 2 / 200
