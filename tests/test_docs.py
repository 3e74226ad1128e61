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
    pd.testing.assert_frame_equal(scope["df"].drop(columns="seconds"), cli_rows.drop(columns="seconds"))


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
