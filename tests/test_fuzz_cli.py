"""Property-based fuzzing of user input (fault specs, numeric options, study YAML fragments): every call either
succeeds or exits with status 2 and exactly one line on stderr, never a traceback, and the store's bytes never
change. In-process calls of the CLI's ``main``; about 20 s in all."""

from __future__ import annotations

import hashlib
import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faultlab.cli import main
from faultlab.store import ResultsStore

FAST = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fuzz") / "S.sqlite"
    with ResultsStore(path) as s:
        s.add_run({"run_id": "r", "study": "demo", "architecture": "mlp", "variant": "mlp", "method": "vanilla"})
        s.add_campaign({"campaign_id": "c", "run_id": "r", "fault": "drop(p={rate})"})
        s.add_trials(
            [
                {
                    "campaign_id": "c",
                    "run_id": "r",
                    "fault": "drop(p={rate})",
                    "rate": 0.1,
                    "trial": t,
                    "accuracy": 0.5,
                    "loss": 1.0,
                    "seconds": 0.1,
                }
                for t in range(3)
            ]
        )
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def call(*argv: str) -> tuple[int, str]:
    err, out = io.StringIO(), io.StringIO()
    try:
        with redirect_stderr(err), redirect_stdout(out):
            main([str(a) for a in argv])
        code = 0
    except SystemExit as exit:
        code = exit.code
    return code, err.getvalue()


def check(code: int, err: str) -> None:
    assert "Traceback" not in err, err
    if code != 0:
        assert code == 2, (code, err)
        assert len(err.strip().splitlines()) == 1 and err.startswith("faultlab: error:"), err


# ------------------------------------------------------------------------------------ fault specs

NAMES = st.sampled_from(
    [
        "drop",
        "stuck_at",
        "gaussian_mult",
        "gaussian_add",
        "quantize",
        "programming",
        "read_noise",
        "drift",
        "line_faults",
        "chain",
        "dorp",
        "",
    ]
)
KEYS = st.sampled_from(["p", "sa0", "sa1", "sigma", "levels", "kind", "t", "nu", "q", "", "{rate}"])
VALUES = st.one_of(
    st.sampled_from(["{rate}", "0.1", "-1", "2", "nan", "inf", "1e400", "folded", "", "{rat}"]),
    st.floats(allow_nan=True).map(repr),
    st.text(max_size=4),
)


@st.composite
def fault_specs(draw) -> str:
    args = draw(st.lists(st.tuples(KEYS, VALUES), max_size=3))
    body = ",".join(f"{k}={v}" for k, v in args)
    spec = f"{draw(NAMES)}({body})"
    return draw(st.sampled_from([spec, spec[:-1], spec + ")", spec.replace("(", "[")]))


@FAST
@given(spec=fault_specs(), rates=st.sampled_from(["0.1", "0,0.5,1", "-0.1", "1.5", "nan", "0.1,0.1", "a"]))
def test_fault_specs_succeed_or_fail_in_one_line(store, spec, rates):
    """Validation runs before any checkpoint is read (the checkpoint here does not exist)."""
    before = digest(store)
    code, err = call("campaign", "--checkpoint", "missing.ckpt", "--fault", spec, "--rates", rates, "--store", store)
    check(code, err)
    assert code == 2  # a valid spec reaches the missing checkpoint, which is one line too
    assert digest(store) == before


# ------------------------------------------------------------------------------------ numeric options

NUMBERS = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "0", "1", "-0", "1e3", "0x10", "1_000", " 5", "auto", "nan", "inf"]),
    st.text(max_size=5),
)
OPTIONS = {
    "campaign": [
        "--eval-subset",
        "--seed",
        "--trials",
        "--ci-halfwidth",
        "--min-trials",
        "--max-trials",
        "--bn-recalibration",
        "--trials-per-pass",
        "--train-seed",
        "--equal-count",
        "--rates",
        "--device",
    ],
    "stats": [
        "--margin",
        "--confidence",
        "--resamples",
        "--population",
        "--pilot-std",
        "--halfwidth",
        "--seed",
        "--fraction",
    ],
    "export": ["--format", "--study"],
}


@FAST
@given(command=st.sampled_from(sorted(OPTIONS)), data=st.data())
def test_numeric_options_succeed_or_fail_in_one_line(store, tmp_path_factory, command, data):
    option = data.draw(st.sampled_from(OPTIONS[command]))
    value = data.draw(NUMBERS)
    before = digest(store)
    if command == "campaign":
        argv = [
            "campaign",
            "--checkpoint",
            "missing.ckpt",
            "--fault",
            "drop(p={rate})",
            "--rates",
            "0.1",
            "--store",
            store,
            f"{option}={value}",
        ]
    elif command == "stats":
        argv = ["stats", "plan", f"{option}={value}"]
    else:
        out = tmp_path_factory.mktemp("x") / "t.csv"
        argv = ["export", "--store", store, "--out", out, f"{option}={value}"]
    code, err = call(*argv)
    check(code, err)
    assert digest(store) == before


# ------------------------------------------------------------------------------------ study YAML fragments

BASE = {
    "name": "fz",
    "data": {"name": "moons", "options": {"n_samples": 64}},
    "training": {"seeds": [0], "trainer": {"max_epochs": 1}},
    "architectures": [{"arch": "moons_net"}],
    "methods": [{"name": "vanilla"}],
    "campaigns": [{"fault": "drop(p={rate})", "rates": [0.1], "trials": 2}],
}
PATHS = [
    ("data", "options"),
    ("data",),
    ("training",),
    ("training", "trainer"),
    ("training", "model"),
    ("architectures", 0),
    ("architectures", 0, "kwargs"),
    ("methods", 0),
    ("campaigns", 0),
    (),
]
FIELD_NAMES = st.sampled_from(
    [
        "seed",
        "n_samples",
        "n_sample",
        "noise",
        "batch_size",
        "eval_subset",
        "epochs",
        "seeds",
        "lr",
        "arch",
        "kwargs",
        "hidden",
        "hiden",
        "rates",
        "trials",
        "fault",
        "per_layer",
        "equal_count",
        "fault_aware",
        "name",
        "momentum",
        "val_fraction",
        "max_epochs",
        "optimizer",
        "class_path",
    ]
)
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 2**64),
    st.floats(allow_nan=True),
    st.text(max_size=6),
    st.lists(st.integers(-3, 5), max_size=3),
    st.just({"a": 1}),
)


@FAST
@given(path=st.sampled_from(PATHS), key=FIELD_NAMES, value=LEAVES)
def test_study_fragments_validate_or_fail_in_one_line(store, tmp_path_factory, path, key, value):
    import copy

    spec = copy.deepcopy(BASE)
    node = spec
    for step in path:
        node = node[step] if not isinstance(node, dict) or step in node else node.setdefault(step, {})
    node[key] = value
    folder = tmp_path_factory.mktemp("study")
    (folder / "fz.yaml").write_text(yaml.safe_dump(spec))
    before = digest(store)
    code, err = call("sweep", folder / "fz.yaml", "--dry-run", "--store", store)
    check(code, err)
    assert digest(store) == before


# ------------------------------------------------------------------------------------ study names and data options

TRICKY_NAMES = ["demo", "../../x", "..", ".", "a/b", "a\\b", ".hidden", "-rf", "~", "$HOME", "x" * 65, "x" * 64,
                "café", "two words", "nul\x00", "new\nline", "CON", "v1.2", "a..b", "results/../x", ""]
NAMES_OR_NOT = st.one_of(st.sampled_from(TRICKY_NAMES), st.text(max_size=70),
                         st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,70}", fullmatch=True),
                         st.integers(), st.none(), st.lists(st.text(max_size=3), max_size=2))


def listing(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): digest(p) for p in sorted(folder.rglob("*")) if p.is_file()}


@FAST
@given(name=NAMES_OR_NOT)
def test_study_names_are_names_or_one_line(store, tmp_path_factory, name):
    """A study name either is a plain name (letters, digits, . _ -, no '..') and the dry run answers, or it is
    refused in one line; nothing is written anywhere (the folder, the store) either way."""
    from faultlab.names import is_safe_name

    folder = tmp_path_factory.mktemp("names")
    (folder / "spec.yaml").write_text(yaml.safe_dump({**BASE, "name": name}))
    before, stored = listing(folder), digest(store)
    code, err = call("sweep", folder / "spec.yaml", "--dry-run", "--store", store)
    check(code, err)
    assert (code == 0) == (isinstance(name, str) and is_safe_name(name)), (name, err)
    assert listing(folder) == before and digest(store) == stored
    if isinstance(name, str) and name and not name.startswith("-") and not is_safe_name(name):
        code, err = call("report", name, "--store", store, "--out", folder / "r.pdf")
        check(code, err)
        assert code == 2 and "study name" in err, err
        assert listing(folder) == before


DATA_OPTIONS = {
    "moons": ["n_samples", "noise", "batch_size", "eval_batch_size", "val_fraction", "data_seed"],
    "synthetic": ["input_shape", "num_classes", "n_train", "n_test", "batch_size", "val_fraction"],
    "digits": ["batch_size", "eval_batch_size", "val_fraction", "normalize"],
    "mnist5k": ["n_test", "batch_size", "normalize"],
}
OPTION_VALUES = st.one_of(st.integers(-10, 10), st.integers(-(2**65), 2**65), st.floats(allow_nan=True),
                          st.sampled_from([0, 1, 2, 4, 0.5, 1.0, -0.0, True, "", "5", "dataset", "none", [0.5, 0.25],
                                           [1, 8, 8], [0], [-1, 2], None]),
                          st.text(max_size=4), st.lists(st.integers(-2, 40), max_size=3))


@FAST
@given(data=st.data())
def test_data_options_build_or_fail_in_one_line(store, tmp_path_factory, data):
    """Every data option a study can set is checked when the data module is built (at --dry-run): it works or
    ends in one line, and nothing is written."""
    name = data.draw(st.sampled_from(sorted(DATA_OPTIONS)))
    options = {k: data.draw(OPTION_VALUES) for k in data.draw(st.sets(st.sampled_from(DATA_OPTIONS[name]),
                                                                        min_size=1, max_size=3))}
    arch = {"moons": "moons_net", "synthetic": "mlp", "digits": "mlp", "mnist5k": "mlp"}[name]
    spec = {**BASE, "data": {"name": name, "options": options}, "architectures": [{"arch": arch}]}
    folder = tmp_path_factory.mktemp("data")
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec))
    before, stored = listing(folder), digest(store)
    code, err = call("sweep", folder / "spec.yaml", "--dry-run", "--store", store)
    check(code, err)
    assert listing(folder) == before and digest(store) == stored
