"""RepositoryGate under Pulumi's own mock engine: the resources it declares from a spec."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pytest

from gate.components.github_gate import RepositoryGate
from gate.github.repository import repository_gate, required_checks
from gate.policy.loader import load_policy
from gate.policy.model import GatePolicy

BRANCH_PROTECTION = "github:index/branchProtection:BranchProtection"
RULESET = "github:index/repositoryRuleset:RepositoryRuleset"
ENVIRONMENT = "github:index/repositoryEnvironment:RepositoryEnvironment"
DEPLOYMENT_POLICY = "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy"
FILE = "github:index/repositoryFile:RepositoryFile"
LABEL = "github:index/issueLabel:IssueLabel"
TEAM_IDS = {"backend": 11, "qa": 12, "product-owners": 13, "release-managers": 14, "platform": 15}


@dataclass
class Registered:
    type: str
    name: str
    inputs: dict[str, Any]


@dataclass
class RecordingMocks(pulumi.runtime.Mocks):
    resources: list[Registered] = field(default_factory=list)
    # (repository, path) -> content on the default branch, for github.get_repository_file; a path
    # not given does not exist (the provider then answers without content, not with an error).
    repository_files: dict[tuple[str, str], str] = field(default_factory=dict)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(Registered(args.typ, args.name, dict(args.inputs)))
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        if args.token == "github:index/getTeam:getTeam":
            return {"id": str(TEAM_IDS[args.args["slug"]]), "slug": args.args["slug"]}, []
        if args.token == "github:index/getRepositoryFile:getRepositoryFile":
            key = (args.args["repository"], args.args["file"])
            found = {"content": self.repository_files[key]} if key in self.repository_files else {}
            return {"repository": key[0], "file": key[1], **found}, []
        raise AssertionError(f"unexpected invoke {args.token}")

    def of_type(self, typ: str) -> list[Registered]:
        return sorted((r for r in self.resources if r.type == typ), key=lambda r: r.name)


def policy(environment: str = "dev", stack: str = "dev", **extra: Any) -> GatePolicy:
    values = {"environment": environment, "repositories": [{"name": "aos"}], **extra}
    return load_policy(values, stack=stack, github_owner="acme")


def declare(
    gate_policy: GatePolicy, repository_files: dict[tuple[str, str], str] | None = None
) -> tuple[RecordingMocks, dict[str, Any]]:
    """Declare the gate of the policy's first repository and wait for every registration."""
    mocks = RecordingMocks(repository_files=dict(repository_files or {}))
    pulumi.runtime.set_mocks(mocks, project="delivery-gate", stack=gate_policy.environment_spec.stack)
    outputs: dict[str, Any] = {}

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def program() -> pulumi.Output[None]:
        gate = RepositoryGate("acme-aos", repository_gate(gate_policy, gate_policy.repositories[0]))
        return pulumi.Output.all(gate.environment, gate.protected_branches).apply(
            lambda values: outputs.update(environment=values[0], protected_branches=values[1])
        )

    program()  # returns once every registration and output has resolved
    return mocks, outputs


def test_branch_protection_requires_every_catalogue_check_on_main_and_release() -> None:
    gate_policy = policy()
    mocks, outputs = declare(gate_policy)
    protections = mocks.of_type(BRANCH_PROTECTION)
    assert [p.inputs["pattern"] for p in protections] == ["main", "release/*"]
    assert outputs["protected_branches"] == ["main", "release/*"]
    expected = list(required_checks(gate_policy, gate_policy.repositories[0]))
    assert len(expected) == 13 and "schema-change" in expected  # M9 §Exceptions, in every mode
    assert {"release-contract", "release-notes"} <= set(expected)  # DP §Pre-Deployment, §Release Notes
    for protection in protections:
        inputs = protection.inputs
        assert inputs["repositoryId"] == "aos"
        assert inputs["requiredStatusChecks"] == [{"strict": True, "contexts": expected}]
        reviews = inputs["requiredPullRequestReviews"][0]
        assert reviews["requireCodeOwnerReviews"] and reviews["dismissStaleReviews"]
        assert reviews["requiredApprovingReviewCount"] == 1
        assert inputs["enforceAdmins"] and inputs["requiredLinearHistory"]
        assert inputs["requireConversationResolution"]
        assert inputs["allowsForcePushes"] is False and inputs["allowsDeletions"] is False
    assert not mocks.of_type(RULESET)


def test_language_specific_checks_follow_the_repository_languages() -> None:
    gate_policy = policy(repositories=[{"name": "aos", "languages": ["python"]}])
    mocks, _ = declare(gate_policy)
    contexts = mocks.of_type(BRANCH_PROTECTION)[0].inputs["requiredStatusChecks"][0]["contexts"]
    assert "unit-tests-python" in contexts and "static-checks-python" in contexts
    assert not any(c.endswith("-javascript") for c in contexts)


def test_rulesets_mode_expresses_the_same_gate_plus_staging_deployment_and_schema_reviewers() -> None:
    mocks, _ = declare(policy(mergeGate={"mode": "rulesets"}))
    assert not mocks.of_type(BRANCH_PROTECTION)
    gates = [r for r in mocks.of_type(RULESET) if not r.inputs["name"].startswith("delivery-gate create")]
    rulesets = {r.inputs["conditions"]["refName"]["includes"][0]: r.inputs for r in gates}
    assert set(rulesets) == {"~DEFAULT_BRANCH", "refs/heads/release/*"}
    for ruleset in rulesets.values():
        assert ruleset["enforcement"] == "active" and ruleset["target"] == "branch"
        assert ruleset["bypassActors"] == []
        rules = ruleset["rules"]
        required = rules["requiredStatusChecks"]["requiredChecks"]
        assert len(required) == 13
        # Only GitHub Actions can report them: a commit status with the same name does not count.
        assert {check["integrationId"] for check in required} == {15368}
        assert rules["requiredStatusChecks"]["strictRequiredStatusChecksPolicy"] is True
        assert rules["nonFastForward"] and rules["deletion"] and rules["requiredLinearHistory"]
        reviewers = {r["reviewer"]["id"]: r for r in rules["pullRequest"]["requiredReviewers"]}
        # M9 §Exceptions: one backend, one QA and the product owner approve schema paths.
        schema = {TEAM_IDS["backend"], TEAM_IDS["qa"], TEAM_IDS["product-owners"]}
        assert set(reviewers) == schema | {TEAM_IDS["platform"]}
        assert all(
            reviewers[team]["filePatterns"] == ["schemas/trace/**", "tests/golden/**"] for team in schema
        )
        # The platform team approves every change to the gate's own files.
        assert reviewers[TEAM_IDS["platform"]]["filePatterns"] == [
            ".github/CODEOWNERS",
            ".github/pull_request_template.md",
            ".github/release.yml",
            ".github/workflows/**",
            "tools/k6_slo_mapper.py",
            "tools/release_check.py",
            "tools/schema_change_check.py",
            "work/releases/_TEMPLATE-release-contract.md",
        ]
    assert "requiredDeployments" not in rulesets["~DEFAULT_BRANCH"]["rules"]
    release_rules = rulesets["refs/heads/release/*"]["rules"]
    assert release_rules["requiredDeployments"] == {"requiredDeploymentEnvironments": ["staging"]}


def test_rulesets_mode_lets_only_production_reviewers_create_release_branches() -> None:
    mocks, _ = declare(policy(mergeGate={"mode": "rulesets"}))
    (creation,) = [
        r.inputs for r in mocks.of_type(RULESET) if r.inputs["name"].startswith("delivery-gate create")
    ]
    assert creation["conditions"]["refName"]["includes"] == ["refs/heads/release/*"]
    # Its own ruleset: the bypass covers creating the branch, never the merge gate's rules.
    assert creation["rules"] == {"creation": True}
    assert creation["bypassActors"] == [
        {"actorId": TEAM_IDS["release-managers"], "actorType": "Team", "bypassMode": "always"}
    ]


def test_codeowners_and_pr_template_are_committed_to_the_gate_branch_of_a_pull_request() -> None:
    mocks, _ = declare(policy())
    files = {f.inputs["file"]: f.inputs for f in mocks.of_type(FILE)}
    assert {".github/CODEOWNERS", ".github/pull_request_template.md"} <= set(files)
    codeowners = files[".github/CODEOWNERS"]["content"]
    assert "/schemas/trace/** @acme/backend @acme/qa" in codeowners.splitlines()
    # Issue 13 item 3: never straight to the protected default branch (tests/test_files_update.py).
    assert all(f["branch"].startswith("delivery-gate/files-") for f in files.values())
    assert all(f["overwriteOnCreate"] for f in files.values())
    template = files[".github/pull_request_template.md"]["content"]
    assert "- [ ] migration plan (alembic)" in template and "`e2e-parity`" in template
    assert "@acme/product-owners" in template


def codeowners_of(codeowners: str, path: str) -> str:
    """The owners GitHub applies to `path`: the LAST matching rule (anchored patterns as used here)."""
    owners = ""
    for line in codeowners.splitlines():
        if not line or line.startswith("#"):
            continue
        pattern, *teams = line.split()
        regex = re.escape(pattern.lstrip("/")).replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
        if re.fullmatch(regex + ("" if pattern.endswith("/") else "(/.*)?"), path) or (
            pattern.endswith("/") and path.startswith(pattern.lstrip("/"))
        ):
            owners = " ".join(teams)
    return owners


@pytest.mark.parametrize(
    ("path", "owners"),
    [
        # A pull request cannot weaken its own gate on an ordinary approval (M9 §Enforcement).
        (".github/workflows/security-scan.yml", "@acme/platform"),
        (".github/workflows/a-new-workflow-reporting-security-scan.yml", "@acme/platform"),
        (".github/CODEOWNERS", "@acme/platform"),
        (".github/pull_request_template.md", "@acme/platform"),
        ("tools/k6_slo_mapper.py", "@acme/platform"),
        ("tools/schema_change_check.py", "@acme/platform"),
        # Issue 12: the release checks' tool, the contract template, the notes configuration; not
        # the contracts themselves, which the release's authors write.
        ("tools/release_check.py", "@acme/platform"),
        ("work/releases/_TEMPLATE-release-contract.md", "@acme/platform"),
        (".github/release.yml", "@acme/platform"),
        ("work/releases/1.4.0.md", ""),
        ("schemas/trace/v2.json", "@acme/backend @acme/qa"),
        ("tests/golden/seed-1.json", "@acme/backend @acme/qa"),
        ("app/server.py", ""),
    ],
)
def test_codeowners_give_the_gates_files_to_the_platform_team(path: str, owners: str) -> None:
    mocks, _ = declare(policy())
    files = {f.inputs["file"]: f.inputs for f in mocks.of_type(FILE)}
    assert codeowners_of(files[".github/CODEOWNERS"]["content"], path) == owners


def test_labels_the_automation_uses() -> None:
    mocks, _ = declare(policy())
    names = {label.inputs["name"] for label in mocks.of_type(LABEL)}
    assert {"parity-mismatch", "high-priority", "schema-change"} <= names


def test_production_stack_declares_only_its_environment_with_reviewers_and_branch_policies() -> None:
    mocks, outputs = declare(policy(environment="production", stack="prod"))
    assert not mocks.of_type(BRANCH_PROTECTION) and not mocks.of_type(FILE) and not mocks.of_type(LABEL)
    environment, rollback = mocks.of_type(ENVIRONMENT)
    assert outputs["environment"] == "production"
    inputs = environment.inputs
    assert inputs["environment"] == "production"
    assert inputs["reviewers"] == [{"teams": [TEAM_IDS["release-managers"]]}]
    assert inputs["preventSelfReview"] is True and inputs["canAdminsBypass"] is False
    assert inputs["deploymentBranchPolicy"] == {"protectedBranches": False, "customBranchPolicies": True}
    patterns = sorted(
        (p.inputs["environment"], p.inputs["branchPattern"]) for p in mocks.of_type(DEPLOYMENT_POLICY)
    )
    assert patterns == [(e, b) for e in ("production", "production-rollback") for b in ("main", "release/*")]
    # DP: rollback is automatic — deploy.yml rolls back in production-rollback, where nobody
    # approves and nothing waits; it deploys from the same branches, and admins bypass nothing.
    assert rollback.name == "acme-aos-env-production-rollback"
    assert rollback.inputs["environment"] == "production-rollback"
    assert "reviewers" not in rollback.inputs and rollback.inputs["waitTimer"] == 0
    assert rollback.inputs["canAdminsBypass"] is False
    assert rollback.inputs["deploymentBranchPolicy"] == inputs["deploymentBranchPolicy"]


@pytest.mark.parametrize(("environment", "stack"), [("dev", "dev"), ("staging", "staging")])
def test_child_names_carry_the_component_name(environment: str, stack: str) -> None:
    mocks, _ = declare(policy(environment=environment, stack=stack))
    assert mocks.resources
    assert all(r.name == "acme-aos" or r.name.startswith("acme-aos-") for r in mocks.resources)
