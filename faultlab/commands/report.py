"""``faultlab report``: render a study's PDF report (plots, comparison tables, verdicts, methods).

    faultlab report demo [--store results/demo.sqlite] [--out reports/demo.pdf] [--spec experiments/demo.yaml]
"""

from __future__ import annotations

import argparse
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from faultlab import FaultlabError
from faultlab.names import check_name

from ._guards import add_force_option, check_output, writes_whole_outputs
from ._options import count, existing_store, open_unit, seed

HELP = "render the PDF report of a study"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help=HELP, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_study_options(p)
    p.add_argument("--out", default=None, help="PDF path (default reports/<study>.pdf)")
    p.add_argument("--spec", default=None, help="study spec shown in the report (default experiments/<study>.yaml)")
    add_force_option(p)


def add_study_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("study", help="study name (as in the spec's 'name')")
    p.add_argument("--store", default=None, help="results store (default results/<study>.sqlite)")
    p.add_argument("--baseline", default="vanilla", help="training method the others are compared to")
    p.add_argument("--margin", type=open_unit, default=0.01,
                   help="equivalence margin (accuracy, in (0, 1); default 0.01 = 1 pp)")
    p.add_argument("--fraction", type=open_unit, default=0.9,
                   help="critical rate: fraction of clean accuracy, in (0, 1) (default 0.9)")
    p.add_argument("--resamples", type=count, default=1000, help="bootstrap resamples, >= 1 (default 1000)")
    p.add_argument("--seed", type=seed, default=0, help="bootstrap seed, 0..2^63-1")


def store_of(args: argparse.Namespace) -> str:
    """The study's store; the study name is checked first (it becomes part of the default paths)."""
    return existing_store(args.store or f"results/{check_name(args.study, 'study name')}.sqlite")


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


@writes_whole_outputs
def run(args: argparse.Namespace) -> None:
    import yaml

    from faultlab.report import render_report
    from faultlab.store import ResultsStore

    store_path = store_of(args)
    check_name(args.study, "study name")  # it names the default --out and --spec
    spec_path = Path(args.spec or f"experiments/{args.study}.yaml")
    if args.spec is not None and not spec_path.is_file():
        raise FaultlabError(f"--spec {args.spec}: file not found")
    try:
        spec = yaml.safe_load(spec_path.read_text()) if spec_path.is_file() else None
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise FaultlabError(f"--spec {spec_path}: not a readable YAML study spec ({type(err).__name__})") from None
    out = Path(args.out or f"reports/{args.study}.pdf")
    if args.out is None:
        out.parent.mkdir(parents=True, exist_ok=True)
    out = check_output(out, "pdf", inputs={"store": store_path, "study spec": spec_path}, force=args.force)
    with ResultsStore(store_path, read_only=True) as store:
        summary = render_report(store, args.study, out, spec=spec, baseline_method=args.baseline, margin=args.margin,
                                fraction=args.fraction, n_resamples=args.resamples, seed=args.seed, meta=meta())
    print(f"wrote {summary.path} ({len(summary.pages)} pages)")
    for line in summary.verdicts[:10]:
        print(f"  {line}")
    for line in summary.missing:
        print(f"  missing: {line}")
