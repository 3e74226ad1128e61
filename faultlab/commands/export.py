"""``faultlab export``: the store as one tidy table, one row per trial (Parquet or CSV).

    faultlab export --store results/faultlab.sqlite --format csv --out results/trials.csv [--study demo]
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from faultlab import FaultlabError
from faultlab.parsing import command_parser

from ._guards import add_force_option, check_output, writes_whole_outputs
from ._types import default_folder, existing_store

HELP = "export the trials of a store as a tidy Parquet/CSV table"
FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


def build_parser():
    p = command_parser("faultlab export", __doc__)
    p.add_argument("--store", type=str, default="results/faultlab.sqlite", help="results store (SQLite file)")
    p.add_argument("--format", type=Literal["parquet", "csv"] | None, default=None,
                   help="default: from the --out suffix")
    p.add_argument("--out", type=str, required=True, help="output file (.parquet or .csv)")
    p.add_argument("--study", type=str | None, default=None, help="only this study (default: all)")
    p.add_argument("--with_masks", action="store_true", default=False,
                   help="add each trial's per-sample correctness (list<bool> column 'correct'; Parquet only)")
    add_force_option(p)
    return p


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
def run(cfg) -> None:
    from faultlab.store import ResultsStore
    from faultlab.store.frame import check_masks

    store_path = existing_store(cfg.store)
    fmt = output_format(cfg.out, cfg.format)
    default_folder(cfg.out)  # results/ in a fresh clone; a folder the user names must exist
    out = check_output(cfg.out, fmt, inputs={"store": store_path}, force=cfg.force)
    check_masks(fmt, cfg.with_masks)
    with ResultsStore(store_path, read_only=True) as store:
        if cfg.study is not None and cfg.study not in store.studies():
            import difflib

            known = store.studies()
            close = difflib.get_close_matches(cfg.study, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise FaultlabError(f"--study {cfg.study}: no such study in {store_path}{hint}; "
                                f"stored: {', '.join(known) or 'none'}")
        store.export(out, fmt=fmt, study=cfg.study, with_masks=cfg.with_masks)  # atomic
        n = store.count_trials() if cfg.study is None else len(store.to_frame(cfg.study))
    print(f"wrote {n} trials (and each run's clean evaluation) to {out}")
