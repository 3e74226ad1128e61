"""``faultlab export``: the store as one tidy table, one row per trial (Parquet or CSV).

    faultlab export --store results/faultlab.sqlite --format csv --out results/trials.csv [--study demo]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from faultlab import FaultlabError

from ._guards import add_force_option, check_output, writes_whole_outputs
from ._options import add_store_option, existing_store

HELP = "export the trials of a store as a tidy Parquet/CSV table"
FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help=HELP, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_store_option(p)
    p.add_argument("--format", choices=["parquet", "csv"], default=None, help="default: from the --out suffix")
    p.add_argument("--out", required=True, help="output file (.parquet or .csv)")
    p.add_argument("--study", default=None, help="only this study (default: all)")
    p.add_argument("--with-masks", action="store_true",
                   help="add each trial's per-sample correctness (list<bool> column 'correct'; Parquet only)")
    add_force_option(p)


def output_format(out: str, fmt: str | None) -> str:
    suffix = Path(out).suffix.lower()
    if Path(out).is_dir():
        raise FaultlabError(f"--out {out} is a folder; pass a file path such as {Path(out) / 'trials.csv'}")
    if fmt is not None:
        if suffix in FORMATS and FORMATS[suffix] != fmt:
            raise FaultlabError(f"--format {fmt} but --out {out} has a {FORMATS[suffix]} suffix; make them agree")
        return fmt
    if suffix not in FORMATS:
        raise FaultlabError(f"--out {out}: cannot infer the format from the suffix; use .parquet or .csv, "
                            "or pass --format parquet|csv")
    return FORMATS[Path(out).suffix.lower()]


@writes_whole_outputs
def run(args: argparse.Namespace) -> None:
    from faultlab.store import ResultsStore
    from faultlab.store.frame import check_masks

    store_path = existing_store(args.store)
    fmt = output_format(args.out, args.format)
    out = check_output(args.out, fmt, inputs={"store": store_path}, force=args.force, folder_may_be_missing=True)
    check_masks(fmt, args.with_masks)
    with ResultsStore(store_path, read_only=True) as store:
        if args.study is not None and args.study not in store.studies():
            import difflib

            known = store.studies()
            close = difflib.get_close_matches(args.study, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise FaultlabError(f"--study {args.study}: no such study in {store_path}{hint}; "
                                f"stored: {', '.join(known) or 'none'}")
        store.export(out, fmt=fmt, study=args.study, with_masks=args.with_masks)  # atomic; creates the folder
        n = store.count_trials() if args.study is None else len(store.to_frame(args.study))
    print(f"wrote {n} trials (and each run's clean evaluation) to {out}")
