"""The schema checker against the real pulumi-github 6.15.0 package schema: it must pass and it must fail."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.pulumi_schema import (
    GITHUB_SCHEMA,
    SCHEMAS_ENV,
    PackageSchema,
    load_package_schema,
    schemas_dir,
)
from tests.support.shared import shared_dir

BP = "github:index/branchProtection:BranchProtection"
RULESET = "github:index/repositoryRuleset:RepositoryRuleset"
ENV = "github:index/repositoryEnvironment:RepositoryEnvironment"
FILE = "github:index/repositoryFile:RepositoryFile"
PROVIDER = "pulumi:providers:github"


@pytest.fixture(scope="module")
def schema() -> PackageSchema:
    return load_package_schema()


def branch_protection() -> dict[str, Any]:
    return {
        "pattern": "main",
        "repositoryId": "delivery-gate",
        "requiredStatusChecks": [{"strict": True, "contexts": ["a"]}],
        "requiredPullRequestReviews": [
            {"requiredApprovingReviewCount": 1, "requireCodeOwnerReviews": True, "dismissStaleReviews": True}
        ],
    }


def ruleset() -> dict[str, Any]:
    return {
        "name": "main",
        "repository": "delivery-gate",
        "target": "branch",
        "enforcement": "active",
        "conditions": {"refName": {"includes": ["~DEFAULT_BRANCH"], "excludes": []}},
        "bypassActors": [{"actorId": 5, "actorType": "RepositoryRole", "bypassMode": "always"}],
        "rules": {
            "deletion": True,
            "nonFastForward": True,
            "requiredStatusChecks": {
                "strictRequiredStatusChecksPolicy": True,
                "requiredChecks": [{"context": "unit-tests", "integrationId": 15368}],
            },
            "pullRequest": {
                "requiredApprovingReviewCount": 1,
                "requireCodeOwnerReview": True,
                "allowedMergeMethods": ["squash"],
                "requiredReviewers": [
                    {"reviewer": {"id": 123, "type": "Team"}, "filePatterns": ["*.py"], "minimumApprovals": 1}
                ],
            },
        },
    }


def environment() -> dict[str, Any]:
    return {
        "repository": "delivery-gate",
        "environment": "production",
        "waitTimer": 5,
        "preventSelfReview": True,
        "reviewers": [{"teams": [123], "users": []}],
        "deploymentBranchPolicy": {"protectedBranches": True, "customBranchPolicies": False},
    }


# --- loading ---------------------------------------------------------------------------------------


def test_default_location_is_the_shared_schemas_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SCHEMAS_ENV, raising=False)
    assert schemas_dir() == shared_dir() / "schemas"
    assert (schemas_dir() / GITHUB_SCHEMA).is_file()


def test_load_is_cached_per_file_whatever_the_spelling(schema: PackageSchema) -> None:
    path = schemas_dir() / GITHUB_SCHEMA
    assert load_package_schema(path) is schema
    assert load_package_schema(str(path)) is schema
    assert schema.name == "github"


def test_env_var_overrides_the_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / GITHUB_SCHEMA).write_text(json.dumps({"name": "github", "resources": {}}), encoding="utf-8")
    monkeypatch.setenv(SCHEMAS_ENV, str(tmp_path))
    assert schemas_dir() == tmp_path
    fake = load_package_schema()
    assert fake.resource_tokens() == [PROVIDER]
    assert fake.check_resource(BP, branch_protection())[0].startswith(f"{BP}: unknown resource type")


# --- branchProtection ------------------------------------------------------------------------------


def test_valid_branch_protection_conforms(schema: PackageSchema) -> None:
    assert schema.check_resource(BP, branch_protection()) == []


def test_missing_required_input_is_named(schema: PackageSchema) -> None:
    inputs = branch_protection()
    del inputs["pattern"]
    assert schema.check_resource(BP, inputs) == [f"{BP}.pattern: required input is missing"]


def test_required_input_set_to_none_is_a_problem(schema: PackageSchema) -> None:
    inputs = branch_protection() | {"repositoryId": None}
    assert schema.check_resource(BP, inputs) == [f"{BP}.repositoryId: required input is None"]


def test_optional_input_set_to_none_is_absent(schema: PackageSchema) -> None:
    assert schema.check_resource(BP, branch_protection() | {"enforceAdmins": None}) == []


def test_unknown_nested_key_is_a_problem(schema: PackageSchema) -> None:
    inputs = branch_protection()
    inputs["requiredStatusChecks"][0]["checks"] = ["a"]
    problems = schema.check_resource(BP, inputs)
    assert len(problems) == 1
    assert problems[0].startswith(f"{BP}.requiredStatusChecks[0].checks: unknown key")


def test_unknown_top_level_snake_case_key_suggests_camel_case(schema: PackageSchema) -> None:
    problems = schema.check_resource(BP, branch_protection() | {"enforce_admins": True})
    assert problems == [f"{BP}.enforce_admins: unknown key; did you mean 'enforceAdmins'?"]


def test_string_where_array_expected(schema: PackageSchema) -> None:
    inputs = branch_protection()
    inputs["requiredStatusChecks"][0]["contexts"] = "a"
    assert schema.check_resource(BP, inputs) == [
        f"{BP}.requiredStatusChecks[0].contexts: expected array of string, got str"
    ]


def test_wrong_array_item_type_names_the_index(schema: PackageSchema) -> None:
    inputs = branch_protection()
    inputs["requiredStatusChecks"][0]["contexts"] = ["a", 1]
    assert schema.check_resource(BP, inputs) == [
        f"{BP}.requiredStatusChecks[0].contexts[1]: expected string, got int"
    ]


def test_none_inside_a_list_is_a_problem(schema: PackageSchema) -> None:
    inputs = branch_protection()
    inputs["requiredStatusChecks"][0]["contexts"] = [None]
    assert schema.check_resource(BP, inputs) == [
        f"{BP}.requiredStatusChecks[0].contexts[0]: expected string, got None"
    ]


def test_branch_protection_blocks_are_lists_not_objects(schema: PackageSchema) -> None:
    inputs = branch_protection() | {"requiredStatusChecks": {"strict": True, "contexts": ["a"]}}
    problems = schema.check_resource(BP, inputs)
    assert problems == [
        f"{BP}.requiredStatusChecks: expected array of object BranchProtectionRequiredStatusCheck, got dict"
        " (this property is a list: wrap the object in [...])"
    ]


@pytest.mark.parametrize("count", [True, 1.0, "1", None])
def test_integer_is_strictly_int(schema: PackageSchema, count: object) -> None:
    inputs = branch_protection()
    inputs["requiredPullRequestReviews"][0]["requiredApprovingReviewCount"] = count
    problems = schema.check_resource(BP, inputs)
    if count is None:  # optional, so None means absent
        assert problems == []
    else:
        path = f"{BP}.requiredPullRequestReviews[0].requiredApprovingReviewCount"
        assert problems == [f"{path}: expected integer, got {type(count).__name__}"]


def test_boolean_is_strictly_bool(schema: PackageSchema) -> None:
    inputs = branch_protection() | {"enforceAdmins": 1}
    assert schema.check_resource(BP, inputs) == [f"{BP}.enforceAdmins: expected boolean, got int"]


def test_every_problem_is_reported_not_just_the_first(schema: PackageSchema) -> None:
    inputs = {"repositoryId": 7, "requiredStatusChecks": [{"strict": "yes", "bogus": 1}]}
    problems = schema.check_resource(BP, inputs)
    assert len(problems) == 4
    assert f"{BP}.pattern: required input is missing" in problems
    assert f"{BP}.repositoryId: expected string, got int" in problems
    assert f"{BP}.requiredStatusChecks[0].strict: expected boolean, got str" in problems


# --- placeholders and secrets ----------------------------------------------------------------------


@pytest.mark.parametrize("placeholder", ["[secret]", "[unknown]"])
def test_placeholders_are_accepted_for_any_type(schema: PackageSchema, placeholder: str) -> None:
    inputs = branch_protection() | {"repositoryId": placeholder, "enforceAdmins": placeholder}
    inputs["requiredStatusChecks"] = [placeholder]
    inputs["requiredPullRequestReviews"] = placeholder
    assert schema.check_resource(BP, inputs) == []
    assert schema.check_resource(FILE, {"repository": "r", "file": "f", "content": placeholder}) == []


def test_only_the_exact_placeholders_are_accepted(schema: PackageSchema) -> None:
    inputs = branch_protection() | {"enforceAdmins": "[SECRET]"}
    assert schema.check_resource(BP, inputs) == [f"{BP}.enforceAdmins: expected boolean, got str"]


def test_pulumi_secret_envelope_is_unwrapped(schema: PackageSchema) -> None:
    def secret(value: object) -> dict[str, object]:
        return {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": value}

    assert schema.check_resource(FILE, {"repository": "r", "file": "f", "content": secret("x")}) == []
    assert schema.check_resource(FILE, {"repository": "r", "file": "f", "content": secret(3)}) == [
        f"{FILE}.content: expected string, got int"
    ]


def test_repository_file_requires_file(schema: PackageSchema) -> None:
    assert schema.check_resource(FILE, {"repository": "r", "content": "x", "branch": "main"}) == [
        f"{FILE}.file: required input is missing"
    ]


# --- repositoryRuleset -----------------------------------------------------------------------------


def test_valid_ruleset_with_required_reviewers_conforms(schema: PackageSchema) -> None:
    assert schema.check_resource(RULESET, ruleset()) == []


def test_ruleset_rules_is_an_object_not_a_block_list(schema: PackageSchema) -> None:
    inputs = ruleset()
    inputs["rules"] = [inputs["rules"]]
    assert schema.check_resource(RULESET, inputs) == [
        f"{RULESET}.rules: expected object RepositoryRulesetRules, got list"
        " (this property is a single object, not a list)"
    ]


def test_ruleset_required_reviewer_problems(schema: PackageSchema) -> None:
    inputs = ruleset()
    reviewers = inputs["rules"]["pullRequest"]["requiredReviewers"]
    reviewers.append({"reviewer": [{"id": 1, "type": "Team"}], "filePatterns": ["*"], "minimumApprovals": 1})
    reviewers.append({"reviewer": {"id": "platform", "type": "Team"}, "minimumApprovals": 1})
    path = f"{RULESET}.rules.pullRequest.requiredReviewers"
    assert schema.check_resource(RULESET, inputs) == [
        f"{path}[1].reviewer: expected object RepositoryRulesetRulesPullRequestRequiredReviewerReviewer,"
        " got list (this property is a single object, not a list)",
        f"{path}[2].filePatterns: required input is missing",
        f"{path}[2].reviewer.id: expected integer, got str",
    ]


def test_ruleset_nested_required_and_unknown_keys(schema: PackageSchema) -> None:
    inputs = ruleset()
    del inputs["enforcement"]
    inputs["conditions"]["refName"] = {"include": ["main"]}
    problems = schema.check_resource(RULESET, inputs)
    assert f"{RULESET}.enforcement: required input is missing" in problems
    assert f"{RULESET}.conditions.refName.includes: required input is missing" in problems
    assert f"{RULESET}.conditions.refName.excludes: required input is missing" in problems
    assert f"{RULESET}.conditions.refName.include: unknown key; did you mean 'includes'?" in problems
    assert len(problems) == 4


# --- repositoryEnvironment -------------------------------------------------------------------------


def test_valid_environment_conforms(schema: PackageSchema) -> None:
    assert schema.check_resource(ENV, environment()) == []


def test_environment_reviewer_teams_are_integer_ids(schema: PackageSchema) -> None:
    inputs = environment() | {"reviewers": [{"teams": ["x"]}]}
    assert schema.check_resource(ENV, inputs) == [f"{ENV}.reviewers[0].teams[0]: expected integer, got str"]


def test_environment_deployment_branch_policy_is_one_object_with_both_flags(schema: PackageSchema) -> None:
    inputs = environment() | {"deploymentBranchPolicy": {"protectedBranches": True}}
    assert schema.check_resource(ENV, inputs) == [
        f"{ENV}.deploymentBranchPolicy.customBranchPolicies: required input is missing"
    ]
    inputs = environment() | {
        "deploymentBranchPolicy": [{"protectedBranches": True, "customBranchPolicies": False}]
    }
    assert len(schema.check_resource(ENV, inputs)) == 1


# --- type tokens and the provider ------------------------------------------------------------------


def test_unknown_type_token_is_a_problem(schema: PackageSchema) -> None:
    assert schema.check_resource("github:index/branchProtections:BranchProtections", {"pattern": "x"}) == [
        "github:index/branchProtections:BranchProtections: unknown resource type in package 'github';"
        f" did you mean {BP!r}?"
    ]
    assert schema.check_resource("aws:s3/bucket:Bucket", {}) == [
        "aws:s3/bucket:Bucket: unknown resource type in package 'github'"
    ]


def test_provider_accepts_plain_and_json_encoded_inputs(schema: PackageSchema) -> None:
    # What the mock engine records for github.Provider(owner=, insecure=False, max_retries=3, app_auth=).
    recorded = {
        "owner": "acme",
        "baseUrl": "https://api.github.com/",
        "insecure": "false",
        "maxRetries": "3",
        "token": "[secret]",
        "appAuth": json.dumps({"id": "1", "installationId": "2", "pemFile": "x"}),
    }
    assert schema.check_resource(PROVIDER, recorded) == []
    plain = recorded | {
        "insecure": False,
        "maxRetries": 3,
        "appAuth": {"id": "1", "installationId": "2", "pemFile": "x"},
    }
    assert schema.check_resource(PROVIDER, plain) == []


def test_provider_problems(schema: PackageSchema) -> None:
    recorded = {"owner": 1, "maxRetries": "three", "appAuth": '{"id": "1"}', "region": "eu"}
    problems = schema.check_resource(PROVIDER, recorded)
    assert problems == [
        f"{PROVIDER}.owner: expected string, got int",
        f"{PROVIDER}.maxRetries: expected integer (or its JSON encoding), got str 'three'",
        f"{PROVIDER}.appAuth.installationId: required input is missing",
        f"{PROVIDER}.appAuth.pemFile: required input is missing",
        f"{PROVIDER}.region: unknown key; allowed: "
        + ", ".join(
            sorted(
                [
                    "appAuth",
                    "baseUrl",
                    "cachePath",
                    "insecure",
                    "legacyClient",
                    "maxPerPage",
                    "maxRetries",
                    "organization",
                    "owner",
                    "parallelRequests",
                    "readDelayMs",
                    "retryDelayMs",
                    "retryableErrors",
                    "token",
                    "writeDelayMs",
                ]
            )
        ),
    ]


def test_non_provider_inputs_are_not_json_decoded(schema: PackageSchema) -> None:
    inputs = environment() | {"waitTimer": "5"}
    assert schema.check_resource(ENV, inputs) == [f"{ENV}.waitTimer: expected integer, got str"]


def test_empty_inputs_report_exactly_the_required_inputs_of_every_resource(schema: PackageSchema) -> None:
    document = json.loads((schemas_dir() / GITHUB_SCHEMA).read_text(encoding="utf-8"))
    started = time.perf_counter()
    for token in schema.resource_tokens()[1:]:
        required = document["resources"][token].get("requiredInputs", [])
        expected = [f"{token}.{name}: required input is missing" for name in required]
        assert schema.check_resource(token, {}) == expected
    assert schema.check_resource(PROVIDER, {}) == []
    assert time.perf_counter() - started < 1.0


def test_inputs_are_not_mutated(schema: PackageSchema) -> None:
    inputs = ruleset()
    before = copy.deepcopy(inputs)
    schema.check_resource(RULESET, inputs)
    assert inputs == before


# --- schema features the GitHub schema does not use: enum types, oneOf, maps -----------------------


@pytest.fixture
def synthetic(tmp_path: Path) -> PackageSchema:
    document = {
        "name": "demo",
        "types": {
            "demo:index/Mode:Mode": {
                "type": "string",
                "enum": [{"value": "fast"}, {"name": "Slow", "value": "slow"}],
            },
            "demo:index/Limit:Limit": {"type": "object", "properties": {"max": {"type": "number"}}},
        },
        "resources": {
            "demo:index/thing:Thing": {
                "inputProperties": {
                    "mode": {"$ref": "#/types/demo:index/Mode:Mode"},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "limits": {
                        "type": "object",
                        "additionalProperties": {"$ref": "#/types/demo:index/Limit:Limit"},
                    },
                    "size": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
                    "anything": {"$ref": "pulumi.json#/Any"},
                    "dangling": {"$ref": "#/types/demo:index/Gone:Gone"},
                },
                "requiredInputs": ["mode"],
            }
        },
    }
    path = tmp_path / "demo.schema.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return load_package_schema(path)


def test_synthetic_valid(synthetic: PackageSchema) -> None:
    thing = {
        "mode": "slow",
        "labels": {"team": "platform"},
        "limits": {"cpu": {"max": 1.5}, "mem": {"max": 2}},
        "size": 3,
        "anything": [{"x": None}],
    }
    assert synthetic.check_resource("demo:index/thing:Thing", thing) == []
    assert synthetic.check_resource("demo:index/thing:Thing", {"mode": "fast", "size": "3"}) == []


def test_synthetic_invalid(synthetic: PackageSchema) -> None:
    thing = {
        "mode": "medium",
        "labels": {"team": 1},
        "limits": {"cpu": {"max": True, "min": 0}},
        "size": 1.5,
        "dangling": {},
    }
    p = "demo:index/thing:Thing"
    assert synthetic.check_resource(p, thing) == [
        f"{p}.mode: expected one of 'fast', 'slow', got str 'medium'",
        f'{p}.labels["team"]: expected string, got int',
        f'{p}.limits["cpu"].max: expected number, got bool',
        f'{p}.limits["cpu"].min: unknown key; allowed: max',
        f"{p}.size: expected integer or string, got float",
        f"{p}.dangling: schema $ref '#/types/demo:index/Gone:Gone' cannot be resolved",
    ]
