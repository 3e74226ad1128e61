"""``faultlab export``: the store as one tidy table, one row per trial (Parquet or CSV).

    faultlab export --store results/faultlab.sqlite --format csv --out results/trials.csv [--study demo]
"""

from __future__ import annotations

import argparse

from ._options import add_store_option, existing_store

HELP = "export the trials of a store as a tidy Parquet/CSV table"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help=HELP, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_store_option(p)
    p.add_argument("--format", choices=["parquet", "csv"], default=None, help="default: from the --out suffix")
    p.add_argument("--out", required=True, help="output file (.parquet or .csv)")
    p.add_argument("--study", default=None, help="only this study (default: all)")


def run(args: argparse.Namespace) -> None:
    from faultlab.store import ResultsStore

    with ResultsStore(existing_store(args.store)) as store:
        path = store.export(args.out, fmt=args.format, study=args.study)
        n = store.count_trials() if args.study is None else len(store.to_frame(args.study))
    print(f"wrote {n} trials to {path}")
