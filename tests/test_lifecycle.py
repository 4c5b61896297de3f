"""Ephemeral stack lifecycle (gate ephemeral up|down|reap) over a fake Automation API workspace."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from gate import cli, lifecycle
from tests.conftest import ROOT, ProjectFactory

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


class FakeWorkspace:
    """Stacks and their outputs in memory; `up` records the stack config file it was given."""

    def __init__(self, project_dir: Path, outputs: dict[str, dict[str, Any]] | None = None) -> None:
        self.project_dir = project_dir
        self.state: dict[str, dict[str, Any]] = dict(outputs or {})
        self.configs: dict[str, dict[str, Any]] = {}
        self.removed: list[str] = []

    def stacks(self) -> list[str]:
        return list(self.state)

    def outputs(self, stack: str) -> dict[str, Any]:
        return self.state[stack]

    def up(self, stack: str) -> dict[str, Any]:
        config = yaml.safe_load((self.project_dir / f"stacks/Pulumi.{stack}.yaml").read_text())["config"]
        self.configs[stack] = config
        created = config["delivery-gate:ephemeral"]["createdAt"]
        created = created if isinstance(created, str) else created.isoformat().replace("+00:00", "Z")
        self.state[stack] = {"createdAt": created, "expiresAt": "computed-by-the-program", "namespace": "ns"}
        return self.state[stack]

    def destroy_and_remove(self, stack: str) -> None:
        self.removed.append(stack)
        del self.state[stack]


@pytest.fixture
def project(make_project: ProjectFactory) -> Path:
    project = make_project({})
    (project / "stacks" / "ephemeral.yaml").write_text((ROOT / "stacks" / "ephemeral.yaml").read_text())
    return project


def test_up_creates_the_stack_from_the_template_and_leaves_no_config_file(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DELIVERY_GATE_NOW", "2026-11-22T12:34:56Z")
    workspace = FakeWorkspace(project)
    lifecycle.up(workspace, project, 42, "acme/aos")
    config = workspace.configs["pr-42"]
    assert config["delivery-gate:ephemeral"]["pullRequest"] == 42
    assert str(config["delivery-gate:ephemeral"]["createdAt"]).startswith("2026-11-22")
    assert not (project / "stacks" / "Pulumi.pr-42.yaml").exists()


def test_an_update_keeps_the_creation_time(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workspace = FakeWorkspace(project, {"pr-42": {"createdAt": "2026-11-20T08:00:00Z", "expiresAt": "x"}})
    monkeypatch.setenv("DELIVERY_GATE_NOW", "2026-11-22T12:00:00Z")
    lifecycle.up(workspace, project, 42, "acme/aos")
    assert workspace.state["pr-42"]["createdAt"] == "2026-11-20T08:00:00Z"


def test_up_refuses_another_repository(project: Path) -> None:
    with pytest.raises(lifecycle.LifecycleError, match="allowed: 'acme/aos'"):
        lifecycle.up(FakeWorkspace(project), project, 42, "evil/fork")


PR_IMAGE = "ghcr.io/acme/aos@sha256:" + "ab" * 32


def test_up_deploys_the_pull_requests_own_image(project: Path) -> None:
    workspace = FakeWorkspace(project)
    lifecycle.up(workspace, project, 42, "acme/aos", PR_IMAGE)
    assert workspace.configs["pr-42"]["delivery-gate:application"]["image"] == PR_IMAGE
    assert workspace.configs["pr-42"]["delivery-gate:ephemeral"]["pullRequest"] == 42


@pytest.mark.parametrize(
    "image",
    ["ghcr.io/acme/aos:pr-42", "ghcr.io/acme/aos@sha256:abc", PR_IMAGE + "\n  delivery-gate:x: y", ""],
)
def test_up_refuses_an_image_not_pinned_by_digest(project: Path, image: str) -> None:
    with pytest.raises(lifecycle.LifecycleError, match=r"--image: got .*allowed: an image pinned by digest"):
        lifecycle.up(FakeWorkspace(project), project, 42, "acme/aos", image)
    assert not (project / "stacks" / "Pulumi.pr-42.yaml").exists()


def test_down_destroys_and_removes_only_that_stack(project: Path) -> None:
    workspace = FakeWorkspace(project, {"pr-42": {}, "pr-43": {}})
    assert lifecycle.down(workspace, 42) is True
    assert workspace.removed == ["pr-42"]
    assert lifecycle.down(workspace, 42) is False


def test_the_janitor_reaps_only_expired_ephemeral_stacks(project: Path) -> None:
    workspace = FakeWorkspace(
        project,
        {
            "pr-1": {"expiresAt": "2026-11-22T11:59:59Z"},  # expired a second ago
            "pr-2": {"expiresAt": "2026-11-22T12:00:01Z"},  # still alive
            "pr-3": {},  # no expiry recorded: not provably ephemeral
            "dev": {"expiresAt": "2000-01-01T00:00:00Z"},  # not pr-<N>: never
            "prod": {},
            "pr-x": {"expiresAt": "2000-01-01T00:00:00Z"},
        },
    )
    messages: list[str] = []
    reaped = lifecycle.reap(workspace, NOW, log=messages.append)
    assert [r.stack for r in reaped] == ["pr-1"]
    assert workspace.removed == ["pr-1"]
    assert "skip pr-3: no expiresAt output, so not provably ephemeral" in messages


def test_a_dry_run_reaps_nothing(project: Path) -> None:
    workspace = FakeWorkspace(project, {"pr-1": {"expiresAt": "2026-01-01T00:00:00Z"}})
    assert [r.stack for r in lifecycle.reap(workspace, NOW, dry_run=True, log=lambda _: None)] == ["pr-1"]
    assert workspace.removed == []


def test_the_cli_drives_the_lifecycle(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workspace = FakeWorkspace(project)
    args = ["--project-dir", str(project)]
    assert cli.main(["ephemeral", "up", "--pr", "7", "--repository", "acme/aos", *args], workspace) == 0
    assert cli.main(["ephemeral", "down", "--pr", "7", *args], workspace) == 0
    assert cli.main(["ephemeral", "up", "--pr", "7", "--repository", "x/y", *args], workspace) == 2
    assert cli.main(["ephemeral", "up", "--pr", "0", "--repository", "acme/aos", *args], workspace) == 2
    image = ["--image", PR_IMAGE]
    assert (
        cli.main(["ephemeral", "up", "--pr", "7", "--repository", "acme/aos", *image, *args], workspace) == 0
    )
    assert workspace.configs["pr-7"]["delivery-gate:application"]["image"] == PR_IMAGE
    assert (
        cli.main(
            ["ephemeral", "up", "--pr", "7", "--repository", "acme/aos", "--image", "x:1", *args], workspace
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "--repository: got 'x/y'" in err and "--pr: got 0" in err
    assert "Traceback" not in err


def test_the_ephemeral_program_records_its_ttl_in_its_outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    from gate.plan import build_plan  # noqa: PLC0415

    monkeypatch.setenv("DELIVERY_GATE_NOW", "2026-11-22T10:00:00Z")
    outputs = build_plan(ROOT, "pr-5")["outputs"]
    assert outputs["createdAt"] == "2026-11-22T10:00:00Z"
    assert outputs["expiresAt"] == "2026-11-25T10:00:00Z"
