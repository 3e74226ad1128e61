"""``faultlab report``: render a study's PDF report (plots, comparison tables, verdicts, methods).

    faultlab report demo [--store results/demo.sqlite] [--out reports/demo.pdf]   # the spec stored with the study
"""

from __future__ import annotations

import platform
import subprocess
import textwrap
from datetime import datetime, timezone
from pathlib import Path

from faultlab.names import check_name
from faultlab.parsing import command_parser

from ._guards import add_force_option, check_output, writes_whole_outputs
from ._types import OpenUnitInterval, PositiveInt, Seed, default_folder, existing_store

HELP = "render the PDF report of a study"


def build_parser():
    p = command_parser("faultlab report", __doc__)
    add_study_options(p)
    p.add_argument("--out", type=str | None, default=None, help="PDF path (default reports/<study>.pdf)")
    p.add_argument("--no_appendix", action="store_true", default=False,
                   help="write the main part only (the answer and its figures); --no-appendix works too")
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
    p.add_argument("--spec", type=str | None, default=None,
                   help="show this study spec file instead of the one the sweep stored with the study (a warning "
                        "says when they differ)")


def store_of(cfg) -> str:
    """The study's store; the study name is checked first (it becomes part of the default paths)."""
    return existing_store(cfg.store or f"results/{check_name(cfg.study, 'study name')}.sqlite")


def shown_spec(args, store, quiet: bool = False) -> dict | None:
    """The study spec (question, answer block, spec pages): the one the sweep stored with the study; ``--spec
    FILE`` only as an explicit override, with a one-line warning when it differs from the stored one."""
    import sys

    stored = store.study_spec(args.study)
    if args.spec is None:
        if stored is None and not quiet:
            print(f"note: {args.store or store_of(args)} holds no spec of study {args.study!r} (a campaign's store, or "
                  "one swept before specs were stored); pass --spec FILE to show one", file=sys.stderr)
        return stored
    from faultlab.sweep.stored import read_spec

    override = read_spec(args.spec)
    if stored is not None and override != stored:
        print(f"warning: --spec {args.spec} differs from the spec stored with study {args.study!r}; showing --spec",
              file=sys.stderr)
    return override


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
def run(cfg) -> None:
    from faultlab.report import render_report
    from faultlab.store import ResultsStore

    store_path = store_of(cfg)
    check_name(cfg.study, "study name")  # it names the default --out
    out = Path(cfg.out or f"reports/{cfg.study}.pdf")
    inputs = {"store": store_path, **({"study spec": cfg.spec} if cfg.spec else {})}
    out = check_output(out, "pdf", inputs=inputs, force=cfg.force, folder_may_be_missing=cfg.out is None)
    if cfg.out is None:
        default_folder(out)
    with ResultsStore(store_path, read_only=True) as store:
        spec = shown_spec(cfg, store, quiet=True)  # the note on a missing spec follows the summary
        summary = render_report(store, cfg.study, out, spec=spec, baseline_method=cfg.baseline, margin=cfg.margin,
                                fraction=cfg.fraction, n_resamples=cfg.resamples, seed=cfg.seed, meta=meta(),
                                appendix=not cfg.no_appendix)
    rest = len(summary.pages) - summary.main_pages
    print(f"wrote {summary.path} ({len(summary.pages)} pages: main part {summary.main_pages}"
          + (f", appendix {rest})" if rest else ")"))
    for line in summary.verdicts[:10]:
        print(textwrap.fill(line, 120, initial_indent="  ", subsequent_indent="    ", break_on_hyphens=False))
    for line in summary.missing:
        print(textwrap.fill(f"missing: {line}", 120, initial_indent="  ", subsequent_indent="    "))
    if spec is None:
        print(f"  note: {store_path} holds no spec of study {cfg.study!r} (a campaign's store, or one swept before "
              "specs were stored); pass --spec FILE to show one")
