"""`python -m gate check`: the stacks of a project agree on the chain, the merge-gate owner and the
gated repositories (GATE-DP-11). `make test` runs it on the shipped stacks."""

from __future__ import annotations

import pytest
import yaml

from gate.cli import main as cli
from tests.conftest import ProjectFactory
from tests.support.stacks import PROJECT, names

# The shipped stacks (or the copy DELIVERY_GATE_TEST_PROJECT names) and their organisation's names.
OWNER, REPOSITORY, FULL_NAME = names().owner, names().repository, names().full_name

SHIPPED = {
    stack: (PROJECT / "stacks" / f"Pulumi.{stack}.yaml").read_text() for stack in ("dev", "staging", "prod")
}


def edited(stack: str, **changes: object) -> str:
    document = yaml.safe_load(SHIPPED[stack])
    if "environments" in changes and "delivery-gate:release" in document["config"]:
        # Promoted from the new chain's upstream, so the stack is valid on its own.
        document["config"]["delivery-gate:release"]["promotedFrom"]["stack"] = "dev"
    for key, value in changes.items():
        if value is None:
            document["config"].pop(f"delivery-gate:{key}", None)
        else:
            document["config"][f"delivery-gate:{key}"] = value
    return yaml.safe_dump(document, sort_keys=False)


def check(
    make_project: ProjectFactory, stacks: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    project = make_project(stacks)
    code = cli.main(["check", "--project-dir", str(project)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_the_shipped_stacks_agree(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check", "--project-dir", str(PROJECT)]) == 0
    assert capsys.readouterr().out == (
        "3 stacks agree: dev, staging, prod\n1 per-PR template(s) valid: stacks/ephemeral.yaml\n"
    )


CHAIN_WITHOUT_STAGING = [
    {"name": "dev", "stack": "dev", "deploymentBranches": ["*"]},
    {
        "name": "production",
        "stack": "prod",
        "promotesFrom": "dev",
        "reviewers": {"teams": ["release-managers"]},
    },
]


@pytest.mark.parametrize(
    ("stacks", "expected"),
    [
        (
            {"dev": SHIPPED["dev"], "prod": SHIPPED["prod"]},
            "[GATE-DP-11] environment 'staging' is deployed by stack 'staging', which has no stack file: the "
            "chain would skip it",
        ),
        (
            {**SHIPPED, "staging": edited("staging", repositories=[{"name": "other"}])},
            f"[GATE-DP-11] stack staging does not list ['{FULL_NAME}'], gated by stack dev: their 'staging' "
            "deployment environment would not exist",
        ),
        (
            {**SHIPPED, "staging": edited("staging", mergeGate={"ownerEnvironment": "staging"})},
            "[GATE-DP-11] exactly one stack must own the merge gate; got ['dev', 'staging'] "
            "(mergeGate.ownerEnvironment must agree across stacks)",
        ),
    ],
    ids=["a-stack-is-missing", "a-repository-is-missing", "two-owners"],
)
def test_an_inconsistency_is_refused(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str], stacks: dict[str, str], expected: str
) -> None:
    code, output = check(make_project, stacks, capsys)
    assert code == 3  # GATE-DP-11: a rule violation
    assert f"  - {expected}\n" in output
    assert "Traceback" not in output


def test_a_stack_with_its_own_chain_is_refused(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    # dev and staging keep the shipped chain; the prod stack claims production comes straight from dev.
    # A chain of its own is a `replace` (a plain list merges by name with the policy's chain).
    stacks = {**SHIPPED, "prod": edited("prod", environments={"replace": CHAIN_WITHOUT_STAGING})}
    code, output = check(make_project, stacks, capsys)
    assert code == 3, output
    assert (
        "[GATE-DP-11] stack prod: its chain dev (stack dev) -> production (stack prod) differs from stack "
        "dev's dev (stack dev) -> staging (stack staging) -> production (stack prod)"
    ) in output


def test_an_invalid_stack_is_reported_with_its_own_message(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = check(
        make_project, {**SHIPPED, "staging": "config:\n  delivery-gate:environment: nowhere\n"}, capsys
    )
    assert code == 2
    assert "stacks/Pulumi.staging.yaml: invalid delivery-gate configuration" in output


# -- the per-PR templates: every one validated, one per gated repository -----------------------

TEMPLATE = (PROJECT / "stacks" / "ephemeral.yaml").read_text()
TWO_REPOSITORIES = [{"name": REPOSITORY}, {"name": "Web.App"}]


def gating_two(stack: str) -> str:
    return edited(stack, repositories=TWO_REPOSITORIES)


def template_for(name: str, **changes: object) -> str:
    """The shipped template, serving the repository `name` (and gating both repositories)."""
    text = TEMPLATE.replace(f"repository: {REPOSITORY}", f"repository: {name}")
    document = yaml.safe_load(text)
    document["config"]["delivery-gate:repositories"] = TWO_REPOSITORIES
    for key, value in changes.items():
        current = document["config"].get(f"delivery-gate:{key}")
        merged = {**current, **value} if isinstance(current, dict) and isinstance(value, dict) else value
        document["config"][f"delivery-gate:{key}"] = merged
    return yaml.safe_dump(document, sort_keys=False)


def check_with_templates(
    make_project: ProjectFactory, templates: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    project = make_project({stack: gating_two(stack) for stack in SHIPPED})
    for file, text in templates.items():
        (project / "stacks" / file).write_text(text)
    code = cli.main(["check", "--project-dir", str(project)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_a_template_per_repository_is_checked_with_the_default_one(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    templates = {
        "ephemeral.yaml": template_for(REPOSITORY),
        "ephemeral.Web.App.yaml": template_for("Web.App"),
    }
    code, output = check_with_templates(make_project, templates, capsys)
    assert code == 0, output
    assert "2 per-PR template(s) valid: stacks/ephemeral.yaml, stacks/ephemeral.Web.App.yaml" in output


@pytest.mark.parametrize(
    ("templates", "expected"),
    [
        (
            {"ephemeral.web.app.yaml": template_for(REPOSITORY)},
            f"[GATE-DP-11] stacks/ephemeral.web.app.yaml serves {FULL_NAME}, "
            "not 'web.app' as its file name says",
        ),
        (
            {"ephemeral.yaml": template_for("Web.App"), "ephemeral.Web.App.yaml": template_for("Web.App")},
            "[GATE-DP-11] stacks/ephemeral.Web.App.yaml and stacks/ephemeral.yaml both serve "
            f"{OWNER}/Web.App: "
            "one template per repository (stacks/ephemeral.yaml serves one without a template of its own)",
        ),
        (
            {"ephemeral.Web.App.yaml": template_for("Web.App", ephemeral={"ttl": "0s"})},
            "stacks/ephemeral.Web.App.yaml (pull request 1): invalid delivery-gate configuration",
        ),
    ],
    ids=["file-names-another-repository", "two-templates-for-one-repository", "an-invalid-template"],
)
def test_a_bad_template_is_refused(
    make_project: ProjectFactory,
    capsys: pytest.CaptureFixture[str],
    templates: dict[str, str],
    expected: str,
) -> None:
    code, output = check_with_templates(make_project, templates, capsys)
    # GATE-DP-11 is a rule violation (3); a template that is not a valid configuration is exit 2.
    assert code == (2 if "invalid delivery-gate configuration" in expected else 3), output
    assert expected in output, output


def test_a_template_for_a_repository_no_merge_gate_gates_is_refused(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(dict(SHIPPED))  # the stacks gate one repository only
    (project / "stacks" / "ephemeral.Web.App.yaml").write_text(template_for("Web.App"))
    assert cli.main(["check", "--project-dir", str(project)]) == 3
    assert (
        f"[GATE-DP-11] stacks/ephemeral.Web.App.yaml serves {OWNER}/Web.App, which no merge gate gates: "
        f"allowed: one of {FULL_NAME}"
    ) in capsys.readouterr().err
