"""End-to-end CLI checks: training through LightningCLI, config validation, clear errors."""

import subprocess
import sys
from pathlib import Path

import pytest
from cli_run import cli

from faultlab.commands.train import lightning_main

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "experiments" / "train").glob("*.yaml"))


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "faultlab.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_every_training_config_parses(config, capsys):
    """In this process: half a second a config, where a fresh process spends 8 s importing (a real process's
    exit status: test_missing_checkpoint)."""
    code, out, err = cli(capsys, "fit", "--config", config, "--print_config")
    assert code == 0, err[-2000:]
    assert "arch:" in out


@pytest.mark.slow
def test_fit_mini_mobilenet_mnist5k_two_epochs(tmp_path):
    cfg = str(ROOT / "experiments/train/mini_mobilenet.yaml")
    common = ["--config", cfg, "--trainer.default_root_dir", str(tmp_path), "--trainer.enable_progress_bar", "false"]
    fit = lightning_main(["fit", *common, "--trainer.max_epochs", "2"])
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    assert ckpt.is_file()
    assert fit.trainer.current_epoch == 2
    test = lightning_main(["test", *common, "--ckpt_path", str(ckpt)])
    acc = float(test.trainer.callback_metrics["test_acc"])
    assert acc >= 0.90, acc


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model.arch", "resnet2O"], "unknown architecture 'resnet2O'"),
        (["--model.bogus", "1"], "--model.bogus: unknown option"),
        (["--data", "faultlab.data.CIFAR10", "--data.data_dir", "/nonexistent/faultlab"], "cifar10: files not found"),
    ],
)
def test_bad_input_is_one_clear_line(args, message, capsys):
    """In this process (a real process's exit status: test_missing_checkpoint)."""
    code, _, err = cli(capsys, "fit", "--config", ROOT / "experiments/train/mini_mobilenet.yaml",
                       "--trainer.max_epochs", "0", *args)
    assert code != 0
    assert message in err
    assert "Traceback" not in err


def test_missing_checkpoint():
    res = run_cli("test", "--config", "experiments/train/mini_mobilenet.yaml", "--ckpt_path", "missing.ckpt")
    assert res.returncode == 2 and "checkpoint not found: missing.ckpt" in res.stderr


def test_unknown_command():
    res = run_cli("frobnicate")
    assert res.returncode == 2 and "unknown command" in res.stderr


def test_campaigns_on_a_plain_network_and_tensors_do_not_import_lightning(tmp_path):
    """faultlab.run on an nn.Module and tensors, and ``faultlab campaign`` of a state_dict on ``tensors:FILE``, need
    neither the data modules nor Lightning (about 2.5 s of imports on 2 cores; the data sets load on first use)."""
    code = (
        "import sys, torch, architectures, faultlab\nfrom faultlab.cli import main\n"
        "net = architectures.build_for_input('mlp', 10, (1, 8, 8), hidden=[16])\n"
        "x, y = torch.rand(40, 1, 8, 8), torch.randint(0, 10, (40,))\n"
        "df = faultlab.run(net, (x, y), 'drop(p={rate})', rates=[0.1], trials=2, progress='off')\n"
        "assert len(df) == 2, df\n"
        f"torch.save(net.state_dict(), {str(tmp_path / 'w.pt')!r})\n"
        f"torch.save({{'x': x, 'y': y}}, {str(tmp_path / 'test.pt')!r})\n"
        f"main(['campaign', '--model', 'mlp', '--model-args', '{{\"hidden\": [16], \"in_features\": 64}}', "
        f"'--weights', {str(tmp_path / 'w.pt')!r}, '--data', 'tensors:' + {str(tmp_path / 'test.pt')!r}, "
        "'--fault', 'drop(p={rate})', '--rates', '0.1', '--trials', '2', '--dry-run'])\n"
        "heavy = ('lightning', 'torchmetrics', 'faultlab.data.base')\n"
        "print('imported:', sorted(m for m in heavy if m in sys.modules))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "1 cell of 2 trials = 2 trials; 2 layers selected" in res.stdout, res.stdout
    assert "imported: []" in res.stdout, res.stdout
    import lightning as L

    import faultlab.data as data  # the data sets are still there, LightningDataModules, on first use

    assert issubclass(data.MNIST5k, L.LightningDataModule) and "mnist5k" in data.DATASETS
    assert set(data.__all__) <= set(dir(data))


def test_commands_that_need_no_model_import_neither_torch_nor_lightning(tmp_path):
    """--help, an unknown command and export/stats/report of a missing store answer without importing torch
    or Lightning (about 8 s of imports on 2 cores, before anything is said)."""
    calls = [["--help"], ["frobnicate"], ["export", "--store", str(tmp_path / "none.sqlite"), "--out", "t.csv"],
             ["stats", "none", "--store", str(tmp_path / "none.sqlite")],
             ["report", "none", "--store", str(tmp_path / "none.sqlite")]]
    code = (
        "import sys\nfrom faultlab.cli import main\n"
        f"for argv in {calls!r}:\n"
        "    try:\n        main(argv)\n    except SystemExit as exit:\n        assert exit.code == 2, argv\n"
        "print('imported:', sorted(m for m in ('torch', 'lightning') if m in sys.modules))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "imported: []" in res.stdout
    assert res.stderr.count("faultlab: error:") == 4  # frobnicate and the three missing stores
