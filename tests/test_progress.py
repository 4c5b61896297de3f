"""Progress of a long plan on a terminal, and nothing elsewhere (issue 14, item 5)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from gate.cli.main import main
from gate.offline import progress
from tests.conftest import ROOT


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_nothing_is_drawn_in_the_first_second_then_one_throttled_line() -> None:
    stream, clock = Terminal(), Clock()
    shown = progress.TerminalProgress(stream, clock)
    shown.registered("delivery-gate:github:RepositoryGate", "acme-aos", custom=False)
    shown.registered("github:index/repositoryFile:RepositoryFile", "ci", custom=True)
    assert stream.getvalue() == ""  # a short plan shows nothing
    clock.now += progress.DELAY_SECONDS
    shown.registered("github:index/branch:Branch", "files", custom=True)
    assert stream.getvalue() == "\rplanning: 3 resources registered, declaring RepositoryGate acme-aos"
    clock.now += progress.INTERVAL_SECONDS / 2
    shown.registered("github:index/branch:Branch", "more", custom=True)
    assert stream.getvalue().count("\r") == 1  # throttled
    clock.now += progress.INTERVAL_SECONDS
    shown.registered("delivery-gate:kubernetes:RuntimeSafetyNet", "runtime-dev", custom=False)
    last = stream.getvalue().rsplit("\r", 1)[1]
    assert last.startswith("planning: 5 resources registered, declaring RuntimeSafetyNet runtime-dev")
    shown.finish()
    assert stream.getvalue().endswith("\r" + " " * len(last.rstrip()) + "\r")


def test_finish_writes_nothing_when_nothing_was_drawn() -> None:
    stream = Terminal()
    shown = progress.TerminalProgress(stream, Clock())
    shown.registered("github:index/branch:Branch", "b", custom=True)
    shown.finish()
    assert stream.getvalue() == ""


def test_only_a_terminal_without_quiet_gets_progress() -> None:
    assert progress.for_stream(io.StringIO(), quiet=False) is None
    assert progress.for_stream(Terminal(), quiet=True) is None
    assert isinstance(progress.for_stream(Terminal(), quiet=False), progress.TerminalProgress)


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Terminal:
    monkeypatch.setattr(progress, "DELAY_SECONDS", 0.0)  # the dev plan is shorter than a second
    return Terminal()


def on(stream: Terminal, monkeypatch: pytest.MonkeyPatch) -> None:
    # In the test's body: pytest puts its own capture in place of sys.stderr after fixtures run.
    monkeypatch.setattr(sys, "stderr", stream)


def plan(tmp_path: Path, *extra: str) -> bytes:
    out = tmp_path / "-".join(extra or ("plain",))
    code = main(["plan", "--stack", "dev", "--project-dir", str(ROOT), "--out", str(out), *extra])
    assert code == 0
    return (out / "dev" / "plan.json").read_bytes()


def test_the_plan_shows_progress_on_a_terminal_and_plans_the_same_bytes(
    terminal: Terminal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    on(terminal, monkeypatch)
    shown = plan(tmp_path)
    text = terminal.getvalue()
    assert "\rplanning: " in text and "resources registered, declaring " in text
    assert text.endswith("\r")  # the line is erased before the summary
    terminal.seek(0)
    terminal.truncate()
    assert plan(tmp_path, "--quiet") == shown  # progress never changes the plan
    assert terminal.getvalue() == ""


def test_json_output_has_no_progress(
    terminal: Terminal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    on(terminal, monkeypatch)
    plan(tmp_path, "--format", "json")
    assert terminal.getvalue() == ""


def test_without_a_terminal_the_plan_prints_no_progress(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(progress, "DELAY_SECONDS", 0.0)
    plan(tmp_path)
    assert "planning:" not in capsys.readouterr().err
