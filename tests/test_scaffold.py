"""`gate init`: a new configuration repository that runs the installed package (issue 13, item 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import gate
from gate.cli.main import main
from gate.offline.plan import build_plan
from gate.policy.schema import render_schema


def test_init_writes_a_configuration_repository_that_plans(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "our-gate"
    assert main(["init", str(project), "--owner", "example-org", "--repository", "shop-api"]) == 0
    written = sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file())
    assert written == [
        ".gitignore",
        "Pulumi.yaml",
        "__main__.py",
        "base-file.schema.json",
        "requirements.txt",
        "stack-file.schema.json",
        "stacks/Pulumi.dev.yaml",
        "stacks/Pulumi.prod.yaml",
        "stacks/Pulumi.staging.yaml",
        "stacks/base.yaml",
        "stacks/ephemeral.shop-api.yaml",
    ]
    assert (project / "requirements.txt").read_text().splitlines()[-1] == f"delivery-gate=={gate.__version__}"
    # The program is the installed package's, not a copy: two lines.
    assert "from gate.entry import program" in (project / "__main__.py").read_text()
    assert (project / "stack-file.schema.json").read_text() == render_schema()
    assert "wrote" in capsys.readouterr().out
    plan = build_plan(project, "dev")
    files = [r for r in plan["resources"] if r["type"] == "github:index/repositoryFile:RepositoryFile"]
    assert files and {r["inputs"]["repository"] for r in files} == {"shop-api"}
    assert plan["outputs"]["environment"] == "dev"
    assert "example-org/shop-api" in json.dumps(plan["outputs"]["requiredChecks"])


def test_init_never_overwrites_and_writes_nothing_when_a_file_exists(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "Pulumi.dev.yaml").write_text("mine\n")
    assert main(["init", str(tmp_path), "--owner", "example-org", "--repository", "shop-api"]) == 2
    error = capsys.readouterr().err
    assert "Pulumi.dev.yaml" in error and "never overwrites" in error
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["Pulumi.dev.yaml", "stacks"]
    assert (tmp_path / "stacks" / "Pulumi.dev.yaml").read_text() == "mine\n"


@pytest.mark.parametrize(
    ("argument", "value"),
    [("--owner", "-bad-"), ("--owner", "a b"), ("--repository", "has space"), ("--project", "../up")],
)
def test_init_refuses_names_github_or_pulumi_would_refuse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argument: str, value: str
) -> None:
    args = {"--owner": "example-org", "--repository": "shop-api", "--project": "delivery-gate"}
    args[argument] = value
    argv = ["init", str(tmp_path / "new"), *[f"{key}={value}" for key, value in args.items()]]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert argument in error and repr(value) in error
    assert not (tmp_path / "new").exists()
