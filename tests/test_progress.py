"""Campaign progress as a user sees it: the bar with the per-rate lines kept above it, a resumed campaign's
bar counting its stored trials, plain lines when stderr is not a terminal, and faultlab.run's default."""

from __future__ import annotations

import inspect
import io
import re

import pytest
import torch

import architectures
import faultlab
from faultlab.campaign.progress import in_notebook
from faultlab.data import Synthetic

FAULT = "drop(p={rate})"


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(scope="module")
def mlp_data():
    torch.manual_seed(0)
    net = architectures.build("mlp", in_features=64, hidden=[32], num_classes=4).eval()
    x, y = Synthetic(input_shape=(64,), num_classes=4, n_train=64, n_test=200).tensors("test")
    return net, x, y


def bar_states(text: str) -> list[str]:
    """Every "done/total" the bar printed, in order."""
    return re.findall(r"(\d+/\d+) \[", text)


def test_run_shows_progress_by_default():
    assert inspect.signature(faultlab.run).parameters["progress"].default == "auto"
    assert not in_notebook()


def test_a_terminal_gets_the_bar_and_keeps_every_rate_line(mlp_data, monkeypatch):
    net, x, y = mlp_data
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    df = faultlab.run(net, (x, y), FAULT, rates=[0.1, 0.3], trials=5)
    text = terminal.getvalue()
    assert bar_states(text)[-1] == "10/10"
    lines = [line.strip("\r") for line in text.splitlines() if "mean accuracy" in line]
    assert len(lines) == 2
    for line, rate in zip(lines, (0.1, 0.3)):
        mean = df[df.rate == rate].accuracy.mean()
        assert line.rsplit("\r", 1)[-1].startswith(f"rate {rate:g}: 5 trials (5 new), mean accuracy {mean:.4f} ± ")
    # the lines were written above the bar (cleared first), not into it: the bar is redrawn after each
    assert text.rindex("10/10") > text.rindex("rate 0.3: 5 trials")


def test_a_resumed_campaign_starts_at_its_stored_trials_and_ends_at_100_percent(mlp_data, tmp_path, monkeypatch):
    net, x, y = mlp_data
    store = tmp_path / "resume.sqlite"
    faultlab.run(net, (x, y), FAULT, rates=[0.1], trials=4, store=store, progress="off")  # then interrupted
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    faultlab.run(net, (x, y), FAULT, rates=[0.1, 0.2, 0.3], trials=4, store=store)
    text = terminal.getvalue()
    states = bar_states(text)
    assert states[0] == "4/12" and states[-1] == "12/12" and "100%" in text
    assert "rate 0.1: 4 trials (0 new)" in text and "rate 0.3: 4 trials (4 new)" in text


def test_plain_lines_when_not_a_terminal(mlp_data, capsys):
    net, x, y = mlp_data
    faultlab.run(net, (x, y), FAULT, rates=[0.1, 0.3], trials=3)
    err = capsys.readouterr().err
    assert not bar_states(err)
    assert [line.split(":")[0] for line in err.strip().splitlines()] == ["rate 0.1", "rate 0.3"]
    faultlab.run(net, (x, y), FAULT, rates=[0.1], trials=3, progress="off")
    assert capsys.readouterr().err == ""
