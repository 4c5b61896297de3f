"""`python -m gate check`: the stacks of a project agree on the chain, the merge-gate owner and the
gated repositories (GATE-DP-11). `make test` runs it on the shipped stacks."""

from __future__ import annotations

import pytest
import yaml

from gate import cli
from tests.conftest import ROOT, ProjectFactory

SHIPPED = {
    stack: (ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text() for stack in ("dev", "staging", "prod")
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
    assert cli.main(["check", "--project-dir", str(ROOT)]) == 0
    assert capsys.readouterr().out == "3 stacks agree: dev, staging, prod\n"


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
            "[GATE-DP-11] stack staging does not list ['acme/aos'], gated by stack dev: their 'staging' "
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
    assert code == 2
    assert f"  - {expected}\n" in output
    assert "Traceback" not in output


def test_a_stack_with_its_own_chain_is_refused(
    make_project: ProjectFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    # dev and staging keep the shipped chain; the prod stack claims production comes straight from dev.
    stacks = {**SHIPPED, "prod": edited("prod", environments=CHAIN_WITHOUT_STAGING)}
    code, output = check(make_project, stacks, capsys)
    assert code == 2, output
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
