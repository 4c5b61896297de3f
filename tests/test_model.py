"""The policy model: defaults encode the policy texts (each cites its line) and cross-field rules hold."""

from __future__ import annotations

import pytest

from gate.errors import PolicyError
from gate.policy.loader import load_policy
from gate.policy.model import GatePolicy
from gate.policy.types import CheckCategory, Language, MergeGateMode, duration_seconds, resource_slug
from tests.support.shared import shared_dir


def minimal(**extra: object) -> GatePolicy:
    return load_policy(
        {"environment": "dev", "repositories": [{"name": "aos"}], **extra}, stack="dev", github_owner="acme"
    )


def test_policy_texts_say_what_the_defaults_encode() -> None:
    policy_dir = shared_dir() / "policy"
    m9 = (policy_dir / "deployment-gate-policy-m9.md").read_text()
    dp = (policy_dir / "delivery-policy.md").read_text()
    # The lines the defaults below cite; if the policy texts change, these fail first.
    for line in (
        "All merges to `main` (or `release/*`)",
        "`pytest` (Python) and `npm test` (JS)",
        "`flake8`/`eslint`",
        "cross-language parity job (Python → JS)",
        "canonical JSON stability",
        "trace root_hash verification across runtimes",
        "`--vus 10 --duration 1m`",
        "No open critical severity issues in security scan",
        "`aos_replay_mismatch_total` increases above threshold in 5m",
        "Notify #oncall and #platform Slack",
        "redis_connected==0): if > 60s -> alert SRE",
        "explicit approval from 2 reviewers (one backend, one QA) and a sign-off by the product owner",
        "golden fixture updates",
        "migration plan (alembic)",
        "SLO migration notes",
    ):
        assert line in m9, line
    for line in (
        "5% → 25% → 50% → 100%",
        "No environment may be skipped",
        "p99 latency exceeds target",
        "**Security checks are never skippable**",
        "A rollback plan must be documented before deploying the fix",
    ):
        assert line in dp, line


def test_check_catalogue_defaults_follow_m9_required_checks() -> None:
    policy = minimal()
    by_name = {c.name: c for c in policy.checks}
    # M9 §Required CI checks 1-2: pytest and npm test; flake8 and eslint, per language.
    assert (by_name["unit-tests-python"].tool, by_name["unit-tests-python"].language) == (
        "pytest",
        Language.PYTHON,
    )
    assert by_name["unit-tests-javascript"].tool == "npm test"
    assert by_name["static-checks-python"].tool == "flake8"
    assert by_name["static-checks-javascript"].tool == "eslint"
    # M9 §Required CI checks 3: the three determinism jobs, in determinism-check.yml.
    determinism = [c for c in policy.checks if c.category is CheckCategory.DETERMINISM]
    assert {c.name for c in determinism} == {
        "determinism-cross-language-parity",
        "determinism-canonical-json",
        "determinism-root-hash",
    }
    assert {c.workflow for c in determinism} == {"determinism-check.yml"}
    # M9 §Required CI checks 4-6 and §Enforcement: e2e-parity-check.yml must be required.
    assert by_name["e2e-parity"].workflow == "e2e-parity-check.yml"
    assert by_name["security-scan"].category is CheckCategory.SECURITY_SCAN
    assert by_name["infra-plan"].category is CheckCategory.INFRA_PLAN
    release = {"release-contract", "release-notes"}  # issue 12: delivery-policy.md's release lines
    assert all(
        c.policy.startswith("deployment-gate-policy-m9.md") for c in policy.checks if c.name not in release
    )
    assert all(by_name[name].policy.startswith("delivery-policy.md") for name in release)


def test_repository_defaults_follow_m9_overview() -> None:
    repo = minimal().repositories[0]
    assert repo.owner == "acme"  # from github:owner
    assert repo.protected_branches == ("main", "release/*")
    assert repo.languages == (Language.PYTHON, Language.JAVASCRIPT)


def test_review_defaults_follow_m9_exceptions() -> None:
    reviews = minimal().reviews
    assert reviews.require_code_owner_review and reviews.dismiss_stale_reviews
    rule = reviews.schema_change
    assert rule.required_approvals == 2
    assert (rule.backend_team, rule.qa_team, rule.product_owner_team) == ("backend", "qa", "product-owners")
    assert rule.required_artifacts == (
        "golden fixture updates",
        "migration plan (alembic)",
        "SLO migration notes",
    )


def test_environment_chain_defaults_follow_delivery_policy() -> None:
    policy = minimal()
    assert [(e.name, e.stack, e.promotes_from) for e in policy.environments] == [
        ("dev", "dev", None),
        ("staging", "staging", "dev"),
        ("production", "prod", "staging"),
    ]
    production = policy.environments[-1]
    assert production.reviewers.teams == ("release-managers",)
    assert production.prevent_self_review
    assert production.deployment_branches == ("main", "release/*")


def test_threshold_defaults_follow_m9_thresholds_and_rollback_criteria() -> None:
    t = minimal().thresholds
    assert t.parity_failure_action == "rollback"
    assert t.replay_mismatch.metric == "aos_replay_mismatch_total"
    assert duration_seconds(t.replay_mismatch.window) == 300
    assert t.redis.metric == "redis_connected"
    assert duration_seconds(t.redis.disconnected_for) == 60
    assert t.latency.p99_target_ms >= t.latency.p95_target_ms
    assert 0 < t.max_error_rate_increase <= 1


def test_rollout_notifications_and_emergency_defaults() -> None:
    policy = minimal()
    assert policy.rollout.stages == (5, 25, 50, 100)
    assert (policy.notifications.oncall, policy.notifications.platform) == ("#oncall", "#platform")
    assert policy.emergency.security_checks_skippable is False
    assert policy.emergency.require_rollback_plan is True
    assert {label.name for label in policy.labels} >= {"parity-mismatch", "high-priority", "schema-change"}


def test_merge_gate_defaults_and_ownership() -> None:
    policy = minimal()
    assert policy.merge_gate.mode is MergeGateMode.BRANCH_PROTECTION
    assert policy.merge_gate.strict and policy.merge_gate.enforce_admins
    assert policy.owns_merge_gate  # dev is the first environment of the chain
    prod = load_policy(
        {"environment": "production", "repositories": [{"name": "aos"}]}, stack="prod", github_owner="acme"
    )
    assert not prod.owns_merge_gate and prod.is_production


def test_model_is_frozen() -> None:
    policy = minimal()
    with pytest.raises(Exception, match="frozen"):
        policy.environment = "staging"  # type: ignore[misc]


def test_values_as_json_text_give_the_same_policy() -> None:
    # The Pulumi engine passes structured config as JSON text; the stack file gives objects.
    as_text = load_policy(
        {"environment": "dev", "repositories": '[{"name": "aos"}]', "rollout": '{"stages": [10, 100]}'},
        stack="dev",
        github_owner="acme",
    )
    assert as_text == minimal(rollout={"stages": [10, 100]})


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(PolicyError) as raised:
        minimal(rollout={"stages": [50, 5]}, bogus=1, labels=[{"name": "x", "color": "red"}])
    paths = [p.path for p in raised.value.problems]
    assert "delivery-gate:bogus" in paths
    assert "delivery-gate:labels[0].color" in paths
    assert str(raised.value).startswith("stacks/Pulumi.dev.yaml: invalid delivery-gate configuration")


def test_stack_file_keys_are_camel_case_as_the_readme_writes_them() -> None:
    # e2e_diff is `e2eDiff` (pydantic's to_camel would demand `e2EDiff`).
    from gate.policy.loader import load_policy  # noqa: PLC0415

    commands = {"e2eDiff": "python scripts/e2e.py diff out", "e2eRun": "python scripts/e2e.py run"}
    values = {"environment": "dev", "repositories": [{"name": "aos"}], "workflows": {"commands": commands}}
    policy = load_policy(values, stack="dev", github_owner="acme")
    assert policy.workflows.commands.e2e_diff == "python scripts/e2e.py diff out"
    assert policy.thresholds.latency.model_dump(by_alias=True).keys() >= {"p95TargetMs", "p99TargetMs"}


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        (".github/CODEOWNERS", "github-codeowners"),
        ("release/*", "release-all"),
        ("release", "release"),
        ("Breaking change!", "breaking-change"),
        (".github/workflows/e2e-parity-check.yml", "github-workflows-e2e-parity-check-yml"),
    ],
)
def test_resource_slugs_and_asked_again_the_same(text: str, slug: str) -> None:
    assert resource_slug(text) == slug
    assert resource_slug(text) == slug  # answered from the memo (issue 14): the same answer
    assert resource_slug.__wrapped__(text) == slug
