"""The non-negotiables hold on the computed gate (GATE-NN-01..06), and only an approved, unexpired
exception waives one — never the security scan. Each weakening a stack file could try is a fixture
with the exact message it must give."""

from __future__ import annotations

from typing import Any, get_args

import pytest
import yaml

from gate.cli import main as cli
from gate.errors import GateError, RuleViolation
from gate.github.repository import repository_gate
from gate.policy import nonnegotiables
from gate.policy.loader import load_policy
from gate.policy.model import GateException, _default_checks
from gate.policy.rules import enforce_rules
from gate.runtime.flags import today_for_rules
from tests.conftest import ProjectFactory

BASE: dict[str, Any] = {"environment": "dev", "repositories": [{"name": "aos"}]}
PROD_CHAIN: list[dict[str, Any]] = [
    {"name": "dev", "stack": "dev", "deploymentBranches": ["*"]},
    {"name": "staging", "stack": "staging", "promotesFrom": "dev"},
    {"name": "production", "stack": "prod", "promotesFrom": "staging", "reviewers": {"teams": ["rm"]}},
]
M9_CHECKS = "deployment-gate-policy-m9.md §Required CI checks: all must PASS"


def catalogue(**changes: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The default catalogue as stack-file entries, with some entries changed (or dropped: None)."""
    entries = []
    for check in _default_checks():
        entry = check.model_dump(mode="json", by_alias=True, exclude_none=True)
        if check.name in changes:
            if changes[check.name] is None:
                continue
            entry.update(changes[check.name] or {})
        entries.append(entry)
    return entries


def violations(values: dict[str, Any], stack: str = "dev") -> list[str]:
    policy = load_policy(values, stack=stack, github_owner="acme")
    try:
        enforce_rules(policy, stack)
    except RuleViolation as error:
        return [line for line in error.violations if line.startswith("[GATE-NN")]
    return []


def both_branches(check: str, reason: str) -> list[str]:
    return [f"[{reason}] acme/aos branch '{b}' {check}" for b in ("main", "release/*")]


# id -> (stack values, the exact violation lines)
WEAKENINGS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "catalogue-without-the-security-scan": (
        {**BASE, "checks": catalogue(**{"security-scan": None})},
        both_branches(
            "does not require 'security-scan' (deployment-gate-policy-m9.md §Required CI checks 5, "
            "§Merge conditions 2; delivery-policy.md §Emergency (never skippable))",
            "GATE-NN-01",
        ),
    ),
    "security-scan-recategorised": (
        {**BASE, "checks": catalogue(**{"security-scan": {"category": "static-checks"}})},
        both_branches(
            "requires 'security-scan', but it is recategorised in the catalogue (category static-checks, "
            "workflow security-scan.yml; the gate's job is security-scan in security-scan.yml)",
            "GATE-NN-01",
        ),
    ),
    "security-scan-left-to-an-external-reporter": (
        {**BASE, "repositories": [{"name": "aos", "externalChecks": ["security-scan"]}]},
        both_branches(
            "requires 'security-scan', but it is left to an external reporter instead of the gate's own "
            "workflow",
            "GATE-NN-01",
        ),
    ),
    "required-checks-without-e2e-parity": (
        {
            **BASE,
            "mergeGate": {"requiredChecks": [c.name for c in _default_checks() if c.name != "e2e-parity"]},
        },
        both_branches(f"does not require 'e2e-parity' ({M9_CHECKS})", "GATE-NN-02"),
    ),
    # Issue 12: the delivery policy's release checks are as hard to drop as M9's.
    "required-checks-without-release-notes": (
        {
            **BASE,
            "mergeGate": {"requiredChecks": [c.name for c in _default_checks() if c.name != "release-notes"]},
        },
        both_branches(
            "does not require 'release-notes' (delivery-policy.md §Release Notes (GATE-DP-15))", "GATE-NN-02"
        ),
    ),
    "required-checks-without-release-contract": (
        {
            **BASE,
            "mergeGate": {
                "requiredChecks": [c.name for c in _default_checks() if c.name != "release-contract"]
            },
        },
        both_branches(
            "does not require 'release-contract' (delivery-policy.md §Pre-Deployment: release contract "
            "completed (GATE-DP-14))",
            "GATE-NN-02",
        ),
    ),
    "determinism-restricted-to-a-language-the-repository-lacks": (
        {
            **BASE,
            "repositories": [{"name": "aos", "languages": ["python"]}],
            # The Python runtime's determinism check, moved to a language the repository lacks
            # (the cross-language ones are not required of a Python-only repository: issue 13).
            "checks": catalogue(**{"determinism-canonical-json": {"language": "javascript"}}),
        },
        both_branches(f"does not require 'determinism-canonical-json' ({M9_CHECKS})", "GATE-NN-02"),
    ),
    "admins-exempted": (
        {**BASE, "mergeGate": {"enforceAdmins": False}},
        ["[GATE-NN-03] mergeGate.enforceAdmins is false: administrators bypass the gate"],
    ),
    "code-owner-review-off": (
        {**BASE, "reviews": {"requireCodeOwnerReview": False}},
        [
            "[GATE-NN-04] reviews.requireCodeOwnerReview is false: schema changes and the gate's own "
            "workflows merge without their owners' review"
        ],
    ),
    "merge-gate-unprotected": (
        {**BASE, "protectResources": False},
        [
            "[GATE-NN-06] protectResources is false: the merge gate could be deleted by a `pulumi destroy` "
            "or a refactoring"
        ],
    ),
}


@pytest.mark.parametrize("case", sorted(WEAKENINGS))
def test_a_weakened_gate_is_refused_with_the_exact_message(case: str) -> None:
    values, expected = WEAKENINGS[case]
    assert violations(values) == expected


def test_the_catalogue_holding_only_infra_plan_leaves_nothing_required_and_is_refused() -> None:
    only = [c for c in catalogue() if c["name"] == "infra-plan"]
    found = violations({**BASE, "checks": only})
    required = nonnegotiables.required_by_policy(
        load_policy(BASE, stack="dev", github_owner="acme").repositories[0]
    )
    assert len(found) == 2 * len(required)  # every non-negotiable check, on both protected branches
    assert sum("GATE-NN-01" in line for line in found) == 2


def prod(**environment: Any) -> dict[str, Any]:
    chain = [dict(e) for e in PROD_CHAIN]
    chain[-1].update(environment)
    return {"environment": "production", "repositories": [{"name": "aos"}], "environments": chain}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            prod(deploymentBranches=["*"]),
            "[GATE-NN-05] environment 'production'.deploymentBranches: got ['*']; allowed: the protected "
            "branches ['main', 'release/*'] (anything else deploys unreviewed code)",
        ),
        (
            prod(preventSelfReview=False),
            "[GATE-NN-05] environment 'production'.preventSelfReview is false: whoever deploys may approve "
            "the deploy",
        ),
        (
            {**prod(), "environments": [PROD_CHAIN[0], {**PROD_CHAIN[2], "promotesFrom": "dev"}]},
            "[GATE-NN-05] environment 'production' promotes from 'dev', the first environment: production "
            "must be reached through a pre-production stage (e.g. dev -> staging -> production)",
        ),
        (
            {**prod(), "protectResources": False},
            "[GATE-NN-06] protectResources is false: production could be deleted by a `pulumi destroy` or a "
            "refactoring",
        ),
    ],
)
def test_production_stays_protected(values: dict[str, Any], expected: str) -> None:
    assert violations(values, stack="prod") == [expected]


def test_the_shipped_policy_meets_every_non_negotiable() -> None:
    assert violations(BASE) == []
    assert violations(prod(), stack="prod") == []


def test_the_reviewer_free_rollback_environment_does_not_weaken_production() -> None:
    # DP: rollback is automatic. production-rollback has no reviewers, no wait timer and no
    # self-review rule by design, and no non-negotiable misfires on it; production keeps its own.
    policy = load_policy(prod(), stack="prod", github_owner="acme")
    rollback = repository_gate(policy, policy.repositories[0]).rollback_environment
    assert rollback is not None  # the first repository deploys the application
    assert rollback.name == "production-rollback" and rollback.reviewers.empty
    assert rollback.wait_timer_minutes == 0 and rollback.prevent_self_review is False
    # Not a way around production's branch rule: it deploys from exactly production's branches.
    assert rollback.deployment_branches == policy.environment_spec.deployment_branches
    assert violations(prod(), stack="prod") == []
    assert violations(prod(deploymentBranches=["*"]), stack="prod") != []


# -- exceptions --------------------------------------------------------------------------------

EXCEPTION = {
    "rule": "GATE-NN-03",
    "reason": "the break-glass admin merges the quarterly certificate rotation",
    "approvedBy": "@acme/security",
    "expires": "2026-12-31",
}


@pytest.fixture(autouse=True)
def today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DELIVERY_GATE_TODAY", "2026-11-28")


def test_an_approved_exception_waives_its_rule_and_only_that_one() -> None:
    values = {**BASE, "mergeGate": {"enforceAdmins": False}, "exceptions": [EXCEPTION]}
    assert violations(values) == []
    policy = load_policy(values, stack="dev", github_owner="acme")
    verdict = nonnegotiables.judge(policy, nonnegotiables_today())
    assert verdict.waived == (
        "[GATE-NN-03] mergeGate.enforceAdmins is false: administrators bypass the gate — waived: GATE-NN-03 "
        "until 2026-12-31, approved by @acme/security: the break-glass admin merges the quarterly "
        "certificate rotation",
    )
    # It waives nothing else.
    assert violations({**values, "protectResources": False}) == [WEAKENINGS["merge-gate-unprotected"][1][0]]


def nonnegotiables_today() -> Any:
    return today_for_rules()


def test_an_expired_exception_fails_the_plan() -> None:
    expired = {**EXCEPTION, "expires": "2026-11-27"}
    values = {**BASE, "mergeGate": {"enforceAdmins": False}, "exceptions": [expired]}
    assert violations(values) == [
        "[GATE-NN-03] the exception approved by @acme/security expired on 2026-11-27: renew it (a new expiry "
        "and approval) or comply",
        "[GATE-NN-03] mergeGate.enforceAdmins is false: administrators bypass the gate",
    ]


def test_the_security_scan_can_never_be_waived() -> None:
    values = {**BASE, "exceptions": [{**EXCEPTION, "rule": "GATE-NN-01"}]}
    with pytest.raises(GateError) as refused:
        load_policy(values, stack="dev", github_owner="acme")
    assert "delivery-gate:exceptions[0].rule: got 'GATE-NN-01'" in str(refused.value)
    assert "'GATE-NN-02'" in str(refused.value)  # what is allowed


def test_the_model_allows_exactly_the_waivable_rules() -> None:
    assert get_args(GateException.model_fields["rule"].annotation) == nonnegotiables.WAIVABLE


def test_exceptions_are_printed_in_the_plan_summary_and_exported(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    config = {
        "github:owner": "acme",
        **{f"delivery-gate:{k}": v for k, v in {**BASE, "mergeGate": {"enforceAdmins": False}}.items()},
        "delivery-gate:exceptions": [EXCEPTION],
    }
    project = make_project({"dev": yaml.safe_dump({"config": config})})
    assert (
        cli.main(["plan", "--stack", "dev", "--project-dir", str(project), "--out", str(project / "b")]) == 0
    )
    out = capsys.readouterr().out
    assert "EXCEPTIONS to the policy's non-negotiables (1):" in out
    assert (
        "  - GATE-NN-03 until 2026-12-31, approved by @acme/security: the break-glass admin merges the "
        "quarterly certificate rotation"
    ) in out
    plan = yaml.safe_load((project / "b" / "dev" / "plan.json").read_text())
    assert plan["outputs"]["gateExceptions"]["declared"][0]["rule"] == "GATE-NN-03"


def test_a_weakened_stack_file_exits_3_through_the_cli(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "config:\n  github:owner: acme\n  delivery-gate:environment: dev\n"
    text += "  delivery-gate:repositories:\n    - name: aos\n"
    text += "  delivery-gate:mergeGate:\n    enforceAdmins: false\n"
    project = make_project({"dev": text})
    assert (
        cli.main(["plan", "--stack", "dev", "--project-dir", str(project), "--out", str(project / "b")]) == 3
    )
    err = capsys.readouterr().err
    assert "stacks/Pulumi.dev.yaml: the gate rules are violated" in err and "Traceback" not in err
    assert "[GATE-NN-03] mergeGate.enforceAdmins is false: administrators bypass the gate" in err
    assert "hint: the policy's non-negotiables hold on what the gate finally declares" in err
    assert not (project / "b").exists()
