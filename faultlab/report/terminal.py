"""``faultlab stats`` in a terminal: the study's answer in at most 120 columns, in % and pp like the PDF: accuracy
per rate first (with its interval, the AUC and the critical rate per arm), then the primary contrasts' verdicts as
short lines (or, without contrasts, each arm's answer), the most sensitive layers, what could not be computed, and
which CSV holds what. No matplotlib.

    print(stats_text(tables, study="demo", question=spec["question"], store="results/demo.sqlite", written=paths))
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from faultlab.stats import wording as fmt
from faultlab.stats.looks import design_line, look_lines
from faultlab.stats.vocabulary import Role

from .answer_text import answer_of, relevant_missing, sequential_words

__all__ = ["WIDTH", "CSV_NOTES", "stats_text", "accuracy_lines", "fit_columns", "clean_cost_lines", "look_text"]

WIDTH = 120
GAP = 2  # spaces between columns
CSV_NOTES = {  # what each CSV of ``faultlab stats`` holds
    "contrasts": "the declared contrasts: primary rows (the verdicts), secondary rows; typed columns",
    "verdicts": "the answer's sentences, one per primary contrast",
    "clean_costs": "each declared contrast's clean-accuracy difference a - b, 95 % CI over training runs",
    "family": "the primary family: size, alpha, verdict rule, chance level",
    "curves": "accuracy per arm and rate, 95 % interval (over runs; one run: over fault maps)",
    "curve_summary": "AUC and critical rate per arm with their 95 % intervals",
    "curve_runs": "each training run's mean accuracy per rate (drawn, not a band, with < 3 runs)",
    "run_summary": "each training run's mean and variance over its fault maps per rate",
    "runs": "the training runs: arm, seed, clean accuracy, trials",
    "variance_components": "between-run, between-map, test-sample variance per cell; runs or trials next",
    "method_comparison": "every method vs the baseline per architecture, each rate and AUC (recipe level)",
    "architecture_comparison": "every architecture pair per method, each rate and AUC (recipe level)",
    "group_comparison": "architectures compared per layer group (recipe level, exploratory)",
    "reliability": "share of test points correct in >= 95 % of the trials, per arm and rate",
    "reliability_comparison": "methods compared on that share (recipe level, exploratory)",
    "cells_maps": "per run and rate: trial mean, bootstrap CI, quantiles (level a)",
    "method_comparison_maps": "methods over identical fault maps (level a: conditional on the trained networks)",
    "architecture_comparison_maps": "architectures over fault maps (level a: conditional on the trained networks)",
    "reliability_maps": "reliable share per run, interval over its fault maps (level a)",
    "layer_sensitivity": "mean accuracy drop per layer (or group) and rate or K",
    "most_sensitive_layers": "the most sensitive layers per network, fault and scope",
    "missing": "what could not be computed, and why",
    "sequential_looks": "a sequential sweep's looks: per look and contrast, t, its bounds and the decision",
}


def fit_columns(table: pd.DataFrame, keys: int, width: int = WIDTH) -> list[str]:
    """``table`` (strings) as aligned lines of at most ``width`` characters: the first ``keys`` columns on every
    block, the others split into as many blocks as needed (a blank line between blocks)."""
    cells = table.astype(str)
    size = {c: max([len(str(c)), *(len(v) for v in cells[c])]) for c in cells.columns}
    key_cols, rest = list(cells.columns[:keys]), list(cells.columns[keys:])
    base = sum(size[c] + GAP for c in key_cols)
    blocks, current, used = [], [], base
    for c in rest:
        if current and used + size[c] + GAP > width:
            blocks.append(current)
            current, used = [], base
        current.append(c)
        used += size[c] + GAP
    blocks.append(current)
    lines: list[str] = []
    for i, block in enumerate(blocks):
        cols = key_cols + block
        if i:
            lines.append("")

        def row(values: Sequence[str], cols: list = cols) -> str:
            out = [v.ljust(size[c]) if j < keys else v.rjust(size[c]) for j, (c, v) in enumerate(zip(cols, values))]
            return (" " * GAP).join(out).rstrip()[:width]

        lines.append(row([str(c) for c in cols]))
        lines += [row([r[c] for c in cols]) for _, r in cells.iterrows()]
    return lines


def accuracy_lines(curves: pd.DataFrame, summary: pd.DataFrame) -> list[str]:
    """Per fault: accuracy per rate (%) with its interval for every arm, then AUC and critical rate."""
    out: list[str] = []
    for fault, c in curves.groupby("fault", sort=True):
        s = summary[summary["fault"] == fault].set_index(["variant", "method"]) if not summary.empty else summary
        rows = []
        for (variant, method), g in c.groupby(["variant", "method"], sort=True):
            row = {"arm": f"{variant} · {method}", "runs": str(int(g["n_runs"].iloc[0])),
                   "clean": f"{g['clean_accuracy'].iloc[0] * 100:.1f}"}
            for _, r in g.sort_values("rate").iterrows():
                row[f"{r['rate']:g}"] = (f"{r['estimate'] * 100:.1f} {fmt.fmt_ci_pct(r['ci_low'], r['ci_high'])}"
                                         + ("*" if r["truncated"] else ""))
            if len(s) and (variant, method) in s.index:
                a = s.loc[(variant, method)]
                row["AUC"] = (f"{a['auc'] * 100:.1f} {fmt.fmt_ci_pct(a['auc_low'], a['auc_high'])}"
                              + ("*" if a["auc_truncated"] else ""))
                row["critical rate"] = (f"{fmt.fmt_rate(a['critical_rate'])} [{fmt.fmt_rate(a['critical_low'])}, "
                                        f"{fmt.fmt_rate(a['critical_high'])}]")
            rows.append(row)
        over = ("95 % t interval over training runs" if (c["n_runs"] >= 2).all() else
                "95 % CI over fault maps, conditional on the trained network" if (c["n_runs"] == 1).all() else
                "95 % interval over training runs; arms with one run: over its fault maps")
        frac = f"{s['fraction'].iloc[0]:g}" if len(s) else "0.9"
        out += _wrap(f"Accuracy per rate under {fault}, % [{over}; * truncated to [0, 100]]; AUC: mean accuracy "
                     f"over the rates; critical rate: accuracy < {frac} × clean") + [""]
        out += fit_columns(pd.DataFrame(rows).fillna("–"), keys=3) + [""]
    return out


def look_text(looks: pd.DataFrame) -> list[str]:
    """A sequential sweep's design and looks (nothing without one), wrapped to :data:`WIDTH`."""
    if looks.empty:
        return []
    out = ["", "Sequential looks:", *_wrap(design_line(looks), "    ", "  ")]
    for line in look_lines(looks):
        indent = " " * (len(line) - len(line.lstrip()))
        out += _wrap(line.strip(), indent + "      ", indent + "  ")
    return out


def clean_cost_lines(costs: pd.DataFrame | None) -> list[str]:
    """``Clean accuracy a - b (no faults; 95 % CI over training runs, descriptive):`` then one line per contrast
    with a clean-accuracy difference: ``dropconnect vs vanilla on mini: 87.1 % vs 93.0 %, -5.9 pp [-7.6, -4.1]``."""
    if costs is None or costs.empty:
        return []
    rows = costs[costs["estimate"].notna()]
    if rows.empty:
        return []
    return ["Clean accuracy a - b (no faults; 95 % CI over training runs, descriptive, not tested):"] + [
        f"  {r['contrast']}: {fmt.fmt_pct(r['clean_a'])} vs {fmt.fmt_pct(r['clean_b'])}, {fmt.fmt_pp(r['estimate'])} "
        f"{fmt.fmt_ci_pp(r['low'], r['high'])}" for _, r in rows.iterrows()]


def _wrap(text: str, indent: str = "", first: str = "") -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=first or indent, subsequent_indent=indent,
                         break_on_hyphens=False) or [""]


def _distinct_labels(prim: pd.DataFrame) -> pd.DataFrame:
    """Primary rows whose label repeats (one contrast on several fault surfaces) labelled with their surface
    (``shortcut [K = 16 per layer]``), and with their fault where that still repeats."""
    out = prim.copy()
    if out["contrast"].duplicated(keep=False).any():
        out["contrast"] = [f"{c} [{fmt.short_surface(s)}]" for c, s in zip(out["contrast"], out["scope"])]
    if out["contrast"].duplicated(keep=False).any():
        out["contrast"] = [f"{c} [{f}]" for c, f in zip(out["contrast"], out["fault"])]
    return out


def stats_text(tables: Mapping[str, pd.DataFrame], *, study: str, question: str | None, store: str,
               folder: str | Path | None = None, written: Sequence[Path] = (), fraction: float = 0.9) -> str:
    """The terminal text of ``faultlab stats``; every line at most :data:`WIDTH` characters."""
    runs = tables["runs"]
    arms = runs.groupby(["variant", "method"])["run_id"].nunique()
    lines = _wrap(f"study {study}: {' '.join(question.split())}") if question else [f"study {study}"]
    n_trials = fmt.plural(len(tables["trials"]), "trial")
    lines += _wrap(f"store {store}: {fmt.plural(len(runs), 'training run')}, {n_trials}; "
                   f"{fmt.plural(len(arms), 'arm')}, {_span(arms)} run(s) per arm") + [""]
    if not tables["curves"].empty:
        lines += accuracy_lines(tables["curves"], tables["curve_summary"])
    ans = answer_of(tables, None, fraction)
    contrasts = tables["contrasts"]
    prim = contrasts[contrasts["role"] == Role.PRIMARY] if not contrasts.empty else contrasts
    lines += _wrap(ans.heading.rstrip(":") + (f"; {fmt.shared_endpoint(prim)}" if fmt.shared_endpoint(prim) else ""))
    if not prim.empty:
        summary = fmt.summary_sentence(contrasts)
        if summary:
            lines += _wrap(summary, "  ", "- ")
        lines += [x for _, r in _distinct_labels(prim).iterrows() for x in _wrap(fmt.contrast_line(r), "    ", "- ")]
        lines += [x for line in clean_cost_lines(tables.get("clean_costs")) for x in _wrap(line, "    ", "  ")]
        seq = sequential_words(tables.get("sequential_looks", pd.DataFrame()), "the looks below")
        lines += _wrap(seq, "  ", "  ") if seq else []
        lines += [x for s in ans.sentences[len(tables["verdicts"]):] for x in _wrap(s, "  ", "- ")]
    else:
        lines += [x for s in ans.sentences for x in _wrap(s, "  ", "- ")]
    lines += look_text(tables.get("sequential_looks", pd.DataFrame()))
    missing = relevant_missing(tables)
    if missing:
        lines += ["", "Not computed:"] + [x for m in missing for x in _wrap(m, "  ", "- ")]
    if written:
        where = f" in {folder}" if folder is not None else ""
        lines += ["", *_wrap(f"CSV tables{where} (every column; faultlab report draws the same tables):")]
        name_w = max(len(Path(p).name) for p in written)
        for p in written:
            note = CSV_NOTES.get(Path(p).stem, Path(p).stem.replace("_", " "))
            lines += _wrap(note, " " * (name_w + 4), f"  {Path(p).name.ljust(name_w)}  ")
    return "\n".join(line.rstrip() for line in lines)


def _span(counts: pd.Series) -> str:
    if counts.empty:
        return "0"
    lo, hi = int(counts.min()), int(counts.max())
    return f"{lo}" if lo == hi else f"{lo}–{hi}"
