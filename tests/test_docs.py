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
