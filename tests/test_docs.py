"""The README's commands and make targets exist."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z][\w-]*)\s*:", text, flags=re.M))


def test_every_make_target_the_readme_names_exists():
    readme = (ROOT / "README.md").read_text()
    named = set(re.findall(r"(?:^|`)make ([\w-]+)", readme, flags=re.M))
    assert {"demo", "test"} <= named
    studies = [p.stem for p in (ROOT / "experiments").glob("*.yaml")]
    expanded = {n + s for n in named if n.endswith("-") for s in studies} | {n for n in named if not n.endswith("-")}
    dry = subprocess.run(["make", "-n", *sorted(expanded)], cwd=ROOT, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()


# ------------------------------------------------------------------------------------ "Your own model"


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(f"\n## {title}\n")
    return text[start : text.index("\n## ", start + 1)]


def code_blocks(section: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.S)


def shorter(code: str) -> str:
    """The README's commands with one trial at one rate, so the test takes seconds."""
    code = re.sub(r"--trials \d+", "--trials 1", code)
    code = re.sub(r"--rates [\d.,]+", "--rates 0.01", code)
    code = re.sub(r"trials=\d+", "trials=1", code)
    return re.sub(r"rates=\[[\d., ]+\]", "rates=[0.01]", code)


def test_your_own_model_cli_and_python_forms_run_and_agree(tmp_path, monkeypatch):
    import shlex

    import pandas as pd
    import torch
    import torchvision

    from faultlab.cli import main
    from faultlab.store import ResultsStore

    monkeypatch.chdir(tmp_path)
    (tmp_path / "results").mkdir()
    torch.manual_seed(0)  # the files the README names: a ResNet-18 state_dict and 8 CIFAR-sized test images
    torch.save(torchvision.models.resnet18(num_classes=100).state_dict(), "resnet18_cifar100.pt")
    torch.save({"x": torch.rand(8, 3, 32, 32), "y": torch.randint(0, 100, (8,))}, "cifar100_test.pt")
    section = readme_section("Your own model")
    (command,) = code_blocks(section, "bash")
    args = shlex.split(shorter(command).replace("\\\n", " "))
    assert args[0] == "faultlab"
    main(args[1:])
    python, callback = code_blocks(section, "python")
    assert len([line for line in python.splitlines() if not line.startswith(("print", " "))]) == 5  # five lines
    scope: dict = {}
    exec(shorter(python), scope)
    with ResultsStore("results/own.sqlite") as store:
        cli_rows = store.to_frame()
    assert len(cli_rows) == 1
    described = ["seconds", "dataset"]  # the CLI names its data file, the Python door was handed tensors
    pd.testing.assert_frame_equal(scope["df"].drop(columns=described), cli_rows.drop(columns=described))


def test_your_own_model_lightning_callback_runs(tmp_path, monkeypatch):
    import lightning as L
    from own_models import OwnDataModule, OwnLitModule

    monkeypatch.chdir(tmp_path)
    (tmp_path / "results").mkdir()
    (_, callback) = code_blocks(readme_section("Your own model"), "python")
    scope = {"L": L, "model": OwnLitModule(), "dm": OwnDataModule()}
    exec(shorter(callback), scope)
    assert len(scope["callback"].results) == 1
    assert (tmp_path / "results" / "own.sqlite").is_file()


# ------------------------------------------------------------------------------------ "In a notebook"


def digits_nets() -> tuple:
    """Small MLPs trained on scikit-learn's digits: 3 vanilla runs and 2 shortly trained ones."""
    from digits_mlps import digits, digits_mlp

    nets = {(method, seed): digits_mlp(32, seed, steps)
            for method, seeds, steps in (("vanilla", (0, 1, 2), 60), ("short", (0, 1), 15)) for seed in seeds}
    return nets, *digits()[2:]


def test_in_a_notebook_section_builds_every_figure(tmp_path):
    """The section's code run as notebook cells: statements executed, each figure expression evaluated."""
    import ast

    from matplotlib.figure import Figure

    nets, x, y = digits_nets()
    (code,) = code_blocks(readme_section("In a notebook"), "python")
    fast = re.sub(r"trials=\d+", "trials=3", code).replace(", method=", ", progress='off', method=")
    scope: dict = {"nets": nets, "x": x, "y": y}
    figures = []
    for node in ast.parse(fast).body:
        source = ast.get_source_segment(fast, node)
        if not isinstance(node, ast.Expr):
            exec(source, scope)
            continue
        figures.append(eval(source, scope))
    assert len(figures) == 4 and all(isinstance(f, Figure) for f in figures)
    for i, fig in enumerate(figures):
        fig.savefig(tmp_path / f"{i}.png")
        assert (tmp_path / f"{i}.png").stat().st_size > 5_000
    assert len(scope["df"]) == 5 * 5 * 3 and set(scope["df"].method) == {"vanilla", "short"}
    assert set(scope["per_layer"].layer) == {"0", "2"}


# ------------------------------------------------------------------------------------ "Perturb a model ..."


def test_perturb_in_your_own_loop_restores_the_weights_and_repeats(capsys):
    import torch

    train, loop = code_blocks(readme_section("Perturb a model in your own loop"), "python")
    scope: dict = {}
    exec(train, scope)
    trained = {k: v.clone() for k, v in scope["net"].state_dict().items()}
    clean = torch.nn.functional.mse_loss(scope["net"](scope["x"]), scope["y"]).item()
    assert clean < 0.05  # the regression net learned sin(x)
    exec(loop, scope)
    mse = scope["mse"]
    assert list(mse) == [0, 0.1, 0.3]
    assert mse[0] == clean and clean < mse[0.1] < mse[0.3]  # sigma 0 is the trained net; more noise, more error
    assert all(torch.equal(v, scope["net"].state_dict()[k]) for k, v in trained.items())  # bit for bit
    assert str(mse) in capsys.readouterr().out
    first = dict(mse)
    exec(loop, scope)
    assert scope["mse"] == first  # keyed maps: the same numbers again
