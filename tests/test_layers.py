"""One way down: every import in faultlab/ and architectures/ (at module level or inside a function) points to a
lower layer or stays inside its own package. The layers, lowest first, as docs/design.md lists them."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# module or package -> layer; an import may go to a lower layer or stay inside its own package
LAYERS = {
    "faultlab": -1,  # the package itself: FaultlabError, __version__
    "faultlab._imports": 0, "faultlab.runtime": 0, "faultlab.parsing": 0,  # shared utilities
    "faultlab.names": 0, "faultlab.registry": 0,
    "faultlab.faults": 1, "faultlab.store": 1, "architectures": 1,  # leaves
    "faultlab.stats": 2, "faultlab.selector": 2, "faultlab.injection": 2,  # stats reads the store's rows
    "faultlab.data": 3,
    "faultlab.training": 4,
    "faultlab.campaign": 5,
    "faultlab.api": 6, "faultlab.lightning": 7,  # front doors (the callback goes through faultlab.run's door)
    "faultlab.sweep": 8,
    "faultlab.report": 9, "faultlab.plot": 9,
    "faultlab.commands": 10, "faultlab.cli": 11,
}
# a lower layer only some may import: the statistics read the store's rows, nothing computes them on the way
# (a sequential sweep, faultlab.sweep.sequential, decides each look from the rows it read back from the store)
ONLY_FROM = {"faultlab.stats": ("faultlab.sweep", "faultlab.report", "faultlab.plot", "faultlab.commands",
                                "faultlab.cli")}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def owner(name: str) -> str | None:
    """The entry of LAYERS a module belongs to (its longest prefix)."""
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in LAYERS:
            return ".".join(parts[:n])
    return None


def imports(name: str, source: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, module) of every faultlab/architectures import of module ``name``, relative ones resolved."""
    package = name if is_package else name.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join([*base, *([node.module] if node.module else [])])
            out += [(node.lineno, f"{target}.{a.name}" if node.level and not node.module else target)
                    for a in node.names]
    return [(line, t) for line, t in out if t.split(".")[0] in ("faultlab", "architectures")]


def violations(modules: list[tuple[str, str, bool]]) -> tuple[list[str], list[str]]:
    """(modules without a layer, imports up the layers or into a layer closed to them) of (name, source,
    is_package) triples."""
    unassigned, wrong = [], []
    for name, source, is_package in modules:
        here = owner(name)
        if here is None:
            unassigned.append(name)
            continue
        for line, target in imports(name, source, is_package):
            dest = owner(target)
            if dest is None:
                unassigned.append(target)
            elif dest != here and not dest.startswith(here + ".") and LAYERS[dest] >= LAYERS[here]:
                wrong.append(f"{name}:{line} imports {target} (layer {LAYERS[dest]} from {LAYERS[here]})")
            elif dest in ONLY_FROM and here != dest and here not in ONLY_FROM[dest]:
                wrong.append(f"{name}:{line} imports {target} (only {', '.join(ONLY_FROM[dest])} may)")
    return unassigned, wrong


def test_every_import_points_down_the_layers():
    files = sorted([*ROOT.glob("faultlab/**/*.py"), *ROOT.glob("architectures/**/*.py")])
    assert len(files) > 50
    unassigned, wrong = violations([(module_name(p), p.read_text(), p.name == "__init__.py") for p in files])
    assert not unassigned, f"give these a layer in LAYERS (and docs/design.md): {sorted(set(unassigned))}"
    assert not wrong, "imports up the layers:\n" + "\n".join(wrong)


def test_the_check_finds_lazy_relative_upward_and_closed_imports():
    found = imports("faultlab.sweep.execute", (ROOT / "faultlab/sweep/execute.py").read_text())
    assert ("faultlab.training.cli" in {t for _, t in found}) and ("faultlab.sweep.grid" in {t for _, t in found})
    lazy_command = "def train():\n    from faultlab.commands.train import lightning_main\n"
    campaign_stats = "from ..stats.planning import ci_halfwidth\n"
    _, wrong = violations([("faultlab.sweep.bad", lazy_command, False), ("faultlab.campaign.bad", campaign_stats,
                                                                          False)])
    assert wrong == ["faultlab.sweep.bad:2 imports faultlab.commands.train (layer 10 from 8)",
                     "faultlab.campaign.bad:1 imports faultlab.stats.planning (only faultlab.sweep, faultlab.report, "
                     "faultlab.plot, faultlab.commands, faultlab.cli may)"]
