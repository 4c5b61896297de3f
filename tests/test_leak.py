"""`gate init` writes a per-PR template per gated repository (issue 13, item 1, leakage side).

The shipped stacks/ephemeral.yaml serves the example organisation's `acme/aos`. A new organisation
gets stacks/ephemeral.<repo>.yaml for each of its repositories, so `gate ephemeral up --repository
<owner>/<repo>` works for each, and the per-PR plans hold nothing of the example organisation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gate.cli.scaffold import write
from gate.github.repository import branch_gates, repository_gate
from gate.offline.plan import build_plan
from gate.policy.loader import load_policy
from gate.policy.prnames import repository_slug
from gate.policy.stackfile import ephemeral_template, ephemeral_templates, template_repository

REPOSITORIES = ["shop-api", "Shop_Web"]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("leak") / "our-gate"
    write(directory, "example-org", "delivery-gate", REPOSITORIES)
    return directory


def test_every_repository_gets_its_own_template(project: Path) -> None:
    assert ephemeral_templates(project) == [
        "stacks/ephemeral.Shop_Web.yaml",
        "stacks/ephemeral.shop-api.yaml",
    ]
    for name in REPOSITORIES:
        template = ephemeral_template(project, name)
        assert template == f"stacks/ephemeral.{name}.yaml"
        assert template_repository(project, template) == f"example-org/{name}"
    # No default template: a repository that is not gated has none (lifecycle refuses it clearly).
    assert ephemeral_template(project, "other") is None


@pytest.mark.parametrize(("name", "number"), [("shop-api", 3), ("Shop_Web", 7)])
def test_a_per_pr_plan_of_a_new_organisation_holds_nothing_of_the_example_one(
    project: Path, name: str, number: int
) -> None:
    slug = repository_slug(name)
    plan: dict[str, Any] = build_plan(project, f"pr-{slug}-{number}")
    text = json.dumps(plan, sort_keys=True).lower()
    assert "acme" not in text and "aos" not in text
    namespaces = {
        r["inputs"]["metadata"]["name"]
        for r in plan["resources"]
        if r["type"] == "kubernetes:core/v1:Namespace"
    }
    assert namespaces == {f"{slug}-pr-{number}"}
    # The template's image is the repository's own (the e2e job replaces it with the PR's digest).
    assert f"ghcr.io/example-org/{name.lower()}:pr-{number}" in text


ENVIRONMENT = "github:index/repositoryEnvironment:RepositoryEnvironment"
ENVIRONMENT_VARIABLE = "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable"


def test_only_the_repositories_that_deploy_get_environments(project: Path) -> None:
    # application.repositories defaults to the first repository: Shop_Web is gated for merging only.
    plan: dict[str, Any] = build_plan(project, "prod")
    environments = sorted(
        (r["inputs"]["repository"], r["inputs"]["environment"])
        for r in plan["resources"]
        if r["type"] == ENVIRONMENT
    )
    assert environments == [("shop-api", "production"), ("shop-api", "production-rollback")]
    variables = {r["inputs"]["repository"] for r in plan["resources"] if r["type"] == ENVIRONMENT_VARIABLE}
    assert variables <= {"shop-api"}


def test_a_repository_that_does_not_deploy_requires_no_deployment() -> None:
    values = {
        "environment": "production",
        "repositories": [{"name": "shop-api"}, {"name": "shop-web", "mergeGateMode": "rulesets"}],
    }
    policy = load_policy(values, stack="prod", github_owner="example-org")
    api, web = (repository_gate(policy, repo) for repo in policy.repositories)
    assert api.environment is not None and api.rollback_environment is not None
    assert [b.required_deployment for b in branch_gates(policy, policy.repositories[0])] == [None, "staging"]
    assert web.environment is None and web.rollback_environment is None
    assert web.environment_variables == ()
    # A release branch of shop-web cannot wait for a deployment to an environment it does not have.
    assert [b.required_deployment for b in branch_gates(policy, policy.repositories[1])] == [None, None]
    # Naming it in application.repositories gives it the environments back.
    both = load_policy(
        {**values, "application": {"repositories": ["shop-api", "shop-web"]}},
        stack="prod",
        github_owner="example-org",
    )
    assert all(repository_gate(both, repo).environment is not None for repo in both.repositories)
