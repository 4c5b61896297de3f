"""Every recorded github resource conforms to the real pulumi-github 6.15.0 package schema:
types, required inputs, no unknown keys in nested objects (tests/support/pulumi_schema.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gate.offline.plan import build_plan
from tests.conftest import ProjectFactory
from tests.support.pulumi_schema import load_package_schema
from tests.support.stacks import PROJECT, stack_plan

VARIANTS = {
    # Rulesets mode declares repository rulesets with required reviewers and deployments.
    "rulesets": "  delivery-gate:mergeGate:\n    mode: rulesets\n",
    # A second owner gets its own provider; a user reviewer exercises the user lookup.
    "two-owners": (
        "  delivery-gate:repositories:\n    - name: aos\n"
        "    - {owner: acme-labs, name: tracer, languages: [python]}\n"
        "  delivery-gate:environments:\n"
        "    - {name: dev, stack: dev, reviewers: {users: [octocat], teams: [platform]}}\n"
        "    - {name: staging, stack: staging, promotesFrom: dev}\n"
        "    - {name: production, stack: prod, promotesFrom: staging, reviewers: {teams: [releases]}}\n"
    ),
}


def github_problems(plan: dict[str, Any]) -> tuple[int, list[str]]:
    schema = load_package_schema()
    checked, problems = 0, []
    for resource in plan["resources"]:
        if resource["type"].startswith("github:") or resource["type"] == "pulumi:providers:github":
            checked += 1
            problems += schema.check_resource(resource["type"], resource["inputs"])
    return checked, problems


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_stack_plans_conform_to_the_github_schema(stack: str) -> None:
    checked, problems = github_problems(stack_plan(stack))
    assert checked >= 3
    assert problems == []


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variant_plans_conform_to_the_github_schema(variant: str, make_project: ProjectFactory) -> None:
    text = "config:\n  github:owner: acme\n  delivery-gate:environment: dev\n"
    if "repositories" not in VARIANTS[variant]:
        text += "  delivery-gate:repositories:\n    - name: aos\n"
    project: Path = make_project({"dev": text + VARIANTS[variant]})
    plan = build_plan(project, "dev")
    checked, problems = github_problems(plan)
    assert problems == []
    types = {r["type"] for r in plan["resources"]}
    if variant == "rulesets":
        assert "github:index/repositoryRuleset:RepositoryRuleset" in types
    else:
        providers = [r for r in plan["resources"] if r["type"] == "pulumi:providers:github"]
        assert sorted(p["inputs"]["owner"] for p in providers) == ["acme", "acme-labs"]
        environments = [r for r in plan["resources"] if r["type"].endswith(":RepositoryEnvironment")]
        reviewers = environments[0]["inputs"]["reviewers"][0]
        assert isinstance(reviewers["users"][0], int)
        assert isinstance(reviewers["teams"][0], int)
    assert checked >= 10


def test_the_check_can_fail_on_a_plan() -> None:
    # Guard against a checker that accepts everything: corrupt one recorded input.
    plan = build_plan(PROJECT, "dev")
    protection = next(r for r in plan["resources"] if r["type"].endswith(":BranchProtection"))
    protection["inputs"]["requiredStatusChecks"] = {"strict": True}
    _, problems = github_problems(plan)
    assert any("requiredStatusChecks" in p for p in problems)
