"""Golden plans: every change to a stack's desired state shows up as a reviewable diff.

Refresh after an intended change with `make golden` (python -m gate plan --stack S --out tests/golden).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gate.offline.diff import diff_plans, render_diff
from gate.offline.plan import plan_path, render_plan, write_plan
from tests.support.stacks import stack_plan

PROJECT_DIR = Path(__file__).resolve().parent.parent
GOLDEN_DIR = PROJECT_DIR / "tests" / "golden"
STACKS = ("dev", "staging", "prod")


@pytest.mark.parametrize("stack", STACKS)
def test_golden_plan_is_current(stack: str, tmp_path: Path) -> None:
    plan = stack_plan(stack)
    golden = plan_path(GOLDEN_DIR, stack)
    if golden.is_file() and golden.read_bytes() == render_plan(plan):
        return
    fresh = write_plan(plan, tmp_path)
    before = json.loads(golden.read_text(encoding="utf-8")) if golden.is_file() else {"resources": []}
    pytest.fail(
        f"golden plan for {stack} is stale: run `make golden` and review the diff "
        f"(python -m gate diff {golden.relative_to(PROJECT_DIR)} {fresh})\n\n"
        + render_diff(diff_plans(before, plan)),
        pytrace=False,
    )
