"""Is the dry run's time estimate honest? ``faultlab sweep STUDY --dry-run`` (timed: how fast it answers), then the
same study run for real into a fresh store and runs folder (timed), and the ratio of the real time to the
estimate. Each step is a fresh ``faultlab`` process; wall and CPU (user + sys) seconds and the load average
(1 min) before each are recorded, since on a shared machine the load moves both numbers.

    python benchmarks/dry_run_estimate.py                                    # demo.yaml cut to one seed (3 runs)
    python benchmarks/dry_run_estimate.py --study tests/data/tiny_study.yaml --seeds 0 1 --workers 2
    python benchmarks/dry_run_estimate.py --dry-only                         # the dry run alone (no real sweep)

The real sweep's own summary (``in N s``) counts from its start to its end inside the process; the wall time
also holds the process start (imports) and the study's checks, which the estimate says it does not count.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from _common import print_table, save

ROOT = Path(__file__).resolve().parents[1]
UNIT = {"ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0}
ESTIMATE = re.compile(r"^estimate: (?:about (?P<about>[\d.]+ \w+)|(?P<low>[\d.]+ \w+) to (?P<high>[\d.]+ \w+)) ", re.M)


def seconds(text: str) -> float:
    value, unit = text.split()
    return float(value) * UNIT[unit]


def timed_run(args: list[str]) -> dict:
    """Run ``faultlab ARGS`` in a fresh process: its output, wall and CPU seconds, the load before it."""
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "faultlab.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        sys.exit(f"faultlab {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"out": done.stdout, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "load_before": round(load, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--study", default=str(ROOT / "experiments" / "demo.yaml"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[10], help="the study's training seeds, replaced")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--dry-only", action="store_true", help="time the dry run only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        study = yaml.safe_load(Path(args.study).read_text())
        study["training"]["seeds"] = args.seeds
        study.pop("sequential", None)
        path = Path(tmp) / "study.yaml"
        path.write_text(yaml.safe_dump(study))
        where = ["--store", f"{tmp}/s.sqlite", "--runs-dir", f"{tmp}/runs", "--workers", str(args.workers)]
        dry = timed_run(["sweep", str(path), "--dry-run", *where])
        print(dry["out"])
        match = ESTIMATE.search(dry["out"])
        low, high = ((seconds(match["about"]),) * 2 if match["about"] else (seconds(match["low"]),
                                                                             seconds(match["high"])))
        shown = f"{low:.0f}" if low == high else f"{low:.0f}-{high:.0f}"
        rows = [{"step": "sweep --dry-run", "wall_s": dry["wall_s"], "cpu_s": dry["cpu_s"],
                 "load_before": dry["load_before"], "estimate_s": shown}]
        if not args.dry_only:
            real = timed_run(["sweep", str(path), *where])
            print(real["out"])
            inside = float(re.search(r"in (\d+) s ->", real["out"]).group(1))
            rows.append({"step": "sweep (real)", "wall_s": real["wall_s"], "cpu_s": real["cpu_s"],
                         "load_before": real["load_before"], "inside_s": inside,
                         "ratio_inside": round(inside / high, 2), "ratio_wall": round(real["wall_s"] / high, 2)})
    columns = ["step", "wall_s", "cpu_s", "load_before", "estimate_s", "inside_s", "ratio_inside", "ratio_wall"]
    table = print_table(rows, columns)
    save("dry_run_estimate", {"study": args.study, "seeds": args.seeds, "workers": args.workers,
                              "cpus": os.cpu_count()}, rows, table)


if __name__ == "__main__":
    main()
