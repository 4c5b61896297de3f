"""Issue 14 item 2: making plans fast never changes a plan's bytes.

The shipped stacks are pinned byte for byte by tests/test_golden.py; here a generated policy of 100
repositories is pinned by its root hash (tests/golden/scale-100.root_hash, refreshed by
`make golden`), and plans made with the engine's fast runtime (gate/offline/engine.py: inline RPCs,
no stack traces, the all-at-once wait, the collector's settings) are compared with plans made
without it, on the SDK's own event loop, thread pool and functions.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.plan_scale import project_with
from gate.offline import engine
from gate.offline.plan import build_plan, render_plan
from tests.conftest import ROOT
from tests.support.stacks import chained_plan, stack_plan

SCALE_HASH = ROOT / "tests" / "golden" / "scale-100.root_hash"


def test_a_generated_100_repository_plan_keeps_its_root_hash(tmp_path: Path) -> None:
    plan = build_plan(project_with(100, tmp_path), "dev")
    assert len(plan["resources"]) > 3000
    assert plan["root_hash"] == SCALE_HASH.read_text(encoding="utf-8").strip(), (
        "the generated 100-repository plan changed: if intended, `make golden` and review"
    )


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_the_fast_runtime_plans_the_shipped_stacks_byte_for_byte(
    stack: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = stack_plan(stack)
    monkeypatch.setattr(engine, "FAST_RUNTIME", False)
    upstream = stack_plan("dev")["outputs"] if stack == "staging" else None
    plain = chained_plan(ROOT, stack, upstream)
    assert render_plan(plain) == render_plan(fast)


def test_the_fast_runtime_plans_a_generated_policy_byte_for_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = project_with(3, tmp_path)
    fast = build_plan(project, "dev")
    monkeypatch.setattr(engine, "FAST_RUNTIME", False)
    assert render_plan(build_plan(project, "dev")) == render_plan(fast)
