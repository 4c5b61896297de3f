"""Issue 14: a repository's workflows rendered from its template (a stand-in repository whose name is
a token of the same shape) must be exactly what rendering the repository itself gives, or not be used.

`direct` below renders the repository itself; `render_workflows` is what the rules and the components
get. The cases built to defeat the template also check that it was refused, not only that the answer
came out right (a fallback that happened to give the same texts would hide a wrong shortcut).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import pytest

from gate.github import rendertemplates, workflows
from gate.github.rendertemplates import render_by_name, shape_token
from gate.github.workflows import render_documents, render_workflows, shared_workflow_documents
from gate.github.yamltext import dump
from gate.policy.loader import load_policy
from gate.policy.model import GatePolicy, Repository

ORDINARY = ["service-0001", "web", "api-v2", "a1-b2-c3", "payments-eu-west-1"]
# Refused by their form: case, dots, underscores, a leading digit or hyphen, double hyphens, a slug
# too long to be the name itself (gate/policy/prnames.py hashes it).
UNUSUAL = ["Web-App", "web.app", "api_v2", "0day", "x--y", "service-" + "a" * 45]


def policy_of(names: list[str], **extra: Any) -> GatePolicy:
    repositories: list[dict[str, Any]] = [{"name": name} for name in names]
    # Two kinds of settings, alternating, so that templates are per settings as well as per shape.
    for index, repo in enumerate(repositories):
        if index % 2:
            repo.update(languages=["python"], mergeQueue=True)
    return load_policy(
        {"environment": "dev", "repositories": [{"name": "app"}, *repositories], **extra},
        stack="dev",
        github_owner="acme",
    )


def direct(policy: GatePolicy, repo: Repository) -> dict[str, str]:
    return render_documents(shared_workflow_documents(policy, repo))


def by_template(policy: GatePolicy, repo: Repository) -> dict[str, str] | None:
    return render_by_name(
        policy,
        repo,
        "workflows",
        lambda stand_in: workflows._build_documents(policy, stand_in, False),
        render_documents,
    )


def test_templates_render_exactly_what_each_repository_renders() -> None:
    policy = policy_of(ORDINARY + UNUSUAL)
    templated = 0
    for repo in policy.repositories:
        expected = direct(policy, repo)
        assert render_workflows(policy, repo) == expected
        answer = by_template(policy, repo)
        if answer is not None:
            assert answer == expected
            templated += 1
            # The name is in the texts: the template did replace something.
            assert any(repo.name in text for text in answer.values())
    assert templated == len(ORDINARY)


@pytest.mark.parametrize("name", UNUSUAL)
def test_a_name_of_another_form_is_rendered_itself(name: str) -> None:
    policy = policy_of([name])
    repo = next(r for r in policy.repositories if r.name == name)
    assert by_template(policy, repo) is None
    assert render_workflows(policy, repo) == direct(policy, repo)


def test_the_deploying_repositories_are_rendered_themselves() -> None:
    # The first repository deploys by default, named nowhere else in the policy; others when listed.
    policy = policy_of(
        ["service-0001", "service-0002"], application={"repositories": ["app", "service-0002"]}
    )
    deploying = [r for r in policy.repositories if policy.deploys(r)]
    assert [r.name for r in deploying] == ["app", "service-0002"]
    for repo in deploying:
        assert by_template(policy, repo) is None
        assert "deploy.yml" in " ".join(render_workflows(policy, repo))
    other = next(r for r in policy.repositories if r.name == "service-0001")
    assert by_template(policy, other) is not None


def test_the_first_repository_deploys_by_default_though_the_policy_does_not_name_it() -> None:
    policy = load_policy(
        {
            "environment": "dev",
            "application": {"name": "shop"},
            "repositories": [{"name": "service-0001"}, {"name": "service-0002"}],
        },
        stack="dev",
        github_owner="acme",
    )
    first, second = policy.repositories
    assert policy.deploys(first) and not policy.deploys(second)
    assert by_template(policy, first) is None
    assert render_workflows(policy, first) == direct(policy, first)
    assert ".github/workflows/deploy.yml" in render_workflows(policy, first)
    assert by_template(policy, second) == direct(policy, second)


def test_a_name_the_policy_mentions_elsewhere_is_rendered_itself() -> None:
    # The application's name is this repository's: a setting compared with the name is not the token.
    policy = policy_of(["service-0001", "service-0002"], application={"name": "service-0002"})
    named = next(r for r in policy.repositories if r.name == "service-0002")
    assert by_template(policy, named) is None
    assert render_workflows(policy, named) == direct(policy, named)
    assert by_template(policy, next(r for r in policy.repositories if r.name == "service-0001")) is not None


def test_a_longer_name_that_contains_the_name_does_not_name_it() -> None:
    policy = policy_of(["service-1", "service-10"], application={"name": "service-10"})
    short, long = (next(r for r in policy.repositories if r.name == n) for n in ("service-1", "service-10"))
    assert by_template(policy, long) is None
    assert by_template(policy, short) == direct(policy, short)


def documents_by(render_name: Any) -> Any:
    def build(repo: Repository) -> Mapping[str, Mapping[str, Any]]:
        return {"ci.yml": {"name": "ci", "env": {"VALUE": render_name(repo.name)}}}

    return build


def texts(documents: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    return {file: dump(document) for file, document in documents.items()}


@pytest.mark.parametrize(
    "render_name",
    [
        pytest.param(lambda name: hashlib.sha256(name.encode()).hexdigest()[:8], id="digest"),
        pytest.param(lambda name: name[:6], id="truncated"),
        pytest.param(str.upper, id="upper-case"),
        pytest.param(lambda name: name.replace("-", "_"), id="hyphens-replaced"),
        pytest.param(lambda name: f"{name} qqqqqqq-7777", id="token-in-text"),
    ],
)
def test_a_rendering_that_is_not_the_name_written_as_it_is_is_refused(render_name: Any) -> None:
    policy = policy_of(["service-0001"])
    repo = next(r for r in policy.repositories if r.name == "service-0001")
    build = documents_by(render_name)
    naive = {
        file: text.replace(shape_token(repo.name, *rendertemplates.FIRST), repo.name)
        for file, text in texts(build(repo.model_copy(update={"name": "qqqqqqq-7777"}))).items()
    }
    # Replacing the token would give a wrong text: the template must be refused.
    assert naive != texts(build(repo))
    assert render_by_name(policy, repo, "test", build, texts) is None


def test_the_name_written_as_it_is_uses_the_template() -> None:
    policy = policy_of(["service-0001"])
    repo = next(r for r in policy.repositories if r.name == "service-0001")
    build = documents_by(lambda name: f"ghcr.io/acme/{name}:latest")
    assert render_by_name(policy, repo, "test", build, texts) == texts(build(repo))


@pytest.mark.parametrize("name", ["true", "null", "off", "yes"])
def test_a_name_yaml_would_read_as_another_type_is_refused(name: str) -> None:
    # The stand-in's token is written plain; the name, alone as a value, must be quoted.
    policy = policy_of([name])
    repo = next(r for r in policy.repositories if r.name == name)
    build = documents_by(lambda written: written)
    token = shape_token(name, *rendertemplates.FIRST)
    naive = texts(build(repo.model_copy(update={"name": token})))["ci.yml"].replace(token, name)
    assert naive != texts(build(repo))["ci.yml"]
    assert render_by_name(policy, repo, "test", build, texts) is None
    # Inside a longer value the name stays a string, and the template is used.
    inside = documents_by(lambda written: f"image-{written}")
    assert render_by_name(policy, repo, "inside", inside, texts) == texts(inside(repo))


def test_repositories_differing_only_by_name_share_one_rendering(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    real = workflows._build_documents

    def counting(policy: GatePolicy, repo: Repository, names_from_context: bool) -> Any:
        built.append(repo.name)
        return real(policy, repo, names_from_context)

    monkeypatch.setattr(workflows, "_build_documents", counting)
    names = [f"service-{index:04d}" for index in range(40)]
    policy = policy_of(names)
    for repo in policy.repositories:
        render_workflows(policy, repo)
    # Two settings, one shape: two stand-ins each; "app" deploys and is built itself.
    assert sorted(built) == sorted(["app", *["qqqqqqq-7777", "zzzzzzz-3333"] * 2])
