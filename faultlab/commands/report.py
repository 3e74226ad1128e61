"""``faultlab report``: render a study's PDF report (plots, comparison tables, verdicts, methods).

    faultlab report demo [--store results/demo.sqlite] [--out reports/demo.pdf] [--spec experiments/demo.yaml]
"""

from __future__ import annotations

import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from faultlab import FaultlabError
from faultlab.parsing import command_parser

from ._guards import add_force_option, check_output
from ._types import OpenUnitInterval, PositiveInt, Seed, default_folder, existing_store

HELP = "render the PDF report of a study"


def build_parser():
    p = command_parser("faultlab report", __doc__)
    add_study_options(p)
    p.add_argument("--out", type=str | None, default=None, help="PDF path (default reports/<study>.pdf)")
    p.add_argument("--spec", type=str | None, default=None,
                   help="study spec shown in the report (default experiments/<study>.yaml)")
    add_force_option(p)
    return p


def add_study_options(p) -> None:
    p.add_argument("study", type=str, help="study name (as in the spec's 'name')")
    p.add_argument("--store", type=str | None, default=None, help="results store (default results/<study>.sqlite)")
    p.add_argument("--baseline", type=str, default="vanilla", help="training method the others are compared to")
    p.add_argument("--margin", type=OpenUnitInterval, default=0.01,
                   help="equivalence margin (accuracy, in (0, 1); 0.01 = 1 pp)")
    p.add_argument("--fraction", type=OpenUnitInterval, default=0.9,
                   help="critical rate: fraction of clean accuracy, in (0, 1)")
    p.add_argument("--resamples", type=PositiveInt, default=1000, help="bootstrap resamples")
    p.add_argument("--seed", type=Seed, default=0, help="bootstrap seed, 0..2^63-1")


def store_of(cfg) -> str:
    return existing_store(cfg.store or f"results/{cfg.study}.sqlite")


def meta() -> dict[str, str]:
    """Versions and the git revision, printed on the methods page."""
    import torch

    import faultlab

    device = "CUDA " + torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
    info = {"faultlab": faultlab.__version__, "torch": torch.__version__, "python": platform.python_version(),
            "machine": f"{platform.machine()}, {device}",
            "rendered": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    try:
        root = Path(__file__).resolve().parents[2]
        rev = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty"], capture_output=True,
                             text=True, timeout=10)
        if rev.returncode == 0:
            info["git revision"] = rev.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def run(cfg) -> None:
    from faultlab.parsing import ConfigError, read_yaml
    from faultlab.report import render_report
    from faultlab.store import ResultsStore

    store_path = store_of(cfg)
    spec_path = Path(cfg.spec or f"experiments/{cfg.study}.yaml")
    if cfg.spec is not None and not spec_path.is_file():
        raise FaultlabError(f"--spec {cfg.spec}: file not found")
    try:
        spec = read_yaml(spec_path, "--spec") if spec_path.is_file() else None
    except ConfigError as err:
        raise FaultlabError(f"--spec {spec_path}: not a readable YAML study spec ({err})") from None
    out = Path(cfg.out or f"reports/{cfg.study}.pdf")
    out = check_output(out, "pdf", inputs={"store": store_path, "study spec": spec_path}, force=cfg.force,
                       folder_may_be_missing=cfg.out is None)
    if cfg.out is None:
        default_folder(out)
    with ResultsStore(store_path, read_only=True) as store:
        summary = render_report(store, cfg.study, out, spec=spec, baseline_method=cfg.baseline, margin=cfg.margin,
                                fraction=cfg.fraction, n_resamples=cfg.resamples, seed=cfg.seed, meta=meta())
    print(f"wrote {summary.path} ({len(summary.pages)} pages)")
    for line in summary.verdicts[:10]:
        print(f"  {line}")
    for line in summary.missing:
        print(f"  missing: {line}")
