"""The facts a methods section needs, read from the stored spec, the run rows and the trials: data set and test
subset, training budget, fault models and rates, runs per arm, trials per rate; and the arms' table (clean
accuracy, AUC, critical rate). Strings for page 1 and the terminal; no statistics computed here.

    facts = study_facts(tables, spec, runs, campaigns)     # [("data", "mnist5k, 200 test points per trial"), ...]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from faultlab.stats import wording as fmt
from faultlab.store import ALL_LAYERS

__all__ = ["study_facts", "training_words", "arms_table", "span_words"]


def span_words(values: Sequence[float] | pd.Series) -> str:
    """``20`` or ``6–20`` (integers); ``–`` when empty."""
    v = pd.Series(values).dropna()
    if v.empty:
        return "–"
    lo, hi = int(v.min()), int(v.max())
    return f"{lo:,}" if lo == hi else f"{lo:,}–{hi:,}"


def _mapping(value: object) -> Mapping:
    """A stored spec's block as a mapping: a mapping as it is; a store written before options were stored as
    mappings holds their text (``"{'max_epochs': 2}"``), read back as YAML; anything else is empty."""
    if isinstance(value, str):
        import yaml

        try:
            value = yaml.safe_load(value)
        except yaml.YAMLError:
            return {}
    return value if isinstance(value, Mapping) else {}


def _optimizer(training: Mapping) -> tuple[str | None, object]:
    """(optimizer name, learning rate) from a training block in either format: ``optimizer: adam, lr: 0.003`` or
    ``model: {optimizer: {class_path: torch.optim.Adam, init_args: {lr: 0.003}}}``."""
    opt = training.get("optimizer")
    model = _mapping(training.get("model"))
    if opt is None and model:
        opt = model.get("optimizer")
    lr = training.get("lr")
    if isinstance(opt, Mapping):
        lr = (opt.get("init_args") or {}).get("lr", lr)
        opt = opt.get("class_path")
    name = str(opt).rsplit(".", 1)[-1] if opt else None
    return name, lr


def _early_stopping(trainer: Mapping) -> str:
    """``val_acc stopped improving for 3 epochs`` from an EarlyStopping callback of the trainer block, else ``''``."""
    callbacks = trainer.get("callbacks") or []
    for cb in callbacks if isinstance(callbacks, list) else [callbacks]:
        cb = _mapping(cb)
        if str(cb.get("class_path", "")).rsplit(".", 1)[-1] == "EarlyStopping":
            args = _mapping(cb.get("init_args"))
            patience = args.get("patience", 3)
            return (f"{args.get('monitor', 'the monitored metric')} stopped improving for "
                    f"{fmt.plural(int(patience), 'epoch') if isinstance(patience, int) else patience}")
    return ""


def _seeds_words(declared: Sequence, used: Sequence | None) -> str:
    """``training seeds 0, 1``; when the data hold fewer (a sequential sweep stops early): ``training seeds 10, 11,
    12, 13 (of 10–15 declared)``."""
    shown = sorted({int(s) for s in used}) if used is not None and len(used) else list(declared)
    words = f"training seeds {', '.join(str(s) for s in shown)}"
    if declared and set(shown) != {int(s) for s in declared}:
        ds = [int(s) for s in declared]
        span = f"{min(ds)}–{max(ds)}" if ds == list(range(min(ds), max(ds) + 1)) else ", ".join(map(str, ds))
        words += f" (of {span} declared)"
    return words


def training_words(spec: Mapping | None, used_seeds: Sequence[int] | None = None) -> str:
    """``2 epochs of Adam (lr 0.003), batch 128; training seeds 0, 1`` from the stored spec's training block (either
    format); ``not stored`` without a spec. ``used_seeds``: the seeds the data hold, named instead of the declared
    ones (which are then given as a span) when they differ."""
    training = (spec or {}).get("training")
    if not isinstance(training, Mapping):
        return "not stored with the data (a campaign's store: the network was trained elsewhere)"
    trainer = _mapping(training.get("trainer"))
    epochs = training.get("epochs", trainer.get("max_epochs"))
    steps = trainer.get("max_steps")
    budget = (f"{fmt.plural(int(epochs), 'epoch')}" if isinstance(epochs, int) else
              f"{fmt.plural(int(steps), 'step')}" if isinstance(steps, int) and steps > 0 else "budget not stated")
    stop = _early_stopping(trainer)
    if stop and budget != "budget not stated":
        budget = f"until {stop}, at most {budget}"
    opt, lr = _optimizer(training)
    if opt:
        budget += f" of {opt}" + (f" (lr {lr:g})" if isinstance(lr, (int, float)) else "")
    batch = _mapping(_mapping((spec or {}).get("data")).get("options")).get("batch_size")
    if isinstance(batch, int):
        budget += f", batch {batch}"
    seeds = training.get("seeds")
    if seeds:
        budget += f"; {_seeds_words(seeds, used_seeds)}"
    return budget


def _class_words(method: Mapping) -> str:
    """``DropConnect, p=0.3``: a fault-aware method's class and the arguments that are not its defaults' kind of
    noise (mappings, None and False are left out: layer selections, switches)."""
    args = _mapping(method.get("init_args"))
    shown = [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in args.items()
             if isinstance(v, int | float | str) and not isinstance(v, bool) and v != 0]
    return ", ".join([str(method["class_path"]).rsplit(".", 1)[-1], *shown])


def _methods_words(spec: Mapping | None, methods: Sequence[str]) -> str:
    """``vanilla; dropconnect (dropconnect, drop(p=0.3))``: each method with its fault-aware training, if stored."""
    described = {}
    for m in (spec or {}).get("methods") or []:
        if isinstance(m, Mapping) and m.get("name"):
            fa = _mapping(m.get("fault_aware"))
            what = (", ".join(str(fa[k]) for k in ("method", "fault") if fa.get(k)) if "class_path" not in fa else
                    _class_words(fa))
            described[str(m["name"])] = f"{m['name']} ({what})" if what else str(m["name"])
    return "; ".join(described.get(m, m) for m in methods)


def _data_words(spec: Mapping | None, runs: Sequence[dict], trials: pd.DataFrame) -> str:
    names = {str((r.get("evaluation") or {}).get("data")) for r in runs if (r.get("evaluation") or {}).get("data")}
    name = ((spec or {}).get("data") or {}).get("name") or ", ".join(sorted(names)) or "not recorded"
    points = trials["n_samples"].dropna() if "n_samples" in trials else pd.Series(dtype=float)
    return f"{name}; {span_words(points)} test points per trial" if len(points) else str(name)


def _layers_words(campaigns: Sequence[dict], ids: set) -> str:
    used = [c for c in campaigns if c.get("campaign_id") in ids]
    layers = sorted({str(c["layers"]) for c in used if c.get("layers")})
    seeds = sorted({str(c["campaign_seed"]) for c in used if c.get("campaign_seed") is not None})
    bn = sorted({int(c["bn_recalibration"]) for c in used if c.get("bn_recalibration")})
    out = "; ".join(layers) if layers else "layers not recorded"
    if seeds:
        out += f"; campaign seed {', '.join(seeds)}"
    if bn:
        out += f"; BatchNorm recalibrated on {', '.join(map(str, bn))} batches"
    return out


def study_facts(tables: Mapping[str, pd.DataFrame], spec: Mapping | None, runs: Sequence[dict],
                campaigns: Sequence[dict]) -> list[tuple[str, str]]:
    """(name, text) pairs: data, training, methods, fault model, rates, runs per arm, trials per rate, totals."""
    df, arms = tables["trials"], tables["runs"]
    whole = df[df["layer"] == ALL_LAYERS]
    counts = df["equal_count"].fillna(0).astype(int) if "equal_count" in df else pd.Series(0, index=df.index)
    rates = sorted(df.loc[counts == 0, "rate"].unique())
    per_arm = arms.groupby(["variant", "method"])["run_id"].nunique()
    per_rate = whole.groupby(["run_id", "fault", "rate"]).size()
    out = [
        ("data", _data_words(spec, runs, df)),
        ("training", training_words(spec, sorted(arms["train_seed"].dropna().unique()) if "train_seed" in arms
                                     else None)),
        ("methods", _methods_words(spec, sorted(df["method"].unique()))),
        ("fault model", f"{fmt.join_words(sorted(df['fault'].unique()))}; "
                        f"{_layers_words(campaigns, set(df['campaign_id']))}"),
        ("rates", ", ".join(f"{r:g}" for r in rates) or "none (equal counts only)"),
    ]
    if (counts > 0).any():
        out.append(("equal counts", ", ".join(f"K = {k}" for k in sorted(counts[counts > 0].unique()))
                    + " faulty weights per layer, one layer at a time"))
    out += [
        ("runs per arm", f"{span_words(per_arm)}; {fmt.plural(len(per_arm), 'arm')} "
                         f"({fmt.plural(df['variant'].nunique(), 'architecture')} and "  # not "×": arms need not
                         f"{fmt.plural(df['method'].nunique(), 'training method')})"),  # be the full grid
        ("trials per rate", f"{span_words(per_rate)} fault maps per run and rate (whole network)"
                            if len(per_rate) else "no whole-network trials"),
    ]
    layers = df[df["layer"] != ALL_LAYERS]
    if len(layers):
        out.append(("per layer", f"{layers['layer'].nunique()} layers or groups faulted one at a time, "
                                 f"{span_words(layers.groupby(['run_id', 'layer', 'rate']).size())} trials per cell"))
    out.append(("totals", f"{fmt.plural(len(arms), 'training run')}, {fmt.plural(len(df), 'trial')}"))
    return out


def arms_table(tables: Mapping[str, pd.DataFrame], fault: str | None = None) -> pd.DataFrame:
    """One row per arm (variant · method): runs, clean accuracy (mean and range over runs), and for ``fault``
    (default: the first) the AUC and the critical rate with their 95 % intervals (recipe level with >= 2 runs,
    else over fault maps: a column ``interval over`` says which when the arms differ)."""
    runs, summary = tables["runs"], tables["curve_summary"]
    clean = runs.groupby(["variant", "method"])["clean_accuracy"].agg(["mean", "min", "max", "size"])
    if not summary.empty:
        fault = fault or sorted(summary["fault"].unique())[0]
        summary = summary[summary["fault"] == fault].set_index(["variant", "method"])
    rows = []
    for (variant, method), c in clean.iterrows():
        rng = (f" ({c['min'] * 100:.1f}–{c['max'] * 100:.1f})" if c["size"] > 1 else "")
        row = {"arm": f"{variant} · {method}", "runs": str(int(c["size"])),
               "clean accuracy (%)": f"{c['mean'] * 100:.1f}{rng}"}
        if not summary.empty and (variant, method) in summary.index:
            s = summary.loc[(variant, method)]
            row["AUC (%) [95 % CI]"] = (f"{s['auc'] * 100:.1f} {fmt.fmt_ci_pct(s['auc_low'], s['auc_high'])}"
                                        + ("*" if s["auc_truncated"] else ""))
            row["critical rate [95 % CI]"] = (f"{fmt.fmt_rate(s['critical_rate'])} [{fmt.fmt_rate(s['critical_low'])}"
                                              f", {fmt.fmt_rate(s['critical_high'])}]")
            row["interval over"] = "runs" if int(s["n_runs"]) >= 2 else "fault maps"
        rows.append(row)
    out = pd.DataFrame(rows)
    if "interval over" in out and out["interval over"].nunique() == 1:
        out = out.drop(columns="interval over")
    return out
