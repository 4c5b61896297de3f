"""The RegisterResource requests a program sends the engine, for comparing two ways of declaring
the same resource byte for byte (tests/test_declare.py, tests/test_kubernetes_classes.py)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from gate.offline import engine
from gate.offline.engine import run_program


def registered_requests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str) -> dict[str, Any]:
    """Each RegisterResource request of a run of `source`, by resource name (the last one of a name)."""
    seen: dict[str, Any] = {}
    register = engine.RecordingMonitor.RegisterResource

    def recording(self: engine.RecordingMonitor, request: Any) -> Any:
        seen[request.name] = request
        return register(self, request)

    monkeypatch.setattr(engine.RecordingMonitor, "RegisterResource", recording)
    program = tmp_path / "__main__.py"
    program.write_text(textwrap.dedent(source), encoding="utf-8")
    run_program(program, project="demo", stack="test", config={})
    return seen


def without_name(request: Any) -> bytes:
    """The request's bytes, its resource name left out (the two ways name their resources apart)."""
    copy = type(request)()
    copy.CopyFrom(request)
    copy.name = ""
    data: bytes = copy.SerializeToString(deterministic=True)
    return data
