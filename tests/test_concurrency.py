"""Rule GATE-M9-04: no reusable-workflow call is cancelled as a concurrency deadlock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gate.errors import RuleViolation
from gate.github.concurrency import check_call_concurrency
from gate.policy import rules
from gate.policy.rules import committed_workflows, enforce_rules
from tests.test_workflows import VARIANTS, policy

FIXTURES = Path(__file__).parent / "fixtures" / "concurrency"


def load(directory: Path) -> dict[str, Any]:
    return {path.name: yaml.safe_load(path.read_text()) for path in sorted(directory.glob("*.yml"))}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_the_rendered_calls_never_deadlock(variant: str) -> None:
    gate_policy = policy(**VARIANTS[variant])
    repo = gate_policy.repositories[0]
    assert (
        check_call_concurrency(repo.full_name, committed_workflows(gate_policy, repo), repo.default_branch)
        == []
    )


def test_the_deadlock_the_gate_shipped_is_refused() -> None:
    # deploy.yml and e2e-parity-check.yml as rendered before this rule: the called workflow's group
    # `${{ github.workflow }}-...` is the caller's `deploy-refs/heads/main` inside the call.
    violations = check_call_concurrency("acme/aos", load(FIXTURES / "deadlock"), "main")
    messages = [str(v) for v in violations]
    assert (
        "acme/aos: deploy.yml on push (refs/heads/main): job 'parity-dev' calls e2e-parity-check.yml, whose "
        "workflow concurrency group evaluates to 'deploy-refs/heads/main' in the caller's context, the group "
        "the caller deploy.yml holds: GitHub cancels the call as a deadlock"
    ) in messages
    # The three parity calls also share that one group; every event the caller runs on is checked.
    assert {v.event for v in violations} == {
        "push (refs/heads/main)",
        "push (refs/heads/release/x)",
        "workflow_dispatch (refs/heads/main)",
    }
    assert len(violations) == 9


def called(group: str) -> dict[str, Any]:
    return {
        "name": "called",
        "on": {"workflow_call": {"inputs": {"target": {"type": "string", "default": ""}}}},
        "concurrency": {"group": group},
        "jobs": {"check": {"runs-on": "ubuntu-24.04", "steps": [{"run": "true"}]}},
    }


def caller(*targets: str) -> dict[str, Any]:
    jobs = {
        f"call-{target}": {"uses": "./.github/workflows/called.yml", "with": {"target": target}}
        for target in targets
    }
    return {"name": "deploy", "on": {"push": {"branches": ["main"]}}, "concurrency": "deploy", "jobs": jobs}


@pytest.mark.parametrize(
    ("group", "expected"),
    [
        ("called-${{ inputs.target }}", []),  # keyed by what it checks: distinct
        ("called", ["job 'call-b' calls called.yml, whose workflow concurrency group evaluates to 'called'"]),
        ("deploy", ["job 'call-a' calls called.yml", "job 'call-b' calls called.yml"]),
        ("${{ steps.x.outputs.y }}", ["cannot evaluate the workflow concurrency group of called.yml"] * 2),
    ],
)
def test_sibling_calls_and_unreadable_groups(group: str, expected: list[str]) -> None:
    workflows = {"deploy.yml": caller("a", "b"), "called.yml": called(group)}
    reasons = [v.reason for v in check_call_concurrency("o/r", workflows, "main")]
    assert len(reasons) == len(expected)
    for reason, start in zip(reasons, expected, strict=True):
        assert reason.startswith(start), reason


def test_the_plan_refuses_a_deadlocking_call_before_declaring_anything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gate_policy = policy()
    monkeypatch.setattr(rules, "committed_workflows", lambda p, r: load(FIXTURES / "deadlock"))
    with pytest.raises(RuleViolation) as refused:
        enforce_rules(gate_policy, "dev")
    text = str(refused.value)
    assert "[GATE-M9-04] acme/aos: deploy.yml on push (refs/heads/main): job 'parity-dev'" in text
    assert "hint: key a called workflow's concurrency group by what it checks" in text
