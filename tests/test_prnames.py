"""The names of a pull request's disposable environment (gate/policy/prnames.py): pr-<repo>-<N> stacks and
<repo>-pr-<N> namespaces that Pulumi, Kubernetes, IAM and EKS all accept, one per repository."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

from gate.errors import PolicyError
from gate.policy import prnames
from gate.policy.loader import load_policy
from gate.policy.stackfile import EPHEMERAL_TEMPLATE, ephemeral_template, read_stack_config
from tests.conftest import ROOT, ProjectFactory

# An RFC 1123 label (a Kubernetes namespace), Pulumi's stack-name rule, an IAM role name.
DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
PULUMI_STACK = re.compile(r"[A-Za-z0-9_.-]+")
LONGEST = "A" * 100  # GitHub allows 100 characters


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("aos", "aos"),
        ("delivery-gate", "delivery-gate"),
        ("app2", "app2"),
        ("AOS", "aos"),  # GitHub compares names without case: so does the slug
        ("Web.App", "web-app-3bbc5f"),
        ("web_app", "web-app-253baf"),
        ("-x-", "x-c6cf95"),
        ("a--b", "a-b-90827a"),
        ("...x", "x-700af0"),
        ("_", "repo-d2e2ad"),
    ],
)
def test_a_repository_name_becomes_a_slug(name: str, slug: str) -> None:
    assert prnames.repository_slug(name) == slug


ODD = ["aos", "AOS", "Web.App", "web_app", "web-app", "-x-", "_", "a" * 40, "a" * 41, LONGEST, "9lives"]


@pytest.mark.parametrize("name", ODD)
def test_every_name_fits_pulumi_kubernetes_iam_and_eks(name: str) -> None:
    slug = prnames.repository_slug(name)
    assert 1 <= len(slug) <= prnames.SLUG_MAX and re.fullmatch(prnames.SLUG, slug)
    for pull_request in (1, 999_999_999):
        stack, namespace = prnames.pr_stack(name, pull_request), prnames.pr_namespace(name, pull_request)
        assert PULUMI_STACK.fullmatch(stack) and len(stack) <= 53
        assert DNS_LABEL.fullmatch(namespace) and len(namespace) <= 53
        # The stack name says which repository (slug) and pull request it is, and nothing else.
        match = prnames.PR_STACK.fullmatch(stack)
        assert match is not None and match.groups() == (slug, str(pull_request))
        assert prnames.LEGACY_PR_STACK.fullmatch(stack) is None
        assert prnames.RESERVED_STACK.fullmatch(stack)
    assert len(f"delivery-gate-e2e-{slug}") <= 64  # the IAM role of its pull requests


def test_distinct_names_get_distinct_slugs() -> None:
    names = ["web-app", "Web.App", "web_app", "web.app", "a" * 41, "a" * 42, "a" * 40 + "b", LONGEST]
    slugs = [prnames.repository_slug(name) for name in names]
    # Web.App and web.app are one repository to GitHub, so one slug; every other pair differs.
    assert slugs[1] == slugs[3]
    assert len(set(slugs)) == len(names) - 1


def test_legacy_names_are_recognised_but_not_made() -> None:
    assert prnames.LEGACY_PR_STACK.fullmatch("pr-42")
    assert not prnames.PR_STACK.fullmatch("pr-42")
    assert prnames.legacy_namespace("aos", 42) == "aos-pr-42"


@pytest.mark.parametrize(
    ("first", "second"),
    [("aos", "AOS"), ("web.app", "Web.App"), ("aos", "aos-pr-tools"), ("aos-pr-x", "aos")],
)
def test_names_that_would_meet_overlap(first: str, second: str) -> None:
    assert prnames.overlap(first, second)


@pytest.mark.parametrize(("first", "second"), [("aos", "aos-pr"), ("aos", "aosprx"), ("web-app", "Web.App")])
def test_names_that_cannot_meet_do_not(first: str, second: str) -> None:
    assert not prnames.overlap(first, second)


def pairwise_first_meeting(names: list[str]) -> tuple[int, int] | None:
    """The reference: each name against every earlier one, as the model compared them before."""
    for index, name in enumerate(names):
        for earlier, other in enumerate(names[:index]):
            if prnames.overlap(name, other):
                return index, earlier
    return None


def test_the_first_meeting_is_the_pairwise_comparisons_without_the_pairs() -> None:
    # Issue 14: linear in the names, not quadratic; the same answer as comparing every pair, on
    # lists built from pieces that meet in every way (equal, case, -pr- either side, hashed slugs).
    rng = random.Random(14)
    pieces = ["aos", "AOS", "web.app", "Web.App", "web-app", "pr", "-pr-", "x", "-pr-x", "a" * 45, "9"]
    checked = meetings = 0
    for _ in range(3000):
        names = ["".join(rng.choices(pieces, k=rng.randint(1, 3))) for _ in range(rng.randint(1, 7))]
        expected = pairwise_first_meeting(names)
        assert prnames.first_meeting(names) == expected, names
        checked += 1
        meetings += expected is not None
    assert 0 < meetings < checked  # both answers were exercised


def policy(repositories: list[dict[str, Any]], **values: Any) -> Any:
    return load_policy(
        {"environment": "dev", "repositories": repositories, **values}, stack="dev", github_owner="acme"
    )


@pytest.mark.parametrize(
    ("repositories", "message"),
    [
        (
            [{"name": "aos"}, {"name": "aos", "owner": "other"}],
            "repositories[1].name: got 'aos'; its pull-request stacks and namespaces (pr-aos-<N>) would "
            "meet those of 'aos' (pr-aos-<N>)",
        ),
        ([{"name": "aos"}, {"name": "aos-pr-tools"}], "repositories[1].name: got 'aos-pr-tools'"),
    ],
    ids=["one-name-two-owners", "inside-anothers-pattern"],
)
def test_the_model_refuses_repositories_whose_pr_names_would_meet(
    repositories: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(PolicyError, match=re.escape(message)):
        policy(repositories)


def test_the_model_refuses_an_application_inside_the_pr_namespaces() -> None:
    with pytest.raises(PolicyError, match=re.escape("application.name: got 'aos-pr-app'")):
        policy([{"name": "aos"}], application={"name": "aos-pr-app"})


@pytest.mark.parametrize("stack", ["pr-review", "pr-aos-1", "pr-0", "pr-007"])
def test_no_environment_stack_is_named_like_a_pr_stack(stack: str) -> None:
    environments = [
        {"name": "dev", "stack": "dev", "deploymentBranches": ["*"]},
        {"name": "production", "stack": stack, "promotesFrom": "dev"},
    ]
    with pytest.raises(PolicyError, match="allowed: a stack name not starting with pr-"):
        policy([{"name": "aos"}], environments=environments)


# -- which template a pull request's stack is made from -----------------------------------------


def test_a_repository_without_a_template_of_its_own_uses_the_default(make_project: ProjectFactory) -> None:
    project = make_project({})
    assert ephemeral_template(project, "aos") is None  # no template at all
    (project / EPHEMERAL_TEMPLATE).write_text((ROOT / EPHEMERAL_TEMPLATE).read_text())
    assert ephemeral_template(project, "aos") == EPHEMERAL_TEMPLATE
    (project / "stacks" / "ephemeral.Web.App.yaml").write_text("config: {}\n")
    assert ephemeral_template(project, "web.app") == "stacks/ephemeral.Web.App.yaml"
    assert ephemeral_template(project, "WEB.APP") == "stacks/ephemeral.Web.App.yaml"
    assert ephemeral_template(project, "web_app") == EPHEMERAL_TEMPLATE  # another repository
    assert ephemeral_template(project, "aos") == EPHEMERAL_TEMPLATE


def test_a_pr_stack_is_read_from_its_repositorys_template(make_project: ProjectFactory) -> None:
    project = make_project({})
    default = (ROOT / EPHEMERAL_TEMPLATE).read_text()
    (project / EPHEMERAL_TEMPLATE).write_text(default)
    (project / "stacks" / "ephemeral.tracer.yaml").write_text(
        default.replace("repository: aos", "repository: tracer").replace("ttl: 72h", "ttl: 5h")
    )
    tracer = read_stack_config(project, "pr-tracer-9")
    assert tracer.source == "stacks/ephemeral.tracer.yaml (pr-tracer-9)"
    assert tracer.values["delivery-gate:ephemeral"]["ttl"] == "5h"
    assert tracer.values["delivery-gate:ephemeral"]["pullRequest"] == 9
    assert read_stack_config(project, "pr-aos-9").source == "stacks/ephemeral.yaml (pr-aos-9)"


def test_a_legacy_stack_name_is_not_planned_and_says_why(make_project: ProjectFactory) -> None:
    project = make_project({})
    (project / EPHEMERAL_TEMPLATE).write_text((ROOT / EPHEMERAL_TEMPLATE).read_text())
    with pytest.raises(
        Exception, match=r"pr-42: a per-PR stack is now named pr-<repo>-<N> \(e\.g\. pr-aos-42\)"
    ):
        read_stack_config(project, "pr-42")


@pytest.mark.parametrize(
    ("names", "reported"),
    [
        # The first problem in repository order, as one pass over the repositories found it.
        (["aos", "web", "other/web"], "application.name: got 'aos-pr-app'"),
        (["web", "other/web", "aos"], "repositories[1].name: got 'web'"),
        # At one repository, its meeting an earlier one comes first.
        (["aos-pr-z", "aos"], "repositories[1].name: got 'aos'"),
    ],
)
def test_the_first_problem_in_repository_order_is_reported(names: list[str], reported: str) -> None:
    repositories = [
        dict(zip(("owner", "name"), n.split("/"), strict=True)) if "/" in n else {"name": n} for n in names
    ]
    with pytest.raises(PolicyError, match=re.escape(reported)):
        policy(repositories, application={"name": "aos-pr-app"})
