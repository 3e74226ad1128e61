"""Sequential seeds: ``faultlab sweep STUDY --until-decided`` trains a study's runs in stages and stops training
the arms of a primary contrast once it is decided.

    summary = run_until_decided(spec, "results/demo.sqlite", workers=2)

The design is the study's ``sequential:`` block (``faultlab.stats.sequential.SequentialDesign``): looks at
``first``, ``first + step``, ... up to ``max_runs`` runs per arm. Seeds are taken in order from
:func:`~.question.sequential_seeds`. Stage k trains, for every arm (architecture, method), its first n arm runs:
at look 1 every arm of the study has ``first`` runs; at look k > 1 every arm of a primary contrast still open
(decision ``continue`` at look k - 1) has the k-th look's runs, and every other arm keeps what it had (an arm
shared by several contrasts trains while any of them is open; an arm in no primary contrast has the first look's
runs only). A stage is one batch handed to the executors of :mod:`.runner` (local processes or Ray).

After each stage the decisions are ``faultlab.stats.sequential.sequential_decisions`` on the store's trials of
exactly those runs (an arm's first n seeds: runs stored beyond them, e.g. by an earlier fixed sweep, are not
used), and the look is recorded in the store (``sequential_looks``, one row per contrast tested, written whole).
A recorded look is never revised: a resumed sweep (after Ctrl-C or kill -9) replays the recorded looks and
continues from the first unrecorded one, so its verdicts are those of an uninterrupted sweep. A store whose
looks were made under another design or for other contrasts is refused in one line.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from faultlab import FaultlabError
from faultlab.stats.contrasts import resolve_contrasts
from faultlab.stats.endpoints import surface_label
from faultlab.stats.looks import look_lines, looks_table
from faultlab.stats.sequential import SequentialDesign, sequential_decisions
from faultlab.stats.sequential_plan import design_lines
from faultlab.stats.study import chance_level, prepare_frame, spec_contrasts
from faultlab.stats.vocabulary import Decision
from faultlab.store import ResultsStore

from .execute import RunOutcome, checkpoint_path, is_complete
from .grid import RunPlan, expand
from .question import BASELINE, planned_contrasts, sequential_seeds
from .runner import check_where, execute_plans, store_journal
from .spec import StudySpec
from .stored import check_against_store, study_record

__all__ = ["SequentialSummary", "run_until_decided", "dry_run_sequential", "runs_per_arm", "Arm"]

Arm = tuple[str, str]  # (architecture label, method)
DESIGN_KEYS = {"first_look": "first", "step": "step", "max_runs": "max_runs", "alpha": "alpha",
               "futility": "futility", "power": "power"}
FIX = "use a new study name or a new --store"


@dataclass
class SequentialSummary:
    """What a sequential sweep did: runs used (trained now or before), trained now, new trials, seconds, the looks
    (``faultlab.stats.looks.looks_table``), the worst case (every primary arm at the maximum) and whether every
    primary contrast is decided."""

    runs: int
    trained: int
    new_trials: int
    seconds: float
    looks: pd.DataFrame
    worst_case: int
    decided: bool
    outcomes: list[RunOutcome]


def runs_per_arm(arms: Sequence[Arm], planned: Sequence[int], looks: Sequence[Sequence[dict]], k: int
                 ) -> dict[Arm, int]:
    """Runs per arm at look ``k`` (0-based): ``planned[0]`` for every arm, then at each later look j <= k the
    arms of the contrasts still open after look j - 1 (rows of ``looks[j - 1]`` with decision continue) get
    ``planned[j]``; the others keep theirs."""
    counts = {a: planned[0] for a in arms}
    for j in range(1, k + 1):
        for row in looks[j - 1]:
            if row["decision"] == Decision.CONTINUE:
                for arm in row["arms"]:
                    counts[tuple(arm)] = planned[j]
    return counts


def _by_arm(plans: Sequence[RunPlan]) -> dict[Arm, list[RunPlan]]:
    out: dict[Arm, list[RunPlan]] = {}
    for p in plans:  # expand() walks the seeds in order: each arm's list is in seed order
        out.setdefault((p.label, p.method.name), []).append(p)
    return out


def _setup(spec: StudySpec) -> tuple[SequentialDesign, StudySpec, dict[Arm, list[RunPlan]], list]:
    """The design, the spec with the sequential seeds, the plans per arm, and the planned primary contrasts
    (one line when there is none)."""
    seeds = sequential_seeds(spec)  # one line without a sequential: block, or with ambiguous seeds
    full = dataclasses.replace(spec, training=dataclasses.replace(spec.training, seeds=seeds))
    by_arm = _by_arm(expand(full))
    planned = planned_contrasts(full, list(by_arm))
    if not planned:
        raise FaultlabError(f"--until-decided: study {spec.name!r} has no primary contrast (no contrasts: block, and "
                            f"no method is compared with {BASELINE!r}); declare contrasts: (docs/campaigns.md)")
    return spec.sequential, full, by_arm, planned


def _check_design(recorded: list[dict], design: SequentialDesign, store: str, study: str) -> None:
    if not recorded:
        return
    old = {k: recorded[0][k] for k in DESIGN_KEYS}
    new = {k: getattr(design, v) for k, v in DESIGN_KEYS.items()}
    if {k: float(v) for k, v in old.items()} != {k: float(v) for k, v in new.items()}:
        said = ", ".join(f"{DESIGN_KEYS[k]} {old[k]}" for k in old if float(old[k]) != float(new[k]))
        raise FaultlabError(f"{store} holds looks of study {study!r} made with sequential {said}; recorded looks are "
                            f"never revised: restore that design, or {FIX}")


def _grouped(rows: list[dict]) -> list[list[dict]]:
    out: dict[int, list[dict]] = {}
    for r in rows:
        out.setdefault(int(r["look"]), []).append(r)
    return [out[k] for k in sorted(out)]


def _look_frame(store: ResultsStore, study: str, by_arm: dict[Arm, list[RunPlan]], counts: dict[Arm, int]
                ) -> pd.DataFrame:
    """The study's trials of exactly the look's runs: each arm's first ``counts[arm]`` seeds."""
    df = prepare_frame(store.to_frame(study))
    allowed = {(arm[0], arm[1], p.seed) for arm, plans in by_arm.items() for p in plans[:counts[arm]]}
    keep = [key in allowed for key in zip(df["variant"], df["method"], df["train_seed"].astype("int64"))]
    return df[keep]


def _decide(store: str, journal: str | None, full: StudySpec, design: SequentialDesign, by_arm, counts,
            k: int, n: int, earlier: list[list[dict]]) -> list[dict]:
    """The rows of look ``k`` (0-based; ``n`` planned runs per arm): every primary contrast at the first look,
    then those still open after look k - 1."""
    with ResultsStore(store, journal) as s:
        frame = _look_frame(s, full.name, by_arm, counts)
        chance = chance_level(s.runs(full.name))
    specs = spec_contrasts(study_record(full), frame, baseline=BASELINE)
    resolved = {(r.label, surface_label(r.scope, r.fault)): r for r in resolve_contrasts(frame, specs)}
    if len(resolved) != len(resolve_contrasts(frame, specs)):
        raise FaultlabError("two primary contrasts have one label on one fault surface; give them distinct name:s")
    first = {(r["contrast"], surface_label(r["scope"], r["fault"])) for r in earlier[0]} if earlier else set(resolved)
    if set(resolved) != first:
        raise FaultlabError(f"the primary contrasts of study {full.name!r} differ from those of its recorded looks; "
                            f"recorded looks are never revised: restore the contrasts, or {FIX}")
    tested = set(resolved) if not earlier else {
        (r["contrast"], surface_label(r["scope"], r["fault"])) for r in earlier[-1]
        if r["decision"] == Decision.CONTINUE}
    decisions = sequential_decisions(frame, specs, design, chance=chance, baseline=BASELINE)
    rows = []
    for _, d in decisions.iterrows():
        key = (d["contrast"], d["surface"])
        if key not in tested:
            continue
        c = resolved[key]
        rows.append({
            "study": full.name, "look": k + 1, "runs_per_arm": n, "contrast": c.label, "fault": c.fault,
            "scope": c.scope, "arms": sorted(set(c.arms_a + c.arms_b)), "n_runs": int(d["n_runs"]),
            **{col: float(d[col]) for col in ("estimate", "se", "df", "statistic", "efficacy_bound", "futility_bound",
                                              "equivalence_bound")},
            "margin": c.spec.margin if c.spec.margin is not None else float("nan"),
            "decision": str(d["decision"]), "reason": str(d["reason"]),
            **{col: getattr(design, key) for col, key in DESIGN_KEYS.items()}})
    return rows


def _bound_lines(design: SequentialDesign, planned, bounds: bool = True) -> list[str]:
    """Each look's efficacy bound (``bounds``) and a warning for a look that cannot plausibly decide (a method
    contrast, two methods among its arms, is paired by seed; the others are unpaired)."""
    return design_lines(design, [len({m for _, m in arms}) > 1 for _, arms in planned], bounds=bounds)


def _worst_case(by_arm: dict[Arm, list[RunPlan]], planned, design: SequentialDesign) -> int:
    primary = {a for _, arms in planned for a in arms}
    return sum(design.max_runs if a in primary else design.first for a in by_arm)


def run_until_decided(spec: StudySpec, store: str, runs_dir: str = "runs", workers: int | None = None,
                      executor: str = "local", address: str | None = None, max_retries: int = 3,
                      gpus_per_run: float = 0.0, stream=None) -> SequentialSummary:
    """Train ``spec`` in stages until every primary contrast is decided (module doc); print each look's decisions
    to ``stream`` (default stdout). Resumable and idempotent like :func:`~.runner.run_study`."""
    stream = sys.stdout if stream is None else stream
    t0 = time.perf_counter()
    design, full, by_arm, planned = _setup(spec)
    journal = store_journal(executor, address)
    check_where(executor, address, runs_dir)
    plans = [p for ps in by_arm.values() for p in ps]
    with ResultsStore(store, journal) as s:
        check_against_store(full, plans, s)  # before anything trains: no stored run's numbers may change
        s.record_study(spec.name, study_record(full))
        looks = _grouped(s.looks(spec.name))
    _check_design([r for look in looks for r in look], design, store, spec.name)
    points = design.looks()
    outcomes: list[RunOutcome] = []
    print(f"sequential seeds: looks at {', '.join(map(str, points))} runs per arm; seeds "
          f"{', '.join(map(str, full.training.seeds))} in that order", file=stream, flush=True)
    for line in _bound_lines(design, planned, bounds=False):
        print(line, file=stream, flush=True)
    session = nullcontext()
    if executor == "ray":
        from .ray_executor import ray_session

        session = ray_session(address, workers)
    with session:
        for k, n in enumerate(points):
            if k < len(looks):
                lines = look_lines(looks_table(looks[k]))
                print("\n".join([lines[0] + " (recorded)", *lines[1:]]), file=stream, flush=True)
            else:
                counts = runs_per_arm(list(by_arm), points, looks, k)
                with ResultsStore(store, journal) as s:
                    todo = [p for a, ps in by_arm.items() for p in ps[:counts[a]] if not is_complete(s, p, full)]
                outcomes += execute_plans(todo, full, store, runs_dir, workers, executor, address, max_retries,
                                          gpus_per_run, journal)
                rows = _decide(store, journal, full, design, by_arm, counts, k, n, looks)
                with ResultsStore(store, journal) as s:
                    s.record_look(rows)
                looks.append(rows)
                print("\n".join(look_lines(looks_table(rows))), file=stream, flush=True)
            if all(r["decision"] != Decision.CONTINUE for r in looks[k]):
                break
    counts = runs_per_arm(list(by_arm), points, looks, len(looks) - 1)
    table = looks_table([r for look in looks for r in look])
    return SequentialSummary(sum(counts.values()), sum(o.trained for o in outcomes),
                             sum(o.new_trials for o in outcomes), time.perf_counter() - t0, table,
                             _worst_case(by_arm, planned, design),
                             all(r["decision"] != Decision.CONTINUE for r in looks[-1]), outcomes)


def dry_run_sequential(spec: StudySpec, store_path: str, runs_dir: str, stream=None) -> tuple[int, int]:
    """Print the design, the primary contrasts as planned, the recorded looks and the trainings (fewest: every
    contrast decided at the first look; worst case: none before the maximum); returns (fewest, worst case)."""
    stream = sys.stdout if stream is None else stream
    design, full, by_arm, planned = _setup(spec)
    points = design.looks()
    looks: list[list[dict]] = []
    done: set[str] = set()
    if Path(store_path).exists():
        with ResultsStore(store_path, read_only=True) as s:
            check_against_store(full, [p for ps in by_arm.values() for p in ps], s)
            looks = _grouped(s.looks(spec.name))
            done = {p.config_hash for ps in by_arm.values() for p in ps if is_complete(s, p, full)}
        _check_design([r for look in looks for r in look], design, store_path, spec.name)

    def to_train(counts: dict[Arm, int]) -> int:
        return sum(1 for a, ps in by_arm.items() for p in ps[:counts[a]]
                   if p.config_hash not in done and not checkpoint_path(p, runs_dir).is_file())

    primary = {a for _, arms in planned for a in arms}
    fewest = to_train({a: design.first for a in by_arm})
    worst = to_train({a: design.max_runs if a in primary else design.first for a in by_arm})
    m = len(planned)
    print(f"study {spec.name}: sequential seeds, looks at {', '.join(map(str, points))} runs per arm (at most "
          f"{design.max_runs}); alpha {design.alpha:g} over {m} primary contrast(s), {design.alpha / m:.3g} each; "
          f"O'Brien-Fleming spending; futility {'on' if design.futility else 'off'} (power {design.power:g}); seeds "
          f"{', '.join(map(str, full.training.seeds))} in that order", file=stream)
    print("\n".join(_bound_lines(design, planned)), file=stream)
    print("primary contrasts as planned (resolved on the data at each look):", file=stream)
    for label, arms in planned:
        print(f"  {label}: {', '.join(f'{v} · {mm}' for v, mm in arms)}", file=stream)
    others = len(set(by_arm) - primary)
    print(f"arms: {len(primary & set(by_arm))} in primary contrasts (up to {design.max_runs} runs each), {others} in "
          f"none ({design.first} runs each, the first look only)", file=stream)
    for rows in looks:
        print("\n".join(look_lines(looks_table(rows))), file=stream)
    nxt = len(looks) + 1 if not looks or any(r["decision"] == Decision.CONTINUE for r in looks[-1]) else None
    if nxt is None:
        print("every primary contrast is decided: nothing to train", file=stream)
        return 0, 0
    if looks:
        counts = runs_per_arm(list(by_arm), points, looks, len(looks))
        print(f"resumes at look {nxt} ({points[len(looks)]} runs per arm): {to_train(counts)} trainings next",
              file=stream)
    print(f"to do: at least {fewest} trainings (every contrast decided at the first look), at most {worst} (none "
          "decided before the maximum), checkpoint cache and stored runs counted", file=stream)
    return fewest, worst
