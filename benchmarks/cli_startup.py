"""CLI start-up: wall seconds of fresh ``faultlab`` processes that need no model (help, an unknown command,
export/stats/report of a missing store, a campaign with a bad rate), next to a fresh process that only
imports what the CLI imported up front before it imported lazily (Lightning's CLI and faultlab.training).
Runs are interleaved (one round = every command once), so machine drift hits all alike.

    python benchmarks/cli_startup.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import mean_std, print_table, save

ROOT = Path(__file__).resolve().parents[1]
EAGER = "import lightning.pytorch.cli, faultlab.data, faultlab.training"  # the old cli.py's top-level imports


def commands(store: str) -> dict[str, list[str]]:
    cli = [sys.executable, "-m", "faultlab.cli"]
    return {
        "eager imports (old start-up)": [sys.executable, "-c", EAGER],
        "faultlab --help": [*cli, "--help"],
        "faultlab frobnicate": [*cli, "frobnicate"],
        "faultlab export (no store)": [*cli, "export", "--store", store, "--out", "t.csv"],
        "faultlab stats (no store)": [*cli, "stats", "none", "--store", store],
        "faultlab campaign --rates 2": [*cli, "campaign", "--checkpoint", "x.ckpt", "--fault", "drop(p={rate})",
                                        "--rates", "2"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cmds = commands(str(Path(tmp) / "none.sqlite"))
        seconds: dict[str, list[float]] = {name: [] for name in cmds}
        for _ in range(args.repeats):
            for name, cmd in cmds.items():
                t0 = time.perf_counter()
                subprocess.run(cmd, cwd=tmp, capture_output=True, check=False)
                seconds[name].append(time.perf_counter() - t0)
    eager = mean_std(seconds["eager imports (old start-up)"])[0]
    rows = []
    for name, xs in seconds.items():
        mean, std = mean_std(xs)
        rows.append({"command": name, "seconds": f"{mean:.2f} ± {std:.2f}", "eager / this": f"{eager / mean:.1f}x"})
    table = print_table(rows, ["command", "seconds", "eager / this"])
    print(f"saved {save('cli_startup', vars(args), rows, table)}")


if __name__ == "__main__":
    main()
